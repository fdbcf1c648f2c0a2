"""The account's risk over time: equity checks (peak, daily loss limit, equity floor), the UTC day rollover,
liquidation alerts per position, the equity history, and the risk gate's account snapshot.

Owns: ``AccountWatch``. It runs the guards of ``engine.guards`` (``EquityGuard``, ``LiquidationGuard``) on the
figures it reads from the account and the market and hands their actions to a ``guards.GuardApplier``.
Equity is the flex account's margin equity re-marked with the latest marks plus the inverse margin accounts of
the traded PI_ coins valued at their coins' marks (``guards.equity_at_mark``; Kraken Futures docs,
"Multi-collateral margin", docs/kraken-futures-api.md §4.6); liquidation estimates follow
docs/kraken-futures-api.md §9 (``views.liquidation``). Closed trades and wins for the win-rate leverage cap count
a trade once, open to flat (``trade_tally.TradeTally``).
Units: equity and P&L USD (Decimal), percentages 0-100, times UTC ms (the engine clock).
Must not import: textual, the client.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from decimal import Decimal

from kraken_tui.config import OperatorConfig
from kraken_tui.domain import ZERO, Fill, Instrument, Position
from kraken_tui.domain.money import is_inverse_symbol
from kraken_tui.engine import views
from kraken_tui.engine.account import AccountTracker, FillOutcome
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.guards import (
    BasisGuard,
    EquityGuard,
    GuardApplier,
    LiquidationGuard,
    coin_accounts_usd,
    equity_at_mark,
)
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.risk import AccountSnapshot
from kraken_tui.engine.trade_tally import TradeTally
from kraken_tui.journal.records import EquitySnapshot

__all__ = ["EQUITY_HISTORY_POINTS", "AccountWatch"]

#: Equity points kept for the console's equity curve (one per signal-timeframe bar).
EQUITY_HISTORY_POINTS = 240


class AccountWatch:
    """The account's risk over time (module docstring).

    Args:
        io: events, clock and journal (``context.EngineIO``).
        op: ``[operator]`` (``equity_floor_pct``, ``daily_loss_limit_pct``).
        sm: the operator state machine (the guards look at its state).
        account, market, instruments: what the figures are read from.
        guards: carries out the guards' actions.

    Attributes:
        equity: the equity floor and daily loss limit (``guards.EquityGuard``; starting and peak equity).
        liquidation: the liquidation alert guard (``guards.LiquidationGuard``).
        tally: closed trades (open to flat), wins and the loss streak (``trade_tally.TradeTally``; the risk
            gate's win-rate leverage cap and loss-streak cut), also read as ``closed_trades``,
            ``winning_trades`` and ``consecutive_losses``.
        equity_history: (engine clock UTC ms, equity USD) per signal-timeframe bar, the last
            ``EQUITY_HISTORY_POINTS``.
    """

    def __init__(self, io: EngineIO, op: OperatorConfig, *, sm: OperatorStateMachine, account: AccountTracker,
                 market: MarketState, instruments: Mapping[str, Instrument], guards: GuardApplier) -> None:
        self.io, self.sm, self.account, self.market, self.instruments = io, sm, account, market, instruments
        self.guards = guards
        self.op = op
        self.equity = EquityGuard(op.equity_floor_pct, op.daily_loss_limit_pct)
        self.liquidation = LiquidationGuard()
        self.basis: BasisGuard | None = None
        """The basis guard after entry (``guards.BasisGuard``); set by the engine from ``[risk]``."""
        self.tally = TradeTally()
        self.equity_history: deque[tuple[int, float]] = deque(maxlen=EQUITY_HISTORY_POINTS)
        self._valued: set[str] = set()
        """Coins whose inverse margin account is counted in the equity (valued at a known price)."""

    def equity_at_mark(self) -> Decimal | None:
        """Total equity (USD) re-marked with the latest marks: the flex account plus the inverse margin accounts
        valued at their coins' marks (``guards.equity_at_mark``). An inverse margin account counted for the
        first time (its coin's price just became known) joins the starting, peak and day-start equity as
        capital (``EquityGuard.add_capital``), so it is never taken for a gain."""
        values = coin_accounts_usd(self.account, self.market)
        for coin in values.keys() - self._valued:
            self.equity.add_capital(values[coin])
            self._valued.add(coin)
        return equity_at_mark(self.account, self.market)

    def start(self) -> None:
        """The engine started: the total equity at mark now (flex + inverse margin accounts) is the starting and
        peak equity. A guard switched off (``[operator] equity_floor_pct`` or ``daily_loss_limit_pct`` = 0) is
        announced as a WARNING event."""
        self.equity.start(self.equity_at_mark() or self.account.equity_usd or ZERO)
        for key, value, what in (("equity_floor_pct", self.op.equity_floor_pct, "equity floor"),
                                 ("daily_loss_limit_pct", self.op.daily_loss_limit_pct, "daily loss limit")):
            if value <= 0:
                self.io.emit(EventKind.ALERT, f"GUARD OFF: the {what} is switched off ([operator] {key} = 0); nothing stops "
                             "losses but the stops", severity=Severity.WARNING, data={"level": "HIGH"})

    def check_equity(self) -> None:
        """Peak equity, daily loss limit, equity floor (``guards.EquityGuard``) at the equity re-marked now.
        Run on every balances message, every mark of a symbol with a position (the exchange pushes balances
        when they change, not at every mark), after each REST account read and reconciliation pass."""
        self.guards.apply(self.equity.check(self.equity_at_mark(), self.sm.state))

    def roll_day(self, now_ms: int) -> None:
        """On the engine clock: at the UTC day rollover the day's starting equity is reset and a daily-loss
        pause ends (``EquityGuard.new_day``)."""
        if self.account.roll_day(now_ms):
            self.guards.apply(self.equity.new_day(self.equity_at_mark(), self.sm.state))

    def check_liquidation(self, pos: Position) -> None:
        """Alert (event + journal) when ``pos``'s liquidation risk enters HIGH or worse; the managed position
        remembers the level last seen (``ManagedPosition.risk_alerted``). Then the basis guard after entry
        (``check_basis``) on the same mark."""
        liq, dist, level = views.liquidation(pos, self.account, self.market, self.instruments)
        mp = self.account.managed.get(pos.symbol)
        if mp is not None:
            mp.risk_alerted = level.value
        self.guards.apply(self.liquidation.check(pos.symbol, liq, dist, level))
        self.check_basis(pos.symbol)

    def basis_blown(self, symbol: str) -> bool:
        """Whether the basis guard holds ``symbol`` as blown out (its marks must keep reaching ``check_basis``
        after the position is gone, so that a pause is lifted when the basis is back)."""
        return self.basis is not None and symbol in self.basis.blown

    def check_basis(self, symbol: str) -> None:
        """The basis guard after entry (``guards.BasisGuard``) on ``symbol``'s latest mark and index (USD)."""
        if self.basis is not None:
            self.guards.apply(self.basis.check(symbol, self.market.mark_price(symbol),
                                               self.market.index_price(symbol), self.account.signed_size(symbol) != 0))

    def note_fill(self, fill: Fill, outcome: FillOutcome) -> None:
        """A booked fill and what it did to its position (``AccountTracker.apply_fill``): the trade tally
        (``trade_tally.TradeTally``: a trade is open to flat, partial take-profits are parts of it; a win is a
        net P&L above 0). The fee is valued in USD (a PI_ coin fee at the fill price); the funding booked on
        the managed position counts when the fill closes it."""
        fee = fill.fee or ZERO
        fee_usd = fee * fill.price if is_inverse_symbol(fill.symbol) else fee
        mp = self.account.managed.get(fill.symbol)
        self.tally.fill(fill.symbol, outcome.before, outcome.after, outcome.realized_usd, fee_usd,
                        mp.funding_usd if mp is not None else ZERO)

    @property
    def consecutive_losses(self) -> int:
        """Closed trades in a row with a net loss (``TradeTally``)."""
        return self.tally.consecutive_losses

    @property
    def closed_trades(self) -> int:
        """Trades closed (open to flat) since start (``TradeTally``)."""
        return self.tally.closed_trades

    @property
    def winning_trades(self) -> int:
        """Closed trades with a net profit since start (``TradeTally``)."""
        return self.tally.winning_trades

    def risk_account(self, symbol: str | None = None) -> AccountSnapshot:
        """The risk gate's account snapshot for an entry in ``symbol`` (``views.risk_account``: the equity and
        collateral of the account margining it, positions at mark), with the loss streak and the drawdown of
        the total equity at mark from its peak."""
        eq = self.equity_at_mark() or self.account.equity_usd or ZERO
        snap = views.risk_account(self.account, self.market, self.instruments,
                                  consecutive_losses=self.consecutive_losses,
                                  drawdown_pct=self.equity.drawdown_pct(eq), symbol=symbol)
        return AccountSnapshot(snap.equity_usd, snap.collateral_usd, snap.positions, snap.consecutive_losses,
                               snap.drawdown_pct, self.closed_trades, self.winning_trades)

    def snapshot_equity(self) -> None:
        """Each signal-timeframe bar: the equity at mark into ``equity_history``, the report's equity into the
        journal (``EquitySnapshot`` with the marks of the open positions); nothing before the first report."""
        eq = self.account.equity_usd
        if eq is None:
            return
        marks = {s: m for s in self.account.positions if (m := self.market.mark_price(s))}
        self.equity_history.append((self.io.now_ms(), float(self.equity_at_mark() or eq)))
        self.io.write_soon(EquitySnapshot(self.io.now_ms(), eq, marks))
