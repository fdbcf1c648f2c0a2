"""Signal -> actions (engine.decide) against hand-computed sizes, stops and reasons."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import Instrument, InstrumentType, MarginLevel, PositionSide, Side
from kraken_tui.engine.decide import Close, Enter, ExitReason, Ignore, Reject, decide
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure
from kraken_tui.engine.signals import Signal, SignalSide
from kraken_tui.engine.strategies import _base
from kraken_tui.engine.strategies.ema_cross import EmaCross
from kraken_tui.engine.strategies.sma_cross import SmaCross

XBT = Instrument(
    "PF_XBTUSD", InstrumentType.LINEAR, D("1"), D("1"), D("0.0001"),
    margin_levels=(MarginLevel(D("0"), D("0.02"), D("0.01")),),
)
ACCOUNT = AccountSnapshot(equity_usd=D("10000"), collateral_usd=D("10000"))
LONG, SHORT, FLAT = SignalSide.LONG, SignalSide.SHORT, SignalSide.FLAT


def sig(side, confidence=1.0, **features):
    return Signal("PF_XBTUSD", side, confidence, "test", features)


def run(signal, position="0", mark="100000", index="100000", account=ACCOUNT, risk=None, block=None, **kw):
    return decide(
        signal,
        instrument=XBT,
        position_size=D(position),
        mark_price=D(mark),
        index_price=None if index is None else D(index),
        account=account,
        risk_cfg=risk or RiskConfig(),
        exits_cfg=ExitsConfig(),
        entry_block_reason=block,
        atr_pct=None,
        funding_rate=None,
        **kw,
    )


def test_long_while_flat_risk_sized():
    # stop 100000 x 0.98 = 98000; size 10000 x 1% / 2000 = 0.05 contracts (notional 5000 = cap); 2x
    [a] = run(sig(LONG))
    assert isinstance(a, Enter)
    assert (a.side, a.size, a.entry_price, a.stop_price, a.protective, a.leverage_x) == (
        PositionSide.LONG, D("0.05"), D("100000"), D("98000"), True, D("2"),
    )
    assert a.order_side is Side.BUY


def test_short_while_flat():
    [a] = run(sig(SHORT))
    assert isinstance(a, Enter) and a.side is PositionSide.SHORT and a.order_side is Side.SELL
    assert a.stop_price == D("102000") and a.size == D("0.05")


def test_stop_is_rounded_down_for_a_long():
    # 100000.7 x 0.98 = 98000.686 -> 98000 (tick 1, never above the intended stop)
    [a] = run(sig(LONG), mark="100000.7", index="100000.7")
    assert a.stop_price == D("98000")


def test_fixed_sizing_override_and_unprotected():
    # fixed: 10000 x 10% / 100000 = 0.01 contracts
    [a] = run(sig(LONG), sizing="fixed")
    assert a.size == D("0.01") and a.stop_price == D("98000") and a.protective
    [b] = run(sig(LONG), protective=False)  # no stop -> fixed sizing even though risk.sizing = "risk"
    assert b.size == D("0.01") and b.stop_price is None and not b.protective


def test_flat_signal():
    assert run(sig(FLAT, 0.0)) == [Ignore("PF_XBTUSD", "flat signal while flat")]
    assert run(sig(FLAT, 0.0), position="0.03") == [Close("PF_XBTUSD", D("0.03"), Side.SELL, ExitReason.SIGNAL)]
    assert run(sig(FLAT), position="-0.03") == [Close("PF_XBTUSD", D("0.03"), Side.BUY, ExitReason.SIGNAL)]


def test_same_direction_ignored_unless_pyramiding():
    held = OpenExposure("PF_XBTUSD", D("0.01"), D("100000"), D("100000"), D("0.02"), D("0.01"))
    acct = AccountSnapshot(D("10000"), D("10000"), positions=(held,))
    assert run(sig(LONG), position="0.01", account=acct) == [Ignore("PF_XBTUSD", "already long")]
    # pyramiding: risk size 0.05 again (per-entry notional cap 5000 / 100000)
    [a] = run(sig(LONG), position="0.01", account=acct, risk=RiskConfig(allow_pyramiding=True))
    assert isinstance(a, Enter) and a.size == D("0.05")


def _short_account():
    # short 0.02 @ 101000, mark 100000: unrealised +20 USD
    held = OpenExposure("PF_XBTUSD", D("-0.02"), D("101000"), D("100000"), D("0.02"), D("0.01"))
    return AccountSnapshot(D("10020"), D("10000"), positions=(held,))


def test_reversal_closes_then_enters_without_the_old_position():
    # max_open_positions = 1 would reject if the closed short were still counted
    acts = run(sig(LONG), position="-0.02", account=_short_account(), risk=RiskConfig(max_open_positions=1))
    assert acts[0] == Close("PF_XBTUSD", D("0.02"), Side.BUY, ExitReason.SIGNAL)
    assert isinstance(acts[1], Enter) and acts[1].side is PositionSide.LONG
    # 10020 x 1% / 2000 = 0.0501 -> capped by max notional 5000 / 100000 = 0.05
    assert acts[1].size == D("0.05")


def test_reversal_close_survives_a_rejected_entry():
    acts = run(sig(LONG), position="-0.02", account=_short_account(), mark="100600")
    assert acts == [
        Close("PF_XBTUSD", D("0.02"), Side.BUY, ExitReason.SIGNAL),
        Reject("PF_XBTUSD", "basis 60.0 bps exceeds max 50.0 bps (mark 100600, index 100000)"),
    ]
    acts = run(sig(SHORT), position="0.02", block="entries paused")
    assert acts == [Close("PF_XBTUSD", D("0.02"), Side.SELL, ExitReason.SIGNAL), Reject("PF_XBTUSD", "entries paused")]


def test_basis_guard_and_block_reject_entries():
    assert run(sig(LONG), index=None) == [Reject("PF_XBTUSD", "basis unknown (mark 100000.0, index None)")]
    # 49.9 bps passes the 50 bps guard
    [a] = run(sig(LONG), mark="100499", index="100000")
    assert isinstance(a, Enter)
    assert run(sig(LONG), block="HALTED") == [Reject("PF_XBTUSD", "HALTED")]
    [r] = run(sig(LONG), mark="0", index="100000")
    assert isinstance(r, Reject) and "no mark price" in r.reason


def test_risk_gate_rejection_passes_through():
    # target 0.05% < 2 x 5 bps fees = 0.10%
    [r] = run(sig(LONG, target_move_pct=0.05))
    assert isinstance(r, Reject)
    assert r.reason.startswith("expected move 0.050% does not exceed 1.5 x costs 0.140% (fees 0.100%")


def test_min_confidence_filters_entries_not_exits():
    assert run(sig(LONG, 0.3), min_confidence=0.5) == [Ignore("PF_XBTUSD", "confidence 0.30 below 0.50")]
    assert run(sig(SHORT, 0.3), position="0.01", min_confidence=0.5)[0].__class__ is Ignore
    assert run(sig(FLAT, 0.0), position="0.01", min_confidence=0.5)[0].__class__ is Close


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        decide(Signal("PF_ETHUSD", LONG, 1.0, "x"), instrument=XBT, position_size=D(0), mark_price=D(1),
               index_price=D(1), account=ACCOUNT, risk_cfg=RiskConfig(), exits_cfg=ExitsConfig(),
               entry_block_reason=None, atr_pct=None, funding_rate=None)
    with pytest.raises(ValueError):
        run(sig(LONG), sizing="kelly")


def test_strategy_exit_style_attributes():
    assert _base.StrategyBase.protective_exits is True and _base.StrategyBase.sizing is None
    assert SmaCross.protective_exits is False and SmaCross.sizing == "fixed"
    assert EmaCross.protective_exits is True and EmaCross.sizing is None
