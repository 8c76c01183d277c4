"""Alerts over webhooks (docs/alerts.md): the outbox of the audit trail, POSTed as versioned JSON to
every configured receiver.

What this module owns: the webhook payload (``build_payload``, ``"version": 1``) built from what the
store queued with each run, its optional HMAC-SHA256 signature, the HTTP POST (the HTTP edge:
every failure is a ``DeliveryError`` with one clear message), and one delivery pass
(``AlertDelivery.deliver``) with retries and exponential backoff persisted in the ``deliveries``
table, so a restart resumes where the last process stopped.

Delivery is per webhook and in queue order: a receiver that is down holds back only its own
events (the others get theirs once), and a later event is never sent to it before an earlier one.
A failed attempt is retried after ``retry.initial`` doubled per failure (at most ``retry.max``);
after ``retry.attempts`` attempts the delivery is *given up*: kept with its last error, logged
(``alert_given_up``), listed by ``driftd report alerts``, never dropped in silence. Delivery is at
least once: a receiver dedupes by the payload's ``id``.

What it must not do: judge drift, write runs or episodes, or let a receiver's failure escape as an
exception: the cycle's audit rows are written before delivery starts and are never touched by it.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from . import __version__, logs
from .config import RetryConfig, WebhookConfig
from .model import ObjectKey
from .store import AuditStore, iso_utc

ALERT_VERSION = 1
SIGNATURE_HEADER = "X-Driftd-Signature"
BATCH = 100                                # deliveries per webhook and pass
LEASE_SECONDS = 60                         # on top of the webhook timeout


class DeliveryError(Exception):
    """One POST to a webhook failed; ``status`` is the HTTP status when the receiver answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------- the payload

def _object_text(obj: dict) -> str:
    key = ObjectKey(obj["group"], obj["kind"], obj["namespace"], obj["name"])
    return f"{key.kind} {key.namespace + '/' if key.namespace else ''}{key.name}"


def _summary(doc: dict) -> str:
    """One line for a chat message, e.g. ``drift opened: TanzuKubernetesCluster prod/prod-demo01 on
    supervisor (source prod): spec.topology.workers.count 1 -> 3 (out-of-band, kubectl-edit)``."""
    where = f"on {doc['cluster']} (source {doc['source']})"
    if doc["type"] == "cycle_failed":
        errors = doc["cycle"]["errors"]
        first = errors[0]["message"] if errors else f"verdict {doc['cycle']['verdict']}"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"cycle failed {where}: {first}{more}"
    obj, drift = _object_text(doc["object"]), doc["drift"]
    if doc["type"] == "drift_resolved":
        was = f": was {drift['summary']}" if drift.get("summary") else ""
        return f"drift resolved ({drift['resolution']}): {obj} {where}{was}"
    verb = "opened" if doc["type"] == "drift_opened" else "changed"
    return f"drift {verb}: {obj} {where}: {drift['summary']}"


def build_payload(row: dict) -> dict:
    """The webhook document of one outbox row (``store.pending_deliveries`` or ``deliveries``):
    the run, the object, the episode and each field with its class and evidence. Built at send
    time from what the store queued, so rows queued by an older driftd are sent in this shape too."""
    queued = row["payload"]
    run = queued.get("run") or {}
    doc: dict = {"version": ALERT_VERSION, "id": row["outbox_id"], "type": row["event_type"],
                 "summary": "", "created_at": row["created_at"],
                 "cluster": run.get("cluster"), "source": run.get("source"), "commit": run.get("commit"),
                 "run": {"id": run.get("id", row.get("run_id")), "started_at": run.get("started_at")}}
    event = queued.get("event")
    if event is not None:
        doc["object"] = {"group": event["api_group"], "kind": event["kind"], "namespace": event["namespace"],
                         "name": event["name"]}
        doc["drift"] = {k: event.get(k) for k in (
            "status", "state", "opened_at", "opened_run", "last_seen_at", "resolved_at", "resolution",
            "commit_opened", "commit_resolved", "summary")}
        doc["drift"] = {"episode": event["id"], **doc["drift"], "evidence": event.get("evidence") or {}}
        doc["fields"] = [{"path": f["path"], "change": f["change"], "desired": f["desired"], "live": f["live"],
                          "class": f["class"], "state": f["state"], "evidence": f.get("evidence") or {},
                          "note": f.get("note")} for f in queued.get("fields") or []]
    else:
        doc["object"] = None
        doc["cycle"] = {"verdict": queued.get("verdict"), "errors": queued.get("errors") or [],
                        "events_touched": queued.get("events_touched")}
    doc["summary"] = _summary(doc)
    return doc


