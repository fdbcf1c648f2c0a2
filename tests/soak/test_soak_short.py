"""The soak suite, short: bench/soak.py's three parts with small numbers (the full run is
``python bench/soak.py``; its module docstring says what each figure means).

- 20,000 fuzzed WS and REST messages (decoded and raw frames): 0 crashes.
- 4 SIGKILLs of a live-mode headless engine against a ``kraken-tui sim`` exchange in its own process, at least
  one of them inside a ``ctl flatten`` (FLATTENING the journal's last state at the kill): every restart comes up, the journal passes ``PRAGMA integrity_check``, no fill
  is journaled twice or lost, no cliOrdId names two orders, no position is seen without its stop beyond the
  grace period.
- 15 s of the fault matrix (5xx, 429, lost responses, dropped/duplicated WS messages, a frozen exchange):
  the same checks, and ``ctl flatten`` ends flat.
- The flatten-kill plan (which kills land inside a flatten, how soon after FLATTENING) and the run's verdict:
  a run short of its flatten-kill target is not clean.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys

import pytest

from tests.conftest import REPO


def _soak():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("kt_bench_soak", REPO / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["kt_bench_soak"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_fuzz_20000_messages_no_crash():
    out = asyncio.run(_soak().fuzz(20_000, seed=7))
    assert out["messages"] == 20_000
    assert out["crashes"] == 0, out["examples"]
    assert out["typed_errors"] > 10_000  # the generator does break messages


@pytest.mark.slow
def test_kills_of_a_live_engine(tmp_path):
    soak = _soak()
    fig = asyncio.run(soak.kill_soak(4, 1, seed=3, grace_s=2.0, workdir=tmp_path, say=lambda *a, **k: None))
    assert fig.kills == 4 and fig.kills_survived == 4, fig.notes
    assert fig.flatten_kills_wanted == 1 and fig.kills_in_flatten >= 1, fig.notes
    assert fig.flatten_resumed_halted == fig.kills_in_flatten + fig.flatten_done_at_kill, fig.notes
    assert fig.integrity_failures == 0
    assert fig.journal_duplicate_fills == 0 and fig.lost_fills == 0
    assert fig.exchange_fills > 0, "the engine never traded: the soak measured nothing"
    assert fig.duplicate_sends == 0
    assert fig.unprotected_positions == 0, fig


@pytest.mark.slow
def test_fault_matrix_15s(tmp_path):
    fig = asyncio.run(_soak().fault_matrix(15.0, seed=5, workdir=tmp_path, say=lambda *a, **k: None))
    assert fig.final_flat, fig.notes
    assert fig.integrity_failures == 0 and fig.journal_duplicate_fills == 0
    assert fig.lost_fills == 0 and fig.duplicate_sends == 0
    assert fig.unprotected_positions == 0, fig


def _clean_kills(soak, **kw):  # type: ignore[no-untyped-def]
    base = dict(kills=100, kills_survived=100, flatten_kills_wanted=30, kills_in_flatten=30, flatten_requests=33,
                flatten_done_at_kill=3, flatten_resumed_halted=33)
    return soak.Figures(**{**base, **kw})


def test_verdict_requires_the_flatten_kill_target():
    soak = _soak()
    assert soak.clean(_clean_kills(soak), None, None)
    short = _clean_kills(soak, kills_in_flatten=28, flatten_done_at_kill=5)
    assert not soak.clean(short, None, None)
    assert not soak.clean(_clean_kills(soak, flatten_resumed_halted=32), None, None)
    assert not soak.clean(_clean_kills(soak, kills_survived=99), None, None)


def test_flatten_plan_reserves_kills_to_make_up_misses():
    soak = _soak()
    plan = soak.FlattenPlan(100, 30, random.Random(1))
    assert len(plan.planned) == 30 and max(plan.planned) < 90  # 10 kills held back for making up
    inside = 0
    for i in range(100):  # every flatten ends before its kill until kill 90: the last kills make the target
        if plan.is_flatten(i):
            hit = i >= 90
            plan.result(hit)
            inside += hit
    assert inside == 10 and plan.inside == 10
    plan = soak.FlattenPlan(100, 30, random.Random(2))
    made = 0
    for i in range(100):  # every other flatten kill misses: the misses are made up before kills run out
        if plan.is_flatten(i):
            made += 1
            plan.result(made % 2 == 0)
    assert plan.inside >= 30
    plan = soak.FlattenPlan(100, 30, random.Random(3))
    lost = set(sorted(plan.planned)[:2])  # two restarts failed: those kills never happened
    for i in range(100):  # every flatten kill lands inside: the last kills make up the two lost ones
        if i not in lost and plan.is_flatten(i):
            plan.result(True)
    assert plan.inside == 30


def test_flatten_plan_narrows_the_kill_delay_after_a_miss():
    soak = _soak()
    plan = soak.FlattenPlan(10, 3, random.Random(3))
    assert plan.window_s == soak.FLATTEN_WINDOW_S <= 0.05
    assert all(0.0 <= plan.delay_s() <= soak.FLATTEN_WINDOW_S for _ in range(100))
    plan.result(False)
    plan.result(False)
    assert plan.window_s == soak.FLATTEN_WINDOW_S / 4
    assert all(plan.delay_s() <= soak.FLATTEN_WINDOW_S / 4 for _ in range(100))
    plan.result(True)
    assert plan.window_s == soak.FLATTEN_WINDOW_S / 2
    plan.result(True)
    plan.result(True)
    assert plan.window_s == soak.FLATTEN_WINDOW_S
