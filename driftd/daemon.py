"""``driftd run``: cycles on a schedule until SIGTERM/SIGINT.

A cycle runs at start, then every ``interval`` (``schedule``). A signal sets a flag: the current
source finishes (its run is written in one transaction, so nothing is half-written) and no new one
starts; a second signal exits at once (the open transaction, if any, is rolled back by SQLite).
A failing cycle never stops the daemon: errors are logged and recorded, and the next cycle runs.

With webhooks configured, alerts are delivered once at start (what a previous process left
pending), after every cycle, and every ``ALERT_POLL`` seconds in between when the interval is
longer, so a retry does not wait for a long interval. A receiver's failure is logged
(``alert_failed``) and retried; it never stops the daemon (docs/alerts.md).
"""

from __future__ import annotations

import signal
import threading

import schedule

from . import logs
from .api import CheckSession
from .config import Config

ALERT_POLL = 30.0


class Daemon:
    def __init__(self, config: Config):
        self.config = config
        self.stop_event = threading.Event()
        self.log = logs.get().bind(component="daemon")
        self.cycles = 0

    def _signal(self, signum, _frame) -> None:
        if self.stop_event.is_set():
            self.log.warning("stop_forced", signal=signal.Signals(signum).name)
            raise SystemExit(130)
        self.log.info("stop_requested", signal=signal.Signals(signum).name)
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)

    def cycle(self, session: CheckSession) -> None:
        try:
            outcome = session.run_cycle(stop=self.stop_event.is_set)
            self.cycles += 1
            self.log.info("cycle_finished", cycle=self.cycles, verdict=outcome.verdict.value,
                          **{k: v for k, v in outcome.summary().items()})
        except Exception as exc:  # the daemon outlives any single failure; the next cycle runs
            self.log.exception("cycle_crashed", error=str(exc))
        self.deliver(session)

    def deliver(self, session: CheckSession) -> None:
        if not self.config.webhooks or self.stop_event.is_set():
            return
        try:
            report = session.deliver_alerts(stop=self.stop_event.is_set)
            if report is not None and (report.delivered or report.failed or report.given_up):
                self.log.info("alerts_sent", **report.to_json())
        except Exception as exc:  # a bug in delivery must not stop the cycles either
            self.log.exception("alerts_crashed", error=str(exc))

    def run(self, max_cycles: int | None = None) -> int:
        self.install_signal_handlers()
        scheduler = schedule.Scheduler()
        with CheckSession(self.config) as session:
            self.log.info("daemon_started", interval_seconds=self.config.interval,
                          sources=[s.name for s in self.config.sources], database=self.config.database)
            # What a previous process left pending; this also registers a new webhook before the
            # first cycle, so it gets that cycle's events.
            self.deliver(session)
            self.cycle(session)
            scheduler.every(self.config.interval).seconds.do(self.cycle, session)
            if self.config.webhooks and self.config.interval > ALERT_POLL:
                scheduler.every(ALERT_POLL).seconds.do(self.deliver, session)
            while not self.stop_event.is_set() and (max_cycles is None or self.cycles < max_cycles):
                scheduler.run_pending()
                wait = scheduler.idle_seconds
                self.stop_event.wait(timeout=max(0.05, min(wait if wait is not None else 1.0, 1.0)))
        self.log.info("daemon_stopped", cycles=self.cycles)
        return 0
