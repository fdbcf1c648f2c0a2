"""The backtest's fills and clock: market orders at the open, booking with the paper exchange's money rules,
order intents, and hourly funding.

Owns: the ``Fills`` mixin of ``Backtest``: ``_open_fills`` (orders decided at a close fill at the next open
plus slippage), ``_book`` (``paper.ledger.book_fill``'s formulas, exact Decimal), ``_intent`` (cliOrdIds and
intent records), ``_quote`` and ``_clock`` / ``_settle_funding`` (``paper.exchange.advance_clock``'s rule).
Must not import: textual, the paper exchange's server, the journal writer.
"""

from __future__ import annotations

import math
from decimal import Decimal

from kraken_tui.domain import ZERO, Fill, FillType, OrderType, Side
from kraken_tui.engine.execution import intent_purpose
from kraken_tui.journal.records import FundingPayment, IntentRecord
from kraken_tui.paper.account import (
    BPS,
    funding_payment,
    margin_tier,
)

from .settings import _DEC_OF_MAX, _FILL_TYPES, _INF, HOUR_MS, MAX_FUNDING_HOURS_PER_STEP, dec_of

__all__ = ["Fills"]

_BUY = Side.BUY
_TAKER = FillType.TAKER
_PLUS_ONE, _MINUS_ONE = Decimal(1), Decimal(-1)  # paper.account's sign constants




