"""Helpers for the backtest tests: settings from a candle file, and a run that collects trade rows."""

from __future__ import annotations

from pathlib import Path

from kraken_tui.backtest.data import FundingSchedule, open_candles
from kraken_tui.backtest.runner import Backtest, BacktestSettings
from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig
from kraken_tui.journal.export import trade_csv_row
from kraken_tui.paper.instruments import default_instrument

PF_1M = "kraken/pf_xbtusd_1m_2025-08.csv"
PF_5M = "kraken/pf_xbtusd_5m_2025-08.csv"
PF_15M = "kraken/pf_xbtusd_15m_2025-08.csv"
PF_1H = "kraken/pf_xbtusd_1h_2025-08.csv"
SPOT_1H = "kraken/kraken_spot_xbtusd_1h_2013-10_2023-01.ohlcvt.csv"
SPOT_5M = "kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv"
FUNDING = "kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv"

#: Operator limits out of reach (the paper reference does not model them).
NO_OPERATOR = OperatorConfig(daily_loss_limit_pct=100, equity_floor_pct=0.01)


def settings_for(path: Path, strategy: str = "sma_cross", params: dict | None = None, *, fees=(0.0, 0.0),
                 slippage_bps: float = 0.0, funding: FundingSchedule | None = None, symbol: str = "PF_XBTUSD",
                 risk: RiskConfig | None = None, exits: ExitsConfig | None = None,
                 operator: OperatorConfig | None = None, balance: float = 10_000.0, **kw):
    """(settings, rows) for ``path``; frictionless by default (and the cost check on the first take-profit
    level, not on ATR, so that low-volatility files still trade)."""
    stream = open_candles(path, symbol=symbol, **kw)
    s = BacktestSettings(
        instrument=default_instrument(symbol), strategy=strategy, strategy_params=dict(params or {}),
        timeframe=stream.timeframe, bar_ms=stream.bar_ms,
        funding=funding or FundingSchedule.constant_rate(0.0, "test"), maker_fee_bps=fees[0], taker_fee_bps=fees[1],
        slippage_bps=slippage_bps, starting_balance_usd=balance, risk=risk or RiskConfig(cost_atr_multiple=0),
        exits=exits or ExitsConfig(), operator=operator or OperatorConfig(), run_id="testrun0000",
    )
    return s, stream.rows


def run_rows(settings, rows):
    """Run a backtest; returns (result, trades-CSV rows of every closed trade, Trade objects)."""
    trades = []
    bt = Backtest(settings, on_trade=trades.append)
    bt.run(rows)
    res = bt.finish()
    return res, [trade_csv_row(t) for t in trades], trades
