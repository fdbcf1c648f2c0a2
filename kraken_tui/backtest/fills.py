"""The backtest's fills and clock: market orders at the open, booking with the paper exchange's money rules,
order intents, and hourly funding.

Owns: ``Fills``, the backtest's collaborator that moves money: ``open_fills`` (orders decided at a close fill
at the next open plus slippage), ``book`` / ``book_ft`` (one execution: ``domain.money.linear_fill`` and
``fee_amount``, the formulas ``paper.ledger.book_fill`` uses, exact Decimal), ``intent`` (cliOrdIds and intent
records), ``quote`` and ``clock`` / ``settle_funding`` (``paper.exchange.PaperExchange.advance_clock``'s rule,
``domain.money.funding_payment``'s formula). Must not import: textual, the paper exchange's server, the
journal writer.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from kraken_tui.domain import ZERO, FillType, Instrument, OrderType, Side
from kraken_tui.domain.money import (
    MAX_FUNDING_HOURS_PER_STEP,
    apply_fill,
    fee_amount,
    funding_payment,
    inverse_liquidation_price,
    linear_fill,
    linear_liquidation_price,
    margin_tier,
    to_usd,
)
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.engine.order_ids import intent_purpose
from kraken_tui.journal.records import FundingPayment, IntentRecord

from .settings import (
    _DEC_OF_MAX,
    _FILL_TYPES,
    _INF,
    BacktestResult,
    BacktestSettings,
    dec_of,
    quote_terms,
    quote_with,
)
from .state import BacktestState, FillRow, fill_of
from .trades import Trades

__all__ = ["Fills", "Sink"]

_BUY = Side.BUY
_TAKER = FillType.TAKER

#: Called with every journal record in order (``backtest.runner.Backtest``'s ``sink``).
Sink = Callable[[Any], None]


class Fills:
    """Fills, intents and the funding clock of one backtest.

    Args:
        state: the backtest's state (account, round trip, clock).
        settings: fee rates (bps), slippage (bps), funding schedule, run id.
        result: counters (funding payments) and ``first_ms``.
        trades: told when the position is back to zero (``Trades.trade_closed``).
        sink: journal records (None = not kept).
    """

    __slots__ = ("st", "inst", "symbol", "run8", "result", "trades", "sink", "maker_bps", "taker_bps", "_rate_for",
                 "_cs", "_slippage_bps", "_quotes", "_linear", "_fee_currency", "_qterms")

    def __init__(self, state: BacktestState, settings: BacktestSettings, result: BacktestResult, trades: Trades,
                 sink: Sink | None) -> None:
        inst = settings.instrument
        self.st = state
        self.inst: Instrument = inst
        self.symbol = inst.symbol
        self.run8 = settings.run_id[:8]
        self.result = result
        self.trades = trades
        self.sink = sink
        self.maker_bps = Decimal(repr(settings.maker_fee_bps))
        self.taker_bps = Decimal(repr(settings.taker_fee_bps))
        self._rate_for = settings.funding.rate_for
        self._cs = inst.contract_size
        self._slippage_bps = settings.slippage_bps
        self._quotes: dict[float, tuple[Decimal, Decimal]] = {}
        self._qterms = quote_terms(inst, settings.slippage_bps)
        self._linear = inst.is_linear
        self._fee_currency = "USD" if inst.is_linear else inst.base.upper()

    # ================================================================== clock: funding

    def clock(self, ts: int) -> bool:
        """Settle funding for every top of the hour passed up to ``ts`` (ms; ``PaperExchange.advance_clock``'s
        rule). Returns True when funding was paid and a position is open (the caller then checks
        liquidation at the last close)."""
        st = self.st
        st.now_ms = ts
        if st.funded is None:
            st.funded = ts - ts % HOUR_MS
            st.next_hour = st.funded + HOUR_MS
            self.result.first_ms = ts
            return False
        funded = st.funded
        hours = 0
        paid = False
        while funded + HOUR_MS <= ts and hours < MAX_FUNDING_HOURS_PER_STEP:
            funded += HOUR_MS
            hours += 1
            if st.position.size != 0:
                paid = self.settle_funding(funded) or paid
        st.funded = funded = max(funded, ts - ts % HOUR_MS)
        st.next_hour = funded + HOUR_MS
        return paid and st.position.size != 0

    def settle_funding(self, hour_end_ms: int) -> bool:
        """Book one hour of funding on the open position at the top of the hour ``hour_end_ms``: the rate of
        the hour that ended, at the last close (USD). The payment is in the settlement currency (USD for PF_,
        the coin for PI_: ``result.funding_coin`` adds it, ``result.funding_usd`` its value at that close).
        False when nothing was paid (rate 0 or no price yet)."""
        st = self.st
        rel = self._rate_for(hour_end_ms - HOUR_MS)
        if rel == 0 or not st.last_close:
            return False
        rel_d = Decimal(repr(rel))
        price = dec_of(st.last_close)
        _, payment = funding_payment(self.inst, st.position.size, rel_d, price)
        st.balance += payment
        st.bal_f = float(st.balance)
        self.refresh_liq()
        rec = FundingPayment(self.symbol, hour_end_ms, payment, rel_d)
        st.cur_funding.append(rec)
        self.result.funding_payments += 1
        if self._linear:
            self.result.funding_usd += payment
        else:
            res = self.result
            res.funding_coin = (res.funding_coin or ZERO) + payment
            res.funding_usd += to_usd(self.inst, payment, price)
        if self.sink is not None:
            self.sink(rec)
        return True

    # ================================================================== fills

    def book(self, side: Side, qty: Decimal, price: Decimal, fill_type: str, cli: str | None, ts: int,
             fee_bps: Decimal | None = None) -> None:
        """Book one execution of ``qty`` contracts at ``price`` USD at ``ts``: ``fill_type`` a
        ``domain.FillType`` value, ``fee_bps`` None = the maker or taker fee of the settings."""
        if fee_bps is None:
            fee_bps = self.maker_bps if fill_type == "maker" else self.taker_bps
        self.book_ft(side, qty, price, _FILL_TYPES[fill_type], cli, ts, fee_bps)

    def book_ft(self, side: Side, qty: Decimal, price: Decimal, ft: FillType, cli: str | None, ts: int,
                fee_bps: Decimal) -> None:
        """``book`` with the fill type and fee rate resolved: the position, realised P&L and fee by
        ``domain.money.linear_fill`` (PF_) or ``apply_fill`` (PI_: P&L in the coin) and ``fee_amount`` (in the
        settlement currency), the balance, the fill row, the float mirrors; a closed round trip goes to
        ``Trades.trade_closed``."""
        st = self.st
        position = st.position
        if self._linear:
            new, entry, realized = linear_fill(position.size, position.entry_price,
                                               qty if side is _BUY else -qty, price, self._cs)
        else:
            new, entry, realized = apply_fill(self.inst, position.size, position.entry_price,
                                              qty if side is _BUY else -qty, price)
        position.size, position.entry_price, position.fill_ts_ms = new, entry, ts
        fee = fee_amount(self.inst, qty, price, fee_bps)
        st.balance = balance = st.balance + (realized - fee)
        st.seq = n = st.seq + 1
        row: FillRow = (side, qty, price, ts, ft, cli, fee, n)
        st.cur_fills.append(row)
        if self.sink is not None:
            self.sink(fill_of(self.run8, self.symbol, row, self._fee_currency))
        st.pos_f = float(new)
        st.entry_f = float(entry)
        st.bal_f = float(balance)
        if new == 0:
            self.trades.trade_closed()
            st.liq_f = -_INF
        else:
            self.refresh_liq()

    def refresh_liq(self) -> None:
        """Float guard of the liquidation test: the mark at which equity = maintenance margin
        (``domain.money.linear_liquidation_price`` with the balance as collateral for PF_,
        ``inverse_liquidation_price`` with the coin balance for PI_), slightly widened so the exact Decimal test
        decides every case near the edge. Keeps the tier's margin rates in ``pos_rates``."""
        st = self.st
        pos = st.position.size
        if pos == 0:
            st.liq_f = -_INF
            return
        # position_margins' MM, keeping the tier's rates for Decisions.account (same position)
        n, im_rate, mm_rate = margin_tier(self.inst, pos, st.position.entry_price)
        st.pos_rates = (im_rate, mm_rate)
        if not self._linear:
            inv = inverse_liquidation_price(pos * self._cs, st.position.entry_price, mm_rate, st.balance)
            if inv is None or inv <= 0:  # no positive mark liquidates the position
                st.liq_f = -_INF if pos > 0 else _INF
                return
            p_liq = float(inv)
        else:
            p_liq = linear_liquidation_price(st.pos_f, st.entry_f, float(n * mm_rate), st.bal_f)
        margin = abs(p_liq) * 1e-6 + 1e-9
        st.liq_f = p_liq + margin if pos > 0 else p_liq - margin

    def intent(self, ts: int, side: Side, size: Decimal, otype: OrderType, reason: str, signal_id: str | None,
               *, price: Decimal | None = None, reduce_only: bool = False) -> str:
        """Register (and journal) an order intent; returns its cliOrdId (``kt-<signal>-<purpose>-<n>``)."""
        st = self.st
        st.seq = n = st.seq + 1
        cli = f"kt-{signal_id or self.run8}-{reason}-{n}"
        # (purpose, side, signal id): journal.trades.IntentInfo's fields (Trades._trade_of)
        st.cur_intents[cli] = (reason, "buy" if side is _BUY else "sell", signal_id)  # side.value
        if self.sink is not None:
            limit = price if otype is OrderType.LIMIT else None
            stop = price if otype is OrderType.STOP else None
            self.sink(IntentRecord(ts, cli, self.symbol, side, size, otype, intent_purpose(reason), limit, stop,
                                   reduce_only, signal_id))
        return cli

    def quote(self, price: float) -> tuple[Decimal, Decimal]:
        """``settings.quote_at(inst, price, slippage_bps)``: the (bid, ask) a market order meets at ``price``
        USD, memoised by price (bar prices repeat on the tick grid; cleared at 65,536 entries)."""
        q = self._quotes.get(price)
        if q is None:
            q = quote_with(price, *self._qterms)
            if len(self._quotes) >= _DEC_OF_MAX:
                self._quotes.clear()
            self._quotes[price] = q
        return q
