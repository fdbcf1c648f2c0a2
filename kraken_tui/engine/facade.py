"""The one facade both front ends (console and ``--no-ui``) and the ctl socket use to see and drive the engine.

Owns: the read-only state snapshot types, the discrete event type, and the ``EngineControl`` protocol.
A snapshot is immutable and internally consistent (built in one step
of the event loop), cheap to take at 4-10 Hz; events arrive through listeners called on the engine's
event loop, which must not block (a front end queues or posts them).
Units: prices USD, sizes contracts (Decimal), P&L and fees USD (Decimal), funding rates relative per
hour (float), distances as fractions (0.25 = 25 %), times UTC epoch milliseconds (``_ms``).
The manual actions' request and answer types (``engine.manual``) are re-exported here for the front ends.
Must not import: textual, the client, the journal.
Reference: docs/architecture.md ("Data flow", "The operator state machine").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from kraken_tui.domain import ZERO, Candle, PositionSide, Side
from kraken_tui.engine.liquidation import RiskLevel
from kraken_tui.engine.manual import (
    CancelOrder,
    CancelTakeProfits,
    EditOrder,
    ManualAction,
    ManualClose,
    ManualOrder,
    ManualPreview,
    ManualResult,
    MoveStopTo,
    Reprotect,
    SentOrder,
)
from kraken_tui.engine.operator import OperatorState, TransitionSource

__all__ = [
    "CHART_TIMEFRAMES",
    "AccountView",
    "CancelOrder",
    "CancelTakeProfits",
    "EditOrder",
    "ManualClose",
    "ManualOrder",
    "MoveStopTo",
    "Reprotect",
    "SentOrder",
    "DeadManView",
    "EngineControl",
    "EngineEvent",
    "EngineMode",
    "EngineSnapshot",
    "EventKind",
    "EventListener",
    "FeedView",
    "FlattenProgress",
    "FlattenReport",
    "ManualAction",
    "ManualPreview",
    "ManualResult",
    "MarketStateView",
    "NotifyView",
    "OrderView",
    "PositionView",
    "RiskLevel",
    "Severity",
    "SignalView",
    "WarmupView",
]


#: Timeframes the engine builds for the console's price chart (besides the strategy's), shortest first.
CHART_TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h")


class EngineMode(StrEnum):
    """Where prices come from and where orders go (the ``mode`` key of ``ctl status --json``)."""

    PAPER = "paper"
    REPLAY = "replay"
    LIVE = "live"
    BACKTEST = "backtest"


class EventKind(StrEnum):
    """Kinds of discrete engine events (one headless output line each)."""

    SIGNAL = "signal"
    ORDER = "order"
    FILL = "fill"
    FUNDING = "funding"
    ALERT = "alert"
    RISK_REJECTION = "rejection"
    STATE_CHANGE = "state"
    RECONCILIATION = "reconcile"
    FLATTEN = "flatten"
    FEED = "feed"
    ERROR = "error"
    INFO = "info"


class Severity(StrEnum):
    """How loud an event is: the console rings the bell on ``warning`` fills/rejections and ``critical``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One discrete event: what happened, in one human sentence, plus machine-readable details.

    Attributes:
        ts_ms: when it happened (UTC ms; engine clock, which is the data clock in replay/backtest).
        kind: the category.
        message: a complete sentence for people ("PF_ETHUSD long 1.2 @ 2531.5 filled (entry)").
        symbol: the instrument it concerns, if any.
        severity: info / warning / error / critical.
        data: JSON-serialisable details (str/int/float/bool/None, lists and dicts of them; Decimals as str).
    """

    ts_ms: int
    kind: EventKind
    message: str
    symbol: str | None = None
    severity: Severity = Severity.INFO
    data: Mapping[str, Any] = field(default_factory=dict)


EventListener = Callable[[EngineEvent], None]
"""Called on the engine's event loop for every event; must return quickly and never raise."""


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position as the front ends show it.

    ``upnl_pct`` is unrealized P&L over entry notional, percent; ``leverage_x`` is notional / equity;
    ``liq_distance`` is |mark - liq| / mark as a fraction (None when no liquidation price exists, never a
    silent zero); ``funding_accrued_usd`` is funding accrued on this position since it opened (positive =
    received); ``external`` marks a position the engine adopted from the exchange (not opened by it);
    ``price_decimals`` is the decimals of the instrument's tick (``domain.price_decimals``; None unknown), the
    one rule for how its prices are shown.
    """

    symbol: str
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    upnl_usd: Decimal
    upnl_pct: float
    leverage_x: float
    liq_price: Decimal | None
    liq_distance: float | None
    risk_level: RiskLevel
    funding_accrued_usd: Decimal = ZERO
    opened_ts_ms: int | None = None
    external: bool = False
    stop_price: Decimal | None = None
    take_profits_left: int = 0
    price_decimals: int | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    """An open order (trigger orders included). ``purpose`` is the engine's label: entry, stop, tp1..tp4,
    trailing, time, signal, flatten, manual, external. ``price_decimals``: the decimals of the instrument's
    tick (None unknown)."""

    order_id: str
    cli_ord_id: str | None
    symbol: str
    side: Side
    order_type: str
    size: Decimal
    filled: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    reduce_only: bool
    purpose: str
    ts_ms: int | None = None
    price_decimals: int | None = None


@dataclass(frozen=True, slots=True)
class MarketStateView:
    """Latest market state of one symbol. ``funding_rate`` and ``predicted_funding_rate`` are relative
    per hour (spec §8.3); annualised = rate x 24 x 365. ``basis_bps`` = (mark - index) / index x 1e4.
    ``last_update_ms`` is the engine-clock time of the last market message for this symbol.
    ``change_24h_pct`` is the change of the last price over 24 hours, percent (None when not known).
    ``price_decimals`` is the decimals of the instrument's tick (None unknown)."""

    symbol: str
    mark_price: float | None = None
    index_price: float | None = None
    last_price: float | None = None
    bid: float | None = None
    ask: float | None = None
    funding_rate: float | None = None
    predicted_funding_rate: float | None = None
    next_funding_ts_ms: int | None = None
    basis_bps: float | None = None
    last_update_ms: int | None = None
    change_24h_pct: float | None = None
    price_decimals: int | None = None


