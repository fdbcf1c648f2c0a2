"""End-to-end case matrix: the project's REST client against the paper exchange over loopback.

Numbered cases (nautilus_trader-style venue matrix): 1 market buy, 2 market sell, 3 limit rests then fills,
4 post-only reject, 5 IOC no fill, 6 stop triggered by mark, 7 take-profit, 8 reduce-only reject, 9 edit,
10 cancel, 11 cancel-all, 12 dead man's switch fires, 13 batchorder mixed, 14 partial fill,
15 insufficient funds, 16 wouldCauseLiquidation, 17 funding sign long/short, 18 partial then full liquidation.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side, TriggerSignal

from .helpers import T0, funding, make_exchange, paper_client, quote

D = Decimal


@pytest.fixture
async def env():
    ex = make_exchange(liquidation_fee_pct=0.01)
    quote(ex, T0 + 1000)
    async with paper_client(ex) as client:
        yield ex, client


def req(side, otype, size, **kw):
    return OrderRequest("PF_XBTUSD", Side(side), OrderType(otype), D(size), **kw)


async def test_fills_page_backwards_with_last_fill_time(env):
    ex, c = env
    for i in range(3):
        quote(ex, T0 + 2000 + i * 1000)
        await c.send_order(req("buy", "mkt", "0.1"))
    newest_first = await c.fills()
    assert len(newest_first) == 3
    older = await c.fills(last_fill_time_ms=newest_first[0].ts_ms)
    assert [f.fill_id for f in older] == [f.fill_id for f in newest_first[1:]]  # strictly before that time


async def test_01_02_market_buy_and_sell(env):
    ex, c = env
    r = await c.send_order(req("buy", "mkt", "0.1"))
    assert r.status is OrderStatus.PLACED and r.filled_size == D("0.1")
    pos = await c.open_positions()
    assert pos[0].size == D("0.1") and pos[0].entry_price == D(50_010)
    r = await c.send_order(req("sell", "mkt", "0.1"))
    assert r.status is OrderStatus.PLACED and await c.open_positions() == []
    fills = await c.fills()
    assert [f.price for f in fills] == [D(49_990), D(50_010)]  # newest first


async def test_03_14_limit_rests_partial_then_fills(env):
    ex, c = env
    r = await c.send_order(req("buy", "lmt", "0.5", limit_price=D(49_900)))
    assert r.status is OrderStatus.PLACED and r.filled_size == 0
    assert [o.order_id for o in await c.open_orders()] == [r.order_id]
    quote(ex, T0 + 2000, bid=49_850, ask=49_880, ask_size=0.2)  # ask through the limit, 0.2 quoted
    oo = await c.open_orders()
    assert oo[0].filled == D("0.2") and oo[0].size == D("0.3")
    quote(ex, T0 + 3000, bid=49_850, ask=49_880, ask_size=5)
    assert await c.open_orders() == []
    assert {f.fill_type.value for f in await c.fills()} == {"maker"}


async def test_04_05_post_only_reject_and_ioc_no_fill(env):
    _, c = env
    r = await c.send_order(req("buy", "post", "0.1", limit_price=D(50_010)))
    assert r.status is OrderStatus.POST_WOULD_EXECUTE
    r = await c.send_order(req("buy", "ioc", "0.1", limit_price=D(50_000)))
    assert r.status is OrderStatus.IOC_WOULD_NOT_EXECUTE


async def test_06_07_stop_by_mark_and_take_profit(env):
    ex, c = env
    await c.send_order(req("buy", "mkt", "0.2"))
    sl = await c.send_order(req("sell", "stp", "0.1", stop_price=D(49_000), trigger_signal=TriggerSignal.MARK,
                                reduce_only=True))
    tp = await c.send_order(req("sell", "take_profit", "0.1", stop_price=D(51_000), limit_price=D(50_900),
                                reduce_only=True))
    assert sl.status is tp.status is OrderStatus.PLACED
    assert {o.order_id for o in await c.open_orders()} == {sl.order_id, tp.order_id}
    quote(ex, T0 + 2000, bid=48_990, ask=49_010, mark=49_000)
    assert (await c.open_positions())[0].size == D("0.1")
    quote(ex, T0 + 3000, bid=51_000, ask=51_010, mark=51_000)
    assert await c.open_positions() == [] and await c.open_orders() == []


async def test_08_reduce_only_reject(env):
    _, c = env
    await c.send_order(req("buy", "mkt", "0.1"))
    r = await c.send_order(req("buy", "mkt", "0.1", reduce_only=True))
    assert r.status is OrderStatus.WOULD_NOT_REDUCE_POSITION


async def test_09_10_11_edit_cancel_cancel_all(env):
    _, c = env
    a = await c.send_order(req("buy", "lmt", "0.1", limit_price=D(49_000)))
    e = await c.edit_order(order_id=a.order_id, limit_price=D(49_100), size=D("0.2"))
    assert e.status is OrderStatus.EDITED
    o = (await c.open_orders())[0]
    assert o.limit_price == D(49_100) and o.size == D("0.2")
    assert (await c.cancel_order(order_id=a.order_id)).status is OrderStatus.CANCELLED
    await c.send_order(req("buy", "lmt", "0.1", limit_price=D(48_000)))
    await c.send_order(req("sell", "lmt", "0.1", limit_price=D(52_000)))
    res = await c.cancel_all_orders()
    assert res.status is OrderStatus.CANCELLED and await c.open_orders() == []


async def test_12_dead_man_switch(env):
    ex, c = env
    await c.send_order(req("buy", "lmt", "0.1", limit_price=D(49_000)))
    st = await c.cancel_all_orders_after(30)
    assert st.trigger_ts_ms == st.current_ts_ms + 30_000
    quote(ex, T0 + 32_000)
    assert await c.open_orders() == []


async def test_13_batchorder_mixed(env):
    _, c = env
    from kraken_tui.kraken.rest_orders import BatchCancel, BatchEdit, BatchSend

    a = await c.send_order(req("buy", "lmt", "0.1", limit_price=D(49_000)))
    b = await c.send_order(req("buy", "lmt", "0.1", limit_price=D(48_000)))
    out = await c.batch_order([
        BatchSend(req("sell", "lmt", "0.1", limit_price=D(52_000)), order_tag="s1"),
        BatchEdit(order_id=a.order_id, limit_price=D(49_500)),
        BatchCancel(order_id=b.order_id),
        BatchCancel(order_id="00000000-0000-0000-0000-000000000000"),
    ])
    assert [r.status for r in out] == [OrderStatus.PLACED, OrderStatus.EDITED, OrderStatus.CANCELLED,
                                       OrderStatus.NOT_FOUND]
    assert out[0].order_tag == "s1"
    prices = sorted(o.limit_price for o in await c.open_orders())
    assert prices == [D(49_500), D(52_000)]


async def test_15_16_insufficient_funds_and_would_cause_liquidation(env):
    ex, c = env
    r = await c.send_order(req("buy", "mkt", "21"))
    assert r.status is OrderStatus.INSUFFICIENT_AVAILABLE_FUNDS
    quote(ex, T0 + 2000, sym="PF_SOLUSD", bid=99, ask=150, mark=100, ask_size=1000)
    r = await c.send_order(OrderRequest("PF_SOLUSD", Side.BUY, OrderType.MARKET, D(200)))
    assert r.status is OrderStatus.WOULD_CAUSE_LIQUIDATION


async def test_17_funding_sign_long_and_short(env):
    ex, c = env
    funding(ex, T0, 0.0001)
    await c.send_order(req("buy", "mkt", "0.2"))
    quote(ex, T0 + 3_600_000 + 1)
    await c.send_order(req("sell", "mkt", "0.4"))  # now short 0.2
    quote(ex, T0 + 7_200_000 + 1)
    rows = [e for e in await c.account_log() if e.info == "funding rate change"]
    # long 0.2 x (0.0001 x 50 000 = 5 USD) -> pays 1; short 0.2 -> receives 1
    assert sorted(r.realized_funding for r in rows) == [D(-1), D(1)]


async def test_18_partial_then_full_liquidation(env):
    ex, c = env
    quote(ex, T0 + 1500, bid=49_999, ask=50_000, mark=50_000)
    await c.send_order(req("buy", "mkt", "9"))
    quote(ex, T0 + 2000, bid=48_999, ask=49_001, mark=49_000)
    assert [f.fill_type.value for f in await c.fills()][0] == "partialLiquidation"
    quote(ex, T0 + 3000, bid=47_999, ask=48_001, mark=48_000)
    assert await c.open_positions() == []
    assert (await c.fills())[0].fill_type.value == "liquidation"
