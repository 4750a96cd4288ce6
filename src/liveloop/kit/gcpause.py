"""Pausing the cyclic garbage collector while a big object graph is built (a campaign's state loaded),
and keeping it out of the collector's scans afterwards.

Rebuilding a state makes millions of objects and no garbage cycles; each 700 allocations the
collector scans the young objects and, as they pile up, the old ones again and again. Paused, the
load of a snapshot took half the CPU (measured: 3.2 s -> 1.7 s for a state of 93,000 participants).
Loads run in worker threads and may overlap: the collector resumes when the last one ends.

When it resumes after a big load (`FREEZE_AT` objects or more), the loaded objects are frozen
(`gc.freeze`: moved where the collector never looks) instead of left young. Left young, the first
allocation after the load scanned all of them (1.6 s for a state of 516,000 participants, 6 million
objects, with every request of the process waiting), and each later full collection scanned them
again (1.25 s each, during a live). A frozen object is still freed by reference counting when
nothing refers to it any more, so a state dropped or replaced goes as before, provided it holds no
reference cycle: the engine keeps none (engine/social.py is handed its state per call;
tests/unit/test_snapshot_properties.py checks that a state, restored or not, is freed without the
collector). What else was young at that moment is frozen with it, and the cycles among those objects
are never collected: the process's cyclic garbage of the load's seconds (measured with the collector
off: 1,590 objects for 37,000 share-link clicks and 40 batches of 500 events). Small loads, whose
young objects a collection scans in milliseconds, are not frozen, so that this stays rare.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Young objects worth freezing rather than scanning: about 25 ms of the collector's time (6 million took 1.6 s).
FREEZE_AT = 100_000

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def paused() -> Iterator[None]:
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if gc.get_count()[0] >= FREEZE_AT:
                    gc.freeze()
                if _resume:
                    gc.enable()