@dataclass(frozen=True, slots=True)
class WarmupView:
    """The strategy's indicator warm-up on one symbol: ``bars`` closed candles of ``timeframe`` held of the
    ``bars_needed`` (``Strategy.warmup_bars``) before a signal is possible; ``next_close_ms`` is when the
    forming candle closes (engine clock, UTC ms; None when unknown). Ready when bars >= bars_needed."""

    symbol: str
    timeframe: str
    bars: int
    bars_needed: int
    next_close_ms: int | None = None

    @property
    def ready(self) -> bool:
        """True when the indicators have the history they need."""
        return self.bars >= self.bars_needed


@dataclass(frozen=True, slots=True)
class SignalView:
    """A recent signal and what became of it: ``action`` is e.g. "entry sent", "exit sent", "ignored:
    flat", or "rejected" with ``rejection_reason`` from the risk gate."""

    ts_ms: int
    symbol: str
    side: str
    confidence: float
    strategy: str
    reason: str
    action: str
    rejection_reason: str | None = None


@dataclass(frozen=True, slots=True)
class AccountView:
    """Account figures (USD). ``margin_ratio`` = maintenance margin / margin equity (fraction; 1.0 means
    liquidation). ``equity_history`` holds (ts_ms, equity_usd) samples for the sparkline, oldest first
    (equity at mark at each signal-timeframe bar). "today" is the current UTC day.

    ``equity_usd`` is the last account report's margin equity; ``equity_at_mark_usd`` is that equity re-marked
    with the latest marks (report equity - report unrealized P&L + the positions' unrealized P&L at mark;
    Kraken Futures docs, "Multi-collateral margin"), None before the first report; ``drawdown_pct`` is from
    the peak to the equity at mark, percent. ``day_start_equity_usd`` is the equity at the start of the UTC day
    (the daily loss limit's base; None until known); ``initial_margin_usd`` the initial margin of the open
    positions in the last report."""

    equity_usd: Decimal = ZERO
    starting_equity_usd: Decimal = ZERO
    peak_equity_usd: Decimal = ZERO
    realized_pnl_today_usd: Decimal = ZERO
    unrealized_pnl_usd: Decimal = ZERO
    fees_today_usd: Decimal = ZERO
    funding_today_usd: Decimal = ZERO
    available_margin_usd: Decimal = ZERO
    maintenance_margin_usd: Decimal = ZERO
    margin_ratio: float | None = None
    drawdown_pct: float = 0.0
    equity_history: tuple[tuple[int, float], ...] = ()
    equity_at_mark_usd: Decimal | None = None
    day_start_equity_usd: Decimal | None = None
    initial_margin_usd: Decimal = ZERO

    @property
    def marked_equity_usd(self) -> Decimal:
        """The equity to show: ``equity_at_mark_usd`` when known, else the report's ``equity_usd`` (USD)."""
        return self.equity_at_mark_usd if self.equity_at_mark_usd is not None else self.equity_usd


