"""Go durations (``metav1.Duration``, ``time.ParseDuration``): ``5m``, ``300s`` and ``5m0s`` are the
same five minutes. Webhooks written in Go decode a duration and encode it again with
``Duration.String()``, so Git's spelling comes back as Go's (variant 08). Pure."""

from __future__ import annotations

import re
from fractions import Fraction

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int | None:
    """Nanoseconds of a Go duration string (``1h30m``, ``1.5h``, ``-2m3.5s``, ``300ms``, ``0``), or
    None when ``text`` is not one. Fractions of a nanosecond are truncated per part, as Go does."""
    if not isinstance(text, str):
        return None
    rest, sign = text, 1
    if rest and rest[0] in "+-":
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0
    if not rest:
        return None
    total, pos = 0, 0
    while pos < len(rest):
        m = _PART.match(rest, pos)
        if m is None or (not m.group(1) and not m.group(2)):
            return None   # a unit without a number, or a number without a known unit
        whole, frac, unit = m.group(1) or "0", m.group(2) or "", _UNITS[m.group(3)]
        value = Fraction(int(whole)) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
        total += int(value * unit)
        pos = m.end()
    return sign * total


def same_duration(desired: object, live: object) -> bool:
    """Two Go duration strings of the same length of time; anything else compared exactly."""
    a, b = parse_duration(desired), parse_duration(live)   # type: ignore[arg-type]
    if a is None or b is None:
        return type(desired) is type(live) and desired == live
    return a == b