class Fills:
    """Fills, intents and the funding clock (a mixin of ``runner.Backtest``)."""

    # ================================================================== clock: funding

    def _clock(self, ts: int) -> None:
        """Settle funding for every top of the hour passed (paper.exchange.advance_clock's rule)."""
        self.now_ms = ts
        if self._funded is None:
            self._funded = ts - ts % HOUR_MS
            self.next_hour = self._funded + HOUR_MS
            self.result.first_ms = ts
            return
        hours = 0
        paid = False
        while self._funded + HOUR_MS <= ts and hours < MAX_FUNDING_HOURS_PER_STEP:
            self._funded += HOUR_MS
            hours += 1
            if self.position.size != 0:
                paid = self._settle_funding(self._funded) or paid
        self._funded = max(self._funded, ts - ts % HOUR_MS)
        self.next_hour = self._funded + HOUR_MS
        if paid and self.position.size != 0:
            self._liquidation(self.last_close, ts)

    def _settle_funding(self, hour_end_ms: int) -> bool:
        rel = self.s.funding.rate_for(hour_end_ms - HOUR_MS)
        if rel == 0 or not self.last_close:
            return False
        rel_d = Decimal(repr(rel))
        _, payment = funding_payment(self.inst, self.position.size, rel_d, dec_of(self.last_close))
        self.balance += payment
        self.bal_f = float(self.balance)
        self._refresh_liq()
        rec = FundingPayment(self.symbol, hour_end_ms, payment, rel_d)
        self.cur_funding.append(rec)
        self.result.funding_payments += 1
        self.result.funding_usd += payment
        if self.sink is not None:
            self.sink(rec)
        return True

    # ================================================================== fills

    def _next_id(self) -> int:
        self._seq += 1
        return self._seq

    def _book(self, side: Side, qty: Decimal, price: Decimal, fill_type: str, cli: str | None, ts: int,
              fee_bps: Decimal | None = None) -> None:
        """Book one execution with the paper exchange's formulas (paper.ledger.book_fill): ``fill_type`` a
        ``domain.FillType`` value, ``fee_bps`` None = the maker or taker fee of the settings."""
        if fee_bps is None:
            fee_bps = self.maker_bps if fill_type == "maker" else self.taker_bps
        self._book_ft(side, qty, price, _FILL_TYPES[fill_type], cli, ts, fee_bps)

    def _book_ft(self, side: Side, qty: Decimal, price: Decimal, ft: FillType, cli: str | None, ts: int,
                 fee_bps: Decimal) -> None:
        """``_book`` with the fill type and fee rate resolved. The position update and the fee are
        ``paper.account.PaperPosition.apply_fill`` and ``fee_amount`` for a linear perpetual (the only kind a
        Backtest trades), inlined: the same Decimal operations in the same order (a test compares them)."""
        position = self.position
        cs = self._cs
        signed_qty = qty * (1 if side is _BUY else -1)  # qty x side.sign
        # PaperPosition.apply_fill (linear)
        realized = ZERO
        old = position.size
        new = old + signed_qty
        if old == 0 or (old > 0) == (signed_qty > 0):
            position.entry_price = entry = (old * position.entry_price + signed_qty * price) / new
        else:
            closed = min(abs(signed_qty), abs(old))
            signed = (_PLUS_ONE if old > 0 else _MINUS_ONE) * closed
            if signed != 0:  # unrealized_pnl(inst, signed, entry, price)
                realized = (price - position.entry_price) * signed * cs
            if new == 0:
                position.entry_price = entry = ZERO
            elif (new > 0) != (old > 0):
                position.entry_price = entry = price
            else:
                entry = position.entry_price
        position.size = new
        position.fill_ts_ms = ts
        fee = abs(qty) * price * cs * fee_bps / BPS  # fee_amount (linear)
        self.balance = balance = self.balance + (realized - fee)
        self._seq = n = self._seq + 1
        row = (side, qty, price, ts, ft, cli, fee, n)
        self.cur_fills.append(row)
        if self.sink is not None:
            self.sink(self._fill_of(row))
        self.pos_f = float(new)
        self.entry_f = float(entry)
        self.bal_f = float(balance)
        if new == 0:
            self._trade_closed()
            self.liq_f = -_INF
        else:
            self._refresh_liq()

    def _fill_of(self, row: tuple) -> Fill:
        """The ``domain.Fill`` of a booked fill row (ids ``<run8>-f<n>`` / ``<run8>-o<n>``)."""
        side, qty, price, ts, fill_type, cli, fee, n = row
        return Fill(f"{self._run8}-f{n}", f"{self._run8}-o{n}", self.symbol, side, qty, price, ts, fill_type, cli,
                    fee, "USD")

    def _refresh_liq(self) -> None:
        """Float guard of the liquidation test: the mark at which equity = maintenance margin (slightly
        widened so the exact Decimal test decides every case near the edge)."""
        pos = self.position.size
        if pos == 0:
            self.liq_f = -_INF
            return
        # position_margins' MM, keeping the tier's rates for Decisions._account (same position)
        n, im_rate, mm_rate = margin_tier(self.inst, pos, self.position.entry_price)
        self._pos_rates = (im_rate, mm_rate)
        mm = float(n * mm_rate)
        p_liq = self.entry_f + (mm - self.bal_f) / self.pos_f
        margin = abs(p_liq) * 1e-6 + 1e-9
        self.liq_f = p_liq + margin if pos > 0 else p_liq - margin

    def _intent(self, ts: int, side: Side, size: Decimal, otype: OrderType, reason: str, signal_id: str | None,
                *, price: Decimal | None = None, reduce_only: bool = False) -> str:
        """Register (and journal) an order intent; returns its cliOrdId (``kt-<signal>-<purpose>-<n>``)."""
        self._seq = n = self._seq + 1  # _next_id()
        cli = f"kt-{signal_id or self._run8}-{reason}-{n}"
        # (purpose, side, signal id): journal.trades.IntentInfo's fields (Trades._trade_of)
        self.cur_intents[cli] = (reason, "buy" if side is _BUY else "sell", signal_id)  # side.value
        if self.sink is not None:
            limit = price if otype is OrderType.LIMIT else None
            stop = price if otype is OrderType.STOP else None
            self.sink(IntentRecord(ts, cli, self.symbol, side, size, otype, intent_purpose(reason), limit, stop,
                                   reduce_only, signal_id))
        return cli

    def _quote(self, price: float) -> tuple[Decimal, Decimal]:
        """``quote_at(self.inst, price, slippage_bps)`` with the instrument's constants computed once, memoised
        by price (bar prices repeat on the tick grid; cleared at 65,536 entries)."""
        q = self._quotes.get(price)
        if q is None:
            k, step, digits = self._slip_k, self._tick_f, self._tick_digits
            bid = round(math.floor(price * (1.0 - k) / step + 1e-9) * step, digits)
            ask = round(math.ceil(price * (1.0 + k) / step - 1e-9) * step, digits)
            q = dec_of(bid), dec_of(ask)
            if len(self._quotes) >= _DEC_OF_MAX:
                self._quotes.clear()
            self._quotes[price] = q
        return q

    def _open_fills(self, ts: int, o: float) -> None:
        """Execute the market orders decided at the previous close at this bar's open (+ slippage)."""
        pending, self.pending = self.pending, []
        bid, ask = self._quote(o)
        position = self.position
        book, taker, taker_bps = self._book_ft, _TAKER, self.taker_bps
        for kind, side, size, strategy, cli, signal_id, enter in pending:
            if kind == "close":
                pos = position.size
                if pos == 0 or (pos > 0) == (side is _BUY):
                    continue  # nothing left to reduce (reduce-only)
                if self.resting:
                    self._cancel_resting()
                book(side, min(size, abs(pos)), ask if side is _BUY else bid, taker, cli, ts, taker_bps)
            else:
                buy = side is _BUY
                price = ask if buy else bid
                # a reversal's close (just booked) ended the previous round trip and cleared its intents:
                # keep this entry's intent and strategy, so the new trade keeps its signal and strategy
                intents = self.cur_intents
                if cli not in intents:
                    intents[cli] = ("entry", "buy" if buy else "sell", signal_id)
                if signal_id is not None and signal_id not in self.cur_strategies:
                    self.cur_strategies[signal_id] = strategy
                book(side, size, price, taker, cli, ts, taker_bps)
                self._open_signal = signal_id
                if position.size != 0:
                    self._start_exits(enter, ts, price, size, signal_id)
