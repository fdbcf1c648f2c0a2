"""PI_ positions are margined from the coin balance of their inverse margin account, apart from the USD flex
account (docs/kraken-futures-api.md §4.6 ``fi_xbtusd``, §9 single-collateral liquidation trigger; inverse P&L in
the coin: Kraken Support "Portfolio Management"). Every figure below is computed by hand in the comments."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.paper import margin, wire, ws_wire

from .helpers import T0, make_exchange, quote

D = Decimal
PI = "PI_XBTUSD"


def _pi_quote(ex, ts, mark):
    quote(ex, ts, sym=PI, bid=mark - 0.5, ask=mark, mark=mark, bid_size=1e6, ask_size=1e6)


def _buy(ex, size, symbol=PI):
    return ex.send_order({"orderType": "mkt", "symbol": symbol, "side": "buy", "size": size})


def test_an_order_the_coin_balance_cannot_margin_is_rejected_whatever_the_usd():
    # 0.001 XBT; IM 2 % of the USD contracts / 50 000: 3 000 contracts need 3 000 x 0.02 / 50 000 = 0.0012 XBT
    # > 0.001, although the flex account holds 10 000 USD; 2 000 contracts need 0.0008 XBT
    ex = make_exchange(starting_coin_balances={"xbt": 0.001})
    _pi_quote(ex, T0 + 1000, 50_000.0)
    assert _buy(ex, "3000").status == "insufficientAvailableFunds"
    assert PI not in ex.positions
    assert _buy(ex, "2000").status == "placed"
    # fee 2 000 / 50 000 x 5 bp = 0.00002 XBT from the coin account; the USD is untouched
    assert ex.balances.quantities["xbt"] == D("0.001") - D("0.00002")
    assert ex.balances.quantities["usd"] == D(10_000)
    fi = ex.coin_figures("xbt")
    assert (fi.initial_margin, fi.maintenance_margin) == (D("0.0008"), D("0.0004"))
    assert fi.available_funds == D("0.00098") - D("0.0008")
    assert ex.figures().initial_margin == 0 and ex.figures().margin_equity == D(10_000)


def test_no_coin_balance_no_pi_position():
    ex = make_exchange(starting_coin_balances={})
    _pi_quote(ex, T0 + 1000, 50_000.0)
    assert _buy(ex, "1").status == "insufficientAvailableFunds"
    quote(ex, T0 + 1000)
    assert _buy(ex, "0.01", "PF_XBTUSD").status == "placed"


def test_a_pi_position_is_liquidated_from_its_coin_account():
    # 0.001 XBT, long 2 000 contracts from 50 000: balance 0.00098 after the fee, MM 0.0004 XBT.
    # pv(P) = 0.00098 + 2 000 x (1/50 000 - 1/P); at 49 500: 0.00098 - 0.000404 = 0.000576 > MM: kept;
    # at 49 000: 0.00098 - 0.000816 = 0.000164 < MM: liquidated (the 10 000 USD of flex do not help)
    ex = make_exchange(starting_coin_balances={"xbt": 0.001})
    _pi_quote(ex, T0 + 1000, 50_000.0)
    assert _buy(ex, "2000").status == "placed"
    _pi_quote(ex, T0 + 2000, 49_500.0)
    assert ex.positions[PI].size == 2000
    assert margin.equity_and_mm(ex, "xbt") == (D("0.00098") + (D(1) / 50_000 - D(1) / D(49_500)) * 2000, D("0.0004"))
    _pi_quote(ex, T0 + 3000, 49_000.0)
    liq = [f for f in ex.fills if f.fill_type in ("liquidation", "partialLiquidation")]
    assert liq and all(f.fee_currency == "XBT" for f in liq)
    rows = [e for e in ex.account_log if e.info == "futures liquidation" and e.asset == "xbt"]
    assert rows and all(r.liquidation_fee and r.liquidation_fee > 0 for r in rows)
    equity, mm = margin.equity_and_mm(ex, "xbt")
    assert PI not in ex.positions or equity >= mm
    assert ex.balances.quantities["usd"] == D(10_000)


def test_wire_shows_the_coin_account_as_kraken_does():
    # 0.1 XBT, long 10 000 from 50 000 (fee 0.0001 XBT), mark 40 000: pnl (1/50 000 - 1/40 000) x 10 000 =
    # -0.05 XBT, pv 0.0999 - 0.05 = 0.0499, IM 0.004, MM 0.002, af 0.0459 XBT.
    # mm trigger: 10 000 / (0.0999 + 0.2 - 0.002) = 33 568.31... USD
    ex = make_exchange(starting_coin_balances={"xbt": 0.1})
    _pi_quote(ex, T0 + 1000, 50_000.0)
    assert _buy(ex, "10000").status == "placed"
    _pi_quote(ex, T0 + 2000, 40_000.0)
    fi = ex.coin_figures("xbt")
    assert (fi.balance, fi.pnl, fi.portfolio_value) == (D("0.0999"), D("-0.05"), D("0.0499"))
    assert fi.available_funds == D("0.0459")
    body = wire.coin_account(fi, margin.coin_trigger_prices(ex, "xbt"))
    assert body["type"] == "marginAccount" and body["currency"] == "xbt"
    assert body["balances"] == {PI: 10_000.0, "xbt": 0.0999}
    assert body["auxiliary"]["pv"] == 0.0499 and body["auxiliary"]["af"] == 0.0459
    assert body["marginRequirements"] == {"im": 0.004, "mm": 0.002, "lt": 0.002, "tt": 0.002}
    mm_price = D(10_000) / (D("0.0999") + D("0.2") - D("0.002"))
    assert abs(D(repr(body["triggerEstimates"]["mm"])) - mm_price) < D("1e-6")
    msg = ws_wire.balances(ex, 1, snapshot=True)
    fut = msg["futures"]["F-XBT:USD"]
    assert (fut["unit"], fut["balance"], fut["portfolio_value"], fut["available"]) == ("XBT", 0.0999, 0.0499, 0.0459)
    assert msg["flex_futures"]["initial_margin"] == 0.0  # the PI_ position is not in the flex account
    pos = ws_wire.open_positions(ex, 2)["positions"][0]
    assert abs(pos["liquidation_threshold"] - float(mm_price)) < 1e-6
    rows = [wire.account_log_row(e) for e in ex.account_log]
    assert {r["margin_account"] for r in rows} == {"fi_xbtusd"}
