"""Liquidation at the SHIPPED defaults: partial first, then full, through the REST client.

The paper config is ``PaperConfig()`` untouched (taker 5 bp, liquidation fee 0.25 %), the exchange is served
on 127.0.0.1 (ephemeral port) and every assertion reads what the project's KrakenRestClient parses.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from kraken_tui.config import PaperConfig
from kraken_tui.domain import OrderRequest, OrderStatus, OrderType, Side
from kraken_tui.domain.money import capped_liquidation_fee_bps
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.instruments import DEFAULT_SYMBOLS, default_instrument

from ..conftest import REPO
from .helpers import T0, paper_client, quote

D = Decimal


def test_default_fee_is_below_every_first_tier_maintenance_rate():
    # a partial close of q contracts frees q x MM-rate x entry of MM (needed 1.25x) and costs q x fee x mark;
    # it can only help when fee < 1.25 x MM rate (at mark ~ entry). 0.25 % < 0.5 % (PF_XBTUSD, the lowest).
    fee = D(repr(PaperConfig().liquidation_fee_pct)) / 100
    assert fee == D("0.0025")
    lowest = min(default_instrument(s).margin_levels[0].maintenance_margin_rate for s in DEFAULT_SYMBOLS)
    assert lowest == D("0.005") and fee < lowest
    # the shipped config.toml says the same as the model
    shipped = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    assert shipped["paper"]["liquidation_fee_pct"] == PaperConfig().liquidation_fee_pct


@pytest.fixture
async def env():
    ex = PaperExchange(PaperConfig())  # the defaults: 10 000 USD, maker 2 bp, taker 5 bp, liquidation 0.25 %
    quote(ex, T0 + 1000)
    async with paper_client(ex) as client:
        yield ex, client


async def _usd_liquidation_rows(c):
    return [e for e in await c.account_log(sort="asc") if e.info == "futures liquidation" and e.asset.lower() == "usd"]


async def test_partial_then_full_liquidation_at_default_config(env):
    ex, c = env
    quote(ex, T0 + 1500, bid=49_999, ask=50_000, mark=50_000)
    r = await c.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, D(10)))
    assert r.status is OrderStatus.PLACED and r.filled_size == D(10)
    # long 10 @ 50 000: notional 500 000 (first tier: IM 1 % = 5 000, MM 0.5 % = 2 500)
    # taker fee 500 000 x 5 bp = 250 -> balance 10 000 - 250 = 9 750
    acct = await c.account()
    assert acct.balance_value_usd == D(9_750)
    assert acct.initial_margin_usd == D(5_000) and acct.maintenance_margin_usd == D(2_500)

    # mark 49 200: uPnL 10 x -800 = -8 000, equity 1 750 < MM 2 500 -> liquidation.
    # Partial size: fee/contract 49 200 x 0.25 % = 123; MM freed/contract 250, needed x1.25 = 312.5
    #   q >= (1.25 x 2 500 - 1 750) / (312.5 - 123) = 1 375 / 189.5 = 7.25593.. -> 7.2560 (lot 0.0001)
    # liquidation fee = 7.256 x 49 200 x 0.25 % = 356 995.2 x 0.0025 = 892.488 USD
    # realised = 7.256 x (49 200 - 50 000) = -5 804.8 -> balance 9 750 - 5 804.8 - 892.488 = 3 052.712
    # left: long 2.744, MM 2.744 x 50 000 x 0.5 % = 686; equity 3 052.712 - 2 195.2 = 857.512 >= 1.25 x 686 = 857.5
    quote(ex, T0 + 2000, bid=49_199, ask=49_201, mark=49_200)
    fills = await c.fills()
    assert fills[0].fill_type.value == "partialLiquidation"
    assert fills[0].size == D("7.256") and fills[0].price == D(49_200)
    pos = await c.open_positions()
    assert len(pos) == 1 and pos[0].size == D("2.744")
    rows = await _usd_liquidation_rows(c)
    assert len(rows) == 1
    assert rows[0].liquidation_fee == D("892.488")
    assert rows[0].realized_pnl == D("-5804.8")
    assert rows[0].new_balance == D("3052.712")
    # a liquidation fill pays no trading fee: ``fee`` is 0 and the liquidation fee is booked once (spec §4.18)
    assert rows[0].fee == 0
    assert rows[0].old_balance + rows[0].realized_pnl - rows[0].liquidation_fee == rows[0].new_balance

    # mark 49 000: equity 3 052.712 + 2.744 x -1 000 = 308.712 < MM 686 -> liquidation again.
    #   q >= (857.5 - 308.712) / (312.5 - 122.5) = 548.788 / 190 = 2.888.. >= 2.744 -> full liquidation.
    # configured fee 2.744 x 49 000 x 0.25 % = 336.14 > equity 308.712, so the fee is capped at the equity
    # left (charged only out of equity above zero): fee 308.712, realised -2 744, balance ends at 0, not -27.428.
    quote(ex, T0 + 3000, bid=48_999, ask=49_001, mark=49_000)
    assert await c.open_positions() == []
    fills = await c.fills()
    assert fills[0].fill_type.value == "liquidation" and fills[0].size == D("2.744")
    rows = await _usd_liquidation_rows(c)
    assert len(rows) == 2
    assert abs(rows[1].liquidation_fee - D("308.712")) < D("1e-12")
    assert rows[1].realized_pnl == D(-2_744)
    assert abs(rows[1].new_balance) < D("1e-12")
    # nothing else moved the wallet: 10 000 - 250 - 5 804.8 - 892.488 - 2 744 - 308.712 = 0
    assert abs(ex.balances.quantities["usd"]) < D("1e-12")


async def test_full_liquidation_fee_is_not_capped_when_equity_covers_it(env):
    ex, c = env
    quote(ex, T0 + 1500, bid=49_999, ask=50_000, mark=50_000)
    await c.send_order(OrderRequest("PF_XBTUSD", Side.BUY, OrderType.MARKET, D(10)))  # balance 9 750 (see above)
    # one gap straight to mark 49 040: equity 9 750 - 9 600 = 150 < MM 2 500.
    # fee/contract 49 040 x 0.25 % = 122.6; q >= (3 125 - 150) / (312.5 - 122.6) = 15.66.. > 10 -> full at once.
    # configured fee 10 x 122.6 = 1 226 > equity 150 -> capped at 150; balance 9 750 - 9 600 - 150 = 0
    quote(ex, T0 + 2000, bid=49_039, ask=49_041, mark=49_040)
    rows = await _usd_liquidation_rows(c)
    assert len(rows) == 1 and abs(rows[0].liquidation_fee - D(150)) < D("1e-12")
    assert (await c.fills())[0].fill_type.value == "liquidation"
    # a liquidation with equity to spare pays the configured rate: the cap is a floor at zero, not a discount
    ex2 = PaperExchange(PaperConfig())
    quote(ex2, T0 + 1000, bid=49_999, ask=50_000, mark=50_000)
    # 1 XBT at 49 000: configured fee 49 000 x 0.25 % = 122.5 <= equity 1 000 -> 25 bp unchanged
    assert capped_liquidation_fee_bps(ex2.instruments["PF_XBTUSD"], D(1), D(49_000), D(1_000), ex2.liquidation_fee_bps) == D(25)
    # equity 61.25 covers half of it -> 12.5 bp; negative equity -> 0 bp
    assert capped_liquidation_fee_bps(ex2.instruments["PF_XBTUSD"], D(1), D(49_000), D("61.25"), ex2.liquidation_fee_bps) == D("12.5")
    assert capped_liquidation_fee_bps(ex2.instruments["PF_XBTUSD"], D(1), D(49_000), D(-5), ex2.liquidation_fee_bps) == 0
