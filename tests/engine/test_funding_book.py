"""The funding payments the exchange booked, read from the account log at each top of the hour: each payment
is booked once (a read starts at the previous top of the hour, inclusive, so it sees that hour's payment
again), and a PI_ payment, in its coin, counts in USD at the mark.

Sources: Kraken Futures docs, history API "Account log" (``funding rate change`` rows; ``since`` inclusive);
docs/kraken-futures-api.md §8.3 (hourly funding); Kraken Support "Portfolio Management" (inverse P&L and
funding in the coin).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from kraken_tui.domain import HOUR_MS, AccountLogEntry, Ticker
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.facade import EventKind
from kraken_tui.engine.funding_clock import FundingBook
from kraken_tui.engine.market import MarketState

T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR_MS


class _Log:
    """``account_log(since_ms=...)``: the rows at or after ``since_ms``, oldest first (as Kraken and the paper
    exchange answer)."""

    def __init__(self) -> None:
        self.rows: list[AccountLogEntry] = []

    def pay(self, hour: int, contract: str, amount: str, asset: str = "usd") -> None:
        self.rows.append(AccountLogEntry(len(self.rows) + 1, T0 + hour * HOUR_MS, asset, "funding rate change",
                                         contract=contract, realized_funding=D(amount), funding_rate=D("0.5"),
                                         mark_price=D("50000")))

    async def account_log(self, *, since_ms=None, sort="desc", count=None, **_kw):
        return [r for r in self.rows if since_ms is None or r.ts_ms >= since_ms]


def _book():
    written, events = [], []

    async def write(rec):
        written.append(rec)

    io = EngineIO(lambda kind, msg, **kw: events.append((kind, msg, kw.get("data"))), lambda: 0, write,
                  written.append, None)  # type: ignore[arg-type]
    log = _Log()
    acct = AccountTracker()
    market = MarketState(["PF_XBTUSD", "PI_XBTUSD"], ["1m"])
    book = FundingBook(io, client=log, account=acct, market=market)  # type: ignore[arg-type]
    return book, log, acct, market, written, events


def _hours(book, first: int, last: int) -> None:
    """The engine clock passing the tops of the hours ``first``..``last``, each read run at once."""
    for h in range(first, last + 1):
        since = book.clock.due(T0 + h * HOUR_MS + 1)
        if since is not None:
            asyncio.run(book.poll(since))


def test_each_payment_is_booked_once_across_hourly_reads():
    book, log, acct, _, written, events = _book()
    acct.managed["PF_XBTUSD"] = ManagedPosition("PF_XBTUSD", "sig", None)  # type: ignore[arg-type]
    book.clock.due(T0 + 1)  # the clock starts at hour 0
    for h, amount in ((1, "-0.25"), (2, "-0.5"), (3, "0.125")):
        log.pay(h, "pf_xbtusd", amount)
        _hours(book, h, h)
    # read at 1 (since 0): -0.25; at 2 (since 1): -0.25 again and -0.5; at 3 (since 2): -0.5 again and 0.125
    assert [(p.ts_ms - T0) // HOUR_MS for p in written] == [1, 2, 3]
    assert acct.funding_today_usd == D("-0.625") and acct.managed["PF_XBTUSD"].funding_usd == D("-0.625")
    assert [m for k, m, _ in events if k is EventKind.FUNDING] == [
        "PF_XBTUSD funding -0.2500 USD", "PF_XBTUSD funding -0.5000 USD", "PF_XBTUSD funding +0.1250 USD"]


def test_a_payment_booked_after_the_read_is_booked_at_the_next_one():
    book, log, acct, _, written, _ = _book()
    book.clock.due(T0 + 1)
    _hours(book, 1, 1)  # the hour-1 payment is not in the log yet
    log.pay(1, "pf_xbtusd", "-1")
    log.pay(2, "pf_xbtusd", "-2")
    _hours(book, 2, 2)
    assert [(p.ts_ms - T0) // HOUR_MS for p in written] == [1, 2] and acct.funding_today_usd == D("-3")


def test_a_pi_payment_is_in_the_coin_and_counts_in_usd_at_the_mark():
    book, log, acct, market, written, events = _book()
    market.on_ticker(Ticker("PI_XBTUSD", ts_ms=1, mark_price=50_000.0), now_ms=1)
    acct.managed["PI_XBTUSD"] = ManagedPosition("PI_XBTUSD", "sig", None)  # type: ignore[arg-type]
    book.clock.due(T0 + 1)
    log.pay(1, "pi_xbtusd", "-0.00001", asset="xbt")
    _hours(book, 1, 2)
    assert [p.amount_usd for p in written] == [D("-0.00001")]  # journaled in XBT (the journal's coin legs)
    # 0.00001 XBT x 50 000 USD = 0.50 USD
    assert acct.funding_today_usd == D("-0.5") and acct.managed["PI_XBTUSD"].funding_usd == D("-0.5")
    [(_, msg, data)] = [e for e in events if e[0] is EventKind.FUNDING]
    assert msg == "PI_XBTUSD funding -0.00001000 XBT (-0.5000 USD)" and data["currency"] == "xbt"
