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
    assert "PF_ linear" in evaluate_entry(req(instrument=PI), ACCOUNT, RiskConfig()).reason
    assert "needs a stop" in evaluate_entry(req(stop_price=None), ACCOUNT, RiskConfig()).reason
