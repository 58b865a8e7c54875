"""Background work (tác vụ nền) through Huey: work that follows a write but need not hold it up
(bringing pre-built counts up to date), periodic sweeps, and long runs (re-scoring).

One `Jobs` per app (or CLI worker). Where the queue lives is a setting: `HOCTAP_JOBS_URL`
empty keeps it in this process's memory (the embedded default: the app process runs the
consumer threads itself); `redis://…` shares it between every process and machine, each app
process still consuming unless `HOCTAP_JOBS_IN_PROCESS=false` leaves that to `hoctap worker`.

A queued job is a hint, never the only record of work to do: what a job would do can always be
found again from the database (stale counts, an unfinished re-scoring run), and a periodic
sweep does so. Losing the in-memory queue in a crash therefore loses no work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from huey import MemoryHuey, RedisHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer

logger = logging.getLogger("hoctap.jobs")


class _EmbeddedConsumer(Consumer):
    """Huey's consumer, run inside a process that owns its signals (uvicorn): it starts its
    threads and leaves signal handling to the host, which stops it from the app's lifespan."""

    def _set_signal_handlers(self) -> None:  # the host process handles signals
        pass


class Jobs:
    def __init__(self, url: str | None, name: str, workers: int = 2) -> None:
        if url:
            self.huey = RedisHuey(name, url=url, results=False)
        else:
            self.huey = MemoryHuey(name, results=False)
        self.workers = workers
        self._consumer: _EmbeddedConsumer | None = None
        self._running = 0
        self._starts = 0
        self._idle = threading.Condition()
        self._gatherers: list[Gatherer] = []

    # --- registration ---------------------------------------------------------------------

    def task(self, name: str, function: Callable[..., Any], *, retries: int = 2, retry_delay: int = 1) -> TaskWrapper:
        """Register `function` as a job named `name` (the name in the queue, stable across
        releases); calling the returned wrapper enqueues it."""
        return self.huey.task(retries=retries, retry_delay=retry_delay, name=name)(self._counted(function))

    def gathered(self, task: TaskWrapper, delay: float) -> Gatherer:
        """Items handed to the returned `Gatherer` within `delay` seconds are queued together as
        one `task(sorted items)`: a burst of writes to the same villages costs one rebuild."""
        gatherer = Gatherer(task, delay)
        self._gatherers.append(gatherer)
        return gatherer

    def periodic(self, name: str, function: Callable[[], Any], every_minutes: int = 1) -> TaskWrapper:
        """Run `function` every few minutes (each consumer's scheduler enqueues it; the job itself
        must be idempotent, as a sweep is)."""

        def due(moment) -> bool:
            return moment.minute % every_minutes == 0

        return self.huey.periodic_task(due, name=name)(self._counted(function))

    def _counted(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args, **kwargs):
            with self._idle:
                self._running += 1
            try:
                return function(*args, **kwargs)
            except Exception as error:
                # The type only: a job's arguments and messages may name people.
                logger.warning("job %s failed: %s", getattr(function, "__name__", "?"), type(error).__name__)
                raise
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

        run.__name__ = getattr(function, "__name__", "job")
        run.__qualname__ = run.__name__
        return run

    # --- consumer -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the consumer threads; nested starts (an app served twice at once) share them."""
        with self._idle:
            self._starts += 1
            if self._consumer is None:
                consumer = _EmbeddedConsumer(self.huey, workers=self.workers, worker_type="thread", periodic=True)
                consumer.start()
                self._consumer = consumer

    def stop(self) -> None:
        """Stop them when the last start has been matched (waits for running jobs)."""
        self.flush()
        with self._idle:
            self._starts = max(self._starts - 1, 0)
            if self._starts or self._consumer is None:
                return
            consumer, self._consumer = self._consumer, None
        consumer.stop(graceful=True)

    def run_forever(self) -> None:
        """`hoctap worker`: a consumer in the foreground, with Huey's own signal handling."""
        Consumer(self.huey, workers=self.workers, worker_type="thread", periodic=True).run()

    def flush(self) -> None:
        """Queue now what the gatherers hold."""
        for gatherer in self._gatherers:
            gatherer.flush()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is queued or running in this process (tests, benchmarks). Idle must be
        seen twice a moment apart: a job just taken from the queue is not yet counted as running."""
        self.flush()
        deadline = time.monotonic() + timeout
        seen_idle = False
        while time.monotonic() < deadline:
            with self._idle:
                idle = self._running == 0 and self.huey.pending_count() == 0 and self.huey.scheduled_count() == 0
                if idle and seen_idle:
                    return True
                seen_idle = idle
                self._idle.wait(0.05)
        return False


class Gatherer:
    """Collects items for `delay` seconds after the first, then queues them as one job. Items
    wait in this process's memory meanwhile: a crash loses them, which the periodic sweep
    makes good (what they stand for is found again from the database)."""

    def __init__(self, task: TaskWrapper, delay: float) -> None:
        self.task = task
        self.delay = delay
        self._items: set[Any] = set()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def add(self, items) -> None:
        if self.delay <= 0:
            self.task(sorted(items))
            return
        with self._lock:
            self._items.update(items)
            if self._timer is None:
                self._timer = threading.Timer(self.delay, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            items, self._items = self._items, set()
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if items:
            try:
                self.task(sorted(items))
            except Exception as error:  # the queue is down: the sweep finds the work again
                logger.warning("could not queue gathered job: %s", type(error).__name__)
