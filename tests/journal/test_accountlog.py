"""Journal money totals vs the exchange's account log (spec §4.18), on hand-made entries.

The end-to-end version (a paper run's journal vs the paper exchange's own account log) waits for the
paper exchange; ``compare_with_account_log`` is what it will call.
"""

from __future__ import annotations

from kraken_tui.domain import AccountLogEntry
from kraken_tui.journal.accountlog import account_log_totals, compare_with_account_log
from kraken_tui.journal.records import FundingPayment
from kraken_tui.journal.trades import derive_trades
from tests.journal.factory import D, fill

XBT = "PF_XBTUSD"
# long 0.2 @ 50000 (fee 5), sell 0.1 @ 51000 (fee 2.55, realised (51000 - 50000) x 0.1 = 100),
# still open 0.1; one funding payment of -0.4 while open.
FILLS = [fill("1", XBT, "buy", "0.2", "50000", 1000, fee="5"), fill("2", XBT, "sell", "0.1", "51000", 2000, fee="2.55")]
FUNDING = [FundingPayment(XBT, 3_600_000, D("-0.4"), D("0.00004"))]


def _log(realized_pnl="100", fee2="2.55", funding="-0.4"):
    usd = "usd"
    return [
        AccountLogEntry(1, 1000, usd, "futures trade", "pf_xbtusd", fee=D("5"), realized_pnl=D("0")),
        AccountLogEntry(2, 1000, "pf_xbtusd", "futures trade", "pf_xbtusd", old_balance=D(0), new_balance=D("0.2")),
        AccountLogEntry(3, 2000, usd, "futures trade", "pf_xbtusd", fee=D(fee2), realized_pnl=D(realized_pnl)),
        AccountLogEntry(4, 2000, "pf_xbtusd", "futures trade", "pf_xbtusd", old_balance=D("0.2"),
                        new_balance=D("0.1")),
        AccountLogEntry(5, 3_600_000, usd, "funding rate change", "pf_xbtusd", funding_rate=D("2"),
                        realized_funding=D(funding)),
        AccountLogEntry(6, 4_000_000, usd, "transfer", None, old_balance=D(0), new_balance=D(100)),
    ]


def test_totals_match_the_account_log():
    ts = derive_trades(FILLS, funding=FUNDING)
    # journal: realised 100 (partial close of a still-open position), fees 5 + 2.55 = 7.55, funding -0.4
    cmp = compare_with_account_log(ts, _log())
    assert cmp.matches, cmp.differences
    assert cmp.journal.realized_pnl_usd == D(100) and cmp.journal.fees_usd == D("7.55")
    assert cmp.exchange.funding_usd == D("-0.4")


def test_differences_are_named():
    ts = derive_trades(FILLS, funding=FUNDING)
    cmp = compare_with_account_log(ts, _log(realized_pnl="99.99", funding="-0.5"))
    assert not cmp.matches
    assert any(d.startswith("realized_pnl_usd: journal 100") for d in cmp.differences)
    assert any(d.startswith("funding_usd") for d in cmp.differences)
    assert not any(d.startswith("fees_usd") for d in cmp.differences)


def test_liquidation_fee_counts_as_fee():
    e = [AccountLogEntry(1, 1, "USD", "futures liquidation", "pf_xbtusd", fee=D("1"), realized_pnl=D("-50"),
                         liquidation_fee=D("3.75"))]
    t = account_log_totals(e)
    assert (t.realized_pnl_usd, t.fees_usd, t.funding_usd) == (D(-50), D("4.75"), D(0))  # 1 + 3.75
