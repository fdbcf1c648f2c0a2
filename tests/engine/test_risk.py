"""The entry risk gate against hand-computed examples."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_tui.config import RiskConfig
from kraken_tui.domain import Instrument, InstrumentType, MarginLevel, PositionSide
from kraken_tui.engine.risk import (
    AccountSnapshot,
    EntryRequest,
    OpenExposure,
    allowed_leverage,
    evaluate_entry,
)

XBT = Instrument(
    "PF_XBTUSD", InstrumentType.LINEAR, D("1"), D("1"), D("0.0001"),
    margin_levels=(MarginLevel(D("0"), D("0.02"), D("0.01")),),
)
PI = Instrument("PI_XBTUSD", InstrumentType.INVERSE, D("0.5"), D("1"), D("1"))
ACCOUNT = AccountSnapshot(equity_usd=D("10000"), collateral_usd=D("10000"))


def req(**kw):
    base = {"instrument": XBT, "side": PositionSide.LONG, "entry_price": D("100000"), "stop_price": D("98000")}
    base.update(kw)
    return EntryRequest(**base)


def test_risk_based_size():
    # 10000 USD x 1% / (100000 - 98000) = 0.05 contracts; notional 5000 = the max position notional
    d = evaluate_entry(req(), ACCOUNT, RiskConfig())
    assert d.approved and d.size == D("0.05") and d.leverage_x == D("2")


def test_size_capped_by_max_notional():
    # stop 0.5% away: 100 / 500 = 0.2 contracts, capped to 5000 / 100000 = 0.05
    d = evaluate_entry(req(stop_price=D("99500")), ACCOUNT, RiskConfig())
    assert d.approved and d.size == D("0.05")
    assert "capped by max_position_notional_usd" in d.notes


def test_liquidation_buffer_rejects():
    cfg = RiskConfig(leverage_cap=5, max_position_notional_usd=1e6)
    small = AccountSnapshot(equity_usd=D("1000"), collateral_usd=D("1000"))
    # size 10/100 = 0.1, capped by leverage 5 x 1000 / 100000 = 0.05;
    # liq = 100000 - (1000 - 0.01*0.05*100000)/0.05 = 100000 - 19000 = 81000, 19% from entry < 30%
    d = evaluate_entry(req(stop_price=D("99900")), small, cfg)
    assert not d.approved
    assert "81000.00" in d.reason and "19.0%" in d.reason and "30% buffer" in d.reason


@pytest.mark.parametrize(
    "side,rate,target,ok",
    [
        (PositionSide.LONG, None, 0.10, False),  # fees 2 x 5 bp = 0.10% -> not covered
        (PositionSide.LONG, 0.0001, 0.12, False),  # + funding 0.01%/h x 4 h = 0.04% -> 0.14% needed
        (PositionSide.SHORT, 0.0001, 0.12, True),  # shorts receive: only fees count
        (PositionSide.LONG, None, 0.11, True),
    ],
)
def test_cost_check(side, rate, target, ok):
    stop = D("98000") if side is PositionSide.LONG else D("102000")
    cfg = RiskConfig(expected_slippage_bps=0, cost_edge_multiple=1)  # fees and funding only, no margin
    d = evaluate_entry(req(side=side, stop_price=stop, target_move_pct=target, funding_rate=rate), ACCOUNT, cfg)
    assert d.approved is ok, d.reason


@pytest.mark.parametrize("target,ok", [(0.21, False), (0.22, True)])
def test_cost_check_counts_slippage_and_wants_an_edge(target, ok):
    # defaults: fees 2 x 5 bp + slippage 2 x 2 bp = 0.14 %; x 1.5 edge = 0.21 % -> a move must exceed it
    d = evaluate_entry(req(stop_price=D("98000"), target_move_pct=target), ACCOUNT, RiskConfig())
    assert d.approved is ok, d.reason
    if not ok:
        assert "slippage 0.040%" in d.reason and "1.5 x costs 0.140%" in d.reason


def test_position_rules():
    held = OpenExposure("PF_XBTUSD", D("0.05"), D("100000"), D("100000"), D("0.02"), D("0.01"))
    acct = AccountSnapshot(D("10000"), D("10000"), positions=(held,))
    assert "pyramiding is disabled" in evaluate_entry(req(), acct, RiskConfig()).reason
    short = req(side=PositionSide.SHORT, stop_price=D("102000"))
    assert "opposite position" in evaluate_entry(short, acct, RiskConfig()).reason
    others = tuple(OpenExposure(f"PF_{i}USD", D("1"), D("10"), D("10"), D("0.02"), D("0.01")) for i in range(3))
    full = AccountSnapshot(D("10000"), D("10000"), positions=others)
    assert "max open positions reached (3/3)" == evaluate_entry(req(), full, RiskConfig()).reason


def test_leverage_scaling():
    cfg = RiskConfig(leverage_cap=5)
    assert allowed_leverage(cfg, 0.5, 0, 0.0)[0] == D("3")  # calm band
    assert allowed_leverage(cfg, 1.5, 0, 0.0)[0] == D("2")
    assert allowed_leverage(cfg, 3.0, 0, 0.0)[0] == D("1")
    assert allowed_leverage(RiskConfig(), 0.5, 0, 0.0)[0] == D("2")  # never above the cap
    assert allowed_leverage(cfg, 0.5, 3, 0.0) == (D("1"), "3 consecutive losses")
    assert allowed_leverage(cfg, 0.5, 0, 12.0)[0] == D("1")


def test_below_minimum_and_other_rejections():
    tiny = AccountSnapshot(D("10"), D("10"))
    d = evaluate_entry(req(), tiny, RiskConfig(sizing="fixed"))  # 1 USD / 100000 = 0.00001 -> 0 after the lot
    assert not d.approved and "below the minimum order 0.0001" in d.reason
    assert evaluate_entry(req(), ACCOUNT, RiskConfig(), "entries paused: operator").reason == "entries paused: operator"
    assert "needs a stop" in evaluate_entry(req(stop_price=None), ACCOUNT, RiskConfig()).reason


PI_TIERED = Instrument("PI_XBTUSD", InstrumentType.INVERSE, D("0.5"), D("1"), D("1"),
                       margin_levels=(MarginLevel(D("0"), D("0.02"), D("0.01")),))


def test_inverse_entry_sized_in_usd_contracts():
    # risk sizing: 10 000 USD x 1 % = 100 USD at risk; one USD contract from 100 000 to a 98 000 stop loses
    # 1 x 2 000 / 100 000 = 0.02 USD, so 100 / 0.02 = 5 000 contracts = 5 000 USD notional (the cap: 5 000 USD)
    d = evaluate_entry(req(instrument=PI_TIERED), ACCOUNT, RiskConfig())
    assert d.approved and d.size == D("5000") and d.leverage_x == D("2")
    # fixed fraction: 10 000 x 20 % = 2 000 USD = 2 000 contracts at any price
    d = evaluate_entry(req(instrument=PI_TIERED, entry_price=D("37000.5")), ACCOUNT,
                       RiskConfig(sizing="fixed", fixed_fraction_pct=20))
    assert d.approved and d.size == D("2000")
    # a 1 % stop sizes 100 / 0.01 = 10 000 contracts; a 2x leverage cap on 10 000 USD with a 15 000-contract
    # inverse XBT position open in the same coin account (15 000 USD, not 15 000 x 3 000) leaves
    # 20 000 - 15 000 = 5 000 USD of room
    held = OpenExposure("FI_XBTUSD_240628", D("-15000"), D("3000"), D("3000"), D("0.02"), D("0.01"), inverse=True)
    d = evaluate_entry(req(instrument=PI_TIERED, stop_price=D("99000")),
                       AccountSnapshot(D("10000"), D("10000"), (held,)),
                       RiskConfig(leverage_cap=2, max_position_notional_usd=1e9))
    assert d.approved and d.size == D("5000") and "capped by leverage" in d.notes
    # the same position in the ETH coin account (fi_ethusd) or a PF_ one in flex margins apart: no cap
    for other in (OpenExposure("PI_ETHUSD", D("-15000"), D("3000"), D("3000"), D("0.02"), D("0.01"), inverse=True),
                  OpenExposure("PF_ETHUSD", D("-5"), D("3000"), D("3000"), D("0.02"), D("0.01"))):
        d = evaluate_entry(req(instrument=PI_TIERED, stop_price=D("99000")),
                           AccountSnapshot(D("10000"), D("10000"), (other,)),
                           RiskConfig(leverage_cap=2, max_position_notional_usd=1e9))
        assert d.approved and d.size == D("10000"), other.symbol


def test_inverse_exposure_is_valued_in_coin_then_usd():
    # short 1 000 USD contracts from 100 000 to 100 070: (1/100 000 - 1/100 070) x -1 000 XBT x 100 070 = -0.70 USD
    e = OpenExposure("PI_XBTUSD", D("-1000"), D("100000"), D("100070"), D("0.02"), D("0.01"), inverse=True)
    assert e.unrealized_pnl_usd == D("-0.7") and e.notional_usd == D("1000") and e.entry_notional_usd == D("1000")


def test_inverse_position_does_not_move_a_linear_liquidation_estimate():
    # a PI_ short's figures stay out of a PF_ entry's estimate: with it or without it the entry is approved
    # with the same size (were its 1 000 contracts valued linearly, -1 000 x 70 = -70 000 USD, the
    # estimated liquidation would sit inside the buffer and the entry would be refused)
    pi = OpenExposure("PI_XBTUSD", D("-1000"), D("100000"), D("100070"), D("0.02"), D("0.01"), inverse=True)
    alone = evaluate_entry(req(), ACCOUNT, RiskConfig())
    mixed = evaluate_entry(req(), AccountSnapshot(D("10000"), D("10000"), (pi,)), RiskConfig())
    assert mixed.approved and mixed.size == alone.size == D("0.05")


def test_inverse_liquidation_buffer_uses_the_inverse_formula():
    # 1 000 USD collateral, 1 % risk = 10 USD over a 0.1 % stop = 10 000 contracts, capped at 5x = 5 000 USD
    # contracts long at 100 000. C = 1 000 / 100 000 = 0.01 XBT, MM 1 %: P = q / (C + q/e - m q/e)
    # = 5 000 / (0.01 + 0.05 - 0.0005) = 84 033.61 USD, 15.97 % below entry: inside a 20 % buffer
    cfg = RiskConfig(leverage_cap=5, liquidation_buffer_pct=20)
    d = evaluate_entry(req(instrument=PI_TIERED, stop_price=D("99900")), AccountSnapshot(D("1000"), D("1000")), cfg)
    assert not d.approved and "estimated liquidation at 84033.61 is 16.0% from entry" in d.reason
    assert evaluate_entry(req(instrument=PI_TIERED, stop_price=D("99900")), AccountSnapshot(D("1000"), D("1000")),
                          RiskConfig(leverage_cap=5, liquidation_buffer_pct=15)).size == D("5000")
