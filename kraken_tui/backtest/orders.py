"""The backtest's resting protective orders, the walk inside a bar, and liquidation.

Owns: ``_Resting`` (a stop or take-profit resting at the exchange) and the ``Orders`` mixin of ``Backtest``:
placing the exit ladder after an entry (``engine.exits.PositionExits``), the float trigger thresholds the
loop pre-checks, the open -> adverse -> favourable -> close walk that fills resting orders, and the paper
exchange's liquidation (``paper.liquidation`` rules) with the mark at each vertex. Semantics in
``kraken_tui.backtest``'s docstring. Must not import: textual, the paper exchange's server.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kraken_tui.domain import Instrument, OrderType, PositionSide, Side
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.exits import ExitReason, PositionExits
from kraken_tui.paper.account import (
    BPS,
    notional_usd,
    position_margins,
    unrealized_pnl,
)
from kraken_tui.paper.liquidation import MAX_STEPS, capped_fee_bps, partial_size
from kraken_tui.paper.matching import on_tick_grid
from kraken_tui.paper.sources.base import MarketTick

from .settings import _INF, HOUR_MS, dec_of

__all__ = ["Orders"]




class _Resting:
    """A protective order resting at the exchange (stop: trigger on mark; take profit: limit)."""

    __slots__ = ("purpose", "side", "kind", "size", "price", "price_f", "cli")

    def __init__(self, purpose: ExitReason, side: Side, kind: OrderType, size: Decimal, price: Decimal, cli: str):
        self.purpose, self.side, self.kind, self.size, self.price, self.cli = purpose, side, kind, size, price, cli
        self.price_f = float(price)


class _FeeCtx:
    """The two attributes ``paper.liquidation.capped_fee_bps`` reads from an exchange."""

    def __init__(self, inst: Instrument, liquidation_fee_bps: Decimal) -> None:
        self.instruments = {inst.symbol: inst}
        self.liquidation_fee_bps = liquidation_fee_bps


Sink = Callable[[Any], None]

class Orders:
    """Resting orders, the intrabar walk and liquidation (a mixin of ``runner.Backtest``)."""

    def _start_exits(self, enter: Enter, ts: int, price: Decimal, size: Decimal, signal_id: str | None) -> None:
        if self.exits is None and not enter.protective:
            self._thresholds()  # for the new position's direction (else the loop's pre-check misfires)
            return  # no exit policy state without protective exits (PositionExits would be dropped at once)
        pos = self.position.size
        side = PositionSide.LONG if pos > 0 else PositionSide.SHORT
        if self.exits is not None:
            self.exits.add(size, price)
        else:
            self.exits = PositionExits(self.s.exits, self.inst, side, self.position.entry_price, abs(pos), ts,
                                       protective=enter.protective)
        ex = self.exits
        if not ex.protective:
            self.exits = None
            self._thresholds()
            return
        self._cancel_resting()
        for po in ex.initial_orders():
            cli = self._intent(ts, po.side, po.size, po.order_type, po.purpose.value, signal_id, price=po.price,
                               reduce_only=True)
            self.resting.append(_Resting(po.purpose, po.side, po.order_type, po.size, po.price, cli))
        self.best_f = float(ex.best_price)
        self._mark_always = ex.cfg.trailing_activate_pct == 0
        self.time_due_ms = ex.opened_ms + int(ex.cfg.time_exit_h * HOUR_MS) if ex.cfg.time_exit_h else 1 << 62
        self._thresholds()

    def _thresholds(self) -> None:
        """Float trigger thresholds of the resting orders for the hot loop's pre-check."""
        long = self.pos_f > 0
        if not self.resting:
            self.stop_f, self.tp_f = (-_INF, _INF) if long else (_INF, -_INF)
            return
        stop = next((r.price_f for r in self.resting if r.kind is OrderType.STOP), None)
        tps = [r.price_f for r in self.resting if r.kind is OrderType.LIMIT]
        if long:
            self.stop_f = stop if stop is not None else -_INF
            self.tp_f = min(tps) if tps else _INF
        else:
            self.stop_f = stop if stop is not None else _INF
            self.tp_f = max(tps) if tps else -_INF

    def _cancel_resting(self) -> None:
        """Cancel every resting order. With none resting, the thresholds stay as they are: they only matter
        while a position is open, and every entry recomputes them (``_start_exits``)."""
        if self.resting:
            self.resting = []
            self._thresholds()

    # ================================================================== inside a bar

    def _intrabar(self, ts: int, o: float, h: float, lo: float, c: float) -> None:
        """Walk open -> adverse extreme -> favourable extreme -> close; fill resting orders the walk reaches
        and check liquidation with the mark at each vertex (module docstring)."""
        long = self.pos_f > 0
        path = (o, lo, h, c) if long else (o, h, lo, c)
        prev = None
        for p in path:
            if self.position.size == 0:
                break
            self._orders_at(ts, prev, p)
            if self.position.size == 0:
                break
            self._liquidation(p, ts)
            prev = p
        self._thresholds()

    def _orders_at(self, ts: int, prev: float | None, p: float) -> None:
        """Fill the resting orders the move ``prev`` -> ``p`` reaches (``prev`` None: the open gap)."""
        if not self.resting:
            return
        long = self.position.size > 0
        down = prev is None or p < prev
        up = prev is None or p > prev
        stop = next((r for r in self.resting if r.kind is OrderType.STOP), None)
        if stop is not None:
            if long:
                hit = p <= stop.price_f and down
            else:
                hit = p >= stop.price_f and up
            if hit:
                trigger = p if prev is None else stop.price_f  # a gap fills at the open, else at the stop
                bid, ask = self._quote(trigger)
                qty = min(stop.size, abs(self.position.size))
                reason = self.exits.stop_reason if self.exits is not None else stop.purpose
                if self.exits is not None:
                    self.exits.on_exit_fill(reason, qty)
                self.resting.remove(stop)
                self._book(stop.side, qty, bid if stop.side is Side.SELL else ask, "taker", stop.cli, ts)
                return
        if (long and up) or (not long and down):
            # a limit fills on a trade print strictly through it; prints are on the tick grid (on_tick_grid)
            tp_ = on_tick_grid(MarketTick(self.symbol, ts, last=p), self.inst).last
            assert tp_ is not None
            tps = [r for r in self.resting if r.kind is OrderType.LIMIT
                   and (tp_ > r.price_f if long else tp_ < r.price_f)]
            tps.sort(key=lambda r: r.price_f, reverse=not long)
            for tp in tps:
                if self.position.size == 0:
                    break
                qty = min(tp.size, abs(self.position.size))
                self.resting.remove(tp)
                if self.exits is not None:
                    self.exits.on_exit_fill(tp.purpose, qty)
                self._book(tp.side, qty, tp.price, "maker", tp.cli, ts)
            if tps and self.position.size != 0 and self.exits is not None:
                so = self.exits.stop_order()
                for r in self.resting:
                    if r.kind is OrderType.STOP and so is not None:
                        r.size = so.size

    def _liquidation(self, mark_f: float, ts: int) -> None:
        """paper.liquidation.check for the one position, with mark ``mark_f`` (USD)."""
        partial_done = False
        for _ in range(MAX_STEPS):
            pos = self.position.size
            if pos == 0:
                return
            if (pos > 0 and mark_f >= self.liq_f) or (pos < 0 and mark_f <= self.liq_f):
                return
            inst, entry = self.inst, self.position.entry_price
            mark = dec_of(mark_f)
            equity = self.balance + unrealized_pnl(inst, pos, entry, mark)
            mm = position_margins(inst, pos, entry)[1]
            if equity >= mm:
                return
            self._cancel_resting()
            size_abs = abs(pos)
            if partial_done:
                q, full = size_abs, True
            else:
                fee_per_contract = notional_usd(inst, Decimal(1), mark) * self.liq_bps / BPS
                q = partial_size(equity, mm, mm, size_abs, fee_per_contract, inst.lot_size)
                if q <= 0:
                    return
                full = q >= size_abs
                q = size_abs if full else q
            fee_bps = capped_fee_bps(self._fee_ctx, self.symbol, q, mark, equity) if full else self.liq_bps  # type: ignore[arg-type]
            side = Side.SELL if pos > 0 else Side.BUY
            self.result.liquidations += 1
            if self.exits is not None:
                self.exits.on_exit_fill(ExitReason.LIQUIDATION, q)
            self._book(side, q, mark, "liquidation" if full else "partialLiquidation", None, ts, fee_bps)
            partial_done = True

