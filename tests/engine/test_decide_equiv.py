"""The fast ``decide`` / ``evaluate_entry`` against their frozen session-5 copy (tests/engine/_decide_reference.py).

Same inputs -> the same actions (types, every field; Decimals equal AND with the same ``str``, i.e. the same
digits and exponent), the same ``notes`` and ``reason`` strings, or the same exception type and message.
Inputs: signals (long/short/flat, confidence, a target move), positions, marks and index prices, accounts
(equity, collateral, open positions with tier rates, loss streaks, drawdown), RiskConfig and ExitsConfig
variations, protective on/off, sizing overrides (including an invalid one), ATR, funding, operator blocks.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import Instrument, InstrumentType, PositionSide
from kraken_tui.engine import decide as live
from kraken_tui.engine import risk
from kraken_tui.engine.risk import AccountSnapshot, EntryRequest, OpenExposure
from kraken_tui.engine.signals import Signal, SignalSide
from kraken_tui.paper.instruments import default_instrument

from . import _decide_reference as oracle

XBT, ETH = default_instrument("PF_XBTUSD"), default_instrument("PF_ETHUSD")
PI_XBT = default_instrument("PI_XBTUSD")
NO_TIERS = Instrument("PF_XBTUSD", InstrumentType.LINEAR, Decimal("0.5"), Decimal("1"), Decimal("0.001"))
INSTRUMENTS = (XBT, XBT, XBT, ETH, ETH, PI_XBT, NO_TIERS)


def _dec(lo: str, hi: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(lo), Decimal(hi), places=places, allow_nan=False, allow_infinity=False)


def _pct(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Config-like floats: round values and arbitrary ones (repr with many digits)."""
    return st.one_of(st.integers(int(lo * 10), int(hi * 10)).map(lambda i: i / 10),
                     st.floats(lo, hi, allow_nan=False, allow_infinity=False))


@st.composite
def risk_cfgs(draw: st.DrawFn) -> RiskConfig:
    edges = sorted(draw(st.lists(_pct(0.01, 10.0), min_size=0, max_size=3)))
    cap = draw(_pct(0.5, 5.0))
    return RiskConfig(
        leverage_cap=cap, leverage_ceiling=5.0,
        risk_per_trade_pct=draw(_pct(0.1, 10.0)),
        max_position_notional_usd=draw(st.sampled_from([5_000.0, 100.0, 1e6, 12_345.678])),
        max_capital_deployed_pct=draw(_pct(1.0, 100.0)),
        max_open_positions=draw(st.integers(1, 3)),
        allow_pyramiding=draw(st.booleans()),
        liquidation_buffer_pct=draw(st.sampled_from([30.0, 0.0, 5.0, 60.0, 99.0])),
        max_basis_bps=draw(st.sampled_from([50.0, 0.0, 5.0, 1e9])),
        sizing=draw(st.sampled_from(["risk", "fixed"])),
        fixed_fraction_pct=draw(_pct(0.1, 100.0)),
        vol_band_atr_pct=edges,
        vol_band_leverage=draw(st.lists(_pct(0.5, 6.0), min_size=len(edges) + 1, max_size=len(edges) + 1)),
        loss_streak_cut=draw(st.integers(1, 4)),
        drawdown_deleverage_pct=draw(_pct(1.0, 30.0)),
        expected_taker_fee_bps=draw(st.sampled_from([5.0, 0.0, 2.5, 50.0])),
        expected_hold_h=draw(st.sampled_from([4.0, 0.5, 24.0])),
    )


