"""Flatten through the engine on the paper exchange, then a restart on the same journal comes up HALTED.

Data: the first 300 rows of ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` as PF_ETHUSD, ``ema_cross``
fast 5 / slow 13 (trades within the window), so a position and its protective orders are open when the
flatten runs.
"""

from __future__ import annotations

import asyncio

from kraken_tui.config import Config
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.runtime import RunOptions, build_runtime


def _cfg() -> Config:
    return Config.model_validate({"strategy": {"name": "ema_cross", "symbols": ["PF_ETHUSD"], "timeframe": "5m",
                                               "params": {"fast": 5, "slow": 13, "min_confidence": 0.4}},
                                  "risk": {"cost_atr_multiple": 0}, "operator": {"stale_data_s": 60}})


async def _flatten_then_restart(csv, journal):
    opts = RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, journal=journal)
    rt = await build_runtime(_cfg(), opts)
    await rt.start()
    try:
        await asyncio.wait_for(rt.paper_server.source_done.wait(), timeout=60)
        await rt.engine.wait_idle()
        ex = rt.paper_server.exchange
        had = (sum(1 for p in ex.positions.values() if p.size != 0), len(ex.open_orders))
        report = await rt.engine.flatten("test flatten", TransitionSource.CTL)
        after = (sum(1 for p in ex.positions.values() if p.size != 0), len(ex.open_orders))
        state = rt.engine.snapshot().state
    finally:
        await rt.aclose()
    rt2 = await build_runtime(_cfg(), RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, journal=journal))
    await rt2.start()
    try:
        snap = rt2.engine.snapshot()
        refused = None
        try:
            rt2.engine.resume("try", TransitionSource.KEY)
        except Exception as exc:
            refused = type(exc).__name__
    finally:
        await rt2.aclose()
    return had, report, after, state, snap, refused


def test_flatten_halts_and_restart_restores_halted(shared_data, tmp_path):
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(300)))
    had, report, after, state, snap, refused = asyncio.run(_flatten_then_restart(csv, tmp_path / "j.sqlite"))
    assert had[0] == 1 and had[1] > 0  # a position with resting protective orders
    assert report.flat and after == (0, 0)
    assert state is OperatorState.HALTED
    assert snap.state is OperatorState.HALTED and snap.state_reason.startswith("flattened")
    # one position: singular; the order count in the right number too
    assert snap.state_reason == (f"flattened: 1 position closed, {report.cancelled_orders} "
                                 f"order{'' if report.cancelled_orders == 1 else 's'} cancelled")
    assert refused == "TransitionRefused"
