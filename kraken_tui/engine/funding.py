"""Hourly funding accrual of open positions: per position since open, per symbol and for the UTC day.

Owns: ``funding_payment`` (one hour of funding on a PF_ linear position), ``HourlyFunding`` (one
payment) and ``FundingAccrual`` (the engine's running estimate, shown per position and journaled).

Formula (``domain.money``; Kraken Support "Linear Multi-Collateral Perpetual Contract Specifications", funding,
and Kraken Futures docs "Historical funding rates"): Kraken perpetual funding is hourly; for PF_ linear contracts
``absolute_rate = relative_rate x price`` and ``payment = -signed_size x absolute_rate`` in USD, i.e.
``payment_usd = -signed_size x price x relative_rate_per_hour x contract_size``. Positive = received:
longs pay and shorts receive when the rate is positive; the reverse when it is negative. ``price`` is the
mark (Kraken Futures docs WS "ticker" say the index at calculation time; the difference is negligible).
Like the paper exchange (paper.ledger.settle_funding), a position open at the top of an hour pays that
whole hour, at the last mark and rate observed before the hour ended.

The exchange's account log (``funding rate change`` rows) is the record; this is the live estimate.
Units: sizes contracts (Decimal, signed), prices USD, rates relative per hour (fraction), money USD
(Decimal), times UTC epoch ms. Must not import: textual, the client, the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain import ZERO, money, to_decimal
from kraken_tui.domain.timeunits import DAY_MS, HOUR_MS

__all__ = ["DAY_MS", "HOUR_MS", "FundingAccrual", "HourlyFunding", "funding_payment"]

#: Most hours settled in one step (``domain.money.MAX_FUNDING_HOURS_PER_STEP``); a longer gap (the engine was not
#: running) is skipped, not invented.
MAX_HOURS_PER_STEP = money.MAX_FUNDING_HOURS_PER_STEP

_ONE = Decimal(1)


def funding_payment(
    signed_size: Decimal, price: Decimal, relative_rate: Decimal, contract_size: Decimal = _ONE
) -> Decimal:
    """One hour of funding on a PF_ linear position, USD, positive = received: ``domain.money``'s
    ``funding_amount`` at the linear ``absolute_funding_rate`` (relative_rate x price), i.e.
    -signed_size x price x relative_rate x contract_size (Kraken Support "Linear Multi-Collateral Perpetual
    Contract Specifications", funding).

    Example: long 0.5 XBT, mark 100 000, rate +0.0001/h -> -5 USD (the long pays); short -> +5 USD.
    """
    return money.funding_amount(signed_size, money.absolute_funding_rate(relative_rate, price, linear=True),
                                contract_size)


@dataclass(frozen=True, slots=True)
class HourlyFunding:
    """One hour of funding on one position.

    Attributes:
        symbol: the perpetual.
        ts_ms: end of the hour (UTC ms, on the hour).
        signed_size: position size during the hour, contracts (negative = short).
        price: the mark used, USD.
        funding_rate: relative rate per hour (fraction; positive = longs pay).
        amount_usd: payment, USD; positive = received, negative = paid.
    """

    symbol: str
    ts_ms: int
    signed_size: Decimal
    price: Decimal
    funding_rate: Decimal
    amount_usd: Decimal


class _Pos:
    __slots__ = ("signed_size", "opened_ms", "accrued")

    def __init__(self, signed_size: Decimal, opened_ms: int) -> None:
        self.signed_size, self.opened_ms, self.accrued = signed_size, opened_ms, ZERO


class FundingAccrual:
    """Running funding estimate of the engine's positions.

    Feed it positions (``set_position``), the latest mark and rate of each symbol (``observe``, e.g. from
    each ticker) and the clock (``advance``). Each of these first settles every top of the hour passed
    since the last call, so an hour is paid with the size held and the mark/rate seen before it ended.

    Args:
        contract_size: per symbol, units of base per contract (default 1 for PF_ contracts).
    """

    def __init__(self, contract_size: dict[str, Decimal] | None = None) -> None:
        self._contract_size = dict(contract_size or {})
        self._pos: dict[str, _Pos] = {}
        self._mark: dict[str, Decimal] = {}
        self._rate: dict[str, Decimal] = {}
        self._hour_ms: int | None = None  # start of the hour being accrued
        self._day_ms: int | None = None  # start of the UTC day of the "today" totals
        self._today: dict[str, Decimal] = {}
        self.hours_skipped = 0
        """Hours not settled because a gap exceeded ``MAX_HOURS_PER_STEP``."""
        self.missing_price_hours = 0
        """Position-hours not settled because no mark or rate had been observed for the symbol."""

    # ------------------------------------------------------------------ inputs

    def set_position(self, symbol: str, signed_size: Decimal, ts_ms: int) -> list[HourlyFunding]:
        """The position of ``symbol`` is now ``signed_size`` contracts (0 = flat) as of ``ts_ms``.

        Settles the hours ended by ``ts_ms`` first (with the old size). Opening or reversing starts a new
        position (accrued since open = 0); resizing in the same direction keeps the accrual; going flat
        drops it (read ``accrued`` before closing to record a trade's funding).

        Returns:
            The payments settled before the change.
        """
        out = self._settle_until(ts_ms)
        old = self._pos.get(symbol)
        if signed_size == 0:
            self._pos.pop(symbol, None)
        elif old is None or (old.signed_size > 0) != (signed_size > 0):
            self._pos[symbol] = _Pos(signed_size, ts_ms)
        else:
            old.signed_size = signed_size
        return out

    def observe(
        self, symbol: str, mark_price: float | Decimal | None, funding_rate: float | Decimal | None, ts_ms: int
    ) -> list[HourlyFunding]:
        """Record the latest mark (USD) and relative hourly rate of ``symbol`` at ``ts_ms``; None keeps
        the previous value. Settles the hours ended by ``ts_ms`` first, with the values seen before.

        Raises:
            ValueError: a non-finite price or rate.
        """
        out = self._settle_until(ts_ms)
        if mark_price is not None:
            self._mark[symbol] = to_decimal(mark_price)
        if funding_rate is not None:
            self._rate[symbol] = to_decimal(funding_rate)
        return out

    def advance(self, now_ms: int) -> list[HourlyFunding]:
        """Settle every top of the hour at or before ``now_ms`` (UTC ms); returns the payments."""
        return self._settle_until(now_ms)

    # ------------------------------------------------------------------ settlement

    def _settle_until(self, ts_ms: int) -> list[HourlyFunding]:
        if self._hour_ms is None:
            self._hour_ms = ts_ms - ts_ms % HOUR_MS
            return []
        out: list[HourlyFunding] = []
        hours = 0
        while self._hour_ms + HOUR_MS <= ts_ms:
            if hours >= MAX_HOURS_PER_STEP:
                new_start = ts_ms - ts_ms % HOUR_MS
                self.hours_skipped += (new_start - self._hour_ms) // HOUR_MS
                self._hour_ms = new_start
                break
            self._hour_ms += HOUR_MS
            hours += 1
            self._settle_hour(self._hour_ms, out)
        return out

    def _settle_hour(self, hour_end_ms: int, out: list[HourlyFunding]) -> None:
        day = hour_end_ms - hour_end_ms % DAY_MS
        for symbol, pos in self._pos.items():
            if pos.opened_ms >= hour_end_ms:
                continue
            mark, rate = self._mark.get(symbol), self._rate.get(symbol)
            if mark is None or rate is None:
                self.missing_price_hours += 1
                continue
            amount = funding_payment(pos.signed_size, mark, rate, self._contract_size.get(symbol, _ONE))
            if amount == 0:
                continue
            pos.accrued += amount
            if self._day_ms != day:
                self._day_ms, self._today = day, {}
            self._today[symbol] = self._today.get(symbol, ZERO) + amount
            out.append(HourlyFunding(symbol, hour_end_ms, pos.signed_size, mark, rate, amount))

    # ------------------------------------------------------------------ reading

    def accrued(self, symbol: str) -> Decimal:
        """Funding on the open position of ``symbol`` since it opened, USD (positive = received); 0 when flat."""
        pos = self._pos.get(symbol)
        return pos.accrued if pos is not None else ZERO

    def today(self, symbol: str, now_ms: int | None = None) -> Decimal:
        """Funding of ``symbol`` settled in the current UTC day (of ``now_ms`` when given), USD."""
        if now_ms is not None and self._day_ms != now_ms - now_ms % DAY_MS:
            return ZERO
        return self._today.get(symbol, ZERO)

    def today_total(self, now_ms: int | None = None) -> Decimal:
        """Funding of all symbols settled in the current UTC day (of ``now_ms`` when given), USD."""
        if now_ms is not None and self._day_ms != now_ms - now_ms % DAY_MS:
            return ZERO
        return sum(self._today.values(), ZERO)
