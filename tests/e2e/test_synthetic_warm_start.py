"""The default paper run (synthetic market) is warm at start: the paper exchange serves the synthetic model's
backfilled candle history from its first second, the engine's warm-up reads it over loopback, and the
strategy's indicators are ready before the first live candle closes, so a signal can come at once.

Setup: ``build_runtime`` with ``source = "synthetic"`` (the engine and the paper exchange over loopback), the
data clock accelerated (``speed``: 1 minute of market per 0.25 s of wall time), strategy ``sma_cross`` with
fast 1 / slow 30 on 1m candles (31 closed bars needed), two symbols.
"""

from __future__ import annotations

import asyncio
import time

from kraken_tui.config import Config
from kraken_tui.runtime import RunOptions, build_runtime

SPEED = 240.0
TF_MS = 60_000
SLOW = 30


def _config(backfill_h: float) -> Config:
    return Config.model_validate({
        "strategy": {"name": "sma_cross", "symbols": ["PF_XBTUSD", "PF_ETHUSD"], "timeframe": "1m",
                     "params": {"fast": 1, "slow": SLOW}},
        "paper": {"symbols": ["PF_XBTUSD", "PF_ETHUSD"], "synthetic_backfill_h": backfill_h, "fresh": True},
    })


async def _run(tmp_path, backfill_h: float, wall_s: float):
    rt = await build_runtime(_config(backfill_h), RunOptions(source="synthetic", speed=SPEED,
                                                             journal=tmp_path / f"j{backfill_h}.sqlite"))
    await rt.start()
    try:
        source = rt.paper_server.source
        start_ms = source.start_ms
        warm = rt.engine.snapshot().warmup
        sig_views: list = []
        deadline = time.monotonic() + wall_s
        while time.monotonic() < deadline:
            sig_views = list(rt.engine.snapshot().signals)
            if sig_views:
                break
            await asyncio.sleep(0.05)
    finally:
        await rt.aclose()
    return start_ms, warm, sig_views


def test_synthetic_start_is_warm_and_signals_before_a_cold_start_could(tmp_path):
    start_ms, warm, sig_views = asyncio.run(_run(tmp_path, 48, wall_s=SLOW * TF_MS / 1000 / SPEED * 2))
    # warm at start: every symbol holds the bars its indicators need before any live candle closed
    assert warm and all(w.ready for w in warm), warm
    assert sig_views, "no signal within 2x the cold warm-up span"
    first = min(s.ts_ms for s in sig_views)
    bars_after_start = (first - start_ms) / TF_MS
    print(f"first signal {bars_after_start:.2f} bars (1m) after the start; a cold start needs {SLOW + 1}")
    # a cold start cannot signal before SLOW + 1 closed live bars; the backfill lets it come far earlier
    assert bars_after_start < SLOW


def test_without_backfill_the_start_is_cold(tmp_path):
    _, warm, sig_views = asyncio.run(_run(tmp_path, 0, wall_s=1.0))
    assert warm and not any(w.ready for w in warm)
    assert not sig_views


def test_the_auto_source_fallback_reason_is_an_event(tmp_path):
    from kraken_tui.engine.facade import EngineMode, EventKind
    from kraken_tui.paper.sources.synthetic import SyntheticSource
    from kraken_tui.runtime import Runtime

    why = "live feed unavailable (connect timed out); using SYNTHETIC prices"

    async def run():
        src = SyntheticSource(["PF_XBTUSD"], note=why)
        rt = Runtime(_config(0), RunOptions(journal=tmp_path / "j.sqlite"), mode=EngineMode.PAPER,
                     journal_path=tmp_path / "j.sqlite", source=src, credentials=None)
        await rt.start()
        try:
            return list(rt.engine.snapshot().events)
        finally:
            await rt.aclose()

    events = asyncio.run(run())
    assert any(e.kind is EventKind.FEED and why in e.message for e in events)


def test_the_default_run_is_warm_at_its_first_candle_close(tmp_path):
    """The default configuration (its strategy, timeframe and symbols) on the synthetic market: every symbol's
    warm-up is complete at start and the forming candle closes within one timeframe, so the first candle
    close can already produce a signal."""

    async def run():
        cfg = Config.model_validate({"paper": {"fresh": True}})
        rt = await build_runtime(cfg, RunOptions(source="synthetic", journal=tmp_path / "d.sqlite"))
        await rt.start()
        try:
            return cfg, rt.paper_server.source.start_ms, rt.engine.snapshot().warmup
        finally:
            await rt.aclose()

    cfg, start_ms, warm = asyncio.run(run())
    tf_ms = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000}[cfg.strategy.timeframe]
    assert {w.symbol for w in warm} == set(cfg.strategy.symbols)
    for w in warm:
        assert w.ready, w
        assert w.next_close_ms is not None and 0 < w.next_close_ms - start_ms <= tf_ms, (w, start_ms)
        print(f"{w.symbol}: {w.bars}/{w.bars_needed} bars ({w.timeframe}) at start; first candle close "
              f"{(w.next_close_ms - start_ms) / 1000:.0f} s after the start")