@dataclass(frozen=True, slots=True)
class FeedView:
    """Market-data feed health: ``status`` is one of connecting, live, stale, reconnecting, ended;
    ``age_s`` is seconds since the last market message (wall clock)."""

    status: str = "connecting"
    age_s: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DeadManView:
    """Dead man's switch (cancelallordersafter): ``trigger_ts_ms`` is when Kraken would cancel all orders
    if not refreshed (None when off or unknown)."""

    enabled: bool = False
    timeout_s: int = 0
    trigger_ts_ms: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class FlattenProgress:
    """Where a running (or the last) flatten is. ``phase``: cancelling, closing, verifying, retrying,
    done, failed. ``requests`` counts REST calls made so far."""

    phase: str
    started_ms: int
    round: int = 1
    positions_remaining: int = 0
    orders_remaining: int = 0
    requests: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FlattenReport:
    """Result of a flatten: ``flat`` is True only when the exchange itself reported no positions and no
    open orders. ``closed`` lists (symbol, signed size closed); ``requests`` counts REST calls;
    ``first_cancel_ms`` and ``elapsed_ms`` are wall-clock milliseconds from the start of the flatten."""

    flat: bool
    rounds: int
    requests: int
    cancelled_orders: int
    closed: tuple[tuple[str, Decimal], ...]
    elapsed_ms: float
    first_cancel_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NotifyView:
    """Outgoing notifications (``[notify]`` channels): ``channels`` configured; ``failing`` True while the last
    send to some channel failed after its retries; ``detail`` says which and why (channel URLs masked,
    ``scheme://***``); ``sent``/``dropped`` counts (dropped = queue full or over the per-minute cap);
    ``queued`` waiting now."""

    channels: int = 0
    failing: bool = False
    detail: str = ""
    sent: int = 0
    dropped: int = 0
    queued: int = 0


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """Everything a front end draws, taken at one instant (``ts_ms``, engine clock).

    ``state_reason`` says why the state was entered; ``entry_blockers`` maps a blocker name (stale market
    data, reconciliation mismatch, daily loss limit) to its detail; ``rate_limit_headroom`` is the
    fraction (0..1) of the REST cost budget available now; ``synthetic`` is True when prices are
    synthetic; ``signals`` and ``events`` are the most recent ones, newest last; ``warmup`` has one entry per
    traded symbol of the strategy (empty when the engine does not say).
    """

    ts_ms: int
    mode: EngineMode
    synthetic: bool
    state: OperatorState
    state_reason: str
    entry_blockers: Mapping[str, str] = field(default_factory=dict)
    account: AccountView = field(default_factory=AccountView)
    positions: tuple[PositionView, ...] = ()
    orders: tuple[OrderView, ...] = ()
    markets: tuple[MarketStateView, ...] = ()
    signals: tuple[SignalView, ...] = ()
    events: tuple[EngineEvent, ...] = ()
    feed: FeedView = field(default_factory=FeedView)
    dead_man: DeadManView = field(default_factory=DeadManView)
    rate_limit_headroom: float | None = None
    flatten: FlattenProgress | None = None
    strategy: str = ""
    journal_path: str | None = None
    finished: bool = False
    profile: str = ""
    paper_account: str | None = None
    notify: NotifyView = field(default_factory=NotifyView)
    warmup: tuple[WarmupView, ...] = ()


