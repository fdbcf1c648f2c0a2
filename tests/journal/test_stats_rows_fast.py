"""``summarize_rows_with_breakdowns``' fast paths give the same floats as the plain code they replace.

- ``_drawdown_f`` with numpy (``_NUMPY_MIN`` trades and more) equals the itertools path bit for bit.
- The groups (side, symbol, strategy) picked with ``itertools.compress`` equal the former stable sort plus
  ``groupby`` (``_reference_breakdowns`` below is the straightforward sort-and-group formulation, the oracle).
- ``_fsum`` equals ``math.fsum``, zero columns included.
"""

from __future__ import annotations

import itertools
import math
import operator
import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.journal import stats
from kraken_tui.journal.stats import summarize_rows_with_breakdowns


def _rows(n: int, seed: int, *, sides=("long", "short"), symbols=("PF_XBTUSD",), strategies=("sma_cross",)):
    rnd = random.Random(seed)
    rows, t = [], 1_700_000_000_000
    for _ in range(n):
        entry = t + rnd.randrange(0, 50_000)
        t = entry + rnd.randrange(60_000, 20 * 3_600_000)
        net = rnd.choice([0.0, -0.0, round(rnd.gauss(0, 5), 6), rnd.gauss(0, 50)])
        fees = rnd.choice([0.0, abs(rnd.gauss(0, 1))])
        funding = rnd.choice([0.0, rnd.gauss(0, 0.1)])
        rows.append((t, entry, rnd.choice(sides), rnd.choice(symbols), rnd.choice(strategies), net, net + fees - funding,
                     fees, funding, max(-funding, 0.0), max(funding, 0.0)))
    return rows


def _reference_breakdowns(rows, start):
    """The pre-session-5 grouping: a stable sort of the row indices by key, then ``groupby``."""
    cols = [stats._column(rows, i) for i in stats._NUMERIC]
    overall = stats._summarize_cols(cols, start)
    out = {}
    for name, col in (("side", 2), ("symbol", 3), ("strategy", 4)):
        keys = stats._column(rows, col)
        order = sorted(range(len(keys)), key=keys.__getitem__)
        out[name] = {}
        for key, group in itertools.groupby(order, key=keys.__getitem__):
            idx = tuple(group)
            if len(idx) == len(keys):
                out[name][key] = overall
                continue
            if len(idx) == 1:
                sub = [(c[idx[0]],) for c in cols]
            else:
                pick = operator.itemgetter(*idx)
                sub = [pick(c) for c in cols]
            out[name][key] = stats._summarize_cols(sub, start)
    return overall, out


def _plain_drawdown(nets, start):
    e0 = start if start is not None else 0.0
    equity = list(itertools.accumulate(nets, operator.add, initial=e0))
    peak = list(itertools.accumulate(equity, max))
    drops = list(map(operator.sub, peak, equity))
    if start is None or start <= 0:
        return max(drops), None
    return max(drops), max(map(operator.truediv, drops, peak))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("start", [10_000.0, 50.0, None, 0.0])
def test_numpy_drawdown_equals_the_plain_accumulation(seed, start):
    rnd = random.Random(seed)
    n = stats._NUMPY_MIN + rnd.randrange(0, 3000)
    nets = tuple(rnd.choice([0.0, rnd.gauss(0, 3), rnd.gauss(-1, 30), 1e-9]) for _ in range(n))
    got = stats._drawdown_f(nets, start)
    want = _plain_drawdown(nets, start)
    assert repr(got) == repr(want)
    assert got[0] > 0


def test_non_finite_equity_takes_the_plain_path():
    nets = (1e308, 1e308, -1e308) + (1.0,) * stats._NUMPY_MIN
    assert repr(stats._drawdown_f(nets, 10.0)) == repr(_plain_drawdown(nets, 10.0))


@pytest.mark.parametrize(("n", "seed", "kw"), [
    (5000, 1, {}),
    (6000, 2, {"symbols": ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD"), "strategies": ("a", "b", "unknown")}),
    (300, 3, {"strategies": ("x", "y")}),
    (1, 4, {}),
    (0, 5, {}),
    (4500, 6, {"sides": ("short",)}),
])
def test_breakdowns_equal_the_sorted_groupby_reference(n, seed, kw):
    rows = sorted(_rows(n, seed, **kw))
    for start in (Decimal("10000"), None):
        got = summarize_rows_with_breakdowns(rows, start)
        want = _reference_breakdowns(rows, start)
        assert repr(got) == repr(want)
        if n > 1:
            assert list(got[1]["side"]) == sorted({r[2] for r in rows})


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
       | st.lists(st.sampled_from([0.0, -0.0])))
def test_fsum_shortcut_equals_fsum(xs):
    got = stats._fsum(tuple(xs))
    assert repr(got) == repr(math.fsum(xs))
