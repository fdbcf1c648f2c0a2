"""``stats.RunningBreakdowns`` (statistics kept up to date as trades are appended, stored as JSON between
appends) equals ``summarize_rows_with_breakdowns`` over all the rows at once, float for float."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.journal.stats import DAY_MS, RunningBreakdowns, summarize_rows_with_breakdowns

_money = st.one_of(st.just(0.0), st.floats(-500, 500, allow_nan=False).map(lambda x: round(x, 6)))
_row = st.tuples(st.integers(0, DAY_MS * 3), st.integers(0, DAY_MS), st.sampled_from(["long", "short"]),
                 st.sampled_from(["PF_XBTUSD", "PF_ETHUSD", "PI_XBTUSD"]), st.sampled_from(["a", "unknown"]),
                 _money, st.floats(0, 5, allow_nan=False), _money)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_row, max_size=150), cuts=st.lists(st.integers(1, 40), min_size=1, max_size=10),
       start=st.sampled_from([None, Decimal(0), Decimal(10_000), Decimal("250.5")]),
       busy_day=st.booleans())
def test_running_statistics_equal_the_batch_ones(rows, cuts, start, busy_day):
    t0 = 1_700_000_000_000
    if busy_day:  # a day with 64+ exits takes the running-sum difference, not the exact sum
        rows = rows + [(1000, 1, "long", "PF_XBTUSD", "a", round(0.1 * k - 3.37, 2), 0.5, 0.0) for k in range(70)]
    table = []
    exit_ms = t0
    for dt, back, side, sym, strat, net, fees, funding in rows:
        exit_ms += dt // 1000
        table.append((exit_ms, exit_ms - back, side, sym, strat, net, net + fees - funding, fees, funding,
                      max(-funding, 0.0), max(funding, 0.0)))
    acc = RunningBreakdowns(start)
    k = i = 0
    while k < len(table):
        step = cuts[i % len(cuts)]
        acc.add(table[k:k + step])
        acc = RunningBreakdowns.from_state(json.loads(json.dumps(acc.state())))
        k, i = k + step, i + 1
    assert acc.summaries() == summarize_rows_with_breakdowns(table, start)
