"""Inverse (PI_) entries are sized from their coin's inverse margin account, and the equity guards count the
coin accounts at the coin's mark.

Sources: docs/kraken-futures-api.md §4.6 (``fi_xbtusd``: single-collateral inverse margin accounts in the coin,
apart from the multi-collateral flex account) and §7.11 (balances ``futures``); Kraken Support "Portfolio
Management" (inverse P&L = (1/entry - 1/mark) x size in the coin, valued at the mark).
"""

from __future__ import annotations

from decimal import Decimal as D

from kraken_tui.config import RiskConfig
from kraken_tui.domain import Account, CoinAccount, Position, PositionSide, Ticker
from kraken_tui.domain.money import coin_account_equity_usd, symbol_settlement_currency
from kraken_tui.engine import views
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.guards import EquityGuard, Kill, coin_accounts_usd, equity_at_mark
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.risk import EntryRequest, evaluate_entry
from kraken_tui.kraken.ws_parse import parse_ws_message
from kraken_tui.paper.instruments import build_instruments

INST = build_instruments(["PF_XBTUSD", "PI_XBTUSD"])


def _flex(usd: str) -> Account:
    c = D(usd)
    return Account(c, c, c, c, c, D(0), D(0), D(0), D(0), D(0), {"USD": c})


def _setup(pi_mark: float, *, coin: str | None = "0.1", short: bool = True) -> tuple[AccountTracker, MarketState]:
    acct = AccountTracker()
    acct.set_account(_flex("10000"))
    if coin is not None:
        acct.set_coin_accounts([CoinAccount("xbt", D(coin))])
    if short:
        acct.set_positions([Position("PI_XBTUSD", PositionSide.SHORT, D("1000"), D("100000"), ts_ms=1)])
    market = MarketState(["PF_XBTUSD", "PI_XBTUSD"], ["1m"])
    market.on_ticker(Ticker("PI_XBTUSD", ts_ms=2, mark_price=pi_mark), now_ms=2)
    return acct, market


def test_coin_account_equity_hand_computed():
    # 0.1 XBT x 100 070 = 10 007 USD; a 1 000-contract short from 100 000: -1 000 x 70 / 100 000 = -0.7 USD
    assert coin_account_equity_usd(D("0.1"), [(D("-1000"), D("100000"))], D("100070")) == D("10006.3")
    # no position: the balance at the mark; a long of 2 000 from 40 000 at 50 000: +2 000 x 10 000 / 40 000 = 500
    assert coin_account_equity_usd(D("0.05"), [], D("50000")) == D("2500")
    assert coin_account_equity_usd(D("0.05"), [(D("2000"), D("40000"))], D("50000")) == D("3000")


def test_dated_inverse_future_settles_in_its_coin():
    assert symbol_settlement_currency("FI_XBTUSD_240628") == "xbt"
    assert symbol_settlement_currency("PI_ETHUSD") == "eth"


def test_guard_equity_counts_the_coin_account_at_mark():
    acct, market = _setup(100_070.0)
    # flex 10 000 USD (no PF_ position) + the XBT account 10 006.3 USD = 20 006.3 USD
    assert coin_accounts_usd(acct, market) == {"xbt": D("10006.3")}
    assert equity_at_mark(acct, market) == D("20006.3")
    # without a coin account report the PI_ P&L still counts with the flex account, as before
    acct2, market2 = _setup(100_070.0, coin=None)
    assert equity_at_mark(acct2, market2) == D("9999.3")


def test_equity_floor_fires_on_a_coin_account_loss():
    # start: flex 10 000 + 0.1 XBT at 100 000 = 20 000 USD, floor 60 % = 12 000 USD
    acct, market = _setup(100_000.0, short=False)
    guard = EquityGuard(60, 0)
    guard.start(equity_at_mark(acct, market))
    assert guard.starting_usd == D("20000")
    # XBT halves to 50 000: 10 000 + 5 000 = 15 000 USD: above the floor
    market.on_ticker(Ticker("PI_XBTUSD", ts_ms=3, mark_price=50_000.0), now_ms=3)
    assert guard.check(equity_at_mark(acct, market), OperatorState.RUNNING) == []
    # 0.1 XBT of losses booked in the coin account (balance 0.02 XBT) at 50 000: 10 000 + 1 000 = 11 000 < 12 000
    acct.set_coin_accounts([CoinAccount("xbt", D("0.02"))])
    (kill,) = guard.check(equity_at_mark(acct, market), OperatorState.RUNNING)
    assert isinstance(kill, Kill) and "11000.00 USD" in kill.reason
    # the flex account alone (10 000 USD) would never have crossed the floor of a 10 000 USD start: the
    # coin account's loss is what the guard sees
    assert guard.drawdown_pct(D("11000")) == 45.0


