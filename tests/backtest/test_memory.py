"""Candles stream: the backtest's memory does not grow with the number of candles (only with trades)."""

from __future__ import annotations

import gc
import tracemalloc

from kraken_tui.backtest.data import open_candles
from kraken_tui.backtest.runner import Backtest

from ._util import PF_1M, settings_for


def _repeat_file(src, dst, copies: int) -> None:
    lines = [ln for ln in src.read_text().splitlines()[1:] if ln.strip()]
    span = int(lines[-1].split(",")[0]) - int(lines[0].split(",")[0]) + 60
    with dst.open("w") as fh:
        fh.write("time,open,high,low,close,volume\n")
        for k in range(copies):
            for ln in lines:
                t, rest = ln.split(",", 1)
                fh.write(f"{int(t) + k * span},{rest}\n")


def _peak(path) -> tuple[int, int, int]:
    # slow SMAs: a handful of trades, so what is left is what the candles cost
    s, _ = settings_for(path, "sma_cross", {"fast": 400, "slow": 900})
    gc.collect()
    tracemalloc.start()
    bt = Backtest(s)
    bt.run(open_candles(path, symbol="PF_XBTUSD").rows)
    res = bt.finish()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, res.candles, len(res.rows)


def test_memory_flat_as_the_span_grows(shared_data, tmp_path):
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _repeat_file(shared_data(PF_1M), small, 20)
    _repeat_file(shared_data(PF_1M), big, 160)
    p1, n1, t1 = _peak(small)
    p2, n2, t2 = _peak(big)
    assert (n1, n2) == (10_000, 80_000)
    # 8x the candles: the peak grows by less than 64 KB plus ~1 KB per extra closed trade
    assert p2 - p1 < 64_000 + 1_000 * (t2 - t1), (p1, p2, t1, t2)
