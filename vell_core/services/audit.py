"""Audit trail: every action taken with customer credentials and every state change.

``AuditRecorder.attach`` registers botocore ``after-call``/``after-call-error`` handlers on a
client built from customer credentials, so each call writes one row (staff member, customer
account, operation, outcome, AWS request id) — the same calls the customer sees in CloudTrail.
Parameters and responses are never written. Each such row also names the desk screen the call
served (:func:`on_screen`: the live demo's listings, an offer, an agreement, a listing update…)
and the id of what that screen opened, so the access record (``access_record``) can show the
customer which screens the rep opened, not only a list of API names.

Rows are written off the hot path: :meth:`AuditRecorder.record` stamps the row (its time is the
moment of the call) and queues it; one writer thread drains the queue in batches, one
transaction per batch. A sync making dozens of calls per second therefore costs one short
write-lock hold per batch instead of one per call, and no AWS call waits on SQLite. Code that
reads the trail right after acting calls :meth:`AuditRecorder.flush` first; :meth:`close` (and
interpreter exit) flushes what is left, so no row is lost. A batch that fails is retried; a row
that still cannot be written (a bug, e.g. a dangling foreign key) is logged and counted in
``dropped``.

An in-memory SQLite store (tests) has a single shared connection that a second thread must not
use, so there rows are written inline, as before.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from vell_core.domain.clock import Clock
from vell_core.domain.models import AuditLog, ScreenKind
from vell_core.store.audit_log import AuditLogStore, AuditWriteFailed

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # rows per transaction at most
IDLE_EXIT_SECONDS = 2.0  # the writer thread ends when idle this long; the next row restarts it
WRITE_ATTEMPTS = 3
MAX_SUBJECT_CHARS = 128


@dataclass(frozen=True)
class Screen:
    """The desk screen calls are made for, and the id of what it opened (if one thing)."""

    kind: ScreenKind
    subject: str | None = None


# A context variable, not a thread-local: each Streamlit script run, sync worker task and pool
# thread sees only the screen its own caller set (``contextvars.copy_context`` carries it over).
_SCREEN: ContextVar[Screen | None] = ContextVar("vell_audit_screen", default=None)


@contextmanager
def on_screen(kind: ScreenKind, subject: str | None = None) -> Iterator[Screen]:
    """Record the customer-credential calls made inside as serving this screen."""
    screen = Screen(kind, subject[:MAX_SUBJECT_CHARS] if subject else None)
    token = _SCREEN.set(screen)
    try:
        yield screen
    finally:
        _SCREEN.reset(token)


@contextmanager
def within(screen: Screen | None) -> Iterator[None]:
    """Re-enter a screen captured earlier (a background task of the screen that queued it)."""
    token = _SCREEN.set(screen)
    try:
        yield
    finally:
        _SCREEN.reset(token)


def current_screen() -> Screen | None:
    """The screen set by the innermost :func:`on_screen` around this call, if any."""
    return _SCREEN.get()


class AuditRecorder:
    """Appends audit rows through one batching writer thread."""

    def __init__(self, store: AuditLogStore, clock: Clock, *, batch_size: int = BATCH_SIZE) -> None:
        self._store = store
        self._clock = clock
        self._batch_size = batch_size
        self._inline = store.single_connection
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._done = threading.Condition()
        self._queued = 0  # rows handed to record()
        self._settled = 0  # rows written or dropped
        self.written = 0
        self.dropped = 0
        self.batches = 0
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        _live.add(self)

    def record(
        self,
        *,
        action: str,
        outcome: str,
        staff_user_id: int | None = None,
        customer_account_id: str | None = None,
        delegation_id: int | None = None,
        connection_id: int | None = None,
        detail: str | None = None,
        aws_request_id: str | None = None,
        screen: Screen | None = None,
    ) -> None:
        """Queue one row (stamped now); it is in the store after the next :meth:`flush`."""
        row = self._fields(
            action=action,
            outcome=outcome,
            staff_user_id=staff_user_id,
            customer_account_id=customer_account_id,
            delegation_id=delegation_id,
            connection_id=connection_id,
            detail=detail,
            aws_request_id=aws_request_id,
            screen=screen,
        )
        with self._done:
            self._queued += 1
        if self._inline:
            self._write([row])
            return
        self._queue.put(row)
        self._ensure_writer()

    def entry(
        self,
        *,
        action: str,
        outcome: str,
        staff_user_id: int | None = None,
        customer_account_id: str | None = None,
        delegation_id: int | None = None,
        connection_id: int | None = None,
        detail: str | None = None,
        aws_request_id: str | None = None,
    ) -> AuditLog:
        """One row, not yet added: for callers that write it inside their own transaction.

        Such a row bypasses the queue (it commits or rolls back with the caller's state change).
        """
        return AuditLog(
            **self._fields(
                action=action,
                outcome=outcome,
                staff_user_id=staff_user_id,
                customer_account_id=customer_account_id,
                delegation_id=delegation_id,
                connection_id=connection_id,
                detail=detail,
                aws_request_id=aws_request_id,
                screen=None,
            )
        )

    def _fields(
        self,
        *,
        action: str,
        outcome: str,
        staff_user_id: int | None,
        customer_account_id: str | None,
        delegation_id: int | None,
        connection_id: int | None,
        detail: str | None,
        aws_request_id: str | None,
        screen: Screen | None,
    ) -> dict[str, Any]:
        """One row's columns, stamped now and cut to the columns' sizes."""
        return {
            "at": self._clock.now(),
            "staff_user_id": staff_user_id,
            "customer_account_id": customer_account_id,
            "delegation_id": delegation_id,
            "connection_id": connection_id,
            "action": action[:120],
            "outcome": outcome[:40],
            "detail": detail[:500] if detail else None,
            "aws_request_id": aws_request_id,
            "screen": screen.kind.value if screen else None,
            "screen_subject": screen.subject[:MAX_SUBJECT_CHARS]
            if screen and screen.subject
            else None,
        }

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every row queued so far is written; False if ``timeout`` ran out."""
        with self._done:
            target = self._queued
            return self._done.wait_for(lambda: self._settled >= target, timeout)

    def close(self, timeout: float = 30.0) -> bool:
        """Write everything still queued (shutdown, tests); False if it did not finish."""
        return self.flush(timeout)

    @property
    def pending(self) -> int:
        """Rows queued but not yet written."""
        with self._done:
            return self._queued - self._settled

    # -- the writer ---------------------------------------------------------------------------

    def _ensure_writer(self) -> None:
        with self._start_lock:
            if self._writer_alive():
                return
            self._writer = threading.Thread(target=self._drain, name="vell-audit", daemon=True)
            self._writer.start()

    def _writer_alive(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    def _drain(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_EXIT_SECONDS)
            except queue.Empty:
                with self._start_lock:
                    if self._queue.empty():
                        self._writer = None
                        return
                continue
            batch = [first]
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:  # never leave flush() waiting on a dead writer
                log.exception("audit writer failed on a batch of %d rows", len(batch))
                self._settle(0, len(batch))

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """One transaction for the batch; on failure retry, then isolate the bad rows."""
        written = 0
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self._store.append(rows)
                written = len(rows)
                break
            except AuditWriteFailed:
                if attempt == WRITE_ATTEMPTS:
                    written = self._write_one_by_one(rows)
                else:
                    time.sleep(0.05 * attempt)  # a held write lock: back off, then retry
        self._settle(written, len(rows) - written)

    def _write_one_by_one(self, rows: list[dict[str, Any]]) -> int:
        written = 0
        for row in rows:
            try:
                self._store.append([row])
                written += 1
            except AuditWriteFailed as error:
                log.error("audit row %s not written: %s", row["action"], error)
        return written

    def _settle(self, written: int, dropped: int) -> None:
        with self._done:
            self.written += written
            self.dropped += dropped
            self.batches += 1
            self._settled += written + dropped
            self._done.notify_all()

    # -- botocore hooks -----------------------------------------------------------------------

    def attach(
        self,
        client: Any,
        *,
        staff_user_id: int | None,
        customer_account_id: str,
        delegation_id: int | None = None,
        connection_id: int | None = None,
    ) -> None:
        """Audit every call ``client`` makes (with the screen it was made for, if any)."""
        service = client.meta.service_model.service_name

        def after_call(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
            status = getattr(http_response, "status_code", 0)
            error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
            request_id = (parsed or {}).get("ResponseMetadata", {}).get("RequestId")
            self.record(
                action=f"{service}.{model.name}",
                outcome="ok" if status < 300 else (error or f"http {status}"),
                staff_user_id=staff_user_id,
                customer_account_id=customer_account_id,
                delegation_id=delegation_id,
                connection_id=connection_id,
                aws_request_id=request_id,
                screen=current_screen(),
            )

        def after_error(exception: Exception, model: Any, **_: Any) -> None:
            self.record(
                action=f"{service}.{model.name}",
                outcome=f"error {type(exception).__name__}",
                staff_user_id=staff_user_id,
                customer_account_id=customer_account_id,
                delegation_id=delegation_id,
                connection_id=connection_id,
                screen=current_screen(),
            )

        event_name = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"after-call.{event_name}", after_call)
        client.meta.events.register(f"after-call-error.{event_name}", after_error)


# Every live recorder, so interpreter exit writes what is still queued (the writer is a daemon
# thread; atexit handlers run while daemon threads are still alive).
_live: weakref.WeakSet[AuditRecorder] = weakref.WeakSet()


@atexit.register
def flush_all(timeout: float = 10.0) -> None:
    """Flush every live recorder (interpreter exit; tests that read the table directly)."""
    for recorder in list(_live):
        recorder.flush(timeout=timeout)
