"""The process's garbage-collector policy: one policy for the console, headless runs and the benchmarks.

CPython's cyclic collector runs on whichever thread allocates the object that crosses a generation's
threshold, and holds the GIL for the whole collection: a collection on the journal's writer thread stalls the
event loop exactly as one on the loop does. What a collection costs is the number of tracked objects in the
generations it scans (about 0.2-0.4 µs each), so the policy keeps the scanned generations small:

1. ``freeze_startup_heap`` once a run has started (``runtime.Runtime.start``: the journal, the engine, the
   client and, in the console, the widgets exist): a full collection, then ``gc.freeze()`` moves every object
   alive at that moment (modules, config, instruments, the start-up heap of tens of thousands of objects) to
   the permanent generation, which no collection scans. Collections then scan only what the run creates.
   A frozen object is still freed by reference counting when its last reference goes; only a reference cycle
   made of frozen objects stays until ``release_startup_heap`` (the run's close) unfreezes them.
2. Thresholds stay CPython's (700 / 10 / 10: ``THRESHOLDS``). Measured with ``bench/bench_journal.py`` (100,000
   records through the writer): a young collection costs 0.1-0.4 ms of CPU at 700; at 5,000 each costs
   1.5 ms, longer than the whole loop-stall budget allows; and disabling the older generations' automatic
   collections would let cyclic garbage grow without bound. Everything the run creates after the freeze is
   collected as usual (``tests/test_gcpolicy.py`` checks that a cycle-heavy workload after the freeze is
   collected without any explicit call).
3. The writer thread creates few long-lived tracked objects: a backlog of queued records is packed into bytes
   (``journal.writer``), so young collections do not walk it.

The benchmarks apply the same two calls at the same points (after their start-up, at their end).
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "freeze_startup_heap", "release_startup_heap"]

#: The collector's thresholds (generation 0 allocations, generation 1 and 2 collections), CPython's defaults
#: (module docstring, point 2).
THRESHOLDS = (700, 10, 10)


def freeze_startup_heap() -> int:
    """Apply the policy once start-up is done: thresholds set to ``THRESHOLDS``, a full collection, then every
    tracked object alive moved to the permanent generation (``gc.freeze``). Returns how many objects are frozen.
    Called again, it freezes what was created since (the objects frozen before stay frozen). Raises nothing."""
    gc.set_threshold(*THRESHOLDS)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def release_startup_heap() -> None:
    """Undo ``freeze_startup_heap`` when the run ends (``gc.unfreeze``): the frozen objects go back to the oldest
    generation, so a later full collection can free the cycles among them. Raises nothing."""
    gc.unfreeze()
