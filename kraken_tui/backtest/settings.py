"""What a backtest runs and what it produces: settings, result, the fill quote and the trade fingerprint.

Owns: ``BacktestSettings``, ``BacktestResult``, ``quote_at`` (the fill quote used by the loop and by the
paper-exchange reference in the tests), ``fingerprint_line`` / ``trade_fingerprint`` (the run's sha256 over its
trades) and ``stats_row`` (a trade's statistics row). Money USD, fees and slippage in basis points, times UTC ms.
Must not import: textual, the paper exchange's server, the journal writer.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig
from kraken_tui.domain import ZERO, FillType, Instrument
from kraken_tui.domain.instruments import price_decimals
from kraken_tui.domain.timeunits import DAY_MS, HOUR_MS
from kraken_tui.journal.stats import TradeRow
from kraken_tui.journal.trades import Trade

from .data import FundingSchedule

__all__ = ["DAY_MS", "HOUR_MS", "BacktestResult", "BacktestSettings", "dec_of", "fingerprint_line", "fingerprint_text", "quote_at",
           "quote_terms", "quote_with",
           "stats_row", "trade_fingerprint"]


_INF = math.inf
_FILL_TYPES = {t.value: t for t in FillType}


def stats_row(t: Trade) -> TradeRow:
    """``journal.tradecache.rows_of([t])[0]``: the statistics row of one trade (money as floats)."""
    return (t.exit_ts_ms, t.entry_ts_ms, t.side.value, t.symbol, t.strategy or "unknown", float(t.net_pnl_usd),
            float(t.gross_pnl_usd), float(t.fees_usd), float(t.funding_usd), float(t.funding_paid_usd),
            float(t.funding_received_usd))


def quote_at(inst: Instrument, price: float, slippage_bps: float) -> tuple[Decimal, Decimal]:
    """(bid, ask) a market order meets at ``price`` (USD): ``price x (1 -/+ slippage_bps / 1e4)``, bid rounded
    down and ask up to the tick with ``paper.matching.on_tick_grid``'s float formula (the paper exchange's own
    snapping; a test checks they agree). A sell fills at the bid, a buy at the ask."""
    return quote_with(price, *quote_terms(inst, slippage_bps))


def quote_terms(inst: Instrument, slippage_bps: float) -> tuple[float, float, int]:
    """``quote_with``'s per-instrument terms: (slippage fraction, tick size USD as a float, price decimals)."""
    return slippage_bps / 10_000.0, float(inst.tick_size), price_decimals(inst.tick_size)


def quote_with(price: float, k: float, step: float, digits: int) -> tuple[Decimal, Decimal]:
    """``quote_at`` with its per-instrument terms computed once (``quote_terms``): the same formula."""
    bid = round(math.floor(price * (1.0 - k) / step + 1e-9) * step, digits)
    ask = round(math.ceil(price * (1.0 + k) / step - 1e-9) * step, digits)
    if bid == ask:  # no slippage and a price on the grid: one conversion (the same Decimal either way)
        d = dec_of(bid)
        return d, d
    return dec_of(bid), dec_of(ask)


_DEC_OF: dict[float, Decimal] = {}
_DEC_OF_MAX = 1 << 16


def dec_of(x: float) -> Decimal:
    """``Decimal(repr(x))`` (the exact shortest text of a float price, USD), memoised: bar prices repeat on the
    tick grid, and a dict lookup costs a fifth of the conversion. The memo is cleared when it reaches 65,536
    entries (memory stays flat). Zero is not memoised (``0.0 == -0.0`` but their texts differ)."""
    d = _DEC_OF.get(x)
    if d is None:
        d = Decimal(repr(x))
        if x:
            if len(_DEC_OF) >= _DEC_OF_MAX:
                _DEC_OF.clear()
            _DEC_OF[x] = d
    return d


def fingerprint_text(entry_ts_ms: int, exit_ts_ms: int, side: str, size: Decimal, entry_price: Decimal,
                     exit_price: Decimal, net_pnl_usd: Decimal, fees_usd: Decimal, funding_usd: Decimal,
                     exit_reason: str) -> bytes:
    """One trade's line of the run fingerprint from its values: entry and exit time (UTC ms), side
    (``long``/``short``), size, entry and exit price, net P&L, fees, funding (exact Decimal text) and exit
    reason, ``,``-joined, newline-terminated (``fingerprint_line`` and ``Trades._report`` call it)."""
    return (f"{entry_ts_ms},{exit_ts_ms},{side},{size},{entry_price},{exit_price},{net_pnl_usd},{fees_usd},"
            f"{funding_usd},{exit_reason}\n").encode()