def encode(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """The ``X-Driftd-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the exact body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


# ----------------------------------------------------------------------------- retries

def backoff_seconds(failed_attempts: int, retry: RetryConfig) -> float:
    """The wait after ``failed_attempts`` failures: initial, 2x, 4x, ... at most ``retry.max``."""
    return min(retry.initial * 2 ** max(failed_attempts - 1, 0), retry.max)


def next_attempt_at(failed_attempts: int, retry: RetryConfig, now: datetime) -> str | None:
    """When to try again after ``failed_attempts`` failures; None: give up."""
    if failed_attempts >= retry.attempts:
        return None
    return iso_utc(now + timedelta(seconds=backoff_seconds(failed_attempts, retry)))


# ----------------------------------------------------------------------------- the HTTP edge

def post(webhook: WebhookConfig, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to the webhook; its status when 2xx, else ``DeliveryError``. Redirects are not
    followed (a 3xx is a failure), so a signed body never goes where it was not configured to."""
    parts = urllib.parse.urlsplit(webhook.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=webhook.timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=webhook.timeout)
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read(512).decode("utf-8", "replace").strip()
        status, reason = response.status, response.reason
    except (socket.timeout, TimeoutError):
        raise DeliveryError(f"no answer within {webhook.timeout:g}s") from None
    except ConnectionRefusedError:
        raise DeliveryError("connection refused") from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS failed: {exc}") from exc
    except http.client.HTTPException as exc:
        raise DeliveryError(f"not an HTTP answer: {exc!r}") from exc
    except OSError as exc:
        raise DeliveryError(f"unreachable: {exc.strerror or exc}") from exc
    finally:
        conn.close()
    if not 200 <= status < 300:
        detail = " ".join(text.split())[:200]
        raise DeliveryError(f"HTTP {status} {reason}" + (f": {detail}" if detail else ""), status)
    return status


# ----------------------------------------------------------------------------- a delivery pass

@dataclass
class DeliveryReport:
    """What one pass did: deliveries that succeeded, failed (retried later), were given up, and
    pending ones not attempted (not due yet, or held back behind a failed one)."""
    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    waiting: int = 0

    def to_json(self) -> dict:
        return {"delivered": self.delivered, "failed": self.failed, "given_up": self.given_up,
                "waiting": self.waiting}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AlertDelivery:
    """Delivers the outbox to the configured webhooks over one ``AuditStore``."""

    def __init__(self, store: AuditStore, webhooks: tuple[WebhookConfig, ...], retry: RetryConfig,
                 clock: Callable[[], datetime] = _utcnow):
        self.store = store
        self.webhooks = webhooks
        self.retry = retry
        self.clock = clock
        self.log = logs.get().bind(component="alerts")

    def register(self) -> None:
        """Record the webhooks (a new one starts after the newest outbox row) and queue their
        deliveries of what was queued since. Called before a cycle, so its events reach a webhook
        configured for the first time."""
        self.store.fan_out([(w.name, w.url, w.events) for w in self.webhooks], iso_utc(self.clock()))

    def deliver(self, stop: Callable[[], bool] = lambda: False) -> DeliveryReport:
        """One pass: every webhook's due deliveries, oldest first. StoreError is the caller's."""
        self.register()
        report = DeliveryReport()
        for webhook in self.webhooks:
            if stop():
                break
            self._deliver_to(webhook, report, stop)
        return report

    def _deliver_to(self, webhook: WebhookConfig, report: DeliveryReport, stop: Callable[[], bool]) -> None:
        rows = self.store.pending_deliveries(webhook.name, BATCH)
        for n, row in enumerate(rows):
            now = self.clock()
            if stop() or row["next_attempt_at"] > iso_utc(now):
                report.waiting += len(rows) - n          # in order: the rest waits behind this one
                return
            if not self.store.claim_delivery(row["id"], iso_utc(now),
                                             iso_utc(now + timedelta(seconds=webhook.timeout + LEASE_SECONDS))):
                report.waiting += len(rows) - n          # another process is sending it
                return
            if not self._attempt(webhook, row, report):
                report.waiting += len(rows) - n - 1
                return

    def _attempt(self, webhook: WebhookConfig, row: dict, report: DeliveryReport) -> bool:
        doc = build_payload(row)
        body = encode(doc)
        attempt = row["attempts"] + 1
        headers = {"Content-Type": "application/json", "User-Agent": f"driftd/{__version__}",
                   "X-Driftd-Event": doc["type"], "X-Driftd-Delivery": str(doc["id"]),
                   "X-Driftd-Attempt": str(attempt), **dict(webhook.headers)}
        if webhook.secret:
            headers[SIGNATURE_HEADER] = sign(webhook.secret, body)
        log = self.log.bind(webhook=webhook.name, alert=doc["id"], type=doc["type"], attempt=attempt)
        try:
            status = post(webhook, body, headers)
        except DeliveryError as exc:
            at = self.clock()
            retry_at = next_attempt_at(attempt, self.retry, at)
            self.store.delivery_failed(row["id"], iso_utc(at), str(exc), exc.status, retry_at)
            if retry_at is None:
                report.given_up += 1
                log.error("alert_given_up", error=str(exc), attempts=attempt)
            else:
                report.failed += 1
                log.warning("alert_failed", error=str(exc), next_attempt_at=retry_at)
            return False
        self.store.delivery_succeeded(row["id"], iso_utc(self.clock()), status)
        report.delivered += 1
        log.info("alert_delivered", status=status)
        return True
