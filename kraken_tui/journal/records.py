"""The journal's own input records: the facts the engine reports that are not domain types.

Owns: small immutable dataclasses the writer accepts next to ``domain.Fill``, ``domain.Order`` and
``domain.OrderResult`` (run start/stop, operator actions and state changes, alerts, signals, order
intents, funding payments, equity snapshots, reconciliation diffs). Each validates itself on
construction and raises ``ValueError`` naming the field, so a bad record fails at the producer's
call site, never later inside the writer's transaction.
Units: times are UTC epoch milliseconds (``ts_ms``); money in USD and sizes in contracts are
``Decimal``; confidences are fractions 0..1.
Must not import: textual, aiosqlite, the engine, any Kraken JSON field name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kraken_tui.domain import OrderType, Side
from kraken_tui.domain.fastinit import fast_init
from kraken_tui.domain.flatten_ids import (
    FLATTEN_ID_PREFIX,
    FlattenSource,
    flatten_close_tag,
    flatten_source_of,
)

__all__ = [
    "DEFAULT_ACCOUNT",
    "Alert",
    "EquitySnapshot",
    "EventSource",
    "FLATTEN_ID_PREFIX",
    "FlattenSource",
    "FundingPayment",
    "IntentPurpose",
    "IntentRecord",
    "OperatorAction",
    "RECONCILIATION_OUTCOMES",
    "ReconciliationDiff",
    "ReconciliationOutcome",
    "RunStarted",
    "RunStopped",
    "SignalRecord",
    "StateChange",
    "flatten_close_tag",
    "flatten_source_of",
    "run_account",
]


class EventSource(StrEnum):
    """Who caused an operator action or state change: a console key, the ctl socket, or the engine."""

    KEY = "key"
    CTL = "ctl"
    AUTOMATIC = "automatic"


class IntentPurpose(StrEnum):
    """Why an order was sent. The closing intent's purpose becomes the trade's exit reason."""

    ENTRY = "entry"
    ADD = "add"
    STOP = "stop"
    TP1 = "tp1"
    TP2 = "tp2"
    TP3 = "tp3"
    TP4 = "tp4"
    TRAILING = "trailing"
    TIME = "time"
    SIGNAL = "signal"
    """A strategy's flat or reverse signal closing the position (reduce-only market order)."""
    FLATTEN = "flatten"
    MANUAL = "manual"
    RECONCILE = "reconcile"
    BASIS_GUARD = "basis_guard"
    """The basis guard's close (``[risk] basis_action = "close"``)."""
    EQUITY_FLOOR = "equity_floor"
    """A close of the equity floor's flatten (the backtest's; live, the flatten close of source ``floor``)."""


