"""Properties of ``engine.decide.decide`` (and the risk gate behind it), as its docstrings promise them.

Each property is checked on random inputs: signals (long/short/flat, confidence, a target move), positions,
marks and index prices, accounts (equity, collateral, open positions with tier rates, loss streaks,
drawdown), RiskConfig and ExitsConfig variations, protective on/off, sizing overrides, ATR, funding and
operator blocks (``entry_block_reason``, which the engine sets in PAUSED, HALTED and FLATTENING).

Rules (``engine/decide.py``, ``engine/risk.py``, ``engine/signals.basis_guard``):

- shape: flat signal -> close when in a position else ignore; a long/short below ``min_confidence`` ->
  ignore (flat never filtered); same side without pyramiding -> ignore; opposite side -> ``Close(SIGNAL)``
  first (also when the entry is then refused), then one ``Enter`` or ``Reject``; flat -> one ``Enter`` or
  ``Reject``.
- a close is the whole position, on the opposite order side (reduce-only: it can never open or flip).
- an operator block, a non-positive mark or equity, an unknown or too-wide basis, an inverse contract, too
  many open positions, or a target move that does not cover round-trip fees + funding -> no entry.
- an entry's size is a positive multiple of the lot, at least the minimum order; its notional is within
  ``max_position_notional_usd``; with the other open positions within ``leverage_x`` x equity; its leverage
  within ``leverage_cap``; with risk sizing the loss at the stop is within ``risk_per_trade_pct`` of equity,
  with fixed sizing the notional within ``fixed_fraction_pct`` of equity; a protective entry carries a stop
  on the losing side of the mark, a non-protective one none.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_tui.config import ExitsConfig, RiskConfig
from kraken_tui.domain import Instrument, InstrumentType, PositionSide, Side
from kraken_tui.domain.money import symbol_settlement_currency
from kraken_tui.engine.decide import Close, Enter, ExitReason, Ignore, Reject, decide
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure
from kraken_tui.engine.signals import Signal, SignalSide
from kraken_tui.paper.instruments import default_instrument

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
        exposures.append(OpenExposure(sym, q, entry, pmark, Decimal(im), Decimal(mm), inverse=sym.startswith("PI_")))
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



#: relative slack for comparisons that go through Decimal division (28 significant digits)
TOL = Decimal("1e-20")


def _le(a: Decimal, b: Decimal) -> bool:
    return a <= b + abs(b) * TOL + TOL


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def _want(side: SignalSide) -> int:
    return 1 if side is SignalSide.LONG else -1 if side is SignalSide.SHORT else 0


def _call(kw: dict) -> list:
    args = dict(kw)
    return decide(args.pop("signal"), **args)


def _valid(kw: dict) -> bool:
    """Inputs decide accepts (the two ValueError cases are checked in their own test)."""
    return kw["signal"].symbol == kw["instrument"].symbol and kw["sizing"] in (None, "risk", "fixed")


def _entry_path(kw: dict) -> bool:
    """True when the rules say decide evaluates an entry (the action list ends with Enter or Reject)."""
    sig, held = kw["signal"], _sign(kw["position_size"])
    if sig.side is SignalSide.FLAT or sig.confidence < kw["min_confidence"]:
        return False
    return not (held == _want(sig.side) and not kw["risk_cfg"].allow_pyramiding)


SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenarios())
def test_the_shape_of_the_actions(kw):
    if not _valid(kw):
        return
    acts = _call(kw)
    sig, pos = kw["signal"], kw["position_size"]
    held, want, sym = _sign(pos), _want(kw["signal"].side), kw["instrument"].symbol
    close = Close(sym, abs(pos), Side.SELL if held > 0 else Side.BUY, ExitReason.SIGNAL)
    if sig.side is SignalSide.FLAT:
        assert acts == ([close] if held else [Ignore(sym, "flat signal while flat")])
    elif sig.confidence < kw["min_confidence"]:
        assert len(acts) == 1 and isinstance(acts[0], Ignore) and "confidence" in acts[0].reason
    elif held == want and not kw["risk_cfg"].allow_pyramiding:
        assert len(acts) == 1 and isinstance(acts[0], Ignore)
    elif held == -want:
        assert len(acts) == 2 and acts[0] == close and isinstance(acts[1], Enter | Reject)
    else:
        assert len(acts) == 1 and isinstance(acts[0], Enter | Reject)


@SETTINGS
@given(scenarios())
def test_a_close_is_the_whole_position_on_the_opposite_side(kw):
    if not _valid(kw):
        return
    pos = kw["position_size"]
    for a in _call(kw):
        if isinstance(a, Close):
            assert pos != 0 and a.size == abs(pos) and a.symbol == kw["instrument"].symbol
            assert a.side is (Side.SELL if pos > 0 else Side.BUY)  # reduces, never flips
            assert a.reason is ExitReason.SIGNAL


@SETTINGS
@given(scenarios(), st.sampled_from(["entries paused", "halted: equity floor", "flattening"]))
def test_no_entry_while_the_operator_blocks_entries(kw, block):
    """PAUSED / HALTED / FLATTENING reach decide as ``entry_block_reason``; exits still happen."""
    kw = {**kw, "entry_block_reason": block}
    if not _valid(kw):
        return
    acts = _call(kw)
    assert not any(isinstance(a, Enter) for a in acts)
    if _entry_path(kw):
        assert acts[-1] == Reject(kw["instrument"].symbol, block)
    held, want = _sign(kw["position_size"]), _want(kw["signal"].side)
    if held and (want == 0 or (want == -held and kw["signal"].confidence >= kw["min_confidence"])):
        assert isinstance(acts[0], Close)  # the block never stops a close


@SETTINGS
@given(scenarios())
def test_no_entry_without_the_conditions_to_size_it(kw):
    if not _valid(kw):
        return
    enters = [a for a in _call(kw) if isinstance(a, Enter)]
    if not enters:
        return
    cfg, mark, index = kw["risk_cfg"], kw["mark_price"], kw["index_price"]
    inst, account = kw["instrument"], kw["account"]
    assert not kw["entry_block_reason"]
    assert mark > 0 and account.equity_usd > 0
    assert index is not None and index > 0, "no entry on a basis it cannot measure"
    assert abs(float(mark) - float(index)) / float(index) * 1e4 <= cfg.max_basis_bps + 1e-9
    held, want = _sign(kw["position_size"]), _want(kw["signal"].side)
    sym = inst.symbol
    others = [p for p in account.positions if p.symbol != sym] if held == -want else list(account.positions)
    if not any(p.symbol == sym and p.signed_size != 0 for p in others):
        assert sum(1 for p in others if p.signed_size != 0) < cfg.max_open_positions
    target = kw["signal"].features.get("target_move_pct")
    if target is None and kw["protective"]:
        # the expected move: ATR x [risk] cost_atr_multiple when both are known, else the first take-profit
        if kw["atr_pct"] is not None and cfg.cost_atr_multiple > 0:
            target = kw["atr_pct"] * cfg.cost_atr_multiple
        elif kw["exits_cfg"].take_profit_pct:
            target = kw["exits_cfg"].take_profit_pct[0]
    if target is not None:
        costs = 2 * cfg.expected_taker_fee_bps / 100 + max(0.0, (kw["funding_rate"] or 0.0) * want) * \
            cfg.expected_hold_h * 100
        assert target > costs, "the target move must cover round-trip fees and funding"


@SETTINGS
@given(scenarios())
def test_an_entry_stays_within_the_risk_limits(kw):
    if not _valid(kw):
        return
    acts = _call(kw)
    enters = [a for a in acts if isinstance(a, Enter)]
    if not enters:
        return
    (e,) = enters
    cfg, inst, mark, account = kw["risk_cfg"], kw["instrument"], kw["mark_price"], kw["account"]
    equity, want = account.equity_usd, _want(kw["signal"].side)
    assert e.symbol == inst.symbol and e.entry_price == mark
    assert e.side is (PositionSide.LONG if want > 0 else PositionSide.SHORT)
    # lot and minimum size
    assert e.size > 0 and e.size >= inst.min_order_size
    assert e.size % inst.lot_size == 0, f"size {e.size} is not a multiple of the lot {inst.lot_size}"
    # per-order notional cap
    # (USD notional: size x mark for PF_, size x contract size (USD) for PI_)
    notional = e.size * mark if inst.is_linear else e.size * inst.contract_size
    assert _le(notional, Decimal(str(cfg.max_position_notional_usd)))
    # leverage: the allowed leverage is under the cap, and all open notional of the margin account (flex for
    # PF_, the coin's inverse account for PI_; the closed position excluded) plus this order is within it x
    # equity - so a same-side add (pyramiding) never goes beyond it either
    assert 0 < e.leverage_x <= Decimal(str(cfg.leverage_cap))
    held = _sign(kw["position_size"])
    others = [p for p in account.positions if p.symbol != inst.symbol] if held == -want else list(account.positions)
    acct_of = lambda sym, inverse: symbol_settlement_currency(sym) if inverse else "flex"  # noqa: E731
    others = [p for p in others if acct_of(p.symbol, p.inverse) == acct_of(inst.symbol, not inst.is_linear)]
    assert _le(notional + sum((p.notional_usd for p in others), Decimal(0)), e.leverage_x * equity)
    # sizing rule
    mode = "fixed" if not kw["protective"] else (kw["sizing"] or cfg.sizing)
    if mode == "risk":
        assert e.stop_price is not None
        loss = e.size * abs(mark - e.stop_price) * (1 if inst.is_linear else inst.contract_size / mark)
        assert _le(loss, equity * Decimal(str(cfg.risk_per_trade_pct)) / 100)
    else:
        assert _le(notional, equity * Decimal(str(cfg.fixed_fraction_pct)) / 100)
    # the protective stop
    if kw["protective"]:
        assert e.stop_price is not None and e.protective
        assert (e.stop_price < mark) if want > 0 else (e.stop_price > mark)
        assert e.stop_price % inst.tick_size == 0
    else:
        assert e.stop_price is None and not e.protective


@SETTINGS
@given(scenarios(), st.floats(0.0, 1.0))
def test_a_signal_below_the_confidence_threshold_changes_nothing(kw, threshold):
    kw = {**kw, "min_confidence": threshold}
    if not _valid(kw) or kw["signal"].side is SignalSide.FLAT or kw["signal"].confidence >= threshold:
        return
    acts = _call(kw)
    assert len(acts) == 1 and isinstance(acts[0], Ignore)


def test_a_flat_signal_is_never_filtered_by_confidence():
    kw = {"instrument": XBT, "position_size": Decimal("0.5"), "mark_price": Decimal(100_000),
          "index_price": Decimal(100_000), "account": AccountSnapshot(Decimal(10_000), Decimal(10_000), (), 0, 0.0),
          "risk_cfg": RiskConfig(), "exits_cfg": ExitsConfig(), "entry_block_reason": None, "atr_pct": None,
          "funding_rate": None, "min_confidence": 0.9}
    acts = decide(Signal("PF_XBTUSD", SignalSide.FLAT, 0.0, "t"), **kw)
    assert acts == [Close("PF_XBTUSD", Decimal("0.5"), Side.SELL, ExitReason.SIGNAL)]


def test_invalid_calls_raise_value_error():
    kw = {"instrument": XBT, "position_size": Decimal(0), "mark_price": Decimal(100_000),
          "index_price": Decimal(100_000), "account": AccountSnapshot(Decimal(10_000), Decimal(10_000), (), 0, 0.0),
          "risk_cfg": RiskConfig(), "exits_cfg": ExitsConfig(), "entry_block_reason": None, "atr_pct": None,
          "funding_rate": None}
    with pytest.raises(ValueError, match="PF_ETHUSD"):
        decide(Signal("PF_ETHUSD", SignalSide.LONG, 1.0, "t"), **kw)
    with pytest.raises(ValueError, match="sizing"):
        decide(Signal("PF_XBTUSD", SignalSide.LONG, 1.0, "t"), sizing="kelly", **kw)
