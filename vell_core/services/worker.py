"""The notification worker: SQS long polling into ``NotificationProcessor``.

A message is deleted only once it was applied, recognised as a duplicate, ignored or
quarantined. Anything else (a forged signature, a database hiccup, another worker busy with the
same message) stays on the queue; after the redrive limit SQS moves it to the dead-letter queue,
where the admin page shows it. Several workers on one queue are safe: the inbox and the
compare-and-set claims in the processor make each effect happen once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from vell_core.domain.clock import Clock
from vell_core.services.faults import BEFORE_DELETE, FaultHook, no_faults
from vell_core.services.ingest import NotificationProcessor, Outcome
from vell_core.store.inbox import InboxStore

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    """What one receive-and-process round did."""

    received: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    failed: int = 0


class NotificationWorker:
    """Drains the delegation-notification queue."""

    def __init__(
        self,
        *,
        sqs: Any,
        queue_url: str,
        processor: NotificationProcessor,
        inbox: InboxStore,
        clock: Clock,
        wait_seconds: int = 1,
        worker_id: str | None = None,
        visibility_timeout: int = 30,
        fault_hook: FaultHook = no_faults,
    ) -> None:
        self._visibility_timeout = visibility_timeout
        self._fault_hook = fault_hook
        self._sqs = sqs
        self._queue_url = queue_url
        self._processor = processor
        self._inbox = inbox
        self._clock = clock
        self._wait_seconds = wait_seconds
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._processed = 0

    def run_once(self, wait_seconds: int | None = None) -> BatchResult:
        """Receive one batch (long polling) and process it."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait_seconds if wait_seconds is None else wait_seconds,
            # How long a received message stays hidden: a worker that dies holding it lets SQS
            # deliver it again after this (the exchange lease decides who may then proceed).
            VisibilityTimeout=self._visibility_timeout,
        )
        result = BatchResult()
        for message in response.get("Messages", []):
            result.received += 1
            outcome = self._handle(message)
            if outcome is None:
                result.failed += 1
            else:
                result.outcomes[outcome.value] = result.outcomes.get(outcome.value, 0) + 1
        self._heartbeat(result)
        return result

    def _handle(self, message: dict[str, Any]) -> Outcome | None:
        try:
            outcome = self._processor.process(message["Body"])
        except Exception as exc:
            # Left on the queue on purpose: retried, then dead-lettered for an admin.
            log.warning(
                "Notification %s not processed: %s", message.get("MessageId"), type(exc).__name__
            )
            return None
        self._fault_hook(BEFORE_DELETE)
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        self._processed += 1
        return outcome

    def _heartbeat(self, result: BatchResult) -> None:
        error = f"{result.failed} failed in last batch" if result.failed else None
        self._inbox.beat(self.worker_id, self._clock.now(), self._processed, error)

    def start(self) -> NotificationWorker:
        """Run in a daemon thread until ``stop``."""
        self._thread = threading.Thread(target=self._loop, name=self.worker_id, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the loop to finish and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._wait_seconds + 5)

    def _loop(self) -> None:
        # Announce ourselves before the first long poll (up to 20 s), so the health page does
        # not call a worker that just started "missing".
        try:
            self._heartbeat(BatchResult())
        except Exception as exc:
            log.error("Worker heartbeat failed: %s", type(exc).__name__)
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep the worker alive; the heartbeat shows trouble
                log.error("Worker round failed: %s", type(exc).__name__)
                self._stop.wait(1.0)
