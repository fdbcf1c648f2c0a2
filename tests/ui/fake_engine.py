"""A deterministic ``EngineControl`` for console tests and demos: fixed positions, orders, markets,
signals and events at a frozen time, a real ``OperatorStateMachine`` for pause/resume/reset, and a
flatten that can be held in FLATTENING (``hold_flatten``) until the test releases it.

Units as in ``engine.facade``. Run ``python -m tests.ui.fake_engine [THEME] [--hold] [--adopted] [--stale] [--journal=PATH]`` to see the console on it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from kraken_tui.config import Config
from kraken_tui.domain import Candle, Instrument, InstrumentType, Order, Position, PositionSide, Side
from kraken_tui.engine.facade import (
    AccountView,
    DeadManView,
    EngineEvent,
    EngineMode,
    EngineSnapshot,
    EventKind,
    EventListener,
    FeedView,
    FlattenProgress,
    FlattenReport,
    MarketStateView,
    OrderView,
    PositionView,
    Severity,
    SignalView,
)
from kraken_tui.engine.liquidation import RiskLevel
from kraken_tui.engine.manual import (
    CancelOrder,
    DeskView,
    ManualAction,
    ManualClose,
    ManualPreview,
    ManualResult,
    preview,
)
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.engine.risk import AccountSnapshot

D = Decimal
#: The reconciliation entry blocker (``engine.reconcile.BLOCKER_NAME``) and a detail as the engine words it.
RECONCILIATION = "reconciliation mismatch"
ADOPTED = "PF_XBTUSD short 0.05 adopted as external (position not opened by the engine); resume acknowledges it"
#: 2024-07-01 12:00:00 UTC: the frozen engine and wall time of the fake.
T0_MS = 1_719_835_200_000
T0_S = T0_MS / 1000
#: The fake's instruments (ticks and lots as Kraken lists them).
INSTRUMENTS = {
    "PF_ETHUSD": Instrument("PF_ETHUSD", InstrumentType.LINEAR, D("0.1"), D("1"), D("0.001")),
    "PF_XBTUSD": Instrument("PF_XBTUSD", InstrumentType.LINEAR, D("1"), D("1"), D("0.0001")),
}


def frozen_clock() -> float:
    """The console clock used with the fake (UTC epoch seconds)."""
    return T0_S


def demo_positions() -> tuple[PositionView, ...]:
    """A long ETH with a stop and TP ladder, and a short XBT close to its liquidation price."""
    return (
        PositionView("PF_ETHUSD", PositionSide.LONG, D("1.2"), D("3400.5"), D("3421.0"), D("24.60"), 0.6,
                     0.41, D("2410.0"), 0.2955, RiskLevel.LOW, funding_accrued_usd=D("-0.84"),
                     opened_ts_ms=T0_MS - 3_600_000, stop_price=D("3332.5"), take_profits_left=4),
        PositionView("PF_XBTUSD", PositionSide.SHORT, D("0.05"), D("61000"), D("62950"), D("-97.50"), -3.2,
                     1.26, D("66100"), 0.05, RiskLevel.HIGH, funding_accrued_usd=D("1.10"),
                     opened_ts_ms=T0_MS - 7_200_000, stop_price=D("62220"), take_profits_left=2),
    )


def demo_snapshot(state: OperatorState = OperatorState.RUNNING, reason: str = "start") -> EngineSnapshot:
    """The fake's fixed snapshot (before any operator action)."""
    history = tuple((T0_MS - (60 - i) * 60_000, 10_000 + 40 * ((i * 7) % 11) - 3 * i) for i in range(60))
    return EngineSnapshot(
        ts_ms=T0_MS,
        mode=EngineMode.PAPER,
        synthetic=True,
        state=state,
        state_reason=reason,
        account=AccountView(
            equity_usd=D("9927.10"), starting_equity_usd=D("10000"), peak_equity_usd=D("10112.00"),
            realized_pnl_today_usd=D("12.30"), unrealized_pnl_usd=D("-72.90"), fees_today_usd=D("3.20"),
            funding_today_usd=D("0.26"), available_margin_usd=D("7811.40"), maintenance_margin_usd=D("61.30"),
            margin_ratio=0.0062, drawdown_pct=1.83, equity_history=history),
        positions=demo_positions(),
        orders=(
            OrderView("o-1", "kt-stop-eth", "PF_ETHUSD", Side.SELL, "stop", D("1.2"), D(0), None, D("3332.5"),
                      True, "stop", T0_MS - 3_590_000),
            OrderView("o-2", "kt-tp1-eth", "PF_ETHUSD", Side.SELL, "lmt", D("0.3"), D(0), D("3468.5"), None,
                      True, "tp1", T0_MS - 3_590_000),
            OrderView("o-3", "kt-stop-xbt", "PF_XBTUSD", Side.BUY, "stop", D("0.05"), D(0), None, D("62220"),
                      True, "stop", T0_MS - 7_190_000),
        ),
        markets=(
            MarketStateView("PF_ETHUSD", 3421.0, 3420.1, 3421.5, 3420.9, 3421.1, 0.0000125, 0.0000100,
                            T0_MS + 1_800_000, 2.6, T0_MS - 400, 1.25),
            MarketStateView("PF_XBTUSD", 62950.0, 62941.0, 62950.5, 62950.0, 62951.0, -0.0000310, -0.0000200,
                            T0_MS + 1_800_000, 1.4, T0_MS - 400, -0.48),
        ),
        signals=(
            SignalView(T0_MS - 7_200_000, "PF_XBTUSD", "short", 0.71, "ensemble", "ema cross down", "entry sent"),
            SignalView(T0_MS - 3_600_000, "PF_ETHUSD", "long", 0.64, "ensemble", "ema cross up", "entry sent"),
            SignalView(T0_MS - 600_000, "PF_ETHUSD", "long", 0.55, "ensemble", "trend", "rejected",
                       "max open positions (3) reached"),
        ),
        events=(
            EngineEvent(T0_MS - 7_200_000, EventKind.STATE_CHANGE, "RUNNING: start", None),
            EngineEvent(T0_MS - 3_599_000, EventKind.FILL, "PF_ETHUSD long 1.2 @ 3400.5 filled (entry)",
                        "PF_ETHUSD"),
            EngineEvent(T0_MS - 600_000, EventKind.RISK_REJECTION,
                        "PF_ETHUSD long entry rejected: max open positions (3) reached", "PF_ETHUSD",
                        Severity.WARNING),
            EngineEvent(T0_MS - 60_000, EventKind.ALERT, "PF_XBTUSD liquidation distance 5.0% (HIGH)", "PF_XBTUSD",
                        Severity.WARNING, {"level": "HIGH"}),
        ),
        feed=FeedView("live", 0.4),
        dead_man=DeadManView(False),
        rate_limit_headroom=0.92,
        strategy="ensemble",
        journal_path=None,
    )


