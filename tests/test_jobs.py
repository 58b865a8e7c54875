"""The job wrapper (app/jobs.py): gathered jobs queue once for a burst of items."""

from __future__ import annotations

import threading

from app.jobs import Jobs


def _recording_jobs(delay: float):
    jobs = Jobs(None, "test-gathered")
    calls: list[list[int]] = []
    called = threading.Event()

    def rebuild(units: list[int]) -> None:
        calls.append(units)
        called.set()

    gatherer = jobs.gathered(jobs.task("test.rebuild", rebuild), delay)
    return jobs, gatherer, calls, called


def test_items_added_within_the_delay_make_one_job():
    jobs, gatherer, calls, called = _recording_jobs(0.3)
    jobs.start()
    try:
        gatherer.add({3, 1})
        gatherer.add({2, 3})
        assert not calls  # nothing before the delay has passed
        assert called.wait(10)
        assert jobs.wait_idle(10)
        gatherer.add({7})
        assert jobs.wait_idle(10)  # waiting queues what is gathered at once
    finally:
        jobs.stop()
    assert calls == [[1, 2, 3], [7]]


def test_no_delay_queues_each_add():
    jobs, gatherer, calls, _ = _recording_jobs(0)
    jobs.start()
    try:
        gatherer.add({2})
        gatherer.add({1, 2})
        assert jobs.wait_idle(10)
    finally:
        jobs.stop()
    assert sorted(calls) == [[1, 2], [2]]


def test_flushing_queues_what_is_gathered_at_once():
    jobs, gatherer, calls, _ = _recording_jobs(30)
    jobs.start()
    gatherer.add({5})
    jobs.flush()
    assert jobs.wait_idle(10)
    jobs.stop()
    assert calls == [[5]]
