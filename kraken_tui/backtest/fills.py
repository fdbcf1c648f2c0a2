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

from kraken_tui.domain import Fill, OrderType, Side
from kraken_tui.engine.execution import intent_purpose
from kraken_tui.journal.records import FundingPayment, IntentRecord
from kraken_tui.journal.trades import IntentInfo
from kraken_tui.paper.account import (
    fee_amount,
    funding_payment,
    margin_tier,
)

from .settings import _FILL_TYPES, _INF, HOUR_MS, MAX_FUNDING_HOURS_PER_STEP, dec_of

__all__ = ["Fills"]

_BUY = Side.BUY




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
        """Book one execution with the paper exchange's formulas (paper.ledger.book_fill)."""
        inst = self.inst
        position = self.position
        realized = position.apply_fill(inst, qty * (1 if side is _BUY else -1), price, ts)  # qty x side.sign
        if fee_bps is None:
            fee_bps = self.maker_bps if fill_type == "maker" else self.taker_bps
        fee = fee_amount(inst, qty, price, fee_bps)
        self.balance = balance = self.balance + (realized - fee)
        self._seq = n = self._seq + 1
        row = (side, qty, price, ts, _FILL_TYPES[fill_type], cli, fee, n)
        self.cur_fills.append(row)
        if self.sink is not None:
            self.sink(self._fill_of(row))
        pos = position.size
        self.pos_f = float(pos)
        self.entry_f = float(position.entry_price)
        self.bal_f = float(balance)
        if pos == 0:
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
        self.cur_intents[cli] = IntentInfo(reason, "buy" if side is _BUY else "sell", signal_id)  # side.value
        if self.sink is not None:
            limit = price if otype is OrderType.LIMIT else None
            stop = price if otype is OrderType.STOP else None
            self.sink(IntentRecord(ts, cli, self.symbol, side, size, otype, intent_purpose(reason), limit, stop,
                                   reduce_only, signal_id))
        return cli

    def _quote(self, price: float) -> tuple[Decimal, Decimal]:
        """``quote_at(self.inst, price, slippage_bps)`` with the instrument's constants computed once."""
        k, step, digits = self._slip_k, self._tick_f, self._tick_digits
        bid = round(math.floor(price * (1.0 - k) / step + 1e-9) * step, digits)
        ask = round(math.ceil(price * (1.0 + k) / step - 1e-9) * step, digits)
        return dec_of(bid), dec_of(ask)

    def _open_fills(self, ts: int, o: float) -> None:
        """Execute the market orders decided at the previous close at this bar's open (+ slippage)."""
        pending, self.pending = self.pending, []
        bid, ask = self._quote(o)
        for kind, side, size, strategy, cli, signal_id, enter in pending:
            if kind == "close":
                pos = self.position.size
                if pos == 0 or (pos > 0) == (side is Side.BUY):
                    continue  # nothing left to reduce (reduce-only)
                self._cancel_resting()
                qty = min(size, abs(pos))
                self._book(side, qty, bid if side is Side.SELL else ask, "taker", cli, ts)
            else:
                price = ask if side is Side.BUY else bid
                # a reversal's close (just booked) ended the previous round trip and cleared its intents:
                # keep this entry's intent and strategy, so the new trade keeps its signal and strategy
                if cli not in self.cur_intents:
                    self.cur_intents[cli] = IntentInfo("entry", "buy" if side is _BUY else "sell", signal_id)
                if signal_id is not None and signal_id not in self.cur_strategies:
                    self.cur_strategies[signal_id] = strategy
                self._book(side, size, price, "taker", cli, ts)
                self._open_signal = signal_id
                if self.position.size != 0:
                    self._start_exits(enter, ts, price, size, signal_id)

