"""Position views of a mixed PF_ + PI_ account: inverse P&L valued in USD, per-account liquidation estimates.

Sources: Kraken Support "Portfolio Management" (inverse PnL = (1/entry - 1/mark) x size in the coin) and
"Margining & Liquidations" (the estimated liquidation price); docs/kraken-futures-api.md §4.6 (PI_ contracts
are margined in their own coin account, apart from the multi-collateral PF_ account).
"""

from __future__ import annotations

from decimal import Decimal as D

from kraken_tui.domain import Account, Position, PositionSide, Ticker
from kraken_tui.engine import views
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.liquidation import RiskLevel
from kraken_tui.engine.market import MarketState
from kraken_tui.paper.instruments import build_instruments

INST = build_instruments(["PF_XBTUSD", "PI_XBTUSD"])


def _account(collateral: str, currencies: dict[str, D] | None = None) -> Account:
    c = D(collateral)
    return Account(c, c, c, c, c, D(0), D(0), D(0), D(0), D(0), currencies or {"usd": c})


def _setup(pf_mark: float, pi_mark: float) -> tuple[AccountTracker, MarketState]:
    acct = AccountTracker()
    acct.set_account(_account("10000"))
    acct.set_positions([
        Position("PF_XBTUSD", PositionSide.LONG, D("0.1"), D("100000"), ts_ms=1),
        Position("PI_XBTUSD", PositionSide.SHORT, D("1000"), D("100000"), ts_ms=1),
    ])
    market = MarketState(["PF_XBTUSD", "PI_XBTUSD"], ["1m"])
    market.on_ticker(Ticker("PF_XBTUSD", ts_ms=2, mark_price=pf_mark), now_ms=2)
    market.on_ticker(Ticker("PI_XBTUSD", ts_ms=2, mark_price=pi_mark), now_ms=2)
    return acct, market


def test_adopted_inverse_short_is_valued_in_coin_at_mark():
    acct, market = _setup(100_000.0, 100_070.0)
    pi = acct.positions["PI_XBTUSD"]
    v = views.position_view(pi, acct, market, INST)
    # (1/100 000 - 1/100 070) x -1 000 = -0.0000069951 XBT, x 100 070 = -0.70 USD (not -1 000 x 70 = -70 000)
    assert v.upnl_usd == D("-0.7")
    assert v.upnl_pct == -0.07  # of 1 000 USD notional
    assert v.leverage_x == 0.1  # 1 000 USD of contracts on 10 000 USD equity


def test_liquidation_estimates_do_not_mix_pf_and_pi_positions():
    acct, market = _setup(100_000.0, 100_070.0)
    pf, pi = acct.positions["PF_XBTUSD"], acct.positions["PI_XBTUSD"]
    # PF_ long 0.1 at 100 000, MM 0.5 % = 50 USD, C = 10 000 USD, no other PF_ position:
    # P = 100 000 - (10 000 - 50) / 0.1 = 500 USD (the PI_ short's figures do not enter)
    liq, dist, level = views.liquidation(pf, acct, market, INST)
    assert liq == D("500") and level is RiskLevel.LOW
    # PI_ short 1 000 USD contracts at 100 000, MM 1 %, collateral 10 000 USD at the mark = 0.0999300... XBT:
    # the denominator C - 1 000/100 000 - 0.01 x 1 000/100 000 > 0, so no positive price liquidates it
    liq, dist, level = views.liquidation(pi, acct, market, INST)
    assert liq is None and dist is None and level is RiskLevel.LOW


def test_inverse_liquidation_from_a_coin_balance():
    acct, market = _setup(100_000.0, 100_000.0)
    acct.set_account(_account("10000", {"usd": D("0"), "xbt": D("0.001")}))
    pi = acct.positions["PI_XBTUSD"]
    # C = 0.001 XBT, q = -1 000, e = 100 000, m = 1 %: P = -1 000 / (0.001 - 0.01 - 0.0001) = 109 890.11 USD
    liq, dist, level = views.liquidation(pi, acct, market, INST)
    assert liq is not None and round(liq, 2) == D("109890.11")
    assert level is RiskLevel.HIGH and round(dist, 4) == D("0.0989")  # 9.89 % above the mark of 100 000