class FakeEngine:
    """``EngineControl`` over ``demo_snapshot``; records every call in ``calls``.

    Args:
        hold_flatten: when True, ``flatten`` stays in FLATTENING until ``release_flatten()``.
        journal_path: reported in the snapshot (for the journal screen).
    """

    def __init__(self, *, hold_flatten: bool = False, journal_path: str | None = None) -> None:
        self.sm = OperatorStateMachine(lambda: T0_MS)
        self.calls: list[tuple[str, str, TransitionSource]] = []
        self.listeners: list[EventListener] = []
        self.base = replace(demo_snapshot(), journal_path=journal_path)
        self.flatten_progress: FlattenProgress | None = None
        self.flat = False
        self._hold = hold_flatten
        self._release = asyncio.Event()
        self._flatten_task: asyncio.Future[FlattenReport] | None = None
        self.extra_events: list[EngineEvent] = []
        self.manual_calls: list[tuple[ManualAction, TransitionSource, bool]] = []
        """Every ``manual`` call: (action, source, override)."""
        self.candles: dict[tuple[str, str], list[Candle]] = {}
        """Candles ``chart_candles`` answers with, by (symbol, timeframe), when set."""

    def snapshot(self) -> EngineSnapshot:
        snap = replace(self.base, state=self.sm.state, state_reason=self.sm.reason,
                       entry_blockers=self.sm.entry_blockers, flatten=self.flatten_progress,
                       events=self.base.events + tuple(self.extra_events))
        if self.flat:
            snap = replace(snap, positions=(), orders=())
        return snap

    def add_listener(self, listener: EventListener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def emit(self, event: EngineEvent) -> None:
        """Send ``event`` to the listeners and keep it in the snapshot."""
        self.extra_events.append(event)
        for listener in list(self.listeners):
            listener(event)

    def pause(self, reason: str, source: TransitionSource) -> None:
        self.calls.append(("pause", reason, source))
        self.sm.pause(reason, source)

    def resume(self, reason: str, source: TransitionSource) -> None:
        """Like ``Engine.resume``: also acknowledges an adopted position (clears the reconciliation blocker);
        from RUNNING with that blocker it only acknowledges."""
        self.calls.append(("resume", reason, source))
        pending = RECONCILIATION in self.sm.entry_blockers
        if not (pending and self.sm.state is OperatorState.RUNNING):
            self.sm.resume(reason, source)
        self.sm.clear_blocker(RECONCILIATION)

    def adopt_external(self, detail: str = ADOPTED) -> None:
        """What reconciliation does on an unexplained position (the XBT short): tag it external, block
        entries and pause."""
        self.base = replace(self.base, positions=tuple(replace(p, external=p.symbol == "PF_XBTUSD")
                                                       for p in self.base.positions))
        self.sm.block_entries(RECONCILIATION, detail)
        if self.sm.state is OperatorState.RUNNING:
            self.sm.pause(f"reconciliation: {detail}", TransitionSource.AUTOMATIC)

    def reset(self, reason: str, source: TransitionSource) -> None:
        self.calls.append(("reset", reason, source))
        self.sm.reset(reason, source)

    def desk_view(self) -> DeskView:
        """The manual preview's view of the fake's snapshot (risk and exits config defaults)."""
        snap = self.snapshot()
        positions = {p.symbol: Position(p.symbol, p.side, p.size, p.entry_price, mark_price=p.mark_price)
                     for p in snap.positions}
        orders = {o.order_id: Order(o.order_id, o.symbol, o.side, o.order_type, o.size, o.filled, o.limit_price,
                                    o.stop_price, reduce_only=o.reduce_only, cli_ord_id=o.cli_ord_id)
                  for o in snap.orders}
        marks = {m.symbol: D(str(m.mark_price)) for m in snap.markets if m.mark_price}
        stops = {p.symbol: (p.stop_price, next((o.cli_ord_id for o in snap.orders if o.symbol == p.symbol
                                                 and o.purpose == "stop"), None)) for p in snap.positions}
        tps = {p.symbol: tuple(o.cli_ord_id or "" for o in snap.orders if o.symbol == p.symbol
                               and o.purpose.startswith("tp")) for p in snap.positions}
        cfg = Config()
        return DeskView(snap.state, INSTRUMENTS, marks, positions, orders,
                        AccountSnapshot(snap.account.equity_usd, snap.account.equity_usd), cfg.risk, cfg.exits,
                        entry_blockers=snap.entry_blockers, managed_stop=stops, managed_tps=tps)

    def chart_candles(self, symbol: str, timeframe: str, *, bars: int = 500) -> tuple[Candle, ...]:
        """``candles[(symbol, timeframe)]`` when a test set them, else a fixed zig-zag around the symbol's entry
        price ending at the frozen time (``bars`` of them)."""
        sym = symbol.upper()
        got = self.candles.get((sym, timeframe))
        if got is not None:
            return tuple(got[-bars:])
        tf = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}.get(timeframe)
        pos = next((p for p in self.base.positions if p.symbol == sym), None)
        if tf is None or pos is None:
            raise ValueError(f"no {timeframe} candles for {sym}")
        base, out = float(pos.entry_price), []
        n = min(bars, 300)
        for i in range(n):
            ts = T0_MS - T0_MS % tf - (n - 1 - i) * tf
            o = base * (1 + 0.004 * ((i * 7) % 11 - 5) / 5)
            c = base * (1 + 0.004 * (((i + 1) * 7) % 11 - 5) / 5)
            out.append(Candle(ts, o, max(o, c) * 1.001, min(o, c) * 0.999, c, 1.0))
        return tuple(out)

    def preview_manual(self, action: ManualAction) -> ManualPreview:
        """``engine.manual.preview`` on the fake's snapshot."""
        return preview(action, self.desk_view())

    async def manual(self, action: ManualAction, source: TransitionSource, *,
                     override: bool = False) -> ManualResult:
        """Record the call; a close takes the size off the position, a cancel removes the order; every other
        action is answered ``placed`` without changing the snapshot."""
        self.manual_calls.append((action, source, override))
        p = self.preview_manual(action)
        if not p.ok and not (p.overridable and override):
            return ManualResult(False, f"refused: {p.message}", p.order, notes=p.notes)
        assert p.order is not None
        if isinstance(action, ManualClose):
            size = p.order.size or D(0)
            sym = p.order.symbol
            self.base = replace(self.base, positions=tuple(
                replace(x, size=x.size - size) if x.symbol == sym else x for x in self.base.positions
                if not (x.symbol == sym and x.size <= size)))
        elif isinstance(action, CancelOrder):
            self.base = replace(self.base, orders=tuple(o for o in self.base.orders if o.order_id != action.order_id))
        status = "cancelled" if isinstance(action, CancelOrder) else "placed"
        res = ManualResult(True, f"{p.order.line()}: {status}", p.order, status, order_id="fake-1",
                           overridden=not p.ok, notes=p.notes)
        self.emit(EngineEvent(T0_MS, EventKind.ORDER, f"operator ({source.value}): {res.message}", p.order.symbol))
        return res

    def release_flatten(self) -> None:
        """Let a held flatten finish."""
        self._release.set()

    async def flatten(self, reason: str, source: TransitionSource) -> FlattenReport:
        return await self.begin_flatten(reason, source)

    def begin_flatten(self, reason: str, source: TransitionSource) -> asyncio.Future[FlattenReport]:
        """As the engine's: FLATTENING set in this call, the rest in the future's task."""
        if self._flatten_task is not None and not self._flatten_task.done():
            return self._flatten_task
        self.calls.append(("flatten", reason, source))
        self.sm.flatten(reason, source)
        self.flatten_progress = FlattenProgress("closing", T0_MS, 1, positions_remaining=2, orders_remaining=0,
                                                requests=2)
        self._flatten_task = asyncio.ensure_future(self._finish_flatten())
        return self._flatten_task

    async def flatten_launched(self, within_s: float) -> None:
        """The fake's first request is always on its way."""

    async def _finish_flatten(self) -> FlattenReport:
        if self._hold:
            await self._release.wait()
        self.flat = True
        self.flatten_progress = FlattenProgress("done", T0_MS, 1, requests=4)
        self.sm.flatten_done()
        return FlattenReport(True, 1, 4, 3, (("PF_ETHUSD", D("-1.2")), ("PF_XBTUSD", D("0.05"))), 180.0, 20.0)


def _main() -> None:  # pragma: no cover - a demo for looking at the console
    import sys

    from kraken_tui.config import Config
    from kraken_tui.ui.app import KrakenApp

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    cfg = Config()
    if args:
        cfg.ui.theme = args[0]
    journal = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--journal=")), None)
    engine = FakeEngine(hold_flatten="--hold" in sys.argv, journal_path=journal)
    if "--adopted" in sys.argv:
        engine.adopt_external()
    if "--stale" in sys.argv:
        engine.sm.block_entries("stale market data", "no market data for 42 s")
    KrakenApp(engine, cfg).run()


if __name__ == "__main__":
    _main()