def _ts(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be epoch milliseconds (int >= 0), got {value!r}")


def _dec(name: str, value: Decimal | None, *, positive: bool = False, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{name} must be a finite Decimal, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _text(name: str, value: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


@dataclass(frozen=True, slots=True)
class RunStarted:
    """One start of kraken-tui (run, backtest). ``run_id`` is unique (e.g. uuid4 hex); every later
    record is tagged with it until ``RunStopped``. ``config_hash`` is a digest of the effective config
    (never the config itself: it may name key files). ``starting_equity_usd`` is the base of the
    return series used by Sharpe/Sortino and drawdown % (see ``stats``). ``account``: the exchange account the
    run trades (""  = the default for ``mode``, ``run_account``): every fill and funding payment of the run
    belongs to it, and trades are derived per account."""

    run_id: str
    ts_ms: int
    mode: str
    config_hash: str
    version: str
    starting_equity_usd: Decimal | None = None
    account: str = ""

    def __post_init__(self) -> None:
        _text("run_id", self.run_id)
        _ts("ts_ms", self.ts_ms)
        if self.mode not in ("paper", "replay", "live", "backtest"):
            raise ValueError(f"mode must be paper|replay|live|backtest, got {self.mode!r}")
        _text("config_hash", self.config_hash)
        _text("version", self.version)
        _dec("starting_equity_usd", self.starting_equity_usd, positive=True, optional=True)
        if not isinstance(self.account, str) or len(self.account) > 200:
            raise ValueError(f"account must be a string of at most 200 characters, got {self.account!r}")

    @property
    def account_name(self) -> str:
        """The account this run's facts belong to: ``account``, else ``run_account(mode, run_id)``."""
        return self.account or run_account(self.mode, self.run_id)


#: The account of journal rows that name none (runs of older versions outside a profile, fills without a run).
DEFAULT_ACCOUNT = "default"


def run_account(mode: str, run_id: str, profile: str = "") -> str:
    """The account a run of ``mode`` trades: paper and live runs trade their profile's account (``profile``, else
    ``DEFAULT_ACCOUNT``); a replay or a backtest trades an account of its own that starts empty and ends with the
    run, ``<profile or mode>#<first 8 characters of run_id>``, so two runs over the same data are two accounts."""
    if mode in ("replay", "backtest"):
        return f"{profile or mode}#{run_id[:8]}"
    return profile or DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class RunStopped:
    """The orderly end of the current run, with the reason (``exit-at-end``, ``quit``, ``halted``...)."""

    ts_ms: int
    reason: str

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        _text("reason", self.reason)


@dataclass(frozen=True, slots=True)
class StateChange:
    """The operator state machine moved (RUNNING, PAUSED, FLATTENING, HALTED), with why and who."""

    ts_ms: int
    state: str
    reason: str
    source: EventSource
    previous: str | None = None

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        if self.state not in ("RUNNING", "PAUSED", "FLATTENING", "HALTED"):
            raise ValueError(f"state must be RUNNING|PAUSED|FLATTENING|HALTED, got {self.state!r}")
        _text("reason", self.reason)
        object.__setattr__(self, "source", EventSource(self.source))


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """An operator command (pause, resume, flatten, reset, quit...) with its reason and source."""

    ts_ms: int
    action: str
    reason: str
    source: EventSource

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        _text("action", self.action)
        _text("reason", self.reason)
        object.__setattr__(self, "source", EventSource(self.source))


@dataclass(frozen=True, slots=True)
class Alert:
    """Something the operator was told (``level`` INFO|WARNING|HIGH|CRITICAL), optionally per symbol."""

    ts_ms: int
    level: str
    message: str
    symbol: str | None = None

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        if self.level not in ("INFO", "WARNING", "HIGH", "CRITICAL"):
            raise ValueError(f"level must be INFO|WARNING|HIGH|CRITICAL, got {self.level!r}")
        _text("message", self.message)


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A strategy signal and what became of it.

    ``side`` is long|short|flat; ``confidence`` a fraction 0..1; ``features`` a JSON-able dict of the
    inputs the strategy used; ``action`` what the engine did (``intent``, ``ignored``...) and
    ``rejection_reason`` why the risk gate refused it (None when accepted). ``signal_id`` is unique and
    is what an ``IntentRecord`` names to link a trade back to the signal that opened it.
    """

    ts_ms: int
    signal_id: str
    symbol: str
    side: str
    confidence: float
    strategy: str
    reason: str
    action: str
    features: dict[str, Any] = field(default_factory=dict)
    rejection_reason: str | None = None

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        _text("signal_id", self.signal_id)
        _text("symbol", self.symbol)
        if self.side not in ("long", "short", "flat"):
            raise ValueError(f"side must be long|short|flat, got {self.side!r}")
        if not isinstance(self.confidence, int | float) or not (0.0 <= self.confidence <= 1.0):
            raise ValueError(f"confidence must be within 0..1, got {self.confidence!r}")
        _text("strategy", self.strategy)
        _text("action", self.action)
        if not isinstance(self.features, dict):
            raise ValueError("features must be a dict")


@fast_init
@dataclass(frozen=True, slots=True)
class IntentRecord:
    """An order the engine decided to send, journaled *before* it is sent (cliOrdId is the link).

    Prices USD, size contracts, all exact. ``purpose`` says why (entry, stop, tp1..tp4, trailing, time,
    flatten...); ``signal_id`` names the signal that caused an entry.
    """

    ts_ms: int
    cli_ord_id: str
    symbol: str
    side: Side
    size: Decimal
    order_type: OrderType
    purpose: IntentPurpose
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    signal_id: str | None = None

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        _text("cli_ord_id", self.cli_ord_id)
        _text("symbol", self.symbol)
        if type(self.side) is not Side:  # the engine's records carry the enums already
            object.__setattr__(self, "side", Side(self.side))
        if type(self.order_type) is not OrderType:
            object.__setattr__(self, "order_type", OrderType(self.order_type))
        if type(self.purpose) is not IntentPurpose:
            object.__setattr__(self, "purpose", IntentPurpose(self.purpose))
        _dec("size", self.size, positive=True)
        _dec("limit_price", self.limit_price, positive=True, optional=True)
        _dec("stop_price", self.stop_price, positive=True, optional=True)


@fast_init
@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One realised hourly funding payment (spec §8.3, §4.18 ``funding rate change``).

    ``amount_usd`` is signed: positive = received, negative = paid (longs pay when the rate is
    positive); it is in the symbol's settlement currency as the account log books it: USD for PF_, the coin
    (XBT) for PI_ inverse contracts (``domain.money.symbol_settlement_currency``). ``funding_rate`` is the relative rate per hour (fraction) that produced it.
    """

    symbol: str
    ts_ms: int
    amount_usd: Decimal
    funding_rate: Decimal

    def __post_init__(self) -> None:
        _text("symbol", self.symbol)
        _ts("ts_ms", self.ts_ms)
        _dec("amount_usd", self.amount_usd)
        _dec("funding_rate", self.funding_rate)


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """Account equity (USD) at a moment, with the mark price (USD) of each symbol held.

    The marks feed the maximum adverse/favourable excursion of trades (see ``trades``).
    """

    ts_ms: int
    equity_usd: Decimal
    marks: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        _dec("equity_usd", self.equity_usd)
        for sym, px in self.marks.items():
            if not isinstance(px, int | float) or not math.isfinite(px) or px <= 0:
                raise ValueError(f"marks[{sym!r}] must be a positive finite price, got {px!r}")


class ReconciliationOutcome(StrEnum):
    """What was done about a reconciliation difference (the ``outcome`` of a ``ReconciliationDiff``).

    Position diffs: ``adopted`` (an exchange position the journal's fills do not explain, tagged
    external), ``synced`` (a size change the fills explain), ``closed`` (gone from the exchange),
    ``acknowledged`` (the operator accepted an adopted position), ``blocked`` (entries paused until the
    difference is resolved). Order diffs: ``filled`` / ``cancelled`` / ``rejected`` (a known order no
    longer open), ``lookup`` (asking orders/status), ``external`` (an order the engine did not place),
    ``left_resting`` (an earlier run's protective order kept), ``cancel_failed`` (its cancel was refused).
    """

    ADOPTED = "adopted"
    SYNCED = "synced"
    CLOSED = "closed"
    ACKNOWLEDGED = "acknowledged"
    BLOCKED = "blocked"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    LOOKUP = "lookup"
    EXTERNAL = "external"
    LEFT_RESTING = "left_resting"
    CANCEL_FAILED = "cancel_failed"


#: The values the ``outcome`` of a ``ReconciliationDiff`` may take (``ReconciliationOutcome``).
RECONCILIATION_OUTCOMES = frozenset(o.value for o in ReconciliationOutcome)


@dataclass(frozen=True, slots=True)
class ReconciliationDiff:
    """A difference between the journal's view and the exchange's (``kind``: position, order, fill),
    as text on both sides, and what was done about it (``action``, text for people: ``adopted as
    external, entries paused``...).

    The facts a program reads back are structured: ``outcome`` one of ``RECONCILIATION_OUTCOMES``
    (``ReconciliationOutcome``; None = not classified) and ``exchange_size`` the exchange's position in
    signed contracts (negative = short; exact Decimal) for position diffs that state it (adopted,
    synced, closed = 0, acknowledged), else None.

    Raises:
        ValueError: a field is out of its domain (names the field).
    """

    ts_ms: int
    kind: str
    symbol: str | None
    journal_value: str
    exchange_value: str
    action: str
    outcome: str | None = None
    exchange_size: Decimal | None = None

    def __post_init__(self) -> None:
        _ts("ts_ms", self.ts_ms)
        _text("kind", self.kind)
        _text("action", self.action)
        if self.outcome is not None and self.outcome not in RECONCILIATION_OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(RECONCILIATION_OUTCOMES)}, got {self.outcome!r}")
        _dec("exchange_size", self.exchange_size, optional=True)
