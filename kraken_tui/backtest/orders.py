"""The backtest's orders: market orders at the open, resting protective orders, the walk inside a bar, and
liquidation.

Owns: ``Orders``, the backtest's collaborator for order execution: ``open_fills`` (market orders decided at a
close fill at the next open plus slippage), ``start_exits`` (placing the exit ladder after an entry,
``engine.exits.PositionExits``), the open -> adverse -> favourable -> close walk that fills resting orders
(``intrabar``), and the paper exchange's liquidation (``domain.money``'s trigger, partial size and capped fee,
as ``paper.liquidation.check`` applies them) with the mark at each vertex. Semantics in
``kraken_tui.backtest``'s docstring. Must not import: textual, the paper exchange's server.
"""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import FillType, OrderType, PositionSide, Side
from kraken_tui.domain.money import (
    MAX_LIQUIDATION_STEPS,
    capped_liquidation_fee_bps,
    fee_amount,
    liquidation_fee_per_contract,
    liquidation_triggered,
    partial_liquidation_size,
    settlement_margins,
    to_usd,
    unrealized_pnl,
)
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.exits import ExitReason, PositionExits
from kraken_tui.paper.matching import on_tick_grid
from kraken_tui.paper.sources.base import MarketTick

from .fills import Fills
from .settings import BacktestResult, BacktestSettings, dec_of
from .state import BacktestState, Resting

_ONE = Decimal(1)

__all__ = ["Orders"]

_BUY = Side.BUY
_TAKER = FillType.TAKER


