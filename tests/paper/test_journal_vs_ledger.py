"""Journal vs exchange: a paper run through the REST client over loopback, journaled, must
give the same realised P&L, fees and funding totals as the paper exchange's own account log (spec §4.18).

How the journal gets its numbers here (the way a REST-only producer has to do it):
- fills: ``GET /fills`` through ``KrakenRestClient.fills`` - REST fills carry NO fee (spec §4.9), so each fill's
  fee is taken from the account log's USD cash leg of the same execution (``execution`` == fill id, spec §4.18
  "each trade execution writes two rows: a cash leg with fee, realized_pnl, and a position leg"). The cash
  leg's ``fee`` plus its ``liquidation_fee`` is the fill's cost (a liquidation books its fee once, in ``liquidation_fee``;
  no liquidation happens in this run). A WS ``fills`` producer would get ``fee_paid`` directly (spec §7.9).
- funding: the account log's ``funding rate change`` rows -> ``FundingPayment(symbol, ts, realized_funding,
  relative rate = absolute funding_rate / mark_price)`` (spec §8.3: PF relative = absolute / price).
The journal side is then read back from SQLite (``queries.load_trades``) and compared with
``accountlog.compare_with_account_log``.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from kraken_tui.config import PaperConfig
from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.journal.accountlog import compare_with_account_log
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_trades
from kraken_tui.journal.records import FundingPayment, RunStarted, RunStopped
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.paper.exchange import PaperExchange

from .helpers import T0, funding, paper_client, quote

D = Decimal
H = 3_600_000
XBT, ETH = "PF_XBTUSD", "PF_ETHUSD"


@pytest.fixture
async def env():
    ex = PaperExchange(PaperConfig())  # defaults: 10 000 USD, maker 2 bp, taker 5 bp
    async with paper_client(ex) as client:
        yield ex, client


def _eth(ex, ts, bid, ask, mark):
    quote(ex, ts, sym=ETH, bid=bid, ask=ask, mark=mark)


async def _ok(c, symbol, side, otype, size, **kw):
    r = await c.send_order(OrderRequest(symbol, Side(side), OrderType(otype), D(size), **kw))
    assert r.status is OrderStatus.PLACED, r
    return r


async def _journal_from_exchange(c, path):
    """Journal every fill (fee from the account log's cash leg) and funding payment; return the account log."""
    log = await c.account_log(sort="asc")
    cash = {e.execution: e for e in log if e.execution and e.asset.lower() == "usd"}
    fills = await c.fills()
    assert fills and all(f.fee is None for f in fills)  # REST fills carry no fee (spec §4.9)
    w = JournalWriter(path)
    await w.start()
    await w.write(RunStarted("run-1", T0, "paper", "cfg", "test", D(10_000)))
    for f in fills:
        leg = cash[f.fill_id]  # KeyError = a fill without its account-log cash leg
        # what the fill cost: the trading fee plus, for a liquidation, the liquidation fee (spec §4.18)
        await w.write(dataclasses.replace(f, fee=(leg.fee or 0) + (leg.liquidation_fee or 0), fee_currency="USD"))
    for e in log:
        if e.info == "funding rate change":
            await w.write(FundingPayment(e.contract.upper(), e.ts_ms, e.realized_funding,
                                         e.funding_rate / e.mark_price))
    await w.write(RunStopped(T0 + 3 * H, "exit-at-end"))
    await w.flush()
    await w.close()
    return log


async def test_journal_totals_equal_the_paper_account_log(env, tmp_path):
    ex, c = env
    quote(ex, T0 + 1000)  # XBT bid 49 990 / ask 50 010, mark = index 50 000
    _eth(ex, T0 + 1000, 2_999.9, 3_000.1, 3_000)
    funding(ex, T0, 0.0001)  # relative rates of the hour T0 (carried to later hours)
    funding(ex, T0, -0.0002, sym=ETH)
    # 1. buy 0.2 XBT mkt @ 50 010, taker fee 0.2 x 50 010 x 5 bp = 5.001
    await _ok(c, XBT, "buy", "mkt", "0.2")
    # 2. sell 3 ETH mkt @ 2 999.9, taker fee 3 x 2 999.9 x 5 bp = 4.49985
    await _ok(c, ETH, "sell", "mkt", "3")
    # funding at T0+1h (index 50 000 / 3 000): XBT long 0.2 x 0.0001 x 50 000 -> pays 1;
    #   ETH short 3, rate -0.0002: absolute -0.6, payment -(-3) x -0.6 = -1.8 (short pays when negative)
    quote(ex, T0 + H + 1, bid=50_490, ask=50_510, mark=50_500)
    _eth(ex, T0 + H + 1, 2_979.9, 2_980.1, 2_980)
    # 3. reverse XBT: sell 0.3 @ 50 490: closes 0.2 (realised 0.2 x (50 490 - 50 010) = 96), opens short 0.1;
    #    fee 0.3 x 50 490 x 5 bp = 7.5735
    await _ok(c, XBT, "sell", "mkt", "0.3")
    # 4. ETH maker: buy 1 lmt 2 970 rests; the ask crosses it -> filled at 2 970 as maker
    #    realised 1 x (2 999.9 - 2 970) = 29.9, maker fee 1 x 2 970 x 2 bp = 0.594
    r = await _ok(c, ETH, "buy", "lmt", "1", limit_price=D(2_970))
    assert r.filled_size == 0
    _eth(ex, T0 + H + 2, 2_965, 2_969.9, 2_968)
    # funding at T0+2h (rates carried): XBT short 0.1 at index 50 500: -(-0.1) x 0.0001 x 50 500 = +0.505
    #   ETH short 2 at index 2 968: absolute -0.0002 x 2 968 = -0.5936, payment -(-2) x -0.5936 = -1.1872
    quote(ex, T0 + 2 * H + 1, bid=50_190, ask=50_210, mark=50_200)
    _eth(ex, T0 + 2 * H + 1, 2_989.9, 2_990.1, 2_990)
    # 5. close XBT short: buy 0.1 @ 50 210: realised 0.1 x (50 490 - 50 210) = 28, fee 0.1 x 50 210 x 5 bp = 2.5105
    await _ok(c, XBT, "buy", "mkt", "0.1")
    # 6. close ETH short: buy 2 @ 2 990.1: realised 2 x (2 999.9 - 2 990.1) = 19.6, fee 2 x 2 990.1 x 5 bp = 2.9901
    await _ok(c, ETH, "buy", "mkt", "2")
    assert await c.open_positions() == []

    path = tmp_path / "journal.sqlite"
    log = await _journal_from_exchange(c, path)
    conn = open_db(path, create=False)
    try:
        trades, start = load_trades(conn)
    finally:
        conn.close()
    assert start == D(10_000)

    cmp = compare_with_account_log(trades, log)
    assert cmp.matches, cmp.differences
    # realised 96 + 29.9 + 28 + 19.6 = 173.5
    # fees 5.001 + 4.49985 + 7.5735 + 0.594 + 2.5105 + 2.9901 = 23.16895
    # funding -1 - 1.8 + 0.505 - 1.1872 = -3.4822
    assert cmp.exchange.realized_pnl_usd == D("173.5")
    assert cmp.exchange.fees_usd == D("23.16895")
    assert cmp.exchange.funding_usd == D("-3.4822")
    assert cmp.journal.realized_pnl_usd == D("173.5")
    assert cmp.journal.fees_usd == D("23.16895")
    assert cmp.journal.funding_usd == D("-3.4822")
    # the wallet agrees: 10 000 + 173.5 - 23.16895 - 3.4822 = 10 146.84885
    assert ex.balances.quantities["usd"] == D("10146.84885")

    # round trips: XBT long (closed by the reversal), XBT short, ETH short; funding attributed per trade
    closed = {(t.symbol, t.side.value): t for t in trades.closed}
    assert len(trades.closed) == 3 and not trades.open
    xl, xs, es = closed[(XBT, "long")], closed[(XBT, "short")], closed[(ETH, "short")]
    assert (xl.gross_pnl_usd, xl.funding_usd) == (D(96), D(-1))
    assert (xs.gross_pnl_usd, xs.funding_usd) == (D(28), D("0.505"))
    assert (es.gross_pnl_usd, es.funding_usd) == (D("49.5"), D("-2.9872"))
    # the reversal fill's 7.5735 fee splits 2/3 to the long's exit (5.049) and 1/3 to the short's entry (2.5245)
    assert xl.fees_usd == D("5.001") + D("5.049") and xs.fees_usd == D("2.5245") + D("2.5105")
    assert trades.unattributed_funding_usd == 0


async def test_comparison_catches_a_missing_fee(env, tmp_path):
    """The check can fail: a journal that keeps the REST fills' missing fee disagrees on fees only."""
    ex, c = env
    quote(ex, T0 + 1000)
    await _ok(c, XBT, "buy", "mkt", "0.2")  # fee 5.001
    await _ok(c, XBT, "sell", "mkt", "0.2")  # @ 49 990: realised 0.2 x -20 = -4, fee 0.2 x 49 990 x 5 bp = 4.999
    from kraken_tui.journal.trades import derive_trades

    cmp = compare_with_account_log(derive_trades(await c.fills()), await c.account_log())
    assert not cmp.matches and len(cmp.differences) == 1 and cmp.differences[0].startswith("fees_usd")
    assert cmp.exchange.fees_usd == D(10) and cmp.journal.fees_usd == 0
    assert cmp.journal.realized_pnl_usd == cmp.exchange.realized_pnl_usd == D(-4)


async def test_journal_totals_equal_the_account_log_with_a_liquidation(env, tmp_path):
    ex, c = env
    quote(ex, T0 + 1000, bid=49_999, ask=50_000, mark=50_000)
    await _ok(c, XBT, "buy", "mkt", "10")  # fee 250 (see test_liquidation_defaults for the numbers)
    quote(ex, T0 + 2000, bid=49_199, ask=49_201, mark=49_200)  # partial liquidation of 7.256, fee 892.488
    assert (await c.fills())[0].fill_type.value == "partialLiquidation"
    log = await _journal_from_exchange(c, tmp_path / "journal.sqlite")
    conn = open_db(tmp_path / "journal.sqlite", create=False)
    try:
        trades, _ = load_trades(conn)
    finally:
        conn.close()
    # what the wallet actually paid: 250 + 892.488 = 1 142.488 (10 000 - 5 804.8 - 1 142.488 = 3 052.712)
    assert ex.balances.quantities["usd"] == D(10_000) + D("-5804.8") - D("1142.488")
    cmp = compare_with_account_log(trades, log)
    assert cmp.journal.fees_usd == D("1142.488")
    assert cmp.matches, cmp.differences  # account log side says 2 034.976
