"""The paper account persists across a restart of the runtime (profiles, ``paper.store``), end to end over
loopback: a position opened in run 1 is on the exchange and in the engine after run 2 starts on the same
profile, with no "closed on the exchange" warning, and funding keeps being charged on it after the restart
(the hours the process was down included). A replay profile keeps its own journal, so a HALTED replay does
not halt the paper console.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from kraken_tui.config import Config
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.engine.facade import EngineMode
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.paper.sources.base import FundingEvent, MarketTick
from kraken_tui.runtime import RunOptions, RunProfile, Runtime, build_runtime, resolve_profile
from tests.e2e.harness import QueueMarket, wait_for

H0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
SYM = "PF_XBTUSD"
RATE = 0.0001  # relative hourly funding rate: longs pay


def _cfg() -> Config:
    return Config.model_validate({"strategy": {"name": "ema_cross", "symbols": [SYM], "timeframe": "1h"},
                                  "operator": {"stale_data_s": 86_400, "reconcile_interval_s": 3600}})


def _tick(ts_ms: int, price: float = 50_000.0) -> MarketTick:
    return MarketTick(SYM, ts_ms, last=price, bid=price - 0.5, ask=price + 0.5, bid_size=1e6, ask_size=1e6,
                      mark_price=price, index_price=price)


@contextlib.asynccontextmanager
async def _paper_run(tmp: Path) -> AsyncIterator[tuple[Runtime, QueueMarket]]:
    profile = RunProfile("paper", tmp / "journal.sqlite", tmp / "paper-account.sqlite")
    market = QueueMarket((SYM,))
    rt = Runtime(_cfg(), RunOptions(journal=profile.journal_path), mode=EngineMode.PAPER,
                 journal_path=profile.journal_path, source=market, credentials=None, profile=profile)
    await rt.start()
    try:
        yield rt, market
    finally:
        await rt.aclose()


def _funding_rows(rt: Runtime, after_ms: int) -> list[int]:
    return [e.ts_ms for e in rt.paper_server.exchange.account_log
            if e.info == "funding rate change" and e.contract == SYM.lower() and e.ts_ms > after_ms]


async def _restart(tmp: Path) -> dict[str, object]:
    async with _paper_run(tmp) as (rt, market):
        ex = rt.paper_server.exchange
        market.queue.put_nowait(FundingEvent(SYM, H0, RATE))
        market.queue.put_nowait(_tick(H0 + 10 * 60_000))
        await wait_for(lambda: ex.markets[SYM].mark is not None)
        out = ex.send_order({"orderType": "mkt", "symbol": SYM, "side": "buy", "size": "0.01"})
        assert out.status == "placed", out.status
        stop = ex.send_order({"orderType": "stp", "symbol": SYM, "side": "sell", "size": "0.01",
                              "stopPrice": "45000", "reduceOnly": "true"})
        assert stop.status == "placed", stop.status
        market.queue.put_nowait(_tick(H0 + HOUR_MS + 10 * 60_000))  # one top of the hour: funding booked
        await wait_for(lambda: len(_funding_rows(rt, 0)) == 1)
        await wait_for(lambda: any(p.symbol == SYM for p in rt.engine.snapshot().positions), timeout_s=10)
        before = {"size": ex.positions[SYM].size, "usd": ex.balances.quantities["usd"], "log_seq": ex.log_seq,
                  "orders": set(ex.open_orders)}
        stopped_at = ex.now_ms
    async with _paper_run(tmp) as (rt2, market2):
        ex2 = rt2.paper_server.exchange
        restored = {"size": ex2.positions[SYM].size if SYM in ex2.positions else None,
                    "usd": ex2.balances.quantities["usd"], "log_seq": ex2.log_seq, "orders": set(ex2.open_orders)}
        market2.queue.put_nowait(_tick(H0 + 4 * HOUR_MS + 5 * 60_000))  # three hours later
        await wait_for(lambda: len(_funding_rows(rt2, stopped_at)) == 3)
        await rt2.engine.wait_idle()
        snap = rt2.engine.snapshot()
        texts = [e.message for e in snap.events]
        return {"before": before, "restored": restored, "after_restart": _funding_rows(rt2, stopped_at),
                "engine_positions": [p.symbol for p in snap.positions], "texts": texts,
                "usd_after": ex2.balances.quantities["usd"], "profile": snap.profile,
                "paper_account": snap.paper_account}


def test_a_paper_position_survives_a_restart_and_funding_keeps_accruing(tmp_path):
    got = asyncio.run(_restart(tmp_path))
    assert got["restored"] == got["before"]  # position, wallet, account-log ids, the open stop order
    assert got["after_restart"] == [H0 + 2 * HOUR_MS, H0 + 3 * HOUR_MS, H0 + 4 * HOUR_MS]
    assert got["usd_after"] < got["before"]["usd"]  # the long paid funding for the hours after the restart
    assert got["engine_positions"] == [SYM]
    assert not any("closed on the exchange" in t for t in got["texts"]), got["texts"]
    assert got["profile"] == "paper" and got["paper_account"] == str(tmp_path / "paper-account.sqlite")


def test_fresh_starts_the_paper_account_over(tmp_path):
    async def go() -> tuple[int, int]:
        async with _paper_run(tmp_path) as (rt, market):
            ex = rt.paper_server.exchange
            market.queue.put_nowait(_tick(H0))
            await wait_for(lambda: ex.markets[SYM].mark is not None)
            ex.send_order({"orderType": "mkt", "symbol": SYM, "side": "buy", "size": "0.01"})
        profile = RunProfile("paper", tmp_path / "journal.sqlite", tmp_path / "paper-account.sqlite")
        rt2 = Runtime(_cfg(), RunOptions(fresh=True), mode=EngineMode.PAPER, journal_path=profile.journal_path,
                      source=QueueMarket((SYM,)), credentials=None, profile=profile)
        await rt2.start()
        try:
            ex2 = rt2.paper_server.exchange
            return len(ex2.positions), len(ex2.account_log)
        finally:
            await rt2.aclose()

    assert asyncio.run(go()) == (0, 0)


def test_replay_and_paper_profiles_keep_separate_journals_and_operator_state(shared_data):
    csv = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    cfg = Config.model_validate({"strategy": {"name": "ema_cross", "symbols": ["PF_ETHUSD"], "timeframe": "5m"},
                                 "operator": {"stale_data_s": 86_400}})

    async def go() -> tuple[Path, Path, OperatorState, str]:
        rt = await build_runtime(cfg, RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None))
        await rt.start()
        try:
            await rt.engine.flatten("replay drill", TransitionSource.CTL)
            assert rt.engine.snapshot().state is OperatorState.HALTED
        finally:
            await rt.aclose()
        paper = await build_runtime(cfg, RunOptions(source="synthetic"))
        await paper.start()
        try:
            snap = paper.engine.snapshot()
            return rt.journal_path, paper.journal_path, snap.state, snap.profile
        finally:
            await paper.aclose()

    replay_journal, paper_journal, state, profile = asyncio.run(go())
    assert replay_journal != paper_journal
    assert replay_journal.parent.name == "replay-kraken_spot_ethusd_5m_2024H2.ohlcvt"
    assert state is not OperatorState.HALTED and profile == "paper"


def test_profile_names(tmp_path):
    cfg = Config()
    assert resolve_profile(cfg, RunOptions()).name == "paper"
    assert resolve_profile(cfg, RunOptions(replay=["/d/a.jsonl.gz", "/d/b.csv@PF_ETHUSD"])).name == "replay-a+b"
    assert resolve_profile(cfg, RunOptions(profile="week2")).journal_path.parent.name == "week2"
    explicit = resolve_profile(cfg, RunOptions(journal=tmp_path / "x.sqlite"))
    assert explicit.paper_account == tmp_path / "x.paper-account.sqlite"
    assert resolve_profile(cfg, RunOptions(replay=["/d/a.csv"])).paper_account is None
