"""The state of one backtest: its single-symbol account, resting orders, current round trip and clock.

Owns: ``BacktestState`` (one explicit object that the backtest's collaborators, ``fills.Fills``,
``orders.Orders``, ``trades.Trades`` and ``decisions.Decisions``, read and change), ``Resting`` (a protective
order resting at the exchange), the row types of fills and pending orders, and ``fill_of`` (the journal's
``domain.Fill`` of a fill row). Exact money is ``Decimal`` (USD); the ``*_f`` fields are float mirrors the
bar loop compares against. Units: sizes contracts, prices USD, times UTC epoch ms.
Must not import: textual, the paper exchange's server, the journal writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from kraken_tui.domain import ZERO, Fill, FillType, OrderType, Side
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.exits import ExitReason, PositionExits
from kraken_tui.journal.records import FundingPayment
from kraken_tui.paper.account import PaperPosition

from .settings import _INF

__all__ = ["BacktestState", "FillRow", "PendingOrder", "Resting", "fill_of"]

#: A booked fill: (side, size contracts, price USD, ts ms, fill type, cliOrdId, fee USD, sequence number).
FillRow: TypeAlias = tuple[Side, Decimal, Decimal, int, FillType, str | None, Decimal, int]
#: A market order decided at a close, filled at the next open: (kind "close"|"enter", side, size contracts,
#: reason (close) or strategy name (enter), cliOrdId, signal id, the ``Enter`` action (enter) or None).
PendingOrder: TypeAlias = tuple[str, Side, Decimal, str, str, str | None, Enter | None]
#: An order intent's ``journal.trades.IntentInfo`` fields: (purpose, side "buy"|"sell", signal id).
IntentFields: TypeAlias = tuple[str, str, str | None]


class Resting:
    """A protective order resting at the exchange (stop: trigger on mark; take profit: limit), ``size``
    contracts at ``price`` USD (``price_f`` its float)."""

    __slots__ = ("purpose", "side", "kind", "size", "price", "price_f", "cli")

    def __init__(self, purpose: ExitReason, side: Side, kind: OrderType, size: Decimal, price: Decimal,
                 cli: str) -> None:
        self.purpose, self.side, self.kind, self.size, self.price, self.cli = purpose, side, kind, size, price, cli
        self.price_f = float(price)


def fill_of(run8: str, symbol: str, row: FillRow, fee_currency: str = "USD") -> Fill:
    """The ``domain.Fill`` of a booked fill row (ids ``<run8>-f<n>`` / ``<run8>-o<n>``), fee in
    ``fee_currency`` (USD for PF_, the coin for PI_: ``XBT``)."""
    side, qty, price, ts, fill_type, cli, fee, n = row
    return Fill(f"{run8}-f{n}", f"{run8}-o{n}", symbol, side, qty, price, ts, fill_type, cli, fee, fee_currency)


@dataclass(slots=True, eq=False)
class BacktestState:
    """Everything a backtest changes as it runs (one symbol, one account).

    Account: ``balance`` (the settlement currency, exact: USD for PF_, the coin for PI_), ``position`` (size contracts, average entry USD), ``pos_rates`` (initial,
    maintenance margin rates of the open position's tier). Float mirrors for the bar loop: ``bal_f``,
    ``pos_f``, ``entry_f``; thresholds ``stop_f`` (resting stop trigger; long: low <= stop_f), ``tp_f``
    (nearest take-profit; long: high > tp_f), ``liq_f`` (liquidation guard; long: low < liq_f).
    Orders: ``pending`` market orders for the next open, ``resting`` protective orders, ``exits`` the exit
    policy of the open position, ``best_f``/``time_due_ms``/``mark_always`` when it needs the mark.
    Round trip: ``cur_fills``, ``cur_funding``, ``cur_intents`` (cliOrdId -> intent fields),
    ``cur_strategies`` (signal id -> strategy), ``open_signal``, ``consecutive_losses``, ``closed_trades``/``winning_trades`` (win-rate leverage cap), ``seq`` (id counter).
    Clock: ``funded`` (last funded top of the hour), ``next_hour``, ``now_ms``, ``last_close`` (USD).
    Operator: ``floor_f`` (equity floor USD), ``day_end_ms``/``day_limit_f`` (daily loss limit), ``peak_f``
    (equity peak USD). ``atr_now``: the ATR at the bar being decided on.
    """

    balance: Decimal
    position: PaperPosition
    bal_f: float
    floor_f: float
    peak_f: float
    pos_f: float = 0.0
    entry_f: float = 0.0
    stop_f: float = _INF
    tp_f: float = _INF
    liq_f: float = -_INF
    pos_rates: tuple[Decimal, Decimal] = (ZERO, ZERO)
    pending: list[PendingOrder] = field(default_factory=list)
    resting: list[Resting] = field(default_factory=list)
    exits: PositionExits | None = None
    best_f: float = 0.0
    time_due_ms: int = 1 << 62
    mark_always: bool = False
    seq: int = 0
    cur_fills: list[FillRow] = field(default_factory=list)
    cur_funding: list[FundingPayment] = field(default_factory=list)
    cur_intents: dict[str, IntentFields] = field(default_factory=dict)
    cur_strategies: dict[str, str] = field(default_factory=dict)
    open_signal: str | None = None
    consecutive_losses: int = 0
    closed_trades: int = 0
    winning_trades: int = 0
    funded: int | None = None
    next_hour: int = -(1 << 62)
    now_ms: int = 0
    last_close: float = 0.0
    day_end_ms: int = -(1 << 62)
    day_limit_f: float = -_INF
    atr_now: float | None = None

    def set_thresholds(self) -> None:
        """Float trigger thresholds of the resting orders for the bar loop's pre-check (``stop_f``, ``tp_f``),
        for the direction of the position held (``pos_f``)."""
        long = self.pos_f > 0
        resting = self.resting
        if not resting:
            self.stop_f, self.tp_f = (-_INF, _INF) if long else (_INF, -_INF)
            return
        stop = next((r.price_f for r in resting if r.kind is OrderType.STOP), None)
        tps = [r.price_f for r in resting if r.kind is OrderType.LIMIT]
        if long:
            self.stop_f = stop if stop is not None else -_INF
            self.tp_f = min(tps) if tps else _INF
        else:
            self.stop_f = stop if stop is not None else _INF
            self.tp_f = max(tps) if tps else -_INF

    def cancel_resting(self) -> None:
        """Cancel every resting order. With none resting, the thresholds stay as they are: they only matter
        while a position is open, and every entry recomputes them (``orders.Orders.start_exits``)."""
        if self.resting:
            self.resting = []
            self.set_thresholds()
