"""The process's garbage-collector policy (kraken_tui.gcpolicy): the start-up heap frozen, and memory still bounded:
cyclic garbage made after the freeze is collected by the collector's own thresholds, without an explicit call."""

from __future__ import annotations

import gc

import pytest

from kraken_tui import gcpolicy


class _Node:
    """One half of a reference cycle; counts the nodes alive."""

    alive = 0

    def __init__(self) -> None:
        _Node.alive += 1
        self.other: _Node | None = None
        self.payload = [0] * 8  # a little memory per node, like a record or a market message

    def __del__(self) -> None:
        _Node.alive -= 1


@pytest.fixture
def policy():
    thresholds = gc.get_threshold()
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    gcpolicy.release_startup_heap()
    gc.set_threshold(*thresholds)
    if not was_enabled:
        gc.disable()
    gc.collect()


def test_the_startup_heap_is_frozen_and_released(policy):
    startup = [{"config": i} for i in range(100)]  # tracked objects alive at the freeze
    frozen = gcpolicy.freeze_startup_heap()
    assert frozen >= 100 and gc.get_freeze_count() == frozen
    assert gc.get_threshold() == gcpolicy.THRESHOLDS
    tracked = {id(o) for o in gc.get_objects()}
    assert not any(id(o) in tracked for o in startup)  # no collection scans them
    gcpolicy.release_startup_heap()
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_made_after_the_freeze_is_collected_without_an_explicit_call(policy):
    gcpolicy.freeze_startup_heap()
    _Node.alive = 0
    peak = 0
    for _ in range(200_000):  # a cycle-heavy workload: every pair is garbage only the cyclic collector frees
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        peak = max(peak, _Node.alive)
    del a, b
    # bounded by the thresholds (a few thousand objects between young collections), not by the workload's size
    assert peak < 20_000, peak
    assert _Node.alive < 20_000
