"""Round-trip derivation from fills: hand-computed examples and properties (spec §8.5 linear P&L)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.domain import FillType, PositionSide
from kraken_tui.journal.records import FundingPayment
from kraken_tui.journal.trades import IntentInfo, derive_trades
from tests.journal.factory import D, fill

XBT = "PF_XBTUSD"
INTENTS = {
    "e1": IntentInfo("entry", "buy", "s1"),
    "e2": IntentInfo("add", "buy", None),
    "tp": IntentInfo("tp1", "sell", None),
    "st": IntentInfo("stop", "sell", None),
}
LONG_FILLS = [
    fill("f1", XBT, "buy", "0.2", "50000", 1000, fee="5.00", cli="e1"),
    fill("f2", XBT, "buy", "0.1", "51000", 2000, fee="2.55", cli="e2"),
    fill("f3", XBT, "sell", "0.15", "52000", 3000, fee="3.90", cli="tp"),
    fill("f4", XBT, "sell", "0.15", "49000", 4000, fee="3.675", cli="st"),
]
FUNDING = [
    FundingPayment(XBT, 500, D("-1"), D("0.0001")),  # before entry: unattributed
    FundingPayment(XBT, 2500, D("-0.75"), D("0.0001")),
    FundingPayment(XBT, 4000, D("0.25"), D("-0.0001")),  # on the exit time: this trade
    FundingPayment(XBT, 4500, D("-9"), D("0.0001")),  # after exit: unattributed
]


def test_long_with_add_partial_exits_and_funding():
    ts = derive_trades(LONG_FILLS, intents=INTENTS, strategies={"s1": "sma_cross"}, funding=FUNDING)
    assert ts.open == []
    (t,) = ts.closed
    # entry notional 0.2*50000 + 0.1*51000 = 10000 + 5100 = 15100 over 0.3 contracts
    # exit notional 0.15*52000 + 0.15*49000 = 7800 + 7350 = 15150 -> gross = 15150 - 15100 = 50
    assert t.side is PositionSide.LONG and t.size == D("0.3")
    assert t.gross_pnl_usd == D("50")
    assert t.exit_price == D("50500")
    assert abs(t.entry_price - D("50333.3333333")) < D("1e-6")
    # fees 5 + 2.55 + 3.90 + 3.675 = 15.125; funding -0.75 + 0.25 = -0.5 (paid 0.75, received 0.25)
    assert t.fees_usd == D("15.125")
    assert t.funding_usd == D("-0.5") and t.funding_paid_usd == D("0.75") and t.funding_received_usd == D("0.25")
    # net = 50 - 15.125 - 0.5 = 34.375
    assert t.net_pnl_usd == D("34.375")
    assert t.exit_reason == "stop" and t.signal_id == "s1" and t.strategy == "sma_cross"
    assert (t.entry_ts_ms, t.exit_ts_ms) == (1000, 4000)
    # realised per fill (average cost): 7800 - 15100*0.15/0.3 = 250; 7350 - 7550 = -200; total 50
    assert ts.realized_pnl_usd == D("50")
    assert ts.fees_usd == D("15.125")
    # all funding -1 - 0.75 + 0.25 - 9 = -10.5; unattributed -1 - 9 = -10
    assert ts.funding_usd == D("-10.5") and ts.unattributed_funding_usd == D("-10")


def test_mae_mfe_from_fill_prices_without_marks():
    (t,) = derive_trades(LONG_FILLS, intents=INTENTS).closed
    # at f2: 0.2 long, cost 10000, price 51000 -> 10200 - 10000 = +200
    # at f3: 0.3 long, cost 15100, price 52000 -> 15600 - 15100 = +500
    # at f4: 0.15 long, cost 7550, price 49000 -> 7350 - 7550 = -200
    assert t.mfe_usd == 500.0 and t.mae_usd == -200.0


def test_mae_mfe_uses_marks_while_open():
    marks = {XBT: [(500, 10.0), (2500, 53000.0), (3500, 48000.0), (4500, 1.0)]}
    (t,) = derive_trades(LONG_FILLS, intents=INTENTS, marks=marks).closed
    # 2500: 0.3 long, cost 15100: 0.3*53000 - 15100 = 800; 3500: 0.15, cost 7550: 7200 - 7550 = -350
    # marks at 500 (before entry) and 4500 (after exit) are ignored
    assert t.mfe_usd == 800.0 and t.mae_usd == -350.0


def test_short_reversal_splits_size_and_fee_then_liquidation():
    eth = "PF_ETHUSD"
    fills = [
        fill("a", eth, "sell", "2", "3000", 10, fee="3", cli="x1"),
        fill("b", eth, "buy", "5", "2900", 20, fee="7.25", cli="x2"),
        fill("c", eth, "sell", "3", "2950", 30, fee="4.425", fill_type=FillType.LIQUIDATION),
    ]
    intents = {"x1": IntentInfo("entry", "sell", "sA"), "x2": IntentInfo("entry", "buy", "sB")}
    a, b = derive_trades(fills, intents=intents).closed
    # A: short 2 @3000 -> 2900: gross = -(5800 - 6000) = 200; fee of b split 2/5*7.25 = 2.9
    assert (a.side, a.size, a.gross_pnl_usd, a.fees_usd) == (PositionSide.SHORT, D("2"), D("200"), D("5.9"))
    assert a.net_pnl_usd == D("194.1") and a.exit_reason == "reverse" and a.signal_id == "sA"
    # B: long 3 @2900 -> 2950: gross = 8850 - 8700 = 150; fees 7.25 - 2.9 = 4.35 plus 4.425 = 8.775
    assert (b.side, b.size, b.gross_pnl_usd, b.fees_usd) == (PositionSide.LONG, D("3"), D("150"), D("8.775"))
    assert b.entry_ts_ms == 20 and b.exit_reason == "liquidation" and b.signal_id == "sB"
    assert b.net_pnl_usd == D("141.225")


def test_unknown_cli_ord_id_is_external_and_open_position_kept_apart():
    fills = [
        fill("1", XBT, "buy", "1", "100", 1),
        fill("2", XBT, "sell", "1", "90", 2),
        fill("3", "PF_SOLUSD", "sell", "4", "20", 3, fee=None),
    ]
    ts = derive_trades(fills)
    (t,) = ts.closed
    assert t.exit_reason == "external" and t.gross_pnl_usd == D("-10")  # (90 - 100) x 1
    (p,) = ts.open
    assert (p.symbol, p.side, p.size, p.entry_price) == ("PF_SOLUSD", PositionSide.SHORT, D("4"), D("20"))


_fill_steps = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 50).map(lambda n: Decimal(n) / 10),
        st.integers(100, 200_000).map(lambda n: Decimal(n) / 100),
        st.integers(0, 500).map(lambda n: Decimal(n) / 1000),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_fill_steps)
def test_properties_cash_flow_fees_and_sizes(steps):
    fills = [fill(str(i), XBT, s, str(q), str(p), i, fee=str(fee)) for i, (s, q, p, fee) in enumerate(steps)]
    ts = derive_trades(fills)
    # every fee lands in exactly one trade or the open position
    open_fee = ts.fees_usd - sum((t.fees_usd for t in ts.closed), Decimal(0))
    assert open_fee >= 0
    if not ts.open:
        assert open_fee == 0
        # flat at the end: realised P&L is the whole cash flow, and equals the trades' gross P&L
        cash = sum((f.price * f.size * -f.side.sign for f in fills), Decimal(0))
        assert ts.realized_pnl_usd == cash == sum((t.gross_pnl_usd for t in ts.closed), Decimal(0))
    for t in ts.closed:
        assert t.size > 0 and t.entry_ts_ms <= t.exit_ts_ms and t.mae_usd <= 0 <= t.mfe_usd
        assert t.net_pnl_usd == t.gross_pnl_usd - t.fees_usd + t.funding_usd
    net_pos = sum((f.size * f.side.sign for f in fills), Decimal(0))
    assert sum((p.size * (1 if p.side is PositionSide.LONG else -1) for p in ts.open), Decimal(0)) == net_pos


def test_reversal_fee_split_sums_exactly_to_the_fills_fees():
    # found by hypothesis: two reversal fills whose fee splits by 0.9/1.3 and 0.4/0.9 (non-terminating
    # decimals); at 28 significant digits the trades' fees summed to 1E-28 more than the fills' fees.
    steps = [("buy", "3.5", "0.1"), ("buy", "4.4", "0"), ("sell", "1.1", "0"), ("sell", "1.3", "0"),
             ("sell", "4.6", "0"), ("sell", "1.3", "0.001"), ("buy", "0.9", "0.001"), ("sell", "0.5", "0")]
    fills = [fill(str(i), XBT, s, q, "1", i, fee=fee) for i, (s, q, fee) in enumerate(steps)]
    ts = derive_trades(fills)
    assert not ts.open
    t1, t2, t3 = ts.closed
    # sell 1.3 at position +0.9 closes 0.9: 0.001 x 0.9 / 1.3 = 0.000692307692307... -> 0.000692307692 (1e-12)
    assert t1.fees_usd == D("0.1") + D("0.000692307692")
    # the short opened by the remaining 0.4 takes 0.001 - 0.000692307692 = 0.000307692308, then the buy 0.9
    # closes 0.4 of it: 0.001 x 0.4 / 0.9 = 0.000444444444444... -> 0.000444444444
    assert t2.fees_usd == D("0.000307692308") + D("0.000444444444")
    # the long of 0.5 takes 0.001 - 0.000444444444 = 0.000555555556
    assert t3.fees_usd == D("0.000555555556")
    assert t1.fees_usd + t2.fees_usd + t3.fees_usd == ts.fees_usd == D("0.102")