def fingerprint_line(t: Trade) -> bytes:
    """One trade's line of the run fingerprint (``fingerprint_text`` of the trade's fields)."""
    return fingerprint_text(t.entry_ts_ms, t.exit_ts_ms, t.side.value, t.size, t.entry_price, t.exit_price,
                            t.net_pnl_usd, t.fees_usd, t.funding_usd, t.exit_reason)


def trade_fingerprint(trades: Iterable[Trade]) -> str:
    """sha256 hex over ``fingerprint_line`` of each trade, in order (what ``BacktestResult.fingerprint`` holds)."""
    h = hashlib.sha256()
    for t in trades:
        h.update(fingerprint_line(t))
    return h.hexdigest()


@dataclass
class BacktestSettings:
    """Everything a run needs. Money USD, fees and slippage in basis points, rates relative per hour.

    ``strategy_params`` are the strategy's ``[strategy.params]`` (flags already applied);
    ``starting_balance_usd`` the USD collateral at the start (PF_); ``starting_balance_coin`` the coin balance
    of the inverse margin account at the start (PI_: the account is in the coin, ``[paper]
    starting_coin_balances``); ``liquidation_fee_pct`` as ``[paper]``.
    """

    instrument: Instrument
    strategy: str
    strategy_params: dict[str, Any]
    timeframe: str
    bar_ms: int
    funding: FundingSchedule
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    slippage_bps: float = 0.0
    starting_balance_usd: float = 10_000.0
    starting_balance_coin: float = 0.1
    liquidation_fee_pct: float = 0.25
    risk: RiskConfig = field(default_factory=lambda: RiskConfig.model_validate({}))
    exits: ExitsConfig = field(default_factory=lambda: ExitsConfig.model_validate({}))
    operator: OperatorConfig = field(default_factory=lambda: OperatorConfig.model_validate({}))
    run_id: str = "backtest"
    atr_period: int = 14
    index_closes: dict[int, float] | None = None
    """The index (spot) series (``--index PATH``): close price (USD) by bar open time (UTC ms). With it the basis
    guard runs before entry (``engine.decide``) and after (``[risk] basis_action``); without it the close is
    both mark and index (basis 0)."""
    kernel: str | None = None
    """``"events"`` (the event-skipping kernel where it applies) or ``"bars"`` (the bar loop); None = the
    ``KRAKEN_TUI_BACKTEST_KERNEL`` environment variable, else ``"events"`` (``runner.Backtest``). Same results."""


@dataclass
class BacktestResult:
    """What a run produced (money USD, times UTC ms).

    ``rows`` are the statistics rows of the closed trades (``journal.stats.TradeRow``), ``last_trades`` the
    most recent closed trades (bounded), ``fingerprint`` sha256 over every trades-CSV row, ``curve`` the
    mark-to-market equity at bar closes (decimated to at most ~2k points), ``open_position`` the position
    left at the end (side, size, entry) or None.

    A PI_ (inverse) run keeps its account in the coin (``currency``, e.g. ``xbt``): ``starting_balance_coin``,
    ``final_equity_coin``, ``funding_coin`` and ``max_drawdown_mtm_coin`` are in the coin, the equity curve and
    the operator guards too; the ``*_usd`` figures are those coin amounts valued at ``usd_rate`` (USD per coin,
    the last close) and the trades' USD at their exit prices (``journal.trades``). A PF_ run has ``currency``
    ``usd`` and the coin fields None.
    """

    candles: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    rows: list[TradeRow] = field(default_factory=list)
    last_trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=10))
    fingerprint: str = ""
    curve: list[tuple[int, float]] = field(default_factory=list)
    max_drawdown_mtm_usd: float = 0.0
    final_equity_usd: float = 0.0
    starting_equity_usd: Decimal = ZERO
    signals: int = 0
    rejected: int = 0
    funding_payments: int = 0
    funding_usd: Decimal = ZERO
    liquidations: int = 0
    open_position: tuple[str, Decimal, Decimal] | None = None
    final_state: str = "RUNNING"
    state_reason: str = ""
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    currency: str = "usd"
    starting_balance_coin: Decimal | None = None
    final_equity_coin: Decimal | None = None
    funding_coin: Decimal | None = None
    max_drawdown_mtm_coin: float | None = None
    usd_rate: Decimal | None = None

