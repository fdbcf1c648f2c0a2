"""Journal vs exchange for a mixed PF_ + PI_ account: the journal derives the inverse trade in XBT (and its USD
value at the exit price), the linear one in USD, and each currency's totals equal the paper exchange's own
account log (spec §4.18; inverse P&L in the coin: Kraken Support "Portfolio Management"; inverse funding
relative / price: Kraken Futures docs "Historical funding rates").

The fills come over loopback from ``GET /fills`` (REST fills carry no fee), each fee from the account log's cash
leg of the same execution in the fill's settlement currency (``usd`` for PF_, ``xbt`` for PI_).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from kraken_tui.config import PaperConfig
from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.domain.money import symbol_settlement_currency
from kraken_tui.journal.accountlog import compare_with_account_log
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import load_trades
from kraken_tui.journal.records import FundingPayment, RunStarted, RunStopped
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.paper.exchange import PaperExchange

from .helpers import T0, funding, paper_client, quote

D = Decimal
H = 3_600_000
XBT, PI = "PF_XBTUSD", "PI_XBTUSD"


async def _ok(c, symbol, side, size):
    r = await c.send_order(OrderRequest(symbol, Side(side), OrderType.MARKET, D(size)))
    assert r.status is OrderStatus.PLACED, r


async def test_mixed_account_journal_equals_the_account_log_per_currency(tmp_path):
    # 10 000 USD in the flex account, 0.5 XBT in the inverse account fi_xbtusd, taker 5 bp
    ex = PaperExchange(PaperConfig(starting_coin_balances={"xbt": 0.5}))
    async with paper_client(ex) as c:
        quote(ex, T0 + 1000)  # PF_XBTUSD 49 990 / 50 010
        quote(ex, T0 + 1000, sym=PI, bid=49_999.5, ask=50_000, mark=50_000, bid_size=1e6, ask_size=1e6)
        funding(ex, T0, 0.0001, sym=PI)
        funding(ex, T0, 0.0, sym=XBT)
        # PF_: buy 0.1 @ 50 010, fee 0.1 x 50 010 x 5 bp = 2.5005 USD
        await _ok(c, XBT, "buy", "0.1")
        # PI_: buy 10 000 USD contracts @ 50 000 = 0.2 XBT of contracts, fee 0.2 x 5 bp = 0.0001 XBT
        await _ok(c, PI, "buy", "10000")
        # funding at T0+1h, PI_ index 50 000: absolute 0.0001 / 50 000 = 2e-9, the long pays 10 000 x 2e-9 =
        # 0.00002 XBT
        quote(ex, T0 + H + 1, sym=PI, bid=62_500, ask=62_500.5, mark=62_500, bid_size=1e6, ask_size=1e6)
        quote(ex, T0 + H + 1, bid=50_490, ask=50_510, mark=50_500)
        # PI_: sell 10 000 @ 62 500 = 0.16 XBT, fee 0.16 x 5 bp = 0.00008 XBT; P&L (1/50 000 - 1/62 500) x
        # 10 000 = 0.2 - 0.16 = 0.04 XBT
        # both positions open, over loopback: the PI_ position is margined by fi_xbtusd in XBT, apart from flex.
        # fi_xbtusd: 0.5 - 0.0001 fee - 0.00002 funding = 0.49988 XBT; P&L at 62 500 = 0.04 XBT; pv 0.53988;
        # IM 10 000 x 2 % / 50 000 = 0.004 XBT, MM 0.002 XBT; available funds 0.53988 - 0.004 = 0.53588 XBT.
        # flex: 10 000 - 2.5005 = 9 997.4995 USD, P&L 0.1 x (50 500 - 50 010) = 49 USD, IM 0.1 x 50 010 x 1 %
        snap = await c.accounts()
        fi = snap.inverse["FI_XBTUSD"]
        assert fi.currency == "XBT"
        assert fi.balances["XBT"] == D("0.49988") and fi.balances[PI] == D(10_000)
        assert fi.portfolio_value == D("0.53988") and fi.available_funds == D("0.53588")
        assert (fi.initial_margin, fi.maintenance_margin) == (D("0.004"), D("0.002"))
        assert snap.flex is not None and snap.flex.currencies == {"USD": D("9997.4995")}
        assert snap.flex.unrealized_pnl_usd == D(49) and snap.flex.initial_margin_usd == D("50.01")
        assert snap.flex.margin_equity_usd == D("10046.4995")
        await _ok(c, PI, "sell", "10000")
        # PF_: sell 0.1 @ 50 490: realised 0.1 x 480 = 48 USD, fee 0.1 x 50 490 x 5 bp = 2.5245
        await _ok(c, XBT, "sell", "0.1")
        assert await c.open_positions() == []
        log = await c.account_log(sort="asc")
        fills = await c.fills()
        end = await c.accounts()

    cash = {(e.execution, e.asset.lower()): e for e in log if e.execution}
    path = tmp_path / "journal.sqlite"
    w = JournalWriter(path)
    await w.start()
    await w.write(RunStarted("run-1", T0, "paper", "cfg", "test", D(10_000)))
    for f in fills:
        cur = symbol_settlement_currency(f.symbol)
        leg = cash[(f.fill_id, cur)]
        await w.write(dataclasses.replace(f, fee=(leg.fee or 0) + (leg.liquidation_fee or 0), fee_currency=cur))
    for e in log:
        if e.info == "funding rate change":
            await w.write(FundingPayment(e.contract.upper(), e.ts_ms, e.realized_funding, D("0.0001")))
    await w.write(RunStopped(T0 + 2 * H, "exit-at-end"))
    await w.flush()
    await w.close()
    conn = open_db(path, create=False)
    try:
        trades, _ = load_trades(conn)
    finally:
        conn.close()

    usd = compare_with_account_log(trades, log)
    assert usd.matches, usd.differences
    assert usd.journal.realized_pnl_usd == D(48) and usd.journal.fees_usd == D("5.025")
    xbt = compare_with_account_log(trades, log, currency="xbt")
    assert xbt.matches, xbt.differences
    assert xbt.exchange.realized_pnl_usd == D("0.04") == xbt.journal.realized_pnl_usd
    assert xbt.exchange.fees_usd == D("0.00018") == xbt.journal.fees_usd
    assert xbt.exchange.funding_usd == D("-0.00002") == xbt.journal.funding_usd
    # the coin account: 0.5 + 0.04 - 0.00018 - 0.00002 = 0.5398 XBT (P&L settles in the coin); the flex account
    # 10 000 + 48 - 5.025 USD: each equals the starting balance plus the journal's net in that currency
    assert ex.balances.quantities["xbt"] == D("0.5398")
    assert end.inverse["FI_XBTUSD"].balances["XBT"] == D("0.5") + xbt.journal.realized_pnl_usd - \
        xbt.journal.fees_usd + xbt.journal.funding_usd
    assert end.flex is not None
    assert end.flex.balance_value_usd == D(10_000) + usd.journal.realized_pnl_usd - usd.journal.fees_usd == \
        D("10042.975")

    (pi,) = [t for t in trades.closed if t.symbol == PI]
    assert (pi.entry_price, pi.exit_price, pi.size) == (D(50_000), D(62_500), D(10_000))
    assert (pi.currency, pi.usd_rate) == ("xbt", D(62_500))
    assert (pi.gross_pnl_coin, pi.fees_coin, pi.funding_coin) == (D("0.04"), D("0.00018"), D("-0.00002"))
    assert pi.net_pnl_coin == D("0.0398")
    # USD at the exit price: 0.04 x 62 500 = 2 500 gross, net 0.0398 x 62 500 = 2 487.5
    assert pi.gross_pnl_usd == D(2_500) and pi.net_pnl_usd == D("2487.5")
    (pf,) = [t for t in trades.closed if t.symbol == XBT]
    assert pf.currency == "usd" and pf.gross_pnl_usd == D(48) and pf.net_pnl_coin == pf.net_pnl_usd
