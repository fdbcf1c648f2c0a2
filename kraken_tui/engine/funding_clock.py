"""Funding of the open positions: the hourly estimate (``funding.FundingAccrual``) fed from every ticker, and
the payments the exchange really booked, read from the account log at the top of each hour and journaled.

Owns: ``FundingBook`` (the engine's funding: ``accrue`` per ticker, ``tick`` on the engine clock queues the
payment read, ``poll`` journals the payments and adds them to the day's and the managed position's funding),
``FundingClock`` (top of each hour on the engine clock), ``funding_payments`` (the account log's ``funding
rate change`` rows as journal records; Kraken Futures docs, history API "Account log") and ``FundingRead``.
Kraken Futures funds perpetuals hourly (Kraken Futures docs, "Funding rates"; docs/kraken-futures-api.md
§8.3).
Units: times UTC ms (the engine clock); amounts USD (positive = received); funding rates relative per hour.
Must not import: textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain import HOUR_MS, AccountLogEntry
from kraken_tui.domain.money import is_inverse_symbol, symbol_settlement_currency
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.funding import FundingAccrual
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.ports import KrakenClient
from kraken_tui.errors import ExchangeError
from kraken_tui.journal.records import FundingPayment

__all__ = ["FundingBook", "FundingClock", "FundingRead", "funding_payments"]



class FundingClock:
    """The top of each hour on the engine clock: when one passed, the account log is read for the funding
    payments booked since the previous one (Kraken Futures funds perpetuals hourly; Kraken Futures docs,
    "Funding rates")."""

    def __init__(self) -> None:
        self.hour_ms: int | None = None

    def due(self, now_ms: int) -> int | None:
        """The start (UTC ms) of the hour to read payments from when ``now_ms`` passed the top of an hour
        since the last call, else None (also at the first call, which only starts the clock)."""
        hour = now_ms - now_ms % HOUR_MS
        if self.hour_ms is None:
            self.hour_ms = hour
            return None
        if hour > self.hour_ms:
            since, self.hour_ms = self.hour_ms, hour
            return since
        return None


@dataclass(frozen=True, slots=True)
class FundingRead:
    """The payments read (``payments``), or why the read failed (``error``)."""

    payments: tuple[FundingPayment, ...]
    error: str | None = None


async def funding_payments(client: KrakenClient, since_ms: int) -> FundingRead:
    """Funding payments booked since ``since_ms`` (UTC ms) from the account log (history API "Account log"): one
    ``FundingPayment`` per ``funding rate change`` row with a realised amount (USD) and a contract; the
    absolute rate (USD per contract) becomes relative per hour by dividing by the mark ("Funding rates").
    An exchange error gives no payments and its text."""
    try:
        rows = await client.account_log(since_ms=since_ms, sort="asc", count=100)
    except ExchangeError as exc:
        return FundingRead((), str(exc))
    return FundingRead(tuple(p for r in rows if (p := _payment(r)) is not None))


def _payment(r: AccountLogEntry) -> FundingPayment | None:
    if r.info != "funding rate change" or r.realized_funding is None or not r.contract:
        return None
    rate = r.funding_rate or Decimal(0)
    if r.mark_price:
        rate = rate / r.mark_price  # absolute (USD per contract) -> relative per hour
    return FundingPayment(r.contract.upper(), r.ts_ms, r.realized_funding, rate)


class FundingBook:
    """The engine's funding (module docstring).

    Args:
        io: events, clock, journal and job queue (``context.EngineIO``).
        client: reads the account log (``ports.KrakenClient``).
        account: the positions held, the day's funding and the managed positions' funding.
        market: the latest mark and hourly funding rate per symbol.

    Attributes:
        accrual: the hourly funding estimate per open position (``PositionView.funding_accrued_usd``); the
            journal's ``FundingPayment`` records are the exchange's real payments (``poll``).
        clock: the top-of-the-hour clock that queues the payment read.
    """

    def __init__(self, io: EngineIO, *, client: KrakenClient, account: AccountTracker, market: MarketState) -> None:
        self.io, self.client, self.account, self.market = io, client, account, market
        self.accrual = FundingAccrual()
        self.clock = FundingClock()
        self._booked: dict[str, int] = {}
        """Symbol -> time (UTC ms) of its latest payment booked: each read starts at the previous top of the
        hour (inclusive, so a payment booked late is not missed) and so sees that hour's payment again."""

    def accrue(self, symbol: str) -> None:
        """The funding estimate (engine.funding, spec §8.3) of ``symbol``: the position held and the latest mark
        and hourly rate; every top of the hour passed settles one hour per open position. A non-finite
        price or rate skips the estimate with a WARNING event."""
        now = self.io.now_ms()
        try:
            self.accrual.set_position(symbol, self.account.signed_size(symbol), now)
            self.accrual.observe(symbol, self.market.mark_price(symbol), self.market.funding_rate(symbol), now)
        except ValueError as exc:
            self.io.emit(EventKind.ERROR, f"{symbol} funding estimate skipped: {exc}", symbol=symbol,
                         severity=Severity.WARNING)

    def tick(self, now_ms: int) -> None:
        """On the engine clock (``now_ms``, UTC ms): when the top of an hour passed and a position is open,
        queue the read of the payments booked since the previous hour (``poll``) on the job worker."""
        since = self.clock.due(now_ms)
        if since is not None and (self.account.positions or self.account.managed):
            self.io.submit("funding payments", lambda: self.poll(since))

    async def poll(self, since_ms: int) -> None:
        """Journal the funding payments booked since ``since_ms`` (UTC ms, inclusive; ``funding_payments``), add
        them to the day's funding and the managed position's (USD), publish each (FUNDING event); a payment
        already booked (at or before its symbol's latest) is skipped. A PI_ payment is in its coin (Kraken
        Support "Portfolio Management"): journaled as such, valued in USD at the symbol's mark (0 without
        one). A failed read is a WARNING event."""
        read = await funding_payments(self.client, since_ms)
        if read.error is not None:
            self.io.emit(EventKind.ERROR, f"funding read failed: {read.error}", severity=Severity.WARNING)
            return
        for p in read.payments:
            last = self._booked.get(p.symbol)
            if last is not None and p.ts_ms <= last:
                continue
            self._booked[p.symbol] = p.ts_ms
            await self.io.write(p)
            unit = symbol_settlement_currency(p.symbol).upper() if is_inverse_symbol(p.symbol) else "USD"
            usd = p.amount_usd
            if unit != "USD":
                mark = self.market.mark_price(p.symbol)
                usd = p.amount_usd * Decimal(str(mark)) if mark else Decimal(0)
            self.account.funding_today_usd += usd
            mp = self.account.managed.get(p.symbol)
            if mp is not None:
                mp.funding_usd += usd
            amount = f"{p.amount_usd:+.4f} USD" if unit == "USD" else f"{p.amount_usd:+.8f} {unit} ({usd:+.4f} USD)"
            self.io.emit(EventKind.FUNDING, f"{p.symbol} funding {amount}", symbol=p.symbol,
                         data={"amount_usd": str(usd), "amount": str(p.amount_usd), "currency": unit.lower()})
