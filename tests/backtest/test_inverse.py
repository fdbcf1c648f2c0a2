"""PI_ (inverse) perpetuals in the backtest: the account is in the coin (Kraken's inverse margin account,
docs/kraken-futures-api.md §4.6), fills, fees, funding and liquidation by ``domain.money``'s inverse formulas
(P&L (1/entry - 1/exit) x contracts in XBT: Kraken Support "Portfolio Management"), trades in USD at the exit
price. A hand-computed trade, and parity with the Engine replaying the same PI_ candles against the paper
exchange (``kraken-tui run --replay PATH@PI_XBTUSD``), whose PI_ positions are margined by the same coin
balance (``[paper] starting_coin_balances``)."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

from kraken_tui.backtest.data import FundingSchedule, open_candles
from kraken_tui.backtest.runner import Backtest, BacktestSettings
from kraken_tui.config import Config
from kraken_tui.domain import Side
from kraken_tui.journal.queries import read_data
from kraken_tui.journal.trades import derive_trades
from kraken_tui.paper.instruments import default_instrument
from kraken_tui.paper.sources.candles import DEFAULT_SPREAD_BPS

from ._util import PF_1M

D = Decimal
PI = "PI_XBTUSD"
PARAMS = {"fast": 10, "slow": 20}


def _settings(**kw) -> BacktestSettings:
    base = dict(instrument=default_instrument(PI), strategy="sma_cross", strategy_params=dict(PARAMS),
                timeframe="1m", bar_ms=60_000, funding=FundingSchedule.constant_rate(0.0, "none"),
                maker_fee_bps=2.0, taker_fee_bps=5.0, starting_balance_coin=0.5)
    base.update(kw)
    return BacktestSettings(**base)


def test_a_hand_computed_pi_trade_in_the_coin_and_in_usd():
    # long 10 000 contracts at 50 000, out at 62 500, taker 5 bp, one hour of funding at 0.0001 relative
    # (absolute 0.0001 / 50 000 = 2e-9 per contract: the long pays 10 000 x 2e-9 = 0.00002 XBT):
    # P&L (1/50 000 - 1/62 500) x 10 000 = 0.2 - 0.16 = 0.04 XBT; fees 0.2 x 5 bp + 0.16 x 5 bp = 0.00018 XBT;
    # net 0.0398 XBT = 2 487.5 USD at the exit price 62 500; gross 2 500 USD
    trades: list = []
    bt = Backtest(_settings(funding=FundingSchedule.constant_rate(0.0001, "test")), on_trade=trades.append)
    f = bt.fills
    t0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000
    f.clock(t0)
    bt.state.last_close = 50_000.0
    f.book(Side.BUY, D(10_000), D(50_000), "taker", None, t0 + 1)
    assert f.clock(t0 + 3_600_000 + 1)  # one hour of funding on the long
    f.book(Side.SELL, D(10_000), D(62_500), "taker", None, t0 + 3_600_000 + 2)
    assert bt.state.balance == D("0.5") + D("0.0398")
    (t,) = trades
    assert (t.currency, t.usd_rate) == ("xbt", D(62_500))
    assert (t.gross_pnl_coin, t.fees_coin, t.funding_coin, t.net_pnl_coin) == (D("0.04"), D("0.00018"),
                                                                               D("-0.00002"), D("0.0398"))
    assert t.gross_pnl_usd == D(2_500) and t.net_pnl_usd == D("2487.5")
    assert bt.result.funding_coin == D("-0.00002") and bt.result.funding_usd == D("-0.00002") * 50_000


def test_a_pi_long_is_liquidated_at_the_inverse_price():
    # 0.001 XBT, long 2 000 contracts from 50 000 (fee 0.00002 XBT): MM 2 000 x 1 % / 50 000 = 0.0004 XBT;
    # liquidation price 2 000 / (0.00098 + 0.04 - 0.0004) = 49 285.5... (domain.money.inverse_liquidation_price)
    bt = Backtest(_settings(starting_balance_coin=0.001))
    f = bt.fills
    f.clock(1_000)
    bt.state.last_close = 50_000.0
    f.book(Side.BUY, D(2_000), D(50_000), "taker", None, 2_000)
    assert abs(bt.state.liq_f - 2_000 / (0.00098 + 0.04 - 0.0004)) < 0.1
    bt.orders.liquidation(49_500.0, 3_000)
    assert bt.state.position.size == 2_000
    bt.orders.liquidation(49_000.0, 4_000)
    assert bt.result.liquidations >= 1 and bt.state.position.size < 2_000


def _config() -> Config:
    return Config.model_validate({
        "strategy": {"name": "sma_cross", "symbols": [PI], "timeframe": "1m", "params": PARAMS},
        "operator": {"stale_data_s": 60},
        # both size every entry at this cap: both size a PI_ entry from the coin account's equity, the Engine at
        # the mark and the backtest at the close (the sizes below the cap could differ by a contract)
        "risk": {"max_position_notional_usd": 500},
    })


def _engine_trades(csv: Path, journal: Path):
    from kraken_tui.runtime import RunOptions, build_runtime

    async def run() -> int:
        rt = await build_runtime(_config(), RunOptions(replay=[f"{csv}@{PI}"], speed=None, exit_at_end=True,
                                                      journal=journal, funding_rate=0.0))
        await rt.start()
        try:
            return await asyncio.wait_for(rt.wait_finished(), timeout=120)
        finally:
            await rt.aclose()

    assert asyncio.run(run()) == 0
    conn = sqlite3.connect(journal)
    try:
        d = read_data(conn, with_marks=False)
    finally:
        conn.close()
    return derive_trades(d.fills, intents=d.intents, strategies=d.strategies, funding=d.funding)


def _key(t) -> tuple:
    # money to 1e-12 USD / 1e-16 XBT: the exchange's coin fees reach the Engine's journal as JSON numbers (about
    # 16 significant digits), the backtest keeps the exact Decimal
    usd, coin = D("1e-12"), D("1e-16")
    return (t.entry_ts_ms, t.exit_ts_ms, t.side.value, t.size, t.entry_price, t.exit_price,
            t.fees_usd.quantize(usd), t.net_pnl_usd.quantize(usd), t.net_pnl_coin.quantize(coin), t.exit_reason)


def test_engine_replay_of_pi_candles_equals_the_backtest(shared_data, tmp_path):
    # the PF_ parity window (tests/backtest/test_engine_parity.py) traded as PI_XBTUSD, zero-volume bars given
    # a tiny volume for the same reason as there
    lines = shared_data(PF_1M).read_text().splitlines()
    out = [lines[0]]
    for ln in lines[1:]:
        parts = ln.split(",")
        if float(parts[5]) == 0:
            parts[5] = "0.0001"
        out.append(",".join(parts))
    csv = tmp_path / "traded.csv"
    csv.write_text("\n".join(out) + "\n")
    engine = _engine_trades(csv, tmp_path / "engine.sqlite")
    cfg = _config()
    stream = open_candles(csv, symbol=PI)
    s = _settings(timeframe=stream.timeframe, bar_ms=stream.bar_ms, slippage_bps=DEFAULT_SPREAD_BPS / 2,
                  starting_balance_coin=cfg.paper.starting_coin_balances["xbt"], risk=cfg.risk, exits=cfg.exits,
                  operator=cfg.operator, liquidation_fee_pct=cfg.paper.liquidation_fee_pct)
    trades: list = []
    bt = Backtest(s, on_trade=trades.append)
    bt.run(stream.rows)
    bt.finish()
    assert len(trades) >= 30
    assert all(t.currency == "xbt" and t.usd_rate == t.exit_price for t in trades)
    assert [_key(t) for t in engine.closed] == [_key(t) for t in trades]
