"""Sizing and guards: the leverage ceiling, 0 = off for the floor and the daily
loss limit, the cost check from ATR with slippage, the win-rate leverage cap and confidence-scaled size."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kraken_tui.config import Config, ExitsConfig, RiskConfig, load_config
from kraken_tui.domain import Instrument, InstrumentType, MarginLevel
from kraken_tui.engine.decide import Enter, Reject, decide
from kraken_tui.engine.guards import EquityGuard, Kill, Pause
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.risk import AccountSnapshot, allowed_leverage, win_rate_cap
from kraken_tui.engine.signals import Signal, SignalSide

XBT = Instrument(
    "PF_XBTUSD", InstrumentType.LINEAR, D("1"), D("1"), D("0.0001"),
    margin_levels=(MarginLevel(D("0"), D("0.02"), D("0.01")),),
)
ACCOUNT = AccountSnapshot(equity_usd=D("10000"), collateral_usd=D("10000"))


def run(signal, *, risk=None, atr_pct=None, account=ACCOUNT, **kw):
    return decide(signal, instrument=XBT, position_size=D(0), mark_price=D("100000"), index_price=D("100000"),
                  account=account, risk_cfg=risk or RiskConfig(), exits_cfg=ExitsConfig(), entry_block_reason=None,
                  atr_pct=atr_pct, funding_rate=None, **kw)


def test_leverage_cap_of_8_under_a_ceiling_of_10(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[risk]\nleverage_cap = 8\nleverage_ceiling = 10\n")
    cfg = load_config(p)
    assert (cfg.risk.leverage_cap, cfg.risk.leverage_ceiling) == (8, 10)
    # the ceiling also holds whichever order the keys come in
    p.write_text("[risk]\nleverage_ceiling = 10\nleverage_cap = 11\n")
    with pytest.raises(Exception, match="leverage_ceiling"):
        load_config(p)


def test_zero_switches_the_floor_and_the_daily_loss_limit_off():
    cfg = Config.model_validate({"operator": {"equity_floor_pct": 0, "daily_loss_limit_pct": 0}})
    g = EquityGuard(cfg.operator.equity_floor_pct, cfg.operator.daily_loss_limit_pct)
    g.start(D("10000"))
    assert g.check(D("10000"), OperatorState.RUNNING) == []
    # a 90 % loss: neither a kill nor a pause
    assert g.check(D("1000"), OperatorState.RUNNING) == []
    on = EquityGuard(80, 5)
    on.start(D("10000"))
    on.check(D("10000"), OperatorState.RUNNING)
    assert isinstance(on.check(D("9400"), OperatorState.RUNNING)[0], Pause)
    assert isinstance(on.check(D("7000"), OperatorState.RUNNING)[0], Kill)



@pytest.mark.parametrize(("floor", "daily", "off"), [(0, 0, ["equity floor", "daily loss limit"]),
                                                     (0, 5, ["equity floor"]), (80, 0, ["daily loss limit"]),
                                                     (80, 5, [])])
def test_a_guard_switched_off_is_announced_loudly_at_start(floor, daily, off):
    from kraken_tui.config import OperatorConfig
    from kraken_tui.domain import Account
    from kraken_tui.engine.account import AccountTracker
    from kraken_tui.engine.account_watch import AccountWatch
    from kraken_tui.engine.context import EngineIO
    from kraken_tui.engine.facade import EventKind, Severity
    from kraken_tui.engine.market import MarketState
    from kraken_tui.engine.operator import OperatorStateMachine

    events = []
    io = EngineIO(lambda kind, msg, **kw: events.append((kind, msg, kw.get("severity"))), lambda: 0,
                  None, None, None)  # type: ignore[arg-type]
    acct = AccountTracker()
    c = D("10000")
    acct.set_account(Account(c, c, c, c, c, D(0), D(0), D(0), D(0), D(0), {"USD": c}))
    watch = AccountWatch(io, OperatorConfig(equity_floor_pct=floor, daily_loss_limit_pct=daily),
                         sm=OperatorStateMachine(lambda: 0), account=acct, market=MarketState(["PF_XBTUSD"], ["1m"]),
                         instruments={"PF_XBTUSD": XBT}, guards=None)  # type: ignore[arg-type]
    watch.start()
    assert watch.equity.starting_usd == c
    warned = [m for k, m, sev in events if k is EventKind.ALERT and sev is Severity.WARNING and "GUARD OFF" in m]
    assert len(warned) == len(off)
    for what, msg in zip(off, warned, strict=True):
        assert f"the {what} is switched off" in msg and "= 0" in msg

def test_cost_check_uses_atr_not_the_first_take_profit():
    s = Signal("PF_XBTUSD", SignalSide.LONG, 1.0, "t")
    # ATR 0.1 % of price: one ATR does not exceed 1.5 x (0.10 % fees + 0.04 % slippage) = 0.21 %
    [r] = run(s, atr_pct=0.1)
    assert isinstance(r, Reject) and r.reason.startswith("expected move 0.100% does not exceed 1.5 x costs 0.140%")
    # ATR 0.5 %: covered
    [e] = run(s, atr_pct=0.5)
    assert isinstance(e, Enter)
    # the strategy's own target wins over ATR
    [r] = run(Signal("PF_XBTUSD", SignalSide.LONG, 1.0, "t", {"target_move_pct": 0.2}), atr_pct=5.0)
    assert isinstance(r, Reject)


def test_win_rate_below_40_pct_caps_leverage_at_2x():
    cfg = RiskConfig(leverage_cap=5, vol_band_leverage=[5, 5, 5])
    assert win_rate_cap(cfg, 12, 4) == (D(2), "win rate 33.3% below 40%")
    assert win_rate_cap(cfg, 12, 5) is None  # 41.7 %
    assert win_rate_cap(cfg, 9, 0) is None  # fewer than win_rate_min_trades closed
    assert allowed_leverage(cfg, 0.5, 0, 0.0, 12, 4) == (D(2), "win rate 33.3% below 40%")
    assert allowed_leverage(cfg, 0.5, 0, 0.0, 12, 6)[0] == D(5)
    off = RiskConfig(leverage_cap=5, vol_band_leverage=[5, 5, 5], win_rate_floor_pct=0)
    assert allowed_leverage(off, 0.5, 0, 0.0, 12, 0)[0] == D(5)
    # through decide: the account's closed trades reach the gate
    losing = AccountSnapshot(D("10000"), D("10000"), closed_trades=20, winning_trades=2)
    [e] = run(Signal("PF_XBTUSD", SignalSide.LONG, 1.0, "t"), risk=cfg, account=losing)
    assert isinstance(e, Enter) and e.leverage_x == D(2)


def test_size_grows_with_confidence():
    risk = RiskConfig(max_position_notional_usd=1e9, leverage_cap=5, vol_band_leverage=[5, 5, 5])

    def size(conf, sized=True):
        [e] = run(Signal("PF_XBTUSD", SignalSide.LONG, conf, "t"), risk=risk, confidence_sized=sized)
        assert isinstance(e, Enter)
        return e.size

    # full risk size: 10000 x 1 % / (100000 x 2 %) = 0.05; x 0.7 and x 0.9 with confidence
    assert size(1.0) == D("0.05")
    assert size(0.9) == D("0.045")
    assert size(0.7) == D("0.035")
    assert size(0.2) == D("0.025")  # never below min_confidence_size_pct (50 %)
    assert size(0.7, sized=False) == D("0.05")


@pytest.mark.parametrize("action", ["close", "pause", "alert"])
def test_basis_guard_after_entry(action):
    from kraken_tui.engine.guards import BASIS_BLOCKER, BasisGuard, Block, ClosePosition, Notify, Unblock

    g = BasisGuard(50, action)
    assert g.check("PF_XBTUSD", 100_400, 100_000, held=True) == []  # 40 bps: within
    assert g.check("PF_XBTUSD", 100_600, 100_000, held=False) == []  # no position: entries are decide's job
    acts = g.check("PF_XBTUSD", 100_600, 100_000, held=True)  # 60 bps with a position
    assert isinstance(acts[0], Notify) and "basis 60.0 bps exceeds max 50 bps" in acts[0].message
    kinds = [type(a) for a in acts[1:]]
    assert kinds == {"close": [ClosePosition], "pause": [Block], "alert": []}[action]
    assert g.check("PF_XBTUSD", 100_700, 100_000, held=True) == []  # once per blow-out
    back = g.check("PF_XBTUSD", 100_100, 100_000, held=True)
    assert back == ([Unblock(BASIS_BLOCKER)] if action == "pause" else [])
    # blown out again, then the position leaves (its stop, or the close): still blown out until the basis is back
    assert len(g.check("PF_XBTUSD", 100_600, 100_000, held=True)) == {"close": 2, "pause": 2, "alert": 1}[action]
    assert g.check("PF_XBTUSD", 100_600, 100_000, held=False) == [] and g.blown == {"PF_XBTUSD"}
    assert g.check("PF_XBTUSD", 100_100, 100_000, held=False) == ([Unblock(BASIS_BLOCKER)] if action == "pause" else [])
    assert g.blown == set()