def test_capital_found_later_is_not_a_gain():
    guard = EquityGuard(50, 5)
    guard.start(D("10000"))
    guard.check(D("10000"), OperatorState.RUNNING)
    guard.add_capital(D("5000"))  # the XBT account valued for the first time
    assert (guard.starting_usd, guard.peak_usd, guard.day_start_usd) == (D("15000"), D("15000"), D("15000"))
    assert guard.check(D("15000"), OperatorState.RUNNING) == []


def test_pi_entry_is_sized_from_the_coin_account():
    # 0.1 XBT at a mark of 50 000 = 5 000 USD of equity in fi_xbtusd; the flex account holds 10 000 USD
    acct, market = _setup(50_000.0, short=False)
    snap = views.risk_account(acct, market, INST, symbol="PI_XBTUSD")
    assert snap.equity_usd == D("5000") and snap.collateral_usd == D("5000")
    # fixed fraction 20 %: 5 000 x 20 % = 1 000 USD = 1 000 contracts (2 000 if sized from the flex account)
    d = evaluate_entry(EntryRequest(INST["PI_XBTUSD"], PositionSide.LONG, D("50000")), snap,
                       RiskConfig(sizing="fixed", fixed_fraction_pct=20))
    assert d.approved and d.size == D("1000")
    # a PF_ entry still sees the flex account
    assert views.risk_account(acct, market, INST, symbol="PF_XBTUSD").equity_usd == D("10000")


def test_pi_entry_without_a_coin_account_is_refused_with_the_reason():
    acct, market = _setup(50_000.0, coin=None, short=False)
    snap = views.risk_account(acct, market, INST, symbol="PI_XBTUSD")
    d = evaluate_entry(EntryRequest(INST["PI_XBTUSD"], PositionSide.LONG, D("50000")), snap,
                       RiskConfig(sizing="fixed", fixed_fraction_pct=20))
    assert not d.approved and "XBT inverse margin account" in (d.reason or "")


def test_ws_balances_futures_section_gives_coin_accounts():
    ev = parse_ws_message({"feed": "balances_snapshot", "account": "a", "seq": 1, "timestamp": 5, "holding": {},
                        "futures": {"F-XBT:USD": {"name": "F-XBT:USD", "pair": "XBT/USD", "unit": "XBT",
                                                  "portfolio_value": 0.1003, "balance": 0.1,
                                                  "maintenance_margin": 0.0001, "initial_margin": 0.0002,
                                                  "available": 0.0998, "unrealized_funding": 0, "pnl": 0.0003,
                                                  "cash_value": 0}}})
    assert ev.coin_accounts == (CoinAccount("xbt", D("0.1"), D("0.1003"), D("0.0002"), D("0.0001"),
                                            D("0.0998")),)


def test_a_coin_account_priced_after_start_is_capital_counted_once():
    from kraken_tui.config import OperatorConfig
    from kraken_tui.engine.account_watch import AccountWatch
    from kraken_tui.engine.operator import OperatorStateMachine

    acct = AccountTracker()
    acct.set_account(_flex("10000"))
    acct.set_coin_accounts([CoinAccount("xbt", D("0.1"))])
    market = MarketState(["PI_XBTUSD"], ["1m"])
    watch = AccountWatch(None, OperatorConfig(equity_floor_pct=50, daily_loss_limit_pct=0),  # type: ignore[arg-type]
                         sm=OperatorStateMachine(lambda: 0), account=acct, market=market, instruments=INST,
                         guards=None)  # type: ignore[arg-type]
    watch.equity.start(watch.equity_at_mark())  # no XBT price yet: the flex account alone
    assert watch.equity.starting_usd == D("10000")
    market.on_ticker(Ticker("PI_XBTUSD", ts_ms=2, mark_price=100_000.0), now_ms=2)
    # a new UTC day right when the XBT account is first priced: 10 000 + 0.1 x 100 000, counted once
    watch.equity.new_day(watch.equity_at_mark(), OperatorState.RUNNING)
    assert (watch.equity.starting_usd, watch.equity.peak_usd, watch.equity.day_start_usd) == \
        (D("20000"), D("20000"), D("20000"))
    assert watch.equity_at_mark() == D("20000") and watch.equity.starting_usd == D("20000")
    assert watch.risk_account("PI_XBTUSD").drawdown_pct == 0.0


def test_pi_position_leverage_is_on_its_coin_account():
    # 1 000 USD of PI_XBTUSD contracts on 0.1 XBT at 100 070 (10 006.3 USD with the short's P&L): 0.0999x,
    # not 1 000 / 10 000 on the flex account
    acct, market = _setup(100_070.0)
    v = views.position_view(acct.positions["PI_XBTUSD"], acct, market, INST)
    assert round(v.leverage_x, 6) == round(1000 / 10006.3, 6)
