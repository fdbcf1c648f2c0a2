"""The paper exchange core: one account, its orders, positions, fills, funding and liquidations.

Owns: ``PaperExchange``, the orchestrator. It applies market events (``MarketTick``/``FundingEvent`` from
``paper.sources.base``; their ``ts_ms`` is the exchange clock, so a replay books funding at every data hour),
fires trigger orders, fills resting limits as maker, settles hourly funding at the top of each hour, runs
the dead man's switch (spec §4.14) and liquidates from mark price (spec §9). PF_ positions are margined by the
flex account (USD), PI_ positions by their coin's inverse margin account (``paper.margin``, spec §4.6). Order entry lives in
``paper.entry``, booking in ``paper.ledger``, liquidation in ``paper.liquidation``; listeners (the WebSocket
hub) are told about every change through ``notify(kind, payload)``.
Must not import: aiohttp, httpx, websockets, textual, the engine.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal

from kraken_tui.config import PaperConfig
from kraken_tui.domain import ZERO, AccountLogEntry, Instrument
from kraken_tui.domain.money import (
    MAX_FUNDING_HOURS_PER_STEP,
    notional_usd,
    position_margins,
    unrealized_pnl,
)
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.paper import entry, liquidation, margin
from kraken_tui.paper.account import FLEX_ACCOUNT, AccountFigures, Balances, CoinAccountFigures, PaperPosition
from kraken_tui.paper.book import DepthBook
from kraken_tui.paper.candles import CandleStore
from kraken_tui.paper.fills import PaperFill
from kraken_tui.paper.history import HistoryRecorder
from kraken_tui.paper.instruments import build_instruments
from kraken_tui.paper.ledger import settle_funding
from kraken_tui.paper.matching import PaperMarket, maker_fill, on_tick_grid
from kraken_tui.paper.orders import Outcome, PaperOrder
from kraken_tui.paper.sources.base import FundingEvent, MarketEvent, MarketTick
from kraken_tui.paper.wire import iso

__all__ = ["Listener", "PaperExchange"]

log = logging.getLogger(__name__)
Listener = Callable[[str, object], None]
STATUS_MEMORY_MS = 5_000  # orders/status remembers closed orders for 5 s (spec §4.16)


def _d(x: float) -> Decimal:
    return Decimal(repr(x))


class PaperExchange:
    """A local Kraken Futures account and matching engine.

    Args:
        cfg: the ``[paper]`` config (starting balance USD of the flex account, starting coin balances of the
            inverse margin accounts, maker/taker fee bps, symbols, liquidation fee %).
        instruments: override of the instrument table (symbol -> Instrument); default from ``cfg.symbols``.

    Listeners get ``(kind, payload)``: ``order`` (PaperOrder snapshot, is_cancel, reason), ``fill``
    (PaperFill), ``position`` (symbol), ``balance`` (None), ``account_log`` (AccountLogEntry), ``market``
    (symbol), ``trade`` (symbol, price, size, taker side, ts_ms). A failing listener is logged, never raised.
    """

    def __init__(self, cfg: PaperConfig | None = None, *, instruments: dict[str, Instrument] | None = None) -> None:
        cfg = cfg or PaperConfig.model_validate({})  # the [paper] defaults
        self.instruments = instruments or build_instruments(cfg.symbols)
        self.maker_fee_bps = _d(cfg.maker_fee_bps)
        self.taker_fee_bps = _d(cfg.taker_fee_bps)
        self.liquidation_fee_bps = _d(cfg.liquidation_fee_pct) * 100
        self.markets = {s: PaperMarket(s, book=DepthBook(s, float(i.tick_size), float(i.lot_size)))
                        for s, i in self.instruments.items()}
        self.positions: dict[str, PaperPosition] = {}
        self.balances = Balances({"usd": _d(cfg.starting_balance_usd),
                                  **{c: _d(q) for c, q in cfg.starting_coin_balances.items()}})
        self.open_orders: dict[str, PaperOrder] = {}
        self.closed_orders: deque[PaperOrder] = deque()
        self.fills: deque[PaperFill] = deque(maxlen=10_000)
        self.account_log: deque[AccountLogEntry] = deque(maxlen=200_000)
        self.log_seq = 0
        self.now_ms = 0
        self.dms_trigger_ms: int | None = None
        self.dms_wall_s: Callable[[], float] | None = None
        """A monotonic wall clock (seconds) the dead man's switch counts instead of the exchange clock; set for
        replays, whose data clock runs faster than the wall: Kraken's timer measures the client's silence in real
        seconds (spec §4.14), and the client refreshes it on the wall clock. None: the exchange clock."""
        self._dms_wall_deadline_s: float | None = None
        self.leverage_preferences: dict[str, Decimal] = {}
        self.candles = CandleStore()
        self.account_uid = str(uuid.uuid4())
        self.ignored_events = 0
        self._listeners: list[Listener] = []
        self.history = HistoryRecorder(self.account_uid, lambda sym: self.markets[sym].mark)
        self._listeners.append(self.history.on_event)
        self.notifications: list[dict[str, object]] = []
        """Platform notices served by REST ``notifications`` (spec §4.1): Kraken's notification objects."""
        self.pnl_preferences: dict[str, str] = {}
        self.assignment_stage = False
        """Assign a position that is bankrupt at mark at its bankruptcy price (``paper.liquidation``); off by
        default so paper fills equal the backtester's liquidation at mark."""
        self.suspended: set[str] = set()
        """Symbols whose market is suspended: order entry answers ``marketSuspended`` (``suspend_market``)."""
        self.cash_balances: dict[str, Decimal] = {}
        """The holding (cash) wallet by currency: what ``transfer`` moves out of the margin accounts."""
        self.fee_schedule_uid = str(uuid.uuid5(uuid.NAMESPACE_URL, "kraken-tui-paper-fee-schedule"))
        self.funded_hour_ms: int | None = None
        """The last top of the hour (UTC ms) whose funding was settled; None before the first event."""

    # ------------------------------------------------------------------ listeners and clock
    def add_listener(self, fn: Listener) -> None:
        """Register ``fn(kind, payload)`` for every change (see class docstring)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Unregister a listener (no error when absent)."""
        if fn in self._listeners:
            self._listeners.remove(fn)

    def notify(self, kind: str, payload: object) -> None:
        """Tell every listener; listener errors are logged and swallowed so the exchange never stops."""
        for fn in list(self._listeners):
            try:
                fn(kind, payload)
            except Exception:  # a broken subscriber must not break the exchange
                log.exception("paper exchange listener failed on %s", kind)

    def advance_clock(self, ts_ms: int) -> None:
        """Move the exchange clock forward to ``ts_ms`` (never back): settle funding for every top of the
        hour passed (spec §8.3), fire the dead man's switch when due (spec §4.14), forget closed orders older
        than 5 s (spec §4.16)."""
        if ts_ms <= self.now_ms:
            return
        if self.funded_hour_ms is None:
            self.funded_hour_ms = ts_ms - ts_ms % HOUR_MS
        hours = 0
        while self.funded_hour_ms + HOUR_MS <= ts_ms and hours < MAX_FUNDING_HOURS_PER_STEP:
            self.funded_hour_ms += HOUR_MS
            self.now_ms = self.funded_hour_ms
            settle_funding(self, self.funded_hour_ms)
            hours += 1
        self.funded_hour_ms = max(self.funded_hour_ms, ts_ms - ts_ms % HOUR_MS)
        self.now_ms = ts_ms
        if self.dms_trigger_ms is not None and self._dms_due(ts_ms):
            self.dms_trigger_ms = self._dms_wall_deadline_s = None
            for order in list(self.open_orders.values()):
                self.close_order(order, "CANCELLED", "dead_man_switch", "DEAD_MAN_SWITCH")
        while self.closed_orders and (self.closed_orders[0].closed_ms or 0) < ts_ms - STATUS_MEMORY_MS:
            self.closed_orders.popleft()
        if self.positions:
            liquidation.check(self)

    # ------------------------------------------------------------------ market events
    def apply_event(self, event: MarketEvent) -> None:
        """Apply one market event. Unknown symbols are counted in ``ignored_events`` and skipped."""
        sym = event.symbol.upper()
        market = self.markets.get(sym)
        if market is None:
            self.ignored_events += 1
            return
        self.advance_clock(event.ts_ms)
        if isinstance(event, FundingEvent):
            market.set_funding_rate(event.ts_ms, event.funding_rate)
            self.notify("market", sym)
            return
        self._apply_tick(sym, market, event)

    def backfill_candles(self, ticks: Iterable[MarketTick]) -> int:
        """Record past ticks (a source's backfilled history, e.g. ``SyntheticSource.history``) into the charts
        API's candle history only: no clock, market, order or listener effect. Prices are put on the
        instrument's tick grid as live ticks are. Unknown symbols are skipped; returns the ticks recorded."""
        n = 0
        for tick in ticks:
            inst = self.instruments.get(tick.symbol.upper())
            if inst is None:
                continue
            t = on_tick_grid(tick, inst)
            self.candles.add_tick(inst.symbol, t.ts_ms, t.last, t.trade_size, t.mark_price, t.index_price)
            n += 1
        return n

    def _apply_tick(self, sym: str, market: PaperMarket, tick: MarketTick) -> None:
        inst = self.instruments[sym]
        tick = on_tick_grid(tick, inst)
        market.apply(tick)
        self.candles.add_tick(sym, tick.ts_ms, tick.last, tick.trade_size, market.mark, market.index)
        for order in [o for o in self.open_orders.values() if o.symbol == sym and o.is_trigger]:
            if order.trail_deviation is not None:
                order.trail(market.signal_price(order.trigger_signal))
            if order.order_id in self.open_orders and order.triggered_by(market.signal_price(order.trigger_signal)):
                entry.fire_trigger(self, order)
        trade = [tick.last, tick.trade_size] if tick.trade_size is not None and tick.last is not None else None
        for order in [o for o in self.open_orders.values() if o.symbol == sym and not o.is_trigger]:
            if order.order_id not in self.open_orders:
                continue
            fill = maker_fill(order, inst, market, trade)
            if fill is not None:
                entry.execute(self, order, fill[0], fill[1], "maker")
        if self.positions:
            liquidation.check(self)
        self.notify("market", sym)
        if trade is not None and tick.trade_side is not None:
            self.notify("trade", (sym, tick.last, tick.trade_size, tick.trade_side, tick.ts_ms))

    # ------------------------------------------------------------------ order book of the account
    def add_open(self, order: PaperOrder, reason: str = "new_placed_order_by_user") -> None:
        """Rest ``order`` and tell listeners (WS open_orders ``is_cancel=false``)."""
        self.open_orders[order.order_id] = order
        self.notify("order", (order.snapshot(), False, reason))

    def close_order(self, order: PaperOrder, status: str, reason: str, update_reason: str) -> None:
        """Remove an order for good: ``status`` FULLY_EXECUTED / CANCELLED / REJECTED (orders/status),
        ``reason`` the WS open_orders reason (spec §7.8), kept 5 s for orders/status."""
        self.open_orders.pop(order.order_id, None)
        order.status, order.update_reason, order.closed_ms = status, update_reason, self.now_ms
        order.last_update_ms = self.now_ms
        self.closed_orders.append(order)
        self.notify("order", (order.snapshot(), True, reason))

    def find_open(self, order_id: str | None = None, cli_ord_id: str | None = None) -> PaperOrder | None:
        """The open order with this id or cliOrdId, or None."""
        if order_id:
            return self.open_orders.get(order_id)
        if cli_ord_id:
            return next((o for o in self.open_orders.values() if o.cli_ord_id == cli_ord_id), None)
        return None

    def find_recent(self, order_id: str | None = None, cli_ord_id: str | None = None) -> PaperOrder | None:
        """An open order, or one closed within the last 5 s (orders/status semantics, spec §4.16)."""
        found = self.find_open(order_id, cli_ord_id)
        if found is not None:
            return found
        for o in reversed(self.closed_orders):
            if (order_id and o.order_id == order_id) or (cli_ord_id and o.cli_ord_id == cli_ord_id):
                return o
        return None

    # ------------------------------------------------------------------ order entry (see paper.entry)
    def send_order(self, params: dict[str, object], order_tag: str | None = None) -> Outcome:
        """sendorder (spec §4.10). ``params`` by Kraken name; never raises on bad input (status instead)."""
        return entry.send_order(self, params, order_tag)

    def edit_order(self, params: dict[str, object]) -> Outcome:
        """editorder (spec §4.11)."""
        return entry.edit_order(self, params)

    def cancel_order(self, order_id: str | None = None, cli_ord_id: str | None = None) -> Outcome:
        """cancelorder (spec §4.12): cancelled, filled (closed by a full fill) or notFound."""
        return entry.cancel_order(self, order_id, cli_ord_id)

    def cancel_all(self, symbol: str | None = None) -> tuple[str, list[PaperOrder]]:
        """cancelallorders (spec §4.13): (status, cancelled orders); triggers included."""
        cancelled = [o for o in list(self.open_orders.values()) if symbol is None or o.symbol == symbol]
        for o in cancelled:
            self.close_order(o, "CANCELLED", "cancelled_by_user", "CANCELLED_BY_USER")
        return ("cancelled" if cancelled else "noOrdersToCancel"), cancelled

    def cancel_all_after(self, timeout_s: int) -> tuple[int, int | None]:
        """cancelallordersafter (spec §4.14): arm (timeout > 0) or disarm (0) the dead man's switch on the
        exchange clock (or, with ``dms_wall_s`` set, ``timeout_s`` wall seconds from now). Returns (current_ms,
        trigger_ms on the exchange clock, or None when disarmed)."""
        self.dms_trigger_ms = self.now_ms + timeout_s * 1000 if timeout_s > 0 else None
        self._dms_wall_deadline_s = (self.dms_wall_s() + timeout_s
                                     if timeout_s > 0 and self.dms_wall_s is not None else None)
        return self.now_ms, self.dms_trigger_ms

    def _dms_due(self, ts_ms: int) -> bool:
        """The armed dead man's switch is due at exchange time ``ts_ms`` (or on the wall clock, ``dms_wall_s``)."""
        if self.dms_wall_s is not None and self._dms_wall_deadline_s is not None:
            return self.dms_wall_s() >= self._dms_wall_deadline_s
        return self.dms_trigger_ms is not None and ts_ms >= self.dms_trigger_ms

    def suspend_market(self, symbol: str, suspended: bool, note: str = "") -> None:
        """Suspend (or resume) trading in ``symbol``: while suspended, sendorder/batch sends answer
        ``marketSuspended`` (spec §4.10) and a ``market`` notice is served by ``notifications`` (spec §7.13)."""
        if symbol not in self.instruments:
            raise KeyError(f"unknown symbol {symbol!r}")
        (self.suspended.add if suspended else self.suspended.discard)(symbol)
        self.notifications.append({"type": "market", "priority": "high" if suspended else "low",
                                   "note": note or f"{symbol} trading {'suspended' if suspended else 'resumed'}",
                                   "effectiveTime": iso(self.now_ms)})

    # ------------------------------------------------------------------ order book
    def book_levels(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """(bids best first, asks best first) as (price USD, size contracts) of ``symbol``'s book (spec §4.4).
        A level of unlimited size (a source without sizes) is reported with size 1 [GAP: Kraken has none]."""
        bids, asks = self.markets[symbol].book.levels()
        return ([(p, q if q != math.inf else 1.0) for p, q in bids], [(p, q if q != math.inf else 1.0) for p, q in asks])

    # ------------------------------------------------------------------ valuation
    def mark_of(self, symbol: str, fallback: Decimal) -> Decimal:
        """Mark price of ``symbol`` as Decimal USD, ``fallback`` when none is known yet."""
        m = self.markets[symbol].mark
        return _d(m) if m is not None else fallback

    def upnl_usd(self, pos: PaperPosition) -> Decimal:
        """Unrealised P&L of a position at mark, in USD (inverse P&L converted at the mark price)."""
        inst = self.instruments[pos.symbol]
        mark = self.mark_of(pos.symbol, pos.entry_price)
        pnl = unrealized_pnl(inst, pos.size, pos.entry_price, mark)
        return pnl if inst.is_linear else pnl * mark

    def initial_margin_with_orders(self, extra: PaperOrder | None = None) -> Decimal:
        """IM of the flex account's (PF_) positions plus open (non-trigger) orders, USD: per symbol the larger of
        the position's IM and the IM of the worst-case exposure if every open order on one side filled (valued
        at mark); ``paper.margin.im_with_orders``. PI_ positions are margined by their coin account."""
        return margin.im_with_orders(self, FLEX_ACCOUNT, extra)

    def coin_figures(self, currency: str) -> CoinAccountFigures:
        """The inverse margin account of ``currency`` (``xbt``...) in its coin (``paper.margin.coin_figures``)."""
        return margin.coin_figures(self, currency)

    def _currencies(self) -> dict[str, tuple[Decimal, Decimal]]:
        """The flex account's collateral: (quantity, USD value) of USD. Coin balances belong to the inverse
        margin accounts (``coin_figures``), not to the flex account."""
        usd = self.balances.quantities.get("usd", ZERO)
        return {"usd": (usd, usd)}

    def equity_and_mm(self) -> tuple[Decimal, Decimal]:
        """(margin equity, maintenance margin) in USD, the two numbers the liquidation check compares; equal to
        ``figures().margin_equity`` / ``.maintenance_margin`` without the rest of ``figures`` (per tick)."""
        balance_value = sum((v for _, v in self._currencies().values()), ZERO)
        pnl = mm = ZERO
        for pos in self.positions.values():
            inst = self.instruments[pos.symbol]
            if inst.is_linear:
                pnl += self.upnl_usd(pos)
                mm += position_margins(inst, pos.size, pos.entry_price)[1]
        return balance_value + pnl, mm

    def figures(self) -> AccountFigures:
        """The flex account now (spec §4.6): balance value, P&L at mark, equity, IM/MM, available margin, of the
        PF_ positions it margins (PI_ positions are in their coin account, ``coin_figures``)."""
        currencies = self._currencies()
        balance_value = sum((v for _, v in currencies.values()), ZERO)
        pnl = im = mm = notional = ZERO
        for pos in self.positions.values():
            inst = self.instruments[pos.symbol]
            if not inst.is_linear:
                continue
            pnl += self.upnl_usd(pos)
            p_im, p_mm = position_margins(inst, pos.size, pos.entry_price)
            im, mm = im + p_im, mm + p_mm
            notional += notional_usd(inst, pos.size, self.mark_of(pos.symbol, pos.entry_price))
        im_orders = max(im, self.initial_margin_with_orders())
        equity = balance_value + pnl
        return AccountFigures(balance_value, balance_value, pnl, ZERO, balance_value + pnl, equity, im, im_orders,
                              mm, equity - im, currencies, notional)
