"""The console's refresh ticks (``KrakenApp.refresh_tick``): a slow tick makes the next ones wait (``REFRESH_DUTY``:
the ticks take at most that share of the wall), so under a loaded machine the UI redraws less often and the
engine and a flatten keep the event loop; a flatten that fires holds them (``OperatorKeys.hold_redraws``)."""

from __future__ import annotations

from kraken_tui.ui import app as app_module

from .fake_engine import FakeEngine

SIZE = (160, 48)


class _SlowSnapshot(FakeEngine):
    """Each snapshot costs ``cost_s`` on the test's clock ``now``."""

    def __init__(self, now: list[float], cost_s: float) -> None:
        super().__init__()
        self.now, self.cost_s, self.snapshots = now, cost_s, 0

    def snapshot(self):
        self.snapshots += 1
        self.now[0] += self.cost_s
        return super().snapshot()


async def test_a_slow_tick_spaces_the_next_ones(make_app):
    now = [1000.0]
    engine = _SlowSnapshot(now, cost_s=0.05)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app._perf = lambda: now[0]
        app._next_tick_s = 0.0
        engine.snapshots = 0
        ticks = 0
        for _ in range(20):  # 20 ticks of the 5 Hz interval: 4 s on the test's clock
            app.refresh_tick()
            ticks += 1
            now[0] += 0.2
        # each tick costs 50 ms: with REFRESH_DUTY 0.05 the next one runs 1 s later at the earliest
        assert app_module.REFRESH_DUTY == 0.05
        assert 4 <= engine.snapshots <= 5  # not 20
        engine.cost_s = 0.001  # fast ticks: every interval tick draws
        now[0] += 1.0
        engine.snapshots = 0
        for _ in range(10):
            app.refresh_tick()
            now[0] += 0.2
        assert engine.snapshots == 10


async def test_a_flatten_firing_holds_the_ticks(make_app, clock):
    engine = FakeEngine(hold_flatten=True)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        clock.t += 1.0
        await pilot.press("F")
        assert app.operator.quiet and app._batch_count >= 1  # the screen's updates are held
        before = app.snapshot
        app.refresh_tick()
        assert app.snapshot is before  # skipped
        await pilot.pause(0.4)  # the hold ends after FLATTEN_QUIET_S at most
        assert not app.operator.quiet and app._batch_count == 0
        engine.release_flatten()
        await app.workers.wait_for_complete()


async def test_a_tick_with_nothing_changed_leaves_the_subtitled_panels_alone(make_app, monkeypatch):
    from kraken_tui.ui.widgets.events import EventsPanel
    from kraken_tui.ui.widgets.market import MarketPanel
    from kraken_tui.ui.widgets.orders import OrdersPanel
    from kraken_tui.ui.widgets.positions import PositionsPanel

    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        panels = [app.dashboard.query_one(cls) for cls in (OrdersPanel, PositionsPanel, MarketPanel, EventsPanel)]
        subtitles = [p.border_subtitle for p in panels]
        assert subtitles[0] and subtitles[1]  # the fake engine has orders and positions: "N open"
        repaints: list[str] = []
        for p in panels:
            orig, name = p.refresh, type(p).__name__

            def counted(*a, _orig=orig, _name=name, **k):
                repaints.append(_name)
                return _orig(*a, **k)

            monkeypatch.setattr(p, "refresh", counted)
        for _ in range(3):
            app.refresh_now()
        assert repaints == []  # the same subtitle is not assigned again (textual repaints on every assignment)
        assert [p.border_subtitle for p in panels] == subtitles
