"""The operator's manual actions: typed requests, what would be sent, and the pure preview that checks and rounds.

Owns: the request values (``ManualOrder``, ``ManualClose``, ``CancelOrder``, ``MoveStopTo``, ``EditOrder``,
``CancelTakeProfits``, ``Reprotect``; ``ManualAction`` is their union), ``SentOrder`` (exactly what goes to the
exchange, after tick and lot rounding), ``ManualPreview`` and ``ManualResult`` (the answers), ``DeskView`` (the
read-only state a preview looks at) and ``preview`` (no side effects). ``manual_desk.ManualDesk`` carries a
previewed action out.

Rules (every refusal is a sentence saying what was wrong; nothing is sent for a refused action):
- Refused while HALTED or FLATTENING; allowed while PAUSED (a manual order is the operator's decision).
- Unknown symbol (not listed by the exchange), no market price for it (the engine follows only its
  configured symbols), a position that closed meanwhile, an order that is no longer open: refused.
- Sizes are rounded down to the lot (``Instrument.round_size``); a size under one lot, or above the position it
  closes, is refused. A size in USD notional becomes contracts at the reference price
  (``domain.money.contracts_for_notional``).
- Prices are rounded to the tick (``Instrument.round_price``, half-even; a stop moved on a position with
  ``exits.round_stop``); the rounding is listed in ``notes`` so the operator sees it before confirming.
- A stop (``stp``) must trigger beyond the market: a buy stop above the mark, a sell stop below it; a
  take-profit the other way; a position's stop below the mark for a long, above it for a short.
- An opening order (not reduce-only) passes the strategy's risk gate (``risk.gate``, as ``decide`` calls it, at
  the order's reference price: limit or trigger price, else the mark; the engine's initial stop when exits
  are attached): a gate refusal, or a size above what the gate allows, is ``gate_refusal`` (``ok`` False,
  ``overridable`` True). The entry blockers count (stale data, reconciliation, journal), the pause does not.
Units: prices USD, sizes contracts (Decimal), notional USD, fractions 0..1.
Source: Kraken Futures docs, REST v3 "Send order", "Edit order", "Cancel order" (spec §4.10-§4.12).
Must not import: textual, the client, the journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import ZERO, Instrument, Order, OrderType, Position, PositionSide, Side
from kraken_tui.domain.money import contracts_for_notional
from kraken_tui.engine.exits import initial_stop_price, round_stop
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.risk import AccountSnapshot, gate

__all__ = [
    "CancelOrder", "CancelTakeProfits", "DeskView", "EditOrder", "ManualAction", "ManualClose", "ManualOrder",
    "ManualPreview", "ManualResult", "MoveStopTo", "OrderKind", "Reprotect", "SentOrder", "describe", "preview",
]


class OrderKind(StrEnum):
    """Order types a manual order may use (Kraken's ``orderType`` names, spec §4.10)."""

    MARKET = "mkt"
    LIMIT = "lmt"
    STOP = "stp"
    TAKE_PROFIT = "take_profit"


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """A new order typed by the operator. Exactly one of ``size_contracts`` / ``notional_usd`` (> 0).

    ``limit_price`` (USD) is required for ``lmt``; ``stop_price`` (USD, the trigger) for ``stp`` and
    ``take_profit`` (a ``stp`` with a ``limit_price`` too is a stop-limit). ``post_only`` needs ``lmt``.
    ``attach_exits``: the engine's stop and take-profit ladder once it fills (an opening order only).
    """

    symbol: str
    side: Side
    size_contracts: Decimal | None = None
    notional_usd: Decimal | None = None
    order_type: OrderKind = OrderKind.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    post_only: bool = False
    attach_exits: bool = True


@dataclass(frozen=True, slots=True)
class ManualClose:
    """Close ``symbol``'s position: all of it, a ``fraction`` (0 < f <= 1) or ``size`` contracts; reduce-only,
    market unless ``limit_price`` (USD) is given."""

    symbol: str
    fraction: Decimal | None = None
    size: Decimal | None = None
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel the open order ``order_id`` (the exchange's id, as the Orders panel and ``ctl status`` show it)."""

    order_id: str


@dataclass(frozen=True, slots=True)
class MoveStopTo:
    """Move ``symbol``'s protective stop to ``price`` (USD) or to the position's entry (``breakeven``)."""

    symbol: str
    price: Decimal | None = None
    breakeven: bool = False


@dataclass(frozen=True, slots=True)
class EditOrder:
    """Edit the open order ``order_id``: its price (the trigger of a stop, else the limit) and/or size (contracts)."""

    order_id: str
    price: Decimal | None = None
    size: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelTakeProfits:
    """Cancel every take-profit order the engine rests for ``symbol``'s position."""

    symbol: str


@dataclass(frozen=True, slots=True)
class Reprotect:
    """Re-place ``symbol``'s protective stop and take-profits for the size held (start managing it if it is not)."""

    symbol: str


ManualAction = ManualOrder | ManualClose | CancelOrder | MoveStopTo | EditOrder | CancelTakeProfits | Reprotect


@dataclass(frozen=True, slots=True)
class SentOrder:
    """What goes to the exchange (after rounding). ``verb``: order, close, cancel, move stop, edit, cancel
    take-profits, reprotect. ``order_type`` is Kraken's (``mkt``, ``lmt``, ``post``, ``stp``, ``take_profit``);
    ``order_id`` the order cancelled or edited; ``orders`` every order id a multi-order action touches."""

    verb: str
    symbol: str
    side: Side | None = None
    size: Decimal | None = None
    order_type: str | None = None
    reduce_only: bool = False
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    order_id: str | None = None
    orders: tuple[str, ...] = ()
    attach_exits: bool = False

    def line(self) -> str:
        """One line for people: ``sell 0.005 PF_XBTUSD mkt reduce-only`` / ``cancel order o-1 (PF_ETHUSD)``."""
        if self.verb in ("order", "close"):
            parts = [self.side.value if self.side else "?", str(self.size), self.symbol, self.order_type or "?"]
            if self.limit_price is not None:
                parts.append(f"limit {self.limit_price}")
            if self.stop_price is not None:
                parts.append(f"trigger {self.stop_price}")
            if self.reduce_only:
                parts.append("reduce-only")
            if self.verb == "order" and not self.reduce_only:
                parts.append("with the engine's stop and take-profits" if self.attach_exits else "no exits attached")
            return " ".join(parts)
        if self.verb == "move stop":
            return f"move {self.symbol} stop ({self.order_type or 'stp'} {self.side.value if self.side else ''} " \
                   f"{self.size}) to {self.stop_price}" + (f" [order {self.order_id}]" if self.order_id else " [placed]")
        if self.verb == "edit":
            what = [f"price {self.stop_price or self.limit_price}"] if (self.stop_price or self.limit_price) else []
            what += [f"size {self.size}"] if self.size is not None else []
            return f"edit order {self.order_id} ({self.symbol}): {', '.join(what)}"
        if self.verb == "cancel":
            return f"cancel order {self.order_id} ({self.symbol} {self.side.value if self.side else ''} " \
                   f"{self.order_type} {self.size})"
        if self.verb == "cancel take-profits":
            return f"cancel {len(self.orders)} take-profit order(s) of {self.symbol}"
        return f"re-place {self.symbol}'s stop and take-profits for {self.size} contracts"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (Decimals as strings, None kept)."""
        def s(x: Decimal | None) -> str | None:
            return None if x is None else str(x)
        return {"verb": self.verb, "symbol": self.symbol, "side": self.side.value if self.side else None,
                "size": s(self.size), "order_type": self.order_type, "reduce_only": self.reduce_only,
                "limit_price": s(self.limit_price), "stop_price": s(self.stop_price), "order_id": self.order_id,
                "orders": list(self.orders), "attach_exits": self.attach_exits}


@dataclass(frozen=True, slots=True)
class ManualPreview:
    """The preview of an action: ``ok`` when it may be sent as ``order``; else ``message`` says why not.
    ``notes`` lists the rounding applied and what shaped it. ``gate_refusal`` is the risk gate's reason
    (then ``ok`` is False and ``overridable`` True: ``manual(..., override=True)`` sends it anyway)."""

    ok: bool
    message: str
    order: SentOrder | None = None
    notes: tuple[str, ...] = ()
    gate_refusal: str | None = None
    gate_size: Decimal | None = None

    @property
    def overridable(self) -> bool:
        """True when only the risk gate refused (an override may send it)."""
        return self.gate_refusal is not None and self.order is not None


@dataclass(frozen=True, slots=True)
class ManualResult:
    """What an action did: ``ok`` when the exchange accepted every request; ``message`` one sentence;
    ``sent`` what was sent (None when refused before sending); ``status`` the exchange's answer (Kraken's
    status string, e.g. ``placed``, ``cancelled``, ``edited``, ``filled``; ``refused`` when nothing was sent);
    ``order_id``/``cli_ord_id`` of the order; ``filled`` contracts executed by the request; ``error`` the
    exchange's error text; ``overridden`` the risk gate was overridden; ``answers`` one dict per request."""

    ok: bool
    message: str
    sent: SentOrder | None = None
    status: str = "refused"
    order_id: str | None = None
    cli_ord_id: str | None = None
    filled: Decimal = ZERO
    error: str | None = None
    overridden: bool = False
    notes: tuple[str, ...] = ()
    answers: tuple[Mapping[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``ctl ... --json``)."""
        return {"ok": self.ok, "message": self.message, "sent": self.sent.as_dict() if self.sent else None,
                "status": self.status, "order_id": self.order_id, "cli_ord_id": self.cli_ord_id,
                "filled": str(self.filled), "error": self.error, "overridden": self.overridden,
                "notes": list(self.notes), "answers": [dict(a) for a in self.answers]}


@dataclass(frozen=True, slots=True)
class DeskView:
    """The state a preview reads (taken from the engine in one step of its loop).

    Attributes:
        state: the operator state. entry_blockers: name -> detail (entries blocked without a state change).
        instruments: every instrument the exchange lists. marks: symbol -> mark price (USD) known now.
        positions: symbol -> the exchange's position. orders: order id -> open order.
        managed_stop: symbol -> (stop price USD or None, stop order cliOrdId or None) of managed positions.
        managed_tps: symbol -> cliOrdIds of the take-profits a managed position rests.
        account: the risk gate's account snapshot. risk, exits: ``[risk]`` and ``[exits]``.
        unresolved: order outcomes still unknown (block opening orders like an entry blocker).
        funding: symbol -> relative funding rate per hour.
    """

    state: OperatorState
    instruments: Mapping[str, Instrument]
    marks: Mapping[str, Decimal]
    positions: Mapping[str, Position]
    orders: Mapping[str, Order]
    account: AccountSnapshot
    risk: RiskConfig
    exits: ExitsConfig
    entry_blockers: Mapping[str, str] = field(default_factory=dict)
    managed_stop: Mapping[str, tuple[Decimal | None, str | None]] = field(default_factory=dict)
    managed_tps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unresolved: int = 0
    funding: Mapping[str, float] = field(default_factory=dict)


def _refuse(message: str, notes: list[str] | None = None) -> ManualPreview:
    return ManualPreview(False, message, None, tuple(notes or ()))


def _round_price(inst: Instrument, name: str, price: Decimal, notes: list[str]) -> Decimal | str:
    """``price`` on the tick grid (a note when it moved), or a refusal sentence."""
    if not price.is_finite() or price <= 0:
        return f"{name} must be a positive number, got {price}"
    out = inst.round_price(price)
    if out <= 0:
        return f"{name} {price} rounds to {out} on the {inst.tick_size} tick"
    if out != price:
        notes.append(f"{name} {price} rounded to {out} (tick {inst.tick_size})")
    return out


def _tidy(x: Decimal) -> Decimal:
    """``x`` without trailing zeros and never in exponent notation (``0.010`` -> ``0.01``, ``1E+1`` -> ``10``)."""
    n = x.normalize()
    return n.quantize(Decimal(1)) if n.as_tuple().exponent > 0 else n  # type: ignore[operator]


def _round_size(inst: Instrument, size: Decimal, notes: list[str], what: str = "size") -> Decimal | str:
    if not size.is_finite() or size <= 0:
        return f"{what} must be a positive number of contracts, got {size}"
    out = _tidy(inst.round_size(size))
    if out < inst.min_order_size:
        return f"{what} {size} is under the lot: {inst.symbol} trades in steps of {inst.lot_size} contracts"
    if out != size:
        notes.append(f"{what} {size} rounded down to {out} (lot {inst.lot_size})")
    return out


def _symbol(view: DeskView, symbol: str) -> Instrument | str:
    inst = view.instruments.get(symbol)
    if inst is None:
        listed = sorted(s for s in view.instruments if s.startswith("PF_"))[:12]
        return f"unknown symbol {symbol!r}: the exchange lists no such contract (e.g. {', '.join(listed) or 'none'})"
    if not inst.tradeable:
        return f"{symbol} is not tradeable now"
    return inst


def _state_refusal(view: DeskView) -> str | None:
    if view.state in (OperatorState.HALTED, OperatorState.FLATTENING):
        hint = " (reset it first)" if view.state is OperatorState.HALTED else ""
        return f"engine {view.state.value}: manual actions are refused{hint}"
    return None


def preview(action: ManualAction, view: DeskView) -> ManualPreview:
    """Check and round ``action`` against ``view`` (module docstring); no side effects, never raises for bad
    input (the refusal says what was wrong)."""
    refusal = _state_refusal(view)
    if refusal:
        return _refuse(refusal)
    if isinstance(action, ManualOrder):
        return _preview_order(action, view)
    if isinstance(action, ManualClose):
        return _preview_close(action, view)
    if isinstance(action, CancelOrder | EditOrder):
        return _preview_order_edit(action, view)
    if isinstance(action, MoveStopTo):
        return _preview_move_stop(action, view)
    if isinstance(action, CancelTakeProfits):
        tps = view.managed_tps.get(action.symbol.upper(), ())
        if action.symbol.upper() not in view.positions:
            return _refuse(f"no open {action.symbol.upper()} position (closed meanwhile?)")
        if not tps:
            return _refuse(f"{action.symbol.upper()} has no take-profit orders of the engine resting")
        sent = SentOrder("cancel take-profits", action.symbol.upper(), orders=tuple(tps))
        return ManualPreview(True, sent.line(), sent)
    if isinstance(action, Reprotect):
        sym = action.symbol.upper()
        pos = view.positions.get(sym)
        if pos is None or pos.size <= 0:
            return _refuse(f"no open {sym} position (closed meanwhile?)")
        inst = _symbol(view, sym)
        if isinstance(inst, str):
            return _refuse(inst)
        sent = SentOrder("reprotect", sym, pos.side.closing_side, pos.size, reduce_only=True)
        return ManualPreview(True, sent.line(), sent)
    return _refuse(f"unknown action {type(action).__name__}")


def _mark(view: DeskView, symbol: str) -> Decimal | None:
    m = view.marks.get(symbol)
    return m if m is not None and m > 0 else None


def _preview_order(a: ManualOrder, view: DeskView) -> ManualPreview:
    sym = a.symbol.upper()
    inst = _symbol(view, sym)
    if isinstance(inst, str):
        return _refuse(inst)
    notes: list[str] = []
    kind = OrderKind(a.order_type)
    limit = stop = None
    if kind is OrderKind.LIMIT and a.limit_price is None:
        return _refuse("a limit order needs a limit price (lmt PRICE)")
    if kind in (OrderKind.STOP, OrderKind.TAKE_PROFIT) and a.stop_price is None:
        return _refuse(f"a {kind.value} order needs a trigger price ({'stp' if kind is OrderKind.STOP else 'tp'} PRICE)")
    if a.post_only and kind is not OrderKind.LIMIT:
        return _refuse("post-only needs a limit order (lmt PRICE post)")
    if a.limit_price is not None:
        r = _round_price(inst, "limit price", a.limit_price, notes)
        if isinstance(r, str):
            return _refuse(r)
        limit = r
    if a.stop_price is not None:
        r = _round_price(inst, "trigger price", a.stop_price, notes)
        if isinstance(r, str):
            return _refuse(r)
        stop = r
    mark = _mark(view, sym)
    ref = limit if kind is OrderKind.LIMIT else stop if stop is not None else mark
    if stop is not None:
        if mark is None:
            return _refuse(f"no mark price for {sym}: cannot check which side of the market the trigger is on")
        above = a.side is Side.BUY if kind is OrderKind.STOP else a.side is Side.SELL
        if above and stop <= mark:
            return _refuse(f"a {a.side.value} {kind.value} triggers above the market: {stop} is not above the mark {mark}")
        if not above and stop >= mark:
            return _refuse(f"a {a.side.value} {kind.value} triggers below the market: {stop} is not below the mark {mark}")
    if (a.size_contracts is None) == (a.notional_usd is None):
        return _refuse("give the size in contracts or in USD (e.g. 0.01 or 500usd), not both")
    if a.notional_usd is not None:
        if not a.notional_usd.is_finite() or a.notional_usd <= 0:
            return _refuse(f"notional must be a positive USD amount, got {a.notional_usd}")
        if ref is None:
            return _refuse(f"no price for {sym} to turn {a.notional_usd} USD into contracts")
        raw = contracts_for_notional(inst, a.notional_usd, ref)
        size = _round_size(inst, raw, [])
        if not isinstance(size, str):
            notes.append(f"{a.notional_usd} USD at {ref} = {raw:.8f} contracts, rounded down to {size} "
                         f"(lot {inst.lot_size})")
    else:
        size = _round_size(inst, a.size_contracts or ZERO, notes)
    if isinstance(size, str):
        return _refuse(size, notes)
    otype = OrderType.POST.value if a.post_only else kind.value
    pos = view.positions.get(sym)
    if a.reduce_only:
        if pos is None or pos.size <= 0:
            return _refuse(f"reduce-only: no open {sym} position to reduce", notes)
        if pos.side.closing_side is not a.side:
            return _refuse(f"reduce-only: a {a.side.value} would grow the {pos.side.value} {sym} position", notes)
        if size > pos.size:
            return _refuse(f"size {size} is above the {sym} position ({pos.size} contracts)", notes)
    sent = SentOrder("order", sym, a.side, size, otype, a.reduce_only, limit, stop,
                     attach_exits=a.attach_exits and not a.reduce_only)
    if a.reduce_only:
        return ManualPreview(True, sent.line(), sent, tuple(notes))
    return _gate(sent, inst, ref, view, notes)


def _gate(sent: SentOrder, inst: Instrument, ref: Decimal | None, view: DeskView, notes: list[str]) -> ManualPreview:
    """The risk gate for an opening order (module docstring)."""
    if ref is None:
        return _refuse(f"no mark price for {sent.symbol}: the risk gate cannot size the order "
                       "(the engine follows only its configured symbols)", notes)
    blockers = dict(view.entry_blockers)
    if view.unresolved:
        blockers["unresolved order outcome"] = str(view.unresolved)
    side = PositionSide.LONG if sent.side is Side.BUY else PositionSide.SHORT
    reason: str | None = None
    allowed: Decimal | None = None
    if blockers:
        name, detail = next(iter(blockers.items()))
        reason = f"entries blocked: {name}" + (f" ({detail})" if detail else "")
    else:
        stop = initial_stop_price(view.exits, inst, side, ref) if sent.attach_exits else None
        mode = view.risk.sizing if sent.attach_exits else "fixed"
        acct = view.account
        why, allowed, _lev, gate_notes = gate(
            inst, side, ref, stop, None, view.funding.get(sent.symbol), None, acct.equity_usd, acct.collateral_usd,
            acct.positions, acct.consecutive_losses, acct.drawdown_pct, view.risk, mode,
            closed_trades=acct.closed_trades, winning_trades=acct.winning_trades)
        if why is not None:
            reason = why
        elif sent.size is not None and sent.size > allowed:
            reason = (f"size {sent.size} is above the {allowed} contracts the risk gate allows "
                      f"({'; '.join(gate_notes)})")
    if reason is not None:
        return ManualPreview(False, f"risk gate: {reason}", sent, tuple(notes), gate_refusal=reason, gate_size=allowed)
    return ManualPreview(True, sent.line(), sent, tuple(notes), gate_size=allowed)


def _preview_close(a: ManualClose, view: DeskView) -> ManualPreview:
    sym = a.symbol.upper()
    inst = _symbol(view, sym)
    if isinstance(inst, str):
        return _refuse(inst)
    pos = view.positions.get(sym)
    if pos is None or pos.size <= 0:
        return _refuse(f"no open {sym} position (closed meanwhile?)")
    notes: list[str] = []
    if a.fraction is not None and a.size is not None:
        return _refuse("give a fraction or a size, not both")
    if a.fraction is not None:
        if not a.fraction.is_finite() or not ZERO < a.fraction <= 1:
            return _refuse(f"fraction must be above 0 and at most 1, got {a.fraction}")
        size = _round_size(inst, pos.size * a.fraction, notes, f"{a.fraction} x {pos.size}")
    elif a.size is not None:
        size = _round_size(inst, a.size, notes)
    else:
        size = pos.size
    if isinstance(size, str):
        return _refuse(size, notes)
    if size > pos.size:
        return _refuse(f"size {size} is above the {sym} position ({pos.size} contracts)", notes)
    limit = None
    if a.limit_price is not None:
        r = _round_price(inst, "limit price", a.limit_price, notes)
        if isinstance(r, str):
            return _refuse(r, notes)
        limit = r
    sent = SentOrder("close", sym, pos.side.closing_side, size, "lmt" if limit is not None else "mkt", True, limit)
    return ManualPreview(True, sent.line(), sent, tuple(notes))


def _preview_order_edit(a: CancelOrder | EditOrder, view: DeskView) -> ManualPreview:
    o = view.orders.get(a.order_id)
    if o is None:
        return _refuse(f"order {a.order_id} is not open (filled or cancelled meanwhile?)")
    if isinstance(a, CancelOrder):
        sent = SentOrder("cancel", o.symbol, o.side, o.size, o.order_type, o.reduce_only, o.limit_price,
                         o.stop_price, o.order_id)
        return ManualPreview(True, sent.line(), sent)
    inst = view.instruments.get(o.symbol)
    if inst is None:
        return _refuse(f"unknown symbol {o.symbol!r} for order {o.order_id}")
    if a.price is None and a.size is None:
        return _refuse("edit needs a new price or a new size")
    notes: list[str] = []
    limit = stop = size = None
    if a.price is not None:
        r = _round_price(inst, "price", a.price, notes)
        if isinstance(r, str):
            return _refuse(r)
        trigger = o.is_trigger
        mark = _mark(view, o.symbol)
        if trigger and mark is not None:
            above = (o.side is Side.BUY) == (o.order_type in ("stp", "stop"))
            if above and r <= mark:
                return _refuse(f"a {o.side.value} {o.order_type} triggers above the market: {r} is not above the mark {mark}")
            if not above and r >= mark:
                return _refuse(f"a {o.side.value} {o.order_type} triggers below the market: {r} is not below the mark {mark}")
        stop, limit = (r, None) if trigger else (None, r)
    if a.size is not None:
        s = _round_size(inst, a.size, notes)
        if isinstance(s, str):
            return _refuse(s, notes)
        pos = view.positions.get(o.symbol)
        if o.reduce_only and (pos is None or s > pos.size):
            return _refuse(f"size {s} is above the {o.symbol} position ({pos.size if pos else 0} contracts)", notes)
        size = s
    sent = SentOrder("edit", o.symbol, o.side, size, o.order_type, o.reduce_only, limit, stop, o.order_id)
    return ManualPreview(True, sent.line(), sent, tuple(notes))


def _preview_move_stop(a: MoveStopTo, view: DeskView) -> ManualPreview:
    sym = a.symbol.upper()
    inst = _symbol(view, sym)
    if isinstance(inst, str):
        return _refuse(inst)
    pos = view.positions.get(sym)
    if pos is None or pos.size <= 0:
        return _refuse(f"no open {sym} position (closed meanwhile?)")
    if (a.price is None) == (not a.breakeven):
        return _refuse("give a stop price or breakeven, not both")
    notes: list[str] = []
    raw = pos.entry_price if a.breakeven else a.price
    assert raw is not None
    if not raw.is_finite() or raw <= 0:
        return _refuse(f"stop price must be a positive number, got {raw}")
    price = round_stop(inst, pos.side, raw)
    if price != raw:
        notes.append(f"{'entry' if a.breakeven else 'stop'} {raw} rounded to {price} (tick {inst.tick_size}, "
                     f"{'down' if pos.side is PositionSide.LONG else 'up'} for a {pos.side.value})")
    mark = _mark(view, sym)
    if mark is None:
        return _refuse(f"no mark price for {sym}: cannot check which side of the market the stop is on")
    if pos.side is PositionSide.LONG and price >= mark:
        return _refuse(f"a long's stop must be below the market: {price} is not below the mark {mark}", notes)
    if pos.side is PositionSide.SHORT and price <= mark:
        return _refuse(f"a short's stop must be above the market: {price} is not above the mark {mark}", notes)
    _stop, cid = view.managed_stop.get(sym, (None, None))
    order_id = None
    if cid is not None:
        order_id = next((o.order_id for o in view.orders.values() if o.cli_ord_id == cid), None)
    if order_id is None:  # a resting reduce-only stop of the position that the engine does not manage
        order_id = next((o.order_id for o in view.orders.values() if o.symbol == sym and o.reduce_only
                         and o.order_type in ("stp", "stop") and o.side is pos.side.closing_side), None)
    if order_id is None and sym not in view.managed_stop:
        return _refuse(f"{sym} has no stop to move (reprotect places one)")
    sent = SentOrder("move stop", sym, pos.side.closing_side, pos.size, "stp", True, None, price, order_id)
    return ManualPreview(True, sent.line(), sent, tuple(notes))


def describe(p: ManualPreview) -> str:
    """The confirmation text for people: the line to send and the notes, or the refusal."""
    head = p.order.line() if p.order is not None and p.ok else p.message
    return head + "".join(f"\n  {n}" for n in p.notes)