class Orders:
    """Order execution of one backtest: fills at the open, resting exits, the intrabar walk, liquidation.

    Args:
        state: the backtest's state.
        settings: the instrument, the exit policy config and the liquidation fee (%).
        fills: books the executions (``Fills.book``), quotes prices and registers intents.
        result: counts liquidations.
    """

    __slots__ = ("st", "inst", "symbol", "exits_cfg", "fills", "result", "liq_bps")

    def __init__(self, state: BacktestState, settings: BacktestSettings, fills: Fills, result: BacktestResult
                 ) -> None:
        self.st = state
        self.inst = settings.instrument
        self.symbol = self.inst.symbol
        self.exits_cfg = settings.exits
        self.fills = fills
        self.result = result
        self.liq_bps = Decimal(repr(settings.liquidation_fee_pct)) * 100

    def open_fills(self, ts: int, o: float) -> None:
        """Execute the market orders decided at the previous close at this bar's open ``o`` (USD, + slippage)."""
        st = self.st
        pending, st.pending = st.pending, []
        fills = self.fills
        bid, ask = fills.quote(o)
        position = st.position
        book, taker, taker_bps = fills.book_ft, _TAKER, fills.taker_bps
        for kind, side, size, strategy, cli, signal_id, enter in pending:
            if kind == "close":
                pos = position.size
                if pos == 0 or (pos > 0) == (side is _BUY):
                    continue  # nothing left to reduce (reduce-only)
                if st.resting:
                    st.cancel_resting()
                book(side, min(size, abs(pos)), ask if side is _BUY else bid, taker, cli, ts, taker_bps)
            else:
                assert enter is not None
                buy = side is _BUY
                price = ask if buy else bid
                # a reversal's close (just booked) ended the previous round trip and cleared its intents:
                # keep this entry's intent and strategy, so the new trade keeps its signal and strategy
                intents = st.cur_intents
                if cli not in intents:
                    intents[cli] = ("entry", "buy" if buy else "sell", signal_id)
                if signal_id is not None and signal_id not in st.cur_strategies:
                    st.cur_strategies[signal_id] = strategy
                book(side, size, price, taker, cli, ts, taker_bps)
                st.open_signal = signal_id
                if position.size != 0:
                    self.start_exits(enter, ts, price, size, signal_id)

    def start_exits(self, enter: Enter, ts: int, price: Decimal, size: Decimal, signal_id: str | None) -> None:
        """After an entry of ``size`` contracts at ``price``: start (or grow) the exit policy and rest its
        protective orders; without protective exits only the thresholds are set."""
        st = self.st
        if st.exits is None and not enter.protective:
            st.set_thresholds()  # for the new position's direction (else the loop's pre-check misfires)
            return  # no exit policy state without protective exits (PositionExits would be dropped at once)
        pos = st.position.size
        side = PositionSide.LONG if pos > 0 else PositionSide.SHORT
        if st.exits is not None:
            st.exits.add(size, price)
        else:
            st.exits = PositionExits(self.exits_cfg, self.inst, side, st.position.entry_price, abs(pos), ts,
                                     protective=enter.protective)
        ex = st.exits
        if not ex.protective:
            st.exits = None
            st.set_thresholds()
            return
        st.cancel_resting()
        for po in ex.initial_orders():
            cli = self.fills.intent(ts, po.side, po.size, po.order_type, po.purpose.value, signal_id,
                                    price=po.price, reduce_only=True)
            st.resting.append(Resting(po.purpose, po.side, po.order_type, po.size, po.price, cli))
        st.best_f = float(ex.best_price)
        st.mark_always = ex.cfg.trailing_activate_pct == 0
        st.time_due_ms = ex.opened_ms + int(ex.cfg.time_exit_h * HOUR_MS) if ex.cfg.time_exit_h else 1 << 62
        st.set_thresholds()

    # ================================================================== inside a bar

    def intrabar(self, ts: int, o: float, h: float, lo: float, c: float) -> None:
        """Walk open -> adverse extreme -> favourable extreme -> close (USD) of the bar at ``ts``; fill resting
        orders the walk reaches and check liquidation with the mark at each vertex (module docstring)."""
        st = self.st
        position = st.position
        long = st.pos_f > 0
        path = (o, lo, h, c) if long else (o, h, lo, c)
        prev = None
        for p in path:
            if position.size == 0:
                break
            self._orders_at(ts, prev, p)
            if position.size == 0:
                break
            self.liquidation(p, ts)
            prev = p
        st.set_thresholds()

    def _orders_at(self, ts: int, prev: float | None, p: float) -> None:
        """Fill the resting orders the move ``prev`` -> ``p`` reaches (``prev`` None: the open gap)."""
        st = self.st
        if not st.resting:
            return
        position = st.position
        fills = self.fills
        long = position.size > 0
        down = prev is None or p < prev
        up = prev is None or p > prev
        stop = next((r for r in st.resting if r.kind is OrderType.STOP), None)
        if stop is not None:
            if long:
                hit = p <= stop.price_f and down
            else:
                hit = p >= stop.price_f and up
            if hit:
                trigger = p if prev is None else stop.price_f  # a gap fills at the open, else at the stop
                bid, ask = fills.quote(trigger)
                qty = min(stop.size, abs(position.size))
                reason = st.exits.stop_reason if st.exits is not None else stop.purpose
                if st.exits is not None:
                    st.exits.on_exit_fill(reason, qty)
                st.resting.remove(stop)
                fills.book(stop.side, qty, bid if stop.side is Side.SELL else ask, "taker", stop.cli, ts)
                return
        if (long and up) or (not long and down):
            # a limit fills on a trade print strictly through it; prints are on the tick grid (on_tick_grid)
            tp_ = on_tick_grid(MarketTick(self.symbol, ts, last=p), self.inst).last
            assert tp_ is not None
            tps = [r for r in st.resting if r.kind is OrderType.LIMIT
                   and (tp_ > r.price_f if long else tp_ < r.price_f)]
            tps.sort(key=lambda r: r.price_f, reverse=not long)
            for tp in tps:
                if position.size == 0:
                    break
                qty = min(tp.size, abs(position.size))
                st.resting.remove(tp)
                if st.exits is not None:
                    st.exits.on_exit_fill(tp.purpose, qty)
                fills.book(tp.side, qty, tp.price, "maker", tp.cli, ts)
            if tps and position.size != 0 and st.exits is not None:
                so = st.exits.stop_order()
                for r in st.resting:
                    if r.kind is OrderType.STOP and so is not None:
                        r.size = so.size

    def liquidation(self, mark_f: float, ts: int) -> None:
        """``paper.liquidation.check`` for the one position with mark ``mark_f`` (USD): while margin equity
        (balance + unrealised P&L) is below maintenance margin, close partially first
        (``domain.money.partial_liquidation_size``), then fully with the fee capped at the equity left
        (``capped_liquidation_fee_bps``). The float guard ``liq_f`` skips the exact test far from the edge."""
        st = self.st
        position = st.position
        inst, liq_bps = self.inst, self.liq_bps
        partial_done = False
        for _ in range(MAX_LIQUIDATION_STEPS):
            pos = position.size
            if pos == 0:
                return
            if (pos > 0 and mark_f >= st.liq_f) or (pos < 0 and mark_f <= st.liq_f):
                return
            entry = position.entry_price
            mark = dec_of(mark_f)
            equity = st.balance + unrealized_pnl(inst, pos, entry, mark)  # the settlement currency
            mm = settlement_margins(inst, pos, entry)[1]
            if not liquidation_triggered(equity, mm):
                return
            st.cancel_resting()
            size_abs = abs(pos)
            if partial_done:
                q, full = size_abs, True
            else:
                fee_per_contract = (liquidation_fee_per_contract(inst, mark, liq_bps) if inst.is_linear
                                    else fee_amount(inst, _ONE, mark, liq_bps))
                q = partial_liquidation_size(equity, mm, mm, size_abs, fee_per_contract, inst.lot_size)
                if q <= 0:
                    return
                full = q >= size_abs
                q = size_abs if full else q
            fee_bps = (capped_liquidation_fee_bps(inst, q, mark, to_usd(inst, equity, mark), liq_bps) if full
                       else liq_bps)
            side = Side.SELL if pos > 0 else Side.BUY
            self.result.liquidations += 1
            if st.exits is not None:
                st.exits.on_exit_fill(ExitReason.LIQUIDATION, q)
            self.fills.book(side, q, mark, "liquidation" if full else "partialLiquidation", None, ts, fee_bps)
            partial_done = True
