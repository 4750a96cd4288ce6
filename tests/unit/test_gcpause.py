"""A big load's objects are frozen out of the collector's scans; a small load's are left to it."""

from __future__ import annotations

import gc

from liveloop.kit import gcpause


def _build(count: int) -> list[list[int]]:
    return [[i] for i in range(count)]  # one tracked list each


def test_a_big_load_is_frozen_and_the_collector_resumes():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with gcpause.paused():
            assert not gc.isenabled()
            graph = _build(gcpause.FREEZE_AT + 10_000)
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + gcpause.FREEZE_AT
        assert gc.get_count()[0] < 1_000  # nothing young left to scan
        del graph
    finally:
        gc.unfreeze()  # back to the oldest generation: this test leaves the process as it was


def test_a_small_load_is_left_young():
    frozen = gc.get_freeze_count()
    with gcpause.paused():
        graph = _build(1_000)
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    del graph


def test_nested_loads_resume_the_collector_once_the_last_ends():
    with gcpause.paused():
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