class EngineControl(Protocol):
    """What the console, the headless runner and the ctl socket may call. All methods run on the
    engine's event loop. Operator acts take a reason (shown and journaled) and a source."""

    def snapshot(self) -> EngineSnapshot:
        """The current state; cheap (no I/O), safe to call at 10 Hz."""
        ...

    def add_listener(self, listener: EventListener) -> None:
        """Receive every later ``EngineEvent``."""
        ...

    def remove_listener(self, listener: EventListener) -> None:
        """Stop receiving events (unknown listeners are ignored)."""
        ...

    def pause(self, reason: str, source: TransitionSource) -> None:
        """Block entries (RUNNING -> PAUSED); exits keep working. A no-op when already paused.

        Raises:
            TransitionRefused: from FLATTENING or HALTED.
        """
        ...

    def resume(self, reason: str, source: TransitionSource) -> None:
        """PAUSED -> RUNNING.

        Raises:
            TransitionRefused: from any other state.
        """
        ...

    def reset(self, reason: str, source: TransitionSource) -> None:
        """HALTED -> PAUSED (entries still blocked until ``resume``); ``reason`` must be non-empty.

        Raises:
            TransitionRefused: when not HALTED or the reason is empty.
        """
        ...

    async def flatten(self, reason: str, source: TransitionSource) -> FlattenReport:
        """Cancel every order, close every position the exchange reports, verify flat, then HALTED.
        Never raises for exchange errors: the report says what failed and the state is HALTED."""
        ...

    def begin_flatten(self, reason: str, source: TransitionSource) -> asyncio.Future[FlattenReport]:
        """``flatten`` started in this call, ahead of anything else waiting on the loop (the console's flatten
        key): FLATTENING is set before it returns; the future carries the report (a flatten already running:
        its future)."""
        ...

    async def flatten_launched(self, within_s: float) -> None:
        """Return once the running flatten's first request is on its way (at once when none is starting), or
        after ``within_s`` seconds at most (a front end holds its own work on the loop until then)."""
        ...

    def chart_candles(self, symbol: str, timeframe: str, *, bars: int = 500) -> tuple[Candle, ...]:
        """The last ``bars`` candles of ``symbol`` (trade price, USD; volume in contracts) in ``timeframe`` (one of
        ``CHART_TIMEFRAMES`` or the strategy's), closed ones then the forming one, oldest first; read only, no I/O.

        Raises:
            ValueError: a symbol the engine does not trade or a timeframe it does not build (the message says
                which it has).
        """
        ...

    def preview_manual(self, action: ManualAction) -> ManualPreview:
        """Check and round a manual action on the state now, with no side effect (``engine.manual.preview``):
        what would be sent (after tick and lot rounding, ``notes`` saying what moved), or why it is refused
        (HALTED, unknown symbol, size under the lot or above the position, stop on the wrong side of the market,
        a position or order gone meanwhile, the risk gate for an opening order: ``gate_refusal``)."""
        ...

    async def manual(self, action: ManualAction, source: TransitionSource, *,
                     override: bool = False) -> ManualResult:
        """Carry out a manual action (``engine.manual_desk.ManualDesk``): previewed again, sent on the engine's
        job worker, journaled as an operator action with ``source`` and published with the exchange's answer.
        Allowed while PAUSED, refused while HALTED or FLATTENING. ``override`` sends an opening order the risk
        gate refused (the front ends ask for a typed confirmation in live mode; the engine journals it).
        Never raises for bad input or exchange errors: the result says what happened."""
        ...
