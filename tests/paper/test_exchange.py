"""Paper exchange core: order types, matching, fees, funding, dead man's switch, liquidation (spec §4, §8-§10)."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import Side

from .helpers import T0, funding, make_exchange, quote

D = Decimal


def _send(ex, **p):
    params = {"symbol": "PF_XBTUSD", **{k: str(v) for k, v in p.items()}}
    return ex.send_order(params)


def test_market_buy_takes_the_ask_and_pays_taker_fee():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    out = _send(ex, orderType="mkt", side="buy", size="0.1")
    assert out.status == "placed"
    ex_ev = out.events[0]
    assert ex_ev.type == "EXECUTION" and ex_ev.price == D(50_010) and ex_ev.amount == D("0.1")
    # 1% protection: 50 010 x 1.01 = 50 510.1 -> floor to tick 1 -> 50 510, reported as the ioc limit
    assert ex_ev.order.order_type == "ioc" and ex_ev.order.limit_price == D(50_510)
    # fee 0.1 x 50 010 x 5 bp = 2.5005 USD
    assert ex.balances.quantities["usd"] == D(10_000) - D("2.5005")
    assert ex.fills[-1].fill_type == "taker" and ex.fills[-1].fee == D("2.5005")
    # account log: a cash leg and a position leg
    cash, leg = list(ex.account_log)[-2:]
    assert cash.info == "futures trade" and cash.fee == D("2.5005") and cash.asset == "usd"
    assert leg.asset == "pf_xbtusd" and leg.old_balance == 0 and leg.new_balance == D("0.1")


def test_market_sell_and_round_trip_pnl():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    _send(ex, orderType="mkt", side="buy", size="1")  # buy 1 @ 50 010, fee 25.005
    quote(ex, T0 + 2000, bid=51_000, ask=51_020, mark=51_010)
    out = _send(ex, orderType="mkt", side="sell", size="1")  # sell 1 @ 51 000, fee 25.5
    assert out.events[0].price == D(51_000)
    assert "PF_XBTUSD" not in ex.positions
    # realised (51 000 - 50 010) x 1 = 990; fees 25.005 + 25.5 = 50.505 -> 10 000 + 939.495
    assert ex.balances.quantities["usd"] == D("10939.495")


def test_partial_fill_when_quoted_size_is_smaller():
    ex = make_exchange()
    quote(ex, T0 + 1000, ask_size=0.3)
    out = _send(ex, orderType="lmt", side="buy", size="1", limitPrice="50010")
    assert out.status == "placed"
    assert [e.type for e in out.events] == ["PLACE", "EXECUTION"]
    assert out.events[1].amount == D("0.3")
    order = ex.open_orders[out.order_id]
    assert order.filled == D("0.3") and order.remaining == D("0.7")
    # IOC with the same shortage: partial fill, remainder cancelled
    quote(ex, T0 + 2000, ask_size=0.2)
    out2 = _send(ex, orderType="ioc", side="buy", size="1", limitPrice="50010")
    assert out2.status == "placed" and out2.events[0].amount == D("0.2")
    assert out2.order_id not in ex.open_orders


def test_limit_rests_then_fills_as_maker_when_market_trades_through():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    out = _send(ex, orderType="lmt", side="buy", size="0.5", limitPrice="49900")
    assert out.status == "placed" and out.events[0].type == "PLACE"
    # a trade AT the limit does not fill (no queue priority assumed)
    quote(ex, T0 + 2000, bid=49_890, ask=49_910, last=49_900, trade=5, side=Side.SELL)
    assert out.order_id in ex.open_orders
    # a 0.2 trade through it fills 0.2 as maker at the limit price
    quote(ex, T0 + 3000, bid=49_880, ask=49_905, last=49_890, trade=0.2, side=Side.SELL)
    f = ex.fills[-1]
    assert (f.fill_type, f.price, f.size) == ("maker", D(49_900), D("0.2"))
    # maker fee 0.2 x 49 900 x 2 bp = 1.996
    assert f.fee == D("1.996")
    # the ask falling through the limit fills the rest
    quote(ex, T0 + 4000, bid=49_850, ask=49_880, ask_size=10)
    assert out.order_id not in ex.open_orders and ex.positions["PF_XBTUSD"].size == D("0.5")


def test_post_only_that_would_cross_is_rejected():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    out = _send(ex, orderType="post", side="buy", size="0.1", limitPrice="50010")
    assert out.status == "postWouldExecute" and out.events[0].reason == "POST_WOULD_EXECUTE"
    assert not ex.open_orders
    ok = _send(ex, orderType="post", side="buy", size="0.1", limitPrice="50000")
    assert ok.status == "placed" and ok.order_id in ex.open_orders


def test_ioc_that_cannot_execute():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    out = _send(ex, orderType="ioc", side="buy", size="0.1", limitPrice="50000")
    assert out.status == "iocWouldNotExecute" and out.events[0].reason == "IOC_WOULD_NOT_EXECUTE"
    assert not ex.open_orders and not ex.fills


def test_stop_triggers_on_mark_and_take_profit():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    _send(ex, orderType="mkt", side="buy", size="0.1")
    stop = _send(ex, orderType="stp", side="sell", size="0.1", stopPrice="49000", triggerSignal="mark", reduceOnly="true")
    tp = _send(ex, orderType="take_profit", side="sell", size="0.1", stopPrice="52000", reduceOnly="true")
    assert stop.status == tp.status == "placed"
    assert ex.open_orders[stop.order_id].is_trigger and not ex.open_orders[stop.order_id].trigger_above
    assert ex.open_orders[tp.order_id].trigger_above  # take-profit sell triggers above
    # last trades below the stop but the mark does not: no trigger
    quote(ex, T0 + 2000, bid=48_900, ask=48_950, mark=49_100, last=48_900, trade=1, side=Side.SELL)
    assert stop.order_id in ex.open_orders
    # mark reaches 49 000: the stop fires as a market order (IOC) and closes the position at the bid
    quote(ex, T0 + 3000, bid=48_990, ask=49_010, mark=49_000)
    assert stop.order_id not in ex.open_orders and "PF_XBTUSD" not in ex.positions
    assert ex.fills[-1].price == D(48_990)
    # the reduce-only take-profit now has nothing to reduce: cancelled when it fires
    quote(ex, T0 + 4000, bid=52_000, ask=52_010, mark=52_005)
    assert tp.order_id not in ex.open_orders


def test_take_profit_with_limit_fills():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    _send(ex, orderType="mkt", side="sell", size="0.2")  # short 0.2 @ 49 990
    tp = _send(ex, orderType="take_profit", side="buy", size="0.2", stopPrice="48000", limitPrice="48100",
               reduceOnly="true")
    assert not ex.open_orders[tp.order_id].trigger_above  # take-profit buy triggers below
    quote(ex, T0 + 2000, bid=47_990, ask=48_010, mark=48_000)
    assert "PF_XBTUSD" not in ex.positions and ex.fills[-1].price == D(48_010)


def test_reduce_only_rejected_when_it_would_grow_and_trimmed_when_too_big():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    assert _send(ex, orderType="mkt", side="sell", size="0.1", reduceOnly="true").status == "wouldNotReducePosition"
    _send(ex, orderType="mkt", side="buy", size="0.1")
    assert _send(ex, orderType="mkt", side="buy", size="0.1", reduceOnly="true").status == "wouldNotReducePosition"
    out = _send(ex, orderType="mkt", side="sell", size="0.5", reduceOnly="true")
    assert out.status == "placed" and out.events[0].amount == D("0.1")
    assert "PF_XBTUSD" not in ex.positions


def test_edit_cancel_cancel_all_and_cli_ord_id_uniqueness():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    a = _send(ex, orderType="lmt", side="buy", size="0.1", limitPrice="49000", cliOrdId="a-1")
    assert _send(ex, orderType="lmt", side="buy", size="0.1", limitPrice="49000", cliOrdId="a-1").status == \
        "clientOrderIdAlreadyExist"
    ed = ex.edit_order({"orderId": a.order_id, "size": "0.3", "limitPrice": "49500"})
    assert ed.status == "edited" and ed.events[0].type == "EDIT"
    assert ex.open_orders[a.order_id].size == D("0.3") and ex.open_orders[a.order_id].limit_price == D(49_500)
    assert ex.edit_order({"orderId": a.order_id, "limitPrice": "49500"}).events[0].reason == "EDIT_HAS_NO_EFFECT"
    assert ex.edit_order({"orderId": "nope"}).status == "orderForEditNotFound"
    # an edit that crosses executes at once
    filled = ex.edit_order({"cliOrdId": "a-1", "limitPrice": "50010"})
    assert filled.status == "filled" and filled.events[-1].type == "EXECUTION"
    b = _send(ex, orderType="lmt", side="buy", size="0.1", limitPrice="48000")
    assert ex.cancel_order(b.order_id).status == "cancelled"
    assert ex.cancel_order(b.order_id).status == "notFound"
    assert ex.cancel_order(a.order_id).status == "filled"  # closed by a full fill within 5 s
    _send(ex, orderType="lmt", side="buy", size="0.1", limitPrice="48000")
    _send(ex, orderType="lmt", side="buy", size="0.1", limitPrice="2000", symbol="PF_ETHUSD")
    quote(ex, T0 + 1500, sym="PF_ETHUSD", bid=3000, ask=3001, mark=3000.5)
    assert ex.cancel_all("PF_ETHUSD")[0] == "noOrdersToCancel"  # ETH had no price when sent: marketSuspended
    status, cancelled = ex.cancel_all()
    assert status == "cancelled" and len(cancelled) == 1 and not ex.open_orders


def test_dead_man_switch_fires_on_the_exchange_clock():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    o = _send(ex, orderType="lmt", side="buy", size="0.1", limitPrice="49000")
    now, trigger = ex.cancel_all_after(60)
    assert trigger == now + 60_000
    quote(ex, T0 + 60_000)
    assert o.order_id in ex.open_orders
    quote(ex, T0 + 61_000)
    assert o.order_id not in ex.open_orders and ex.closed_orders[-1].update_reason == "DEAD_MAN_SWITCH"
    assert ex.cancel_all_after(0)[1] is None


def test_insufficient_funds_and_would_cause_liquidation():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    # 21 XBT @ 50 010 = 1 050 210 USD notional: tier 2 IM 2% = 21 004 > 10 000 equity
    assert _send(ex, orderType="mkt", side="buy", size="21").status == "insufficientAvailableFunds"
    # 1.9 XBT: IM 1% of 95 019 = 950 -> admitted
    assert _send(ex, orderType="lmt", side="buy", size="1.9", limitPrice="40000").status == "placed"
    # ask far above mark: buying 200 SOL at 150 with mark 100 loses (150 - 100) x 200 = 10 000 at once
    quote(ex, T0 + 2000, sym="PF_SOLUSD", bid=99, ask=150, mark=100, ask_size=1000)
    assert _send(ex, symbol="PF_SOLUSD", orderType="mkt", side="buy", size="200").status == "wouldCauseLiquidation"


def test_hourly_funding_sign_for_long_and_short():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    funding(ex, T0, 0.0001)
    _send(ex, orderType="mkt", side="buy", size="0.2")  # long 0.2
    quote(ex, T0 + 2000, sym="PF_ETHUSD", bid=2999, ask=3001, mark=3000, index=3000)
    funding(ex, T0, 0.0001, sym="PF_ETHUSD")
    _send(ex, symbol="PF_ETHUSD", orderType="mkt", side="sell", size="2")  # short 2 ETH
    usd_before = ex.balances.quantities["usd"]
    quote(ex, T0 + 3_600_000 + 5)  # crosses the top of the hour
    rows = [e for e in ex.account_log if e.info == "funding rate change"]
    by = {r.contract: r for r in rows}
    # XBT long: absolute = 0.0001 x 50 000 (index) = 5; payment = -0.2 x 5 = -1 USD (long pays)
    assert by["pf_xbtusd"].funding_rate == D(5) and by["pf_xbtusd"].realized_funding == D(-1)
    # ETH short: absolute = 0.0001 x 3 000 = 0.3; payment = -(-2) x 0.3 = +0.6 USD (short receives)
    assert by["pf_ethusd"].realized_funding == D("0.6")
    assert by["pf_xbtusd"].ts_ms == T0 + 3_600_000
    assert ex.balances.quantities["usd"] == usd_before - 1 + D("0.6")
    # a data gap of three hours books three hours
    quote(ex, T0 + 4 * 3_600_000 + 5)
    assert len([e for e in ex.account_log if e.info == "funding rate change"]) == 2 + 3 * 2


def test_partial_then_full_liquidation_from_mark():
    ex = make_exchange(liquidation_fee_pct=0.75)
    quote(ex, T0 + 1000, bid=49_999, ask=50_000, mark=50_000)
    _send(ex, orderType="mkt", side="buy", size="9")  # long 9 @ 50 000: notional 450 000, IM 4 500, MM 2 250
    # fee 9 x 50 000 x 5 bp = 225 -> balance 9 775
    assert ex.balances.quantities["usd"] == D(9_775)
    # mark 49 200: uPnL -7 200, equity 2 575 > MM 2 250: nothing happens
    quote(ex, T0 + 2000, bid=49_199, ask=49_201, mark=49_200)
    assert ex.positions["PF_XBTUSD"].size == D(9)
    # mark 49 000: uPnL -9 000, equity 775 < MM 2 250 -> partial liquidation
    # fee/contract 49 000 x 0.75% = 367.5; MM/contract 250; q >= (1.25 x 2 250 - 775) / (1.25 x 250 - 367.5) < 0
    # -> the fee is larger than the MM it frees, so a partial cannot restore equity: full liquidation
    quote(ex, T0 + 3000, bid=48_999, ask=49_001, mark=49_000)
    assert "PF_XBTUSD" not in ex.positions
    assert ex.fills[-1].fill_type == "liquidation"


def test_partial_liquidation_first_with_small_fee():
    ex = make_exchange(liquidation_fee_pct=0.01)
    quote(ex, T0 + 1000, bid=49_999, ask=50_000, mark=50_000)
    _send(ex, orderType="mkt", side="buy", size="9")  # balance 9 775 (fee 225), MM 2 250 (0.5% of 450 000)
    # mark 49 000: equity 9 775 - 9 000 = 775 < 2 250. fee/contract 49 000 x 0.01% = 4.9, MM/contract 250
    # q >= (1.25 x 2 250 - 775) / (1.25 x 250 - 4.9) = 2 037.5 / 307.6 = 6.62386.. -> 6.6239 XBT (up to lot 0.0001)
    quote(ex, T0 + 2000, bid=48_999, ask=49_001, mark=49_000)
    pos = ex.positions["PF_XBTUSD"]
    assert pos.size == D(9) - D("6.6239")
    liq = ex.fills[-1]
    assert liq.fill_type == "partialLiquidation" and liq.price == D(49_000) and liq.size == D("6.6239")
    # liquidation fee 6.6239 x 49 000 x 0.01% = 324 571.1 x 0.0001 = 32.45711 USD, booked on the account log
    assert liq.fee == D("32.45711")
    log = [e for e in ex.account_log if e.info == "futures liquidation" and e.asset == "usd"][-1]
    assert log.liquidation_fee == D("32.45711")
    # a crash to 48 000: equity falls below MM again and the rest is liquidated
    quote(ex, T0 + 3000, bid=47_999, ask=48_001, mark=48_000)
    assert "PF_XBTUSD" not in ex.positions


def test_unknown_symbol_events_are_counted_not_crashing():
    ex = make_exchange()
    quote(ex, T0, sym="PF_DOGEUSD")
    assert ex.ignored_events == 1
    assert _send(ex, symbol="PF_NOPEUSD", orderType="mkt", side="buy", size="1").status == "contractNotFound"


def test_quotes_and_trades_land_on_the_tick_grid():
    """Synthetic/spot sources give off-grid prices; the exchange snaps bid down, ask up, last to nearest."""
    from kraken_tui.paper.exchange import PaperExchange
    from kraken_tui.paper.sources.base import MarketTick

    ex = PaperExchange()
    ex.apply_event(MarketTick("PF_ETHUSD", 1_700_000_000_000, last=3162.06, bid=3162.04, ask=3162.11,
                              bid_size=5.0, ask_size=5.0, mark_price=3162.0712, trade_size=0.1))
    m = ex.markets["PF_ETHUSD"]
    # tick 0.1: bid 3162.04 -> 3162.0 (down), ask 3162.11 -> 3162.2 (up), last 3162.06 -> 3162.1 (nearest)
    assert (m.bid, m.ask, m.last) == (3162.0, 3162.2, 3162.1)
    assert m.mark == 3162.0712  # mark price is computed, not traded: unrounded


def test_quotes_already_on_the_grid_are_kept_as_given():
    from kraken_tui.paper.instruments import default_instrument
    from kraken_tui.paper.matching import on_tick_grid
    from kraken_tui.paper.sources.base import MarketTick

    inst = default_instrument("PF_ETHUSD")  # tick 0.1
    on = MarketTick("PF_ETHUSD", 1, last=3162.1, bid=3162.0, ask=3162.2)
    assert on_tick_grid(on, inst) is on
    off = MarketTick("PF_ETHUSD", 1, last=3162.06, bid=None, ask=3162.2)
    snapped = on_tick_grid(off, inst)
    assert (snapped.last, snapped.bid, snapped.ask) == (3162.1, None, 3162.2)


def test_equity_and_mm_is_what_figures_reports():
    ex = make_exchange()
    quote(ex, T0 + 1000)
    assert ex.equity_and_mm() == (D(10_000), D(0))
    _send(ex, orderType="mkt", side="buy", size="1")  # long 1 @ 50 010, fee 25.005
    quote(ex, T0 + 2000, bid=48_990.0, ask=49_010.0, mark=49_000.0)
    figs = ex.figures()
    # equity = 10 000 - 25.005 + (49 000 - 50 010) x 1 = 8 964.995; MM = 50 010 x 1 x MM rate of the first tier
    assert ex.equity_and_mm() == (figs.margin_equity, figs.maintenance_margin)
    assert figs.margin_equity == D("8964.995")
    assert figs.maintenance_margin == D(50_010) * default_mm_rate()


def default_mm_rate() -> Decimal:
    from kraken_tui.paper.instruments import default_instrument

    return default_instrument("PF_XBTUSD").margin_levels[0].maintenance_margin_rate


def test_dead_man_switch_of_a_replay_counts_wall_seconds_not_data_time():
    """A replay's data clock runs faster than the wall; the switch measures the client's silence in wall seconds
    (spec §4.14), so an hour of replayed data inside one wall second cancels nothing."""
    ex = make_exchange()
    wall = [100.0]
    ex.dms_wall_s = lambda: wall[0]
    quote(ex, T0 + 1000)
    o = _send(ex, orderType="lmt", side="buy", size="0.1", limitPrice="49000")
    now, trigger = ex.cancel_all_after(60)
    assert trigger == now + 60_000  # the answer stays on the exchange clock
    quote(ex, T0 + 3_600_000)
    assert o.order_id in ex.open_orders
    wall[0] += 61
    quote(ex, T0 + 3_601_000)
    assert o.order_id not in ex.open_orders and ex.closed_orders[-1].update_reason == "DEAD_MAN_SWITCH"
