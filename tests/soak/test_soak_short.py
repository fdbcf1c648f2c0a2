"""The soak suite, short: bench/soak.py's three parts with small numbers (the full run is
``python bench/soak.py``; its module docstring says what each figure means).

- 20,000 fuzzed WS and REST messages (decoded and raw frames): 0 crashes.
- 4 SIGKILLs of a live-mode headless engine against a ``kraken-tui sim`` exchange in its own process, one of
  them inside a ``ctl flatten``: every restart comes up, the journal passes ``PRAGMA integrity_check``, no fill
  is journaled twice or lost, no cliOrdId names two orders, no position is seen without its stop beyond the
  grace period.
- 15 s of the fault matrix (5xx, 429, lost responses, dropped/duplicated WS messages, a frozen exchange):
  the same checks, and ``ctl flatten`` ends flat.
"""

from __future__ import annotations

import asyncio
import importlib.util
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
    assert fig.flatten_requests >= 1 and fig.kills_in_flatten + fig.flatten_done_at_kill >= 1, fig.notes
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
