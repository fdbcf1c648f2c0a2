"""End to end for the basis guard before and after entry: the engine trades PF_ETHUSD over Kraken's ETH/USD 5m
candles with a spot index series (``PATH@PF_ETHUSD:index``) against the in-process paper exchange over loopback.
The index follows the trade price except for bars 652 to 899, where it is 2 % below (basis about 204 bps, beyond
``[risk] max_basis_bps`` 50). With ``basis_action = "close"`` the position open at bar 652 is closed with exit
reason ``basis_guard``; with ``"pause"`` it keeps its protective orders and leaves by its own exit; either way no
entry is made while the basis is blown out (the check before entry), and entries resume when it is back.

Data: ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` - the first 1 200 rows (2024-07-01 on), the trade
series; the index series is the same file with prices x 0.98 from row 652 to row 899 (a position opened at bar
648 with the strategy below is open at bar 652).
Source: docs/kraken-futures-api.md §6 (spot candles are the index), the ``[risk]`` section of config.toml.
"""

from __future__ import annotations

import asyncio

import pytest

from kraken_tui.config import Config
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_trades
from kraken_tui.runtime import RunOptions, build_runtime

ROWS, BLOWN, BACK = 1200, 652, 900
BAR_MS = 300_000


def _config(action: str) -> Config:
    return Config.model_validate({
        "strategy": {"name": "ema_cross", "symbols": ["PF_ETHUSD"], "timeframe": "5m",
                     "params": {"fast": 9, "slow": 21, "min_confidence": 0.4}},
        "exits": {"stop_loss_pct": 0.6, "take_profit_pct": [0.5, 1.0, 1.5, 2.0], "trailing_activate_pct": 0.4,
                  "trailing_distance_pct": 0.3, "time_exit_h": 1, "time_exit_min_profit_pct": 0.05},
        "risk": {"cost_atr_multiple": 0, "basis_action": action},
        "operator": {"stale_data_s": 60},
    })


def _files(src, tmp_path):
    with src.open() as f:
        lines = [line.rstrip("\n") for _, line in zip(range(ROWS), f, strict=False)]
    trade = tmp_path / "eth_5m.csv"
    trade.write_text("\n".join(lines) + "\n")
    out = []
    for i, line in enumerate(lines):
        parts = line.split(",")  # time, open, high, low, close, volume, count
        k = 0.98 if BLOWN <= i < BACK else 1.0
        out.append(",".join([parts[0], *(f"{float(x) * k:.2f}" for x in parts[1:5]), *parts[5:]]))
    index = tmp_path / "eth_5m_index.csv"
    index.write_text("\n".join(out) + "\n")
    return trade, index, int(lines[0].split(",")[0]) * 1000


async def _run(action, trade, index, journal):
    rt = await build_runtime(_config(action), RunOptions(replay=[f"{trade}@PF_ETHUSD", f"{index}@PF_ETHUSD:index"],
                                                         speed=None, exit_at_end=True, journal=journal))
    await rt.start()
    try:
        code = await asyncio.wait_for(rt.wait_finished(), timeout=180)
        reasons = dict(rt.engine.flow.exit_reasons)
    finally:
        await rt.aclose()
    return code, reasons


@pytest.mark.parametrize("action", ["close", "pause"])
def test_basis_blow_out_closes_or_pauses_and_blocks_entries(shared_data, tmp_path, action):
    trade, index, t0 = _files(shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv"), tmp_path)
    journal = tmp_path / "journal.sqlite"
    code, reasons = asyncio.run(_run(action, trade, index, journal))
    assert code == 0
    conn = open_db(journal, create=False)
    try:
        trades, _ = load_trades(conn)
    finally:
        conn.close()
    bars = [((t.entry_ts_ms - t0) // BAR_MS, (t.exit_ts_ms - t0) // BAR_MS, t.exit_reason) for t in trades.closed]
    held = [b for b in bars if b[0] < BLOWN <= b[1]]
    assert len(held) == 1, bars
    if action == "close":
        assert held[0][1:] == (BLOWN, "basis_guard") and reasons.get("basis_guard") == 1, (held, reasons)
    else:
        assert held[0][1] > BLOWN and held[0][2] != "basis_guard" and "basis_guard" not in reasons, (held, reasons)
    # no entry while the basis is blown out; entries again once it is back
    assert not [b for b in bars if BLOWN <= b[0] < BACK], bars
    assert [b for b in bars if b[0] >= BACK], bars