@st.composite
def exits_cfgs(draw: st.DrawFn) -> ExitsConfig:
    tps = sorted(set(draw(st.lists(_pct(0.1, 20.0), min_size=1, max_size=4))))
    return ExitsConfig(stop_loss_pct=draw(_pct(0.1, 50.0)), take_profit_pct=tps)


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    inst = draw(st.sampled_from(INSTRUMENTS))
    mark = draw(st.sampled_from([_dec("100", "200000", 1), _dec("1000", "120000", 0), _dec("0.5", "100", 4)] * 3
                                + [st.sampled_from([Decimal(0), Decimal("-1"), Decimal("108781.0")])]).flatmap(
                                    lambda s: s))
    index = draw(st.sampled_from(["mark"] * 6 + ["none", "near", "near", "far"]))
    index_price = {"mark": mark, "none": None, "near": mark + Decimal("0.3"), "far": mark * 2 + 1}[index]
    size = draw(st.one_of(st.just(Decimal(0)), _dec("0.0001", "2", 4), _dec("0.001", "50", 3)))
    position = draw(st.sampled_from([0, 1, -1, 1, -1])) * size
    positions = []
    if position and draw(st.integers(0, 4)):  # the account normally shows the held position
        positions.append((inst.symbol, position))
    for sym in draw(st.lists(st.sampled_from(["PF_ETHUSD", "PF_SOLUSD", inst.symbol]), max_size=2)):
        positions.append((sym, draw(st.sampled_from([1, -1, 0])) * draw(_dec("0.001", "3", 3))))
    exposures = []
    for sym, q in draw(st.permutations(positions)):
        entry = draw(st.one_of(st.just(mark), _dec("50", "150000", 1)))
        pmark = draw(st.one_of(st.just(mark), _dec("50", "150000", 2)))
        im, mm = draw(st.sampled_from([("0.01", "0.005"), ("0.02", "0.01"), ("0.1", "0.05")]))
        exposures.append(OpenExposure(sym, q, entry, pmark, Decimal(im), Decimal(mm)))
    equity = draw(st.sampled_from([_dec("1", "100000", 5), _dec("100", "20000", 2)] * 5
                                  + [st.sampled_from([Decimal(0), Decimal("-5")])]).flatmap(lambda s: s))
    account = AccountSnapshot(equity, equity + draw(_dec("-500", "500", 5)), tuple(exposures),
                              draw(st.integers(0, 5)), draw(st.floats(0, 30)))
    side = draw(st.sampled_from([SignalSide.LONG, SignalSide.SHORT] * 3 + [SignalSide.FLAT]))
    features: dict = {"close": 1.0}
    if draw(st.integers(0, 3)) == 0:
        features["target_move_pct"] = draw(st.floats(0.0, 5.0))
    symbol = draw(st.sampled_from([inst.symbol] * 30 + ["PF_OTHER"]))
    signal = Signal(symbol, side, draw(st.sampled_from([1.0, 0.0, 0.5, 0.333])), "t", features)
    return dict(
        signal=signal, instrument=inst, position_size=position, mark_price=mark, index_price=index_price,
        account=account, risk_cfg=draw(risk_cfgs()), exits_cfg=draw(exits_cfgs()),
        entry_block_reason=draw(st.sampled_from([None] * 8 + ["", "daily loss limit"])),
        atr_pct=draw(st.one_of(st.none(), st.floats(0.0, 6.0))),
        funding_rate=draw(st.one_of(st.none(), st.floats(-0.001, 0.001))),
        sizing=draw(st.sampled_from([None] * 6 + ["risk", "fixed"] * 3 + ["kelly"])),
        protective=draw(st.booleans()),
        min_confidence=draw(st.sampled_from([0.0, 0.0, 0.4])),
    )


def _outcome(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except Exception as e:  # noqa: BLE001 - the exception itself is the compared outcome
        return (type(e), str(e))


def _same(a: object, b: object, where: str) -> None:
    """Equal, of the same type, and for Decimals with the same str (digits and exponent), recursively."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__} ({a!r} / {b!r})"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b and str(a) == str(b), f"{where}: {a!r} != {b!r}"
    assert a == b


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_decide_equals_the_frozen_oracle(kw):
    want = _outcome(oracle.decide, **kw)
    got = _outcome(live.decide, **kw)
    _same(got, want, "decide")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from([PositionSide.LONG, PositionSide.SHORT]), st.booleans())
def test_evaluate_entry_equals_the_frozen_oracle(kw, side, with_stop):
    mark = kw["mark_price"]
    stop = (mark * (Decimal("0.98") if side is PositionSide.LONG else Decimal("1.02"))) if with_stop else None
    target = kw["signal"].features.get("target_move_pct")
    req = EntryRequest(kw["instrument"], side, mark, stop, target, kw["funding_rate"], kw["atr_pct"])
    args = (req, kw["account"], kw["risk_cfg"], kw["entry_block_reason"])
    _same(_outcome(risk.evaluate_entry, *args), _outcome(oracle.evaluate_entry, *args), "evaluate_entry")


def test_the_comparison_can_fail():
    """A different exponent, note or exception must fail the comparison (guards _same itself)."""
    import pytest

    enter = live.Enter("PF_XBTUSD", None, Decimal("0.01"), Decimal(1), None, False, Decimal(2), ("a",))  # type: ignore[arg-type]
    for other in (dataclasses.replace(enter, size=Decimal("0.010")), dataclasses.replace(enter, notes=("b",))):
        with pytest.raises(AssertionError):
            _same([enter], [other], "x")
    with pytest.raises(AssertionError):
        _same((ValueError, "m"), (TypeError, "m"), "x")
