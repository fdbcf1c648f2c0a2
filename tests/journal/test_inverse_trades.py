"""Inverse (PI_) round trips derived from fills, hand-computed: P&L in the coin, valued in USD at the exit
price (the rate used), fees and funding in the coin, harmonic average prices; the coin totals kept apart from
the USD totals of PF_ fills in a mixed account; statistics aggregate in USD.

Source: Kraken Support "Portfolio Management" (inverse P&L = (1/entry - 1/exit) x size in the coin);
docs/kraken-futures-api.md §4.18 (account log: cash legs per currency).
"""

from __future__ import annotations

from decimal import Decimal as D

from kraken_tui.domain import Fill, FillType, PositionSide, Side
from kraken_tui.journal.records import FundingPayment
from kraken_tui.journal.stats import summarize
from kraken_tui.journal.trades import derive_trades

H = 3_600_000


def _fill(i, symbol, side, size, price, ts, fee):
    return Fill(f"f{i}", f"o{i}", symbol, Side(side), D(size), D(price), ts, FillType.TAKER, fee=D(fee))


FILLS = [
    # PI_ long 10 000 USD contracts at 40 000 (0.25 XBT), out 5 000 at 50 000 (0.1 XBT) and 5 000 at 62 500 (0.08)
    _fill(1, "PI_XBTUSD", "buy", "10000", "40000", 0, "0.0001"),
    _fill(2, "PI_XBTUSD", "sell", "5000", "50000", 2 * H, "0.0001"),
    _fill(3, "PI_XBTUSD", "sell", "5000", "62500", 3 * H, "0.0001"),
    # PI_ short 8 000 at 50 000 (0.16 XBT), covered at 40 000 (0.2 XBT)
    _fill(4, "PI_XBTUSD", "sell", "8000", "50000", 4 * H, "0.00005"),
    _fill(5, "PI_XBTUSD", "buy", "8000", "40000", 6 * H, "0.00005"),
    # PF_ long 0.5 XBT at 40 000, out at 41 000: +500 USD, fees 10 + 10.25 USD
    _fill(6, "PF_XBTUSD", "buy", "0.5", "40000", 0, "10"),
    _fill(7, "PF_XBTUSD", "sell", "0.5", "41000", 5 * H, "10.25"),
]
FUNDING = [FundingPayment("PI_XBTUSD", H, D("-0.00002"), D("0.00001")),
           FundingPayment("PI_XBTUSD", 5 * H, D("0.00001"), D("0.00001")),
           FundingPayment("PF_XBTUSD", H, D("-0.2"), D("0.00001"))]


def test_inverse_trades_hand_computed_in_the_coin_and_in_usd():
    ts = derive_trades(FILLS, funding=FUNDING)
    long_, short = sorted((t for t in ts.closed if t.symbol == "PI_XBTUSD"), key=lambda t: t.entry_ts_ms)
    [pf] = [t for t in ts.closed if t.symbol == "PF_XBTUSD"]
    assert (long_.symbol, long_.side, short.side) == ("PI_XBTUSD", PositionSide.LONG, PositionSide.SHORT)
    # long: 0.25 - (0.1 + 0.08) = 0.07 XBT; exit price = 10 000 / 0.18 XBT (harmonic mean), the USD rate
    assert long_.gross_pnl_coin == D("0.07") and long_.currency == "xbt"
    assert long_.exit_price == D(10000) / D("0.18") and long_.usd_rate == long_.exit_price
    assert long_.entry_price == D(40000)
    assert long_.fees_coin == D("0.0003") and long_.funding_coin == D("-0.00002")
    assert long_.net_pnl_coin == D("0.06968")
    assert abs(long_.gross_pnl_usd - D("3888.888888888888888888888889")) < D("1e-20")  # 0.07 x 55 555.56
    assert abs(long_.net_pnl_usd - D("0.06968") * long_.exit_price) < D("1e-20")
    # short: -(0.16 - 0.2) = +0.04 XBT, valued at 40 000 = 1 600 USD; funding +0.00001 XBT = 0.4 USD
    assert short.gross_pnl_coin == D("0.04") and short.gross_pnl_usd == D("1600")
    assert short.fees_coin == D("0.0001") and short.funding_coin == D("0.00001") and short.funding_usd == D("0.4")
    # PF_ stays linear, in USD
    assert (pf.gross_pnl_usd, pf.fees_usd, pf.funding_usd, pf.currency) == (D("500"), D("20.25"), D("-0.2"), "usd")
    # the account's totals per currency: the USD legs are the PF_ fills only, the XBT legs the PI_ fills
    assert (ts.realized_pnl_usd, ts.fees_usd, ts.funding_usd) == (D("500"), D("20.25"), D("-0.2"))
    assert ts.coin["xbt"] == (D("0.11"), D("0.0004"), D("-0.00001"))


def test_statistics_aggregate_inverse_trades_in_usd():
    ts = derive_trades(FILLS, funding=FUNDING)
    s = summarize(ts.closed)
    usd = sum((t.net_pnl_usd for t in ts.closed), D(0))
    assert s.trades == 3 and abs(D(str(s.net_pnl_usd)) - usd) < D("1e-6")
    # 3 888.89 + 1 600 + 500 gross in USD, not 0.07 + 0.04 XBT + 500
    assert abs(D(str(s.gross_pnl_usd)) - (D("3888.888888888888888888888889") + 1600 + 500)) < D("1e-6")
