"""Console benchmarks (prints figures; not a test), headless on the FakeEngine of the tests:

1. start to first paint: ``KrakenApp`` constructed -> the dashboard drew its first snapshot, ms.
2. key press -> engine action: ``p`` pressed -> ``FakeEngine.pause`` called, ms (median of N).
3. one refresh tick (snapshot + all panels, nothing changed / everything forced), ms.

Run: ``python bench/bench_console.py [--n 50]`` from the repository root.

``--real``: the latency figures on the REAL console (``KrakenApp`` + ``RuntimeServices``: the real runtime,
engine, REST/WS clients, journal in a temporary directory, control socket), headless (``App.run_test``), on a
candle replay mapped to PF_ETHUSD. Where the market comes from (``--feed``):

- ``process`` (default; the production shape, where the feed reaches the console over the network): the
  market and the exchange run in their own process, ``kraken-tui sim --source replay:PATH --speed X --json``
  on loopback, and the console runs in live mode against it as against Kraken (``[live] rest_url``/``ws_url``
  from the sim's JSON line, its paper key pair in the environment, the typed LIVE gate; the paper-promotion
  gate off, as the control-plane tests do). No lockstep: the sim plays at ``--speed`` whatever the console
  does. The console's process CPU is the console alone; the sim's CPU is read from ``/proc`` and printed
  apart, with each process's messages per CPU second (its rate on a core of its own).
- ``in-process``: the path ``run_console`` takes in paper replay mode: paper exchange and replay source inside
  the console's process, with the runtime's lockstep; the feed's CPU share is estimated by stack samples (e).

The runs use their own ``XDG_DATA_HOME``/``XDG_RUNTIME_DIR``/``XDG_CONFIG_HOME`` under the temporary directory
(instance locks, profile files, control socket), so they never meet another instance.

a. event-loop lag p50/p99: a task sleeping 10 ms records its overshoot, over ``--seconds`` (target p99 < 50 ms);
b. process CPU: ``time.process_time`` (all threads) over wall time in the same window;
c. key ``F`` ``F`` (a double tap 150 ms apart, queued like terminal input) -> the flatten's first order
   request (its reduce-only close batch, or ``cancelallorders`` when nothing is open) leaving the client
   (``RestTransport.send_http``, stamped in the console's process), measured from the second key, ``--flattens`` samples (reset + resume between them), p50/p99 (target < 20 ms); printed with
   the loop thread's CPU time over the same span (``time.thread_time``: what the console itself spent) and the
   flatten's wait for FLATTENING to be durable (the fsync the durability rule puts before the first request),
   and split by whether market data was still flowing (>= 1,000 msg/s between the first F and the request:
   the replay file ends, at 5,000 ticks/s after about 40 s); the WS client's queued events (received, not yet
   taken by the engine) are sampled through the run;
   With the time from the second F to each of the flatten's steps (the engine's flatten running, FLATTENING
   durable), to see which wait dominates.
f. the UI in the lag window: the app's refresh ticks (``refresh_now``) and textual's screen updates (rendering),
   count, p50/p99/max and share of the wall time.
The console serves its control socket (``RuntimeServices``) throughout, and a client thread asks it for
``status`` every ``--ctl-poll`` seconds (as a monitor running ``kraken-tui ctl health`` would).
d. start to first paint: ``KrakenApp`` constructed -> the first engine snapshot drawn (target < 1.5 s),
   plus the same from process start (Linux ``/proc``), which adds the imports.
e. where the CPU goes, in the lag window: a sampling thread reads the main thread's stack every 2 ms and files
   each sample under the innermost ``kraken_tui`` frame: the feed (``kraken_tui.paper``: the replay source, the
   paper exchange and its WebSocket fan-out, which a live run does not carry), the console (engine, UI,
   clients, journal), or neither (the event loop, sockets, idle in ``select``). The shares times the process
   CPU give the feed's and the console's CPU (an estimate: the sampler wakes when the GIL lets it).

``--background-load N`` starts N busy processes (pure CPU loops) before the run and stops them at the end, to
measure the console on a machine that is doing something else (issue target with one: 5,000 msg/s held,
lag p99 < 50 ms, F F p99 < 20 ms over >= 30 presses). The load average is printed at start and end.

Candles replay as 4 ticks each; ``--speed`` is data seconds per wall second, so 5,000 ticks/s on 5 min bars is
``--speed 375000`` (the default). In-process, the runtime's lockstep holds the replay whenever the engine is
behind; in both modes the message rate actually achieved is measured and printed (WebSocket messages sent to
the console in process, received by its client with the feed in its own process).
``--verbose`` also prints, per press, the event-loop callbacks of 2 ms or more between the second F and the request
(``asyncio.events.Handle._run`` timed: task steps named by their coroutine, with their CPU time) and the order work
in flight and the positions the feed reported when the flatten began; and which widgets asked for a redraw in the
lag window, by class, layout or repaint, inside a refresh tick or not (and who asked, when not). ``--profile``
prints a cProfile of the console over the lag window (tottime and cumulative; it inflates that window's figures).
``--timeframe`` sets the strategy's candle timeframe (default 5m; under a replay candles close ``--speed``
times faster than on a live market). ``--verbose`` prints one line per flatten and the busiest frames of the
stack samples. ``--consume-yield N`` is an experiment: the engine's WS consumer patched to yield the loop every
N events (``asyncio.Queue.get`` does not yield while events are queued).

Run: ``python bench/bench_console.py --real [--feed process|in-process] [--seconds 10] [--flattens 30]
[--speed 375000|max] [--timeframe 5m] [--background-load N] [--verbose] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.background_load import BackgroundLoad  # noqa: E402
from kraken_tui.config import Config  # noqa: E402
from kraken_tui.engine.operator import TransitionSource  # noqa: E402
from kraken_tui.ui.app import KrakenApp  # noqa: E402
from tests.ui.fake_engine import FakeEngine  # noqa: E402


class _TimedEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.first_snapshot: float | None = None
        self.paused_at: float | None = None

    def snapshot(self):
        if self.first_snapshot is None:
            self.first_snapshot = time.perf_counter()
        return super().snapshot()

    def pause(self, reason: str, source: TransitionSource) -> None:
        self.paused_at = time.perf_counter()
        super().pause(reason, source)


async def _run(n: int) -> None:
    t0 = time.perf_counter()
    engine = _TimedEngine()
    app = KrakenApp(engine, Config())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        painted = time.perf_counter()
        print(f"start to first paint: {(painted - t0) * 1000:.0f} ms "
              f"(first snapshot taken at {(engine.first_snapshot - t0) * 1000:.0f} ms)")
        lat = []
        for _ in range(n):
            if engine.sm.state.value == "PAUSED":
                engine.sm.resume("bench", TransitionSource.KEY)
            t = time.perf_counter()
            await pilot.press("p")
            lat.append((engine.paused_at - t) * 1000)
        print(f"key p -> engine.pause: median {statistics.median(lat):.2f} ms, worst {max(lat):.2f} ms over {n}")
        ticks, forced = [], []
        for _ in range(n):
            t = time.perf_counter()
            app.refresh_now()
            ticks.append((time.perf_counter() - t) * 1000)
            app._force = True
            t = time.perf_counter()
            app.refresh_now()
            forced.append((time.perf_counter() - t) * 1000)
        print(f"refresh tick: {statistics.median(ticks):.2f} ms unchanged, {statistics.median(forced):.2f} ms "
              f"forced (all cells); budget at 10 Hz: 100 ms")


DEFAULT_REPLAY = "/work/shared/data/kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv@PF_ETHUSD"


def _pct(xs: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``xs``, nearest rank."""
    ys = sorted(xs)
    return ys[min(len(ys) - 1, max(0, int(round(q * len(ys) + 0.5)) - 1))]


def _verdict(value: float, target: float) -> str:
    return "MET" if value < target else "NOT met"


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc, 10 ms resolution), or None elsewhere."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class _Probe:
    """Stamps shared by the real-mode patches: replayed ticks, cancelallorders requests, first paint."""

    def __init__(self) -> None:
        self.ticks = 0
        self.ws_messages = 0
        self.market_messages = 0
        self.cancel_sent: list[float] = []
        self.cancel_sent_cpu: list[float] = []  # the loop thread's CPU time (``time.thread_time``) at each
        self.commits_ms: list[float] = []  # each flatten's wait for FLATTENING to be durable (its fsync), ms
        self.first_paint: float | None = None
        self.refresh_ms: list[float] = []  # each console refresh tick's own time (``KrakenApp.refresh_now``), ms
        self.render_ms: list[float] = []  # each textual screen update (rendering), ms
        self.window: tuple[int, int] = (0, 0)  # (refresh ticks, screen updates) counted before the lag window
        # the flatten's steps as they happen (perf_counter stamps, in order): ``F F`` -> each of these -> request
        self.stages: dict[str, list[float]] = {"engine flatten runs": [], "FLATTENING durable": []}
        self.cancel_seen = asyncio.Event()
        self.flatten_starts: list[str] = []  # per flatten: the order work in flight and the feed's positions
        self.counting_refreshes = False
        self.in_tick = False
        self.widget_refreshes: dict[tuple[str, bool, bool], int] = {}  # (class, layout, in a tick) -> calls


def _patch_send(probe: _Probe) -> None:
    """Stamp every flatten order request (close batch or ``cancelallorders``) as it leaves the client
    (``RestTransport.send_http``, where every request of the client leaves, whatever the HTTP backend)."""
    from kraken_tui.kraken.rest_transport import RestTransport

    orig = RestTransport.send_http

    async def send_http(self: Any, method: str, url: str, body: bytes | None, headers: Any, endpoint: str) -> Any:
        # the flatten's first order request: its close batch (cliOrdIds ``flat-...``; it closes while the stops
        # still rest) or, with nothing to close, its cancel-all
        if endpoint.endswith("/cancelallorders") or (endpoint.endswith("/batchorder") and b"flat-" in (body or b"")):
            probe.cancel_sent.append(time.perf_counter())
            probe.cancel_sent_cpu.append(time.thread_time())
            probe.cancel_seen.set()
        return await orig(self, method, url, body, headers, endpoint)

    RestTransport.send_http = send_http  # type: ignore[method-assign]


def _patch_flatten_commit(probe: _Probe) -> None:
    """Time each flatten's commit of FLATTENING (``EngineFlatten._settle_started``, where the priority lane
    commits, plus the wait in ``EngineFlatten._durable``; its fsync), and stamp each flatten's start
    (``EngineFlatten.begin``) with the order work then in flight and the positions the feed reports."""
    from kraken_tui.engine.flatten import EngineFlatten

    orig, orig_start = EngineFlatten._durable, EngineFlatten._settle_started
    started_s: list[float] = []  # the commit's own time when it ran inside ``_settle_started`` (the priority lane)

    def settle_started(self: Any) -> Any:
        t = time.perf_counter()
        try:
            return orig_start(self)
        finally:
            started_s.append(time.perf_counter() - t)

    orig_begin = EngineFlatten.begin

    def begin(self: Any, *a: Any, **k: Any) -> Any:
        if self._task is None or self._task.done():
            probe.stages["engine flatten runs"].append(time.perf_counter())
            known = self.known_positions()
            probe.flatten_starts.append(
                f"order work in flight: {self.jobs.current if self.jobs.running else 'none'}; positions the feed "
                f"reports: {'not live' if known is None else len(known)}")
        return orig_begin(self, *a, **k)

    async def durable(self: Any, what: str, started: Any = None) -> bool:
        t = time.perf_counter()
        try:
            return await orig(self, what, started)
        finally:
            if what.startswith("FLATTENING"):
                probe.stages["FLATTENING durable"].append(time.perf_counter())
                before = started_s.pop() if started is not None and started_s else 0.0
                probe.commits_ms.append((time.perf_counter() - t + before) * 1000)
            started_s.clear()

    EngineFlatten._durable = durable  # type: ignore[method-assign]
    EngineFlatten._settle_started = settle_started  # type: ignore[method-assign]
    EngineFlatten.begin = begin  # type: ignore[method-assign]


def _patch_screen_updates(probe: _Probe) -> None:
    """Time textual's screen updates (``Screen._on_timer_update`` and ``Screen._refresh_layout``: the rendering
    of what the refresh ticks changed; textual is pinned)."""
    from textual.screen import Screen

    depth = [0]  # ``_on_timer_update`` calls ``_refresh_layout``: only the outermost call is counted

    for name in ("_on_timer_update", "_refresh_layout"):
        orig = getattr(Screen, name)

        def timed(self: Any, *a: Any, _orig: Any = orig, **k: Any) -> Any:
            t = time.perf_counter()
            depth[0] += 1
            try:
                return _orig(self, *a, **k)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    probe.render_ms.append((time.perf_counter() - t) * 1000)

        setattr(Screen, name, timed)


def _patch_widget_refreshes(probe: _Probe) -> None:
    """Count textual's ``Widget.refresh`` calls by widget class, layout or not, and whether a refresh tick
    (``KrakenApp.refresh_now``) made them: a widget that refreshes itself outside the ticks causes screen
    updates of its own (``--verbose`` prints the table)."""
    from textual.widget import Widget

    orig = Widget.refresh

    def refresh(self: Any, *a: Any, layout: bool = False, **k: Any) -> Any:
        if probe.counting_refreshes:
            name = f"{type(self).__name__}#{self.id}" if self.id else type(self).__name__
            if not probe.in_tick:  # who asked for it: the nearest callers outside textual's widget module
                f, callers = sys._getframe(1), []  # noqa: SLF001 (a bench's profiler)
                while f is not None and len(callers) < 3:
                    if not f.f_code.co_filename.endswith(("widget.py", "reactive.py", "scroll_view.py")):
                        callers.append(f"{Path(f.f_code.co_filename).stem}:{f.f_code.co_name}")
                    f = f.f_back
                name += " <- " + " <- ".join(callers)
            key = (name, bool(layout), probe.in_tick)
            probe.widget_refreshes[key] = probe.widget_refreshes.get(key, 0) + 1
        return orig(self, *a, layout=layout, **k)

    Widget.refresh = refresh  # type: ignore[method-assign]


def _patch_consume_yield(every: int) -> None:
    """Experiment (``--consume-yield N``): the engine's WebSocket consumer (``Engine._consume``) hands the loop
    over (``asyncio.sleep(0)``) after every ``every`` events. ``asyncio.Queue.get`` returns without yielding
    while the queue holds events, so a backlog is otherwise drained in one turn of the loop, ahead of a key."""
    from kraken_tui.engine import core

    async def consume(self: Any) -> None:
        n = 0
        async for ev in self.ws:
            try:
                await self.on_ws_event(ev)
                self.progress.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (as the engine's own consumer: never end on one message)
                logging.getLogger(__name__).exception("engine failed on %s", type(ev).__name__)
                self.emit(core.EventKind.ERROR, f"error handling {type(ev).__name__}: {exc}",
                          severity=core.Severity.ERROR)
            n += 1
            if n % every == 0:
                await asyncio.sleep(0)

    core.Engine._consume = consume  # type: ignore[method-assign]


class _LoopTrace:
    """Times every event-loop callback (``asyncio.events.Handle._run``: task steps, timers, ``call_soon``) while
    ``on``, and keeps the ones that took ``min_ms`` or more as (start, ms, CPU ms, name): what held the loop
    in a slow press. A task step is named by its coroutine, any other callback by its function."""

    def __init__(self, min_ms: float = 2.0) -> None:
        self.min_s = min_ms / 1000
        self.on = False
        self.slow: list[tuple[float, float, float, str]] = []
        self.turns: list[float] = []  # the start of every callback while ``on`` (turn counting)

    def install(self) -> None:
        from asyncio import events

        orig = events.Handle._run
        trace = self

        def run(handle: Any) -> None:
            if not trace.on:
                return orig(handle)
            t, c = time.perf_counter(), time.thread_time()
            try:
                return orig(handle)
            finally:
                d = time.perf_counter() - t
                trace.turns.append(t)
                if d >= trace.min_s:
                    trace.slow.append((t, d * 1000, (time.thread_time() - c) * 1000, _callback_name(handle)))

        events.Handle._run = run  # type: ignore[method-assign]

    def between(self, t0: float, t1: float) -> list[tuple[float, float, float, str]]:
        return [x for x in self.slow if t0 <= x[0] <= t1]


def _callback_name(handle: Any) -> str:
    cb = getattr(handle, "_callback", None)
    owner = getattr(cb, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return f"task {getattr(coro, '__qualname__', coro)}"
    name = getattr(cb, "__qualname__", None) or repr(cb)
    return f"{getattr(cb, '__module__', '') or ''}.{name}".lstrip(".")


def _key(app: KrakenApp, key: str) -> None:
    """Queue ``key`` the way the terminal driver does (stamped now, handled when the loop gets to it)."""
    from textual import events

    ev = events.Key(key, key)
    ev.set_sender(app)
    app._driver.send_message(ev)  # type: ignore[union-attr]


def _patch_ws_hub(probe: _Probe) -> None:
    """Count every WebSocket message the paper exchange sends to the console (all feeds), and the market
    data among them (ticker, ticker_lite, trade, book)."""
    from kraken_tui.paper import ws_feeds

    send = ws_feeds.WsHub._send

    def counted(self: Any, conn: Any, msg: Any) -> Any:
        probe.ws_messages += 1
        if msg.get("feed") in _MARKET_FEEDS:
            probe.market_messages += 1
        return send(self, conn, msg)

    ws_feeds.WsHub._send = counted  # type: ignore[method-assign]


class _HoldSwitch:
    """The WS client's read hold switched off and on while the console runs (``--ab-read-hold``): ``ReadHold``
    patched so that, while ``on`` is False, a frame read starts no hold (and ends a running one)."""

    on = True

    @classmethod
    def install(cls) -> None:
        from kraken_tui.kraken import ws_turns

        frame_read = ws_turns.ReadHold.frame_read

        def switched(self: Any) -> None:
            if cls.on:
                frame_read(self)
            elif self.holding:
                self.release()

        ws_turns.ReadHold.frame_read = switched  # type: ignore[method-assign]


async def _ab_read_hold(seconds: float, probe: _Probe, sim: _SimProcess | None) -> dict[bool, list[float]]:
    """Alternate the read hold off/on in 1 s slices over ``seconds``: per side, [console CPU s, sim CPU s,
    market messages, wall s] summed over its slices (the first 0.2 s of each slice left out)."""
    sides: dict[bool, list[float]] = {False: [0.0, 0.0, 0.0, 0.0], True: [0.0, 0.0, 0.0, 0.0]}
    end = time.perf_counter() + seconds
    on = False
    while time.perf_counter() < end:
        _HoldSwitch.on = on
        await asyncio.sleep(0.2)
        w, c, m = time.perf_counter(), time.process_time(), probe.market_messages
        sc = sim.cpu_s() if sim is not None else 0.0
        await asyncio.sleep(0.8)
        acc = sides[on]
        acc[0] += time.process_time() - c
        acc[1] += (sim.cpu_s() - sc) if sim is not None else 0.0
        acc[2] += probe.market_messages - m
        acc[3] += time.perf_counter() - w
        on = not on
    _HoldSwitch.on = True
    return sides


def _patch_ws_client(probe: _Probe) -> None:
    """Count every WebSocket message the console's client receives (``KrakenWsClient._touch``, called once
    per decoded frame), and the market data among them: the external mode's counter, on the console's side."""
    from kraken_tui.kraken.ws import KrakenWsClient

    touch = KrakenWsClient._touch

    def counted(self: Any, msg: dict[str, Any]) -> None:
        probe.ws_messages += 1
        if msg.get("feed") in _MARKET_FEEDS:
            probe.market_messages += 1
        touch(self, msg)

    KrakenWsClient._touch = counted  # type: ignore[method-assign]


_MARKET_FEEDS = ("ticker", "ticker_lite", "trade", "book", "book_snapshot", "trade_snapshot")


class _SimProcess:
    """The market and the exchange in their own process: ``kraken-tui sim --source replay:PATH --speed X
    --json`` on loopback (``kraken_tui.paper.sim``), whose first stdout line is ``{"rest_url", "ws_url",
    "api_key", "api_secret"}``. Stopped by its pid (SIGTERM, then SIGKILL after 5 s)."""

    def __init__(self, replay: str, speed: str, log: Path) -> None:
        self.cmd = [sys.executable, "-m", "kraken_tui", "sim", "--source", f"replay:{replay}", "--speed", speed,
                    "--json"]
        self.log = log
        self.proc: Any = None
        self.info: dict[str, str] = {}

    def start(self, timeout_s: float = 60.0) -> dict[str, str]:
        """Start the process and return its connection details. Raises SystemExit when it prints none."""
        import json
        import selectors
        import subprocess

        err = self.log.open("wb")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=err, env=os.environ.copy())
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            self.stop()
            raise SystemExit(f"kraken-tui sim printed nothing in {timeout_s:.0f} s (log {self.log})")
        line = self.proc.stdout.readline()
        try:
            self.info = json.loads(line)
        except ValueError:
            self.stop()
            raise SystemExit(f"kraken-tui sim did not start: {line!r} (log {self.log})") from None
        return self.info

    def cpu_s(self) -> float:
        """The process's CPU time so far (user + system, all threads), seconds (Linux ``/proc``; NaN elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return float("nan")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except Exception:  # noqa: BLE001 (a process that ignores SIGTERM)
            self.proc.kill()


async def _run_real(args: argparse.Namespace) -> None:
    from kraken_tui.runtime import RunOptions, build_runtime
    from kraken_tui.ui.services import RuntimeServices

    probe = _Probe()
    _patch_send(probe)
    _patch_flatten_commit(probe)
    if args.consume_yield > 0:
        _patch_consume_yield(args.consume_yield)
    if args.ab_read_hold:
        _HoldSwitch.install()
    external = args.feed == "process"
    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    # Instance locks, the profile's files and the control socket under this run's own directories, so that the
    # bench never meets another instance (or its sim) on this machine.
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_RUNTIME_DIR", "run"), ("XDG_CONFIG_HOME", "config")):
        (tmp / sub).mkdir(mode=0o700)
        os.environ[var] = str(tmp / sub)
    logging.basicConfig(filename=str(tmp / "console.log"), level=logging.INFO)
    # The strategy loses money on this replay at this pace: the default equity floor (80 %) would flatten and
    # halt on its own mid-bench and the daily loss limit would pause it; neither is what is measured here.
    operator: dict[str, Any] = {"equity_floor_pct": 1.0, "daily_loss_limit_pct": 100.0}
    sim: _SimProcess | None = None
    services: Any
    if external:
        _patch_ws_client(probe)
        symbol = args.replay.rpartition("@")[2]
        sim = _SimProcess(args.replay, args.speed, tmp / "sim.log")
        info = sim.start()
        os.environ["KRAKEN_TUI_API_KEY"], os.environ["KRAKEN_TUI_API_SECRET"] = info["api_key"], info["api_secret"]
        # Live mode pointed at the sim as at Kraken (``[live] rest_url``/``ws_url``, the keys in the environment,
        # the typed LIVE gate); the promotion gate is off (no paper record here; tests/control does the same).
        # Data time runs --speed times faster than the wall: a tick's data time is far behind the wall clock,
        # so the staleness guard is set past it (the feed is measured live by the message rate instead).
        operator["stale_data_s"] = 10**9
        client = {} if args.ws_read_batch_ms is None else {"ws_read_batch_ms": args.ws_read_batch_ms}
        cfg = Config(general={"mode": "live"},
                     live={"enabled": True, "require_paper": False, "rest_url": info["rest_url"],
                           "ws_url": info["ws_url"]},
                     strategy={"symbols": [symbol or "PF_ETHUSD"], "timeframe": args.timeframe}, operator=operator,
                     client=client)
        opts = RunOptions(mode="live", journal=tmp / "journal.sqlite")
        services = RuntimeServices(cfg, opts)
    else:
        _patch_ws_hub(probe)

        class CountingServices(RuntimeServices):
            """``RuntimeServices.open`` with the replay source's ticks counted (same build and start)."""

            async def open(self) -> Any:
                self._runtime = await build_runtime(self._cfg, self._opts)
                src = self._runtime._source
                inner = src.events

                async def counted() -> Any:
                    async for ev in inner():
                        if hasattr(ev, "last"):
                            probe.ticks += 1
                        yield ev

                src.events = counted
                await self._runtime.start()
                engine = self._runtime.engine
                await self._start_ctl(engine)  # the control socket, served by the console as run_console does
                return engine

        speed = None if args.speed == "max" else float(args.speed)
        opts = RunOptions(mode="paper", replay=[args.replay], speed=speed, journal=tmp / "journal.sqlite")
        cfg = Config(operator=operator, strategy={"timeframe": args.timeframe})
        services = CountingServices(cfg, opts)
    try:
        await _measure(args, probe, cfg, opts, services, tmp, sim)
    finally:
        if sim is not None:
            sim.stop()


async def _measure(args: argparse.Namespace, probe: _Probe, cfg: Config, opts: Any, services: Any, tmp: Path,
                   sim: _SimProcess | None) -> None:
    t0 = time.perf_counter()
    age0 = _process_age_s()
    app = KrakenApp(None, cfg, services=services, log_file=tmp / "console.log", journal_path=opts.journal)
    refresh = app.refresh_now
    painted = asyncio.Event()

    def timed_refresh() -> None:  # on the instance (a subclass would move the app's CSS_PATH)
        if not app.screen_stack:  # a timer firing during teardown (the app's own refresh_now would raise)
            return
        r0 = time.perf_counter()
        probe.in_tick = True
        try:
            refresh()
        finally:
            probe.in_tick = False
        probe.refresh_ms.append((time.perf_counter() - r0) * 1000)
        if probe.first_paint is None and app.snapshot is not None:
            probe.first_paint = time.perf_counter()
            painted.set()

    app.refresh_now = timed_refresh  # type: ignore[method-assign]
    _patch_screen_updates(probe)
    _patch_widget_refreshes(probe)
    async with app.run_test(size=(160, 48)) as pilot:
        gate_s = 0.0
        if sim is not None:  # the live gate: the operator types LIVE and Enter before anything starts
            await pilot.pause()
            g = time.perf_counter()
            await pilot.press(*"LIVE")
            # Enter without waiting on it: ``pilot.press`` waits for an idle loop after the key, which never comes
            # once the engine runs under the feed
            enter = asyncio.create_task(pilot.press("enter"))
            gate_s = time.perf_counter() - g
        try:
            await asyncio.wait_for(painted.wait(), timeout=120)
        except TimeoutError:
            raise SystemExit(f"no first paint: {app.fatal or 'the engine did not start'} (log {tmp})") from None
        if sim is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(enter, timeout=5)
        await pilot.pause()
        paint_ms = (probe.first_paint - t0 - gate_s) * 1000  # without the time spent typing the gate word
        engine = app.engine
        assert engine is not None
        served = services.ctl_socket
        poller = _CtlPoller(served, args.ctl_poll)
        poller.start()
        await asyncio.sleep(1.0)  # let the replay reach its pace

        lags: list[float] = []
        stop = asyncio.Event()

        ws_queue = getattr(getattr(engine, "ws", None), "_queue", None)  # the WS client's event queue (backlog)
        depths: list[int] = []

        async def lag_monitor() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.010)
                lags.append((time.perf_counter() - t - 0.010) * 1000)
                if ws_queue is not None:
                    depths.append(ws_queue.qsize())

        mon = asyncio.create_task(lag_monitor())
        sampler = _StackSampler()
        sampler.start()
        w0, c0, n0 = time.perf_counter(), time.process_time(), probe.ticks
        s0 = sim.cpu_s() if sim is not None else 0.0
        m0, k0 = probe.ws_messages, probe.market_messages
        probe.window = (len(probe.refresh_ms), len(probe.render_ms))
        probe.counting_refreshes = True
        prof = None
        if args.profile:  # cProfile over the lag window (it slows the loop: the window's figures are not kept)
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        if args.ab_read_hold:  # the read hold off and on in alternating 1 s slices, CPU and messages per side
            ab = await _ab_read_hold(args.seconds, probe, sim)
        else:
            ab = None
            await asyncio.sleep(args.seconds)
        if prof is not None:
            import pstats

            prof.disable()
            print("  cProfile over the lag window (the figures of this run are inflated by the profiler):")
            pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(35)
            pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(60)
        probe.counting_refreshes = False
        window_ui = (probe.refresh_ms[probe.window[0]:], probe.render_ms[probe.window[1]:])
        wall, cpu, ticks = time.perf_counter() - w0, time.process_time() - c0, probe.ticks - n0
        sampler_cpu = sampler.cpu_s
        sim_cpu = sim.cpu_s() - s0 if sim is not None else 0.0
        sampler.stop()
        msgs, market = probe.ws_messages - m0, probe.market_messages - k0
        window_lags = lags[:]

        lat: list[float] = []
        stage_ms: dict[str, list[float]] = {}  # from the second F to each flatten step, ms
        lat_cpu: list[float] = []
        depth_at_f: list[int] = []  # the WS client's queued events at each second F
        window_depths = depths[:]
        lat_feed: list[float] = []  # market-data messages/s from the first F to the request, per sample
        flat_ticks0, flat_w0, flat_m0 = probe.ticks, time.perf_counter(), probe.market_messages
        flat_sampler = _StackSampler()
        flat_sampler.start()
        trace = _LoopTrace()
        trace.install()
        trace.on = True
        spans: list[str] = []  # per press: the slow loop callbacks from the second F to the request (--verbose)
        for i in range(args.flattens):
            before = len(probe.cancel_sent)
            probe.cancel_seen.clear()
            reports = len(app.flatten_reports)
            # A trader's double tap, 150 ms apart, queued as the terminal driver queues keys (``pilot.press``
            # waits up to 2 s for the loop to go idle after each key, which it never does under a replay).
            f0, fm0 = time.perf_counter(), probe.market_messages
            _key(app, "F")
            await asyncio.sleep(0.150)
            t, t_cpu = time.perf_counter(), time.thread_time()
            if ws_queue is not None:
                depth_at_f.append(ws_queue.qsize())
            _key(app, "F")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(probe.cancel_seen.wait(), timeout=10)
            if len(probe.cancel_sent) > before:
                for name, stamps in probe.stages.items():
                    after = [x for x in stamps if t <= x <= probe.cancel_sent[before]]
                    if after:
                        stage_ms.setdefault(name, []).append((after[0] - t) * 1000)
                lat.append((probe.cancel_sent[before] - t) * 1000)
                lat_cpu.append((probe.cancel_sent_cpu[before] - t_cpu) * 1000)
                lat_feed.append((probe.market_messages - fm0) / max(1e-3, probe.cancel_sent[before] - f0))
                sent = probe.cancel_sent[before]
                slow = trace.between(t, sent)
                n_cb = sum(1 for x in trace.turns if t <= x <= sent)
                spans.append(f"{(sent - t) * 1000:.1f} ms, {n_cb} loop callbacks; >= 2 ms: " + (", ".join(
                    f"+{(st - t) * 1000:.0f} {name} {ms:.1f} ms (CPU {cpu:.1f})" for st, ms, cpu, name in slow)
                    or "none"))
                trace.turns.clear()
                trace.slow.clear()
            for _ in range(3000):  # up to 30 s for the flatten's report (the engine is then HALTED)
                if len(app.flatten_reports) > reports:
                    break
                await asyncio.sleep(0.01)
            rep = app.flatten_reports[-1] if len(app.flatten_reports) > reports else None
            if args.verbose:
                if spans and len(lat) == i + 1:
                    print(f"    flatten {i}: second F -> request {spans[-1]}")
                if probe.flatten_starts:
                    print(f"    flatten {i}: at its start: {probe.flatten_starts[-1]}")
                print(f"    flatten {i}: cancel {'seen' if len(probe.cancel_sent) > before else 'NOT seen'}, "
                      f"report after {(time.perf_counter() - t) * 1000:.0f} ms: {rep}")
            with contextlib.suppress(Exception):
                engine.reset("bench: reset", TransitionSource.KEY)
                engine.resume("bench: resume", TransitionSource.KEY)
            await asyncio.sleep(0.5)  # trading again, under the replay, before the next flatten
        trace.on = False
        flat_wall = time.perf_counter() - flat_w0
        flat_sampler.stop()
        flat_rate = (probe.ticks - flat_ticks0) / flat_wall
        flat_market = (probe.market_messages - flat_m0) / flat_wall
        stop.set()
        await mon
        lag_all = lags  # the lag task ran through the flattens as well
        snap = engine.snapshot()
        poller.stop()

    rate = ticks / wall
    where = ("in its own process (kraken-tui sim on loopback; the console in live mode against it)"
             if sim is not None else "inside the console's process (paper replay, lockstep)")
    print(f"real console, replay {args.replay} at --speed {args.speed}, feed {where}, timeframe "
          f"{args.timeframe} (target 5,000 msg/s; 4 ticks per 5 min candle)")
    if sim is not None:
        print(f"  WS client read hold ([client] ws_read_batch_ms): {cfg.client.ws_read_batch_ms:g} ms")
    if ab is not None:
        print("  read hold A/B (alternating 1 s slices in the lag window; the window's other figures mix both):")
        for on in (False, True):
            c_s, s_s, n, w = ab[on]
            label = f"on ({cfg.client.ws_read_batch_ms:g} ms)" if on else "off"
            print(f"    hold {label:>10}: {n / max(w, 1e-9):,.0f} market msg/s, console {c_s / w * 100:.0f} % of one "
                  f"core, {c_s / max(n, 1) * 1e6:.1f} us CPU per market message; sim {s_s / w * 100:.0f} %")
        off, on_ = (ab[k][0] / max(ab[k][2], 1) for k in (False, True))
        print(f"    CPU per message on/off: {on_ / off:.2f}")
    if args.consume_yield:
        print(f"  EXPERIMENT: the engine's WS consumer patched to yield the loop every {args.consume_yield} events")
    side = "received by the console's client" if sim is not None else "sent by the paper exchange to the console"
    print(f"  WebSocket messages {side}: {msgs / wall:,.0f}/s, of which market data (ticker, trade, book) "
          f"{market / wall:,.0f}/s (target 5,000/s: {_verdict(5000, msgs / wall)} for all messages, "
          f"{_verdict(5000, market / wall)} for market data); market data during the flattens "
          f"{flat_market:,.0f}/s; final state {snap.state.value}")
    if sim is None:
        print(f"  replay ticks: {rate:,.0f}/s over {wall:.1f} s ({flat_rate:,.0f}/s during the flattens)")
    age = f", {(age0 + paint_ms / 1000) * 1000:.0f} ms from process start" if age0 is not None else ""
    gate = f" (the {gate_s * 1000:.0f} ms typing the LIVE gate left out)" if sim is not None else ""
    print(f"  (d) start to first paint: {paint_ms:.0f} ms from KrakenApp constructed{age}{gate} "
          f"(target < 1500 ms: {_verdict(paint_ms, 1500)})")
    wl = window_lags
    print(f"  (a) event-loop lag over {wall:.0f} s: p50 {_pct(wl, 0.5):.1f} ms, p99 {_pct(wl, 0.99):.1f} ms, "
          f"max {max(wl):.1f} ms over {len(wl)} samples (target p99 < 50 ms: {_verdict(_pct(wl, 0.99), 50)})")
    print(f"      including the flattens: p99 {_pct(lag_all, 0.99):.1f} ms, max {max(lag_all):.1f} ms")
    pct, cnt = cpu / wall * 100, sampler.counts
    busy = (cnt["feed"] + cnt["console"] + cnt["loop"]) or 1
    feed_pct, console_pct, loop_pct = (pct * cnt[k] / busy for k in ("feed", "console", "loop"))
    if sim is not None:
        print(f"  (b) console process CPU: {pct:.0f} % of one core ({cpu:.1f} s CPU in {wall:.1f} s wall; target "
              f"< 60 %: {_verdict(pct, 60)}); the sim process (replay + paper exchange + WS fan-out): "
              f"{sim_cpu / wall * 100:.0f} % of one core ({sim_cpu:.1f} s)")
        print(f"      of the console's CPU, the bench's stack sampler (e) took {sampler_cpu / wall * 100:.1f} % of one "
              f"core: the console without it {(cpu - sampler_cpu) / wall * 100:.0f} %")
        if sim_cpu > 0 and cpu > 0:  # what each process does per CPU second: its rate on a core of its own
            print(f"      per CPU second: the sim sends {msgs / sim_cpu:,.0f} messages ({market / sim_cpu:,.0f} market "
                  f"data), the console takes in {msgs / cpu:,.0f} ({market / cpu:,.0f} market data); a process "
                  f"below 100 % here while the rate misses was waiting for a core (load average below)")
        print(f"  (e) console CPU split by stack samples ({sum(cnt.values())}, {cnt['idle']} idle): console (engine, "
              f"UI, clients, journal) ~{console_pct:.0f} %, event loop and sockets ~{loop_pct:.0f} % of one core"
              + (f", paper code ~{feed_pct:.0f} % (expected 0)" if cnt["feed"] else ""))
    else:
        print(f"  (b) process CPU: {pct:.0f} % of one core ({cpu:.1f} s CPU in {wall:.1f} s wall)")
        print(f"  (e) process CPU split by stack samples ({sum(cnt.values())}, {cnt['idle']} idle): feed (replay "
              f"source + paper exchange) ~{feed_pct:.0f} %, console (engine, UI, clients, journal) "
              f"~{console_pct:.0f} %, event loop and sockets ~{loop_pct:.0f} % of one core; without the feed "
              f"~{pct - feed_pct:.0f} % (target for the console process: < 60 %: {_verdict(pct - feed_pct, 60)})")
    if lat:
        p99 = _pct(lat, 0.99)
        print(f"  (c) key F F -> first flatten order request sent: p50 {_pct(lat, 0.5):.1f} ms, p99 {p99:.1f} ms, "
              f"max {max(lat):.1f} ms over {len(lat)} of {args.flattens} F F (target < 20 ms: {_verdict(p99, 20)})")
        fed = [x for x, r in zip(lat, lat_feed, strict=True) if r >= 1000]
        if len(fed) < len(lat):
            tail = (f"p50 {_pct(fed, 0.5):.1f} ms, p99 {_pct(fed, 0.99):.1f} ms over those {len(fed)}"
                    if fed else "none")
            rest = [x for x, r in zip(lat, lat_feed, strict=True) if r < 1000]
            print(f"      with the market data still flowing (>= 1,000 msg/s from the first F to the request; the "
                  f"replay ends, or slows): {len(fed)} of {len(lat)}: {tail}; after it: p50 {_pct(rest, 0.5):.1f} ms, "
                  f"p99 {_pct(rest, 0.99):.1f} ms over {len(rest)}")
        cm = probe.commits_ms or [float("nan")]
        print(f"      of which the loop thread on CPU: p50 {_pct(lat_cpu, 0.5):.1f} ms, p99 {_pct(lat_cpu, 0.99):.1f} ms "
              f"(the rest: waiting for a core on a busy machine, the disk, other tasks' turns); the wait for "
              f"FLATTENING to be durable (fsync): p50 {_pct(cm, 0.5):.1f} ms, p99 {_pct(cm, 0.99):.1f} ms")
        if stage_ms:
            print("      from the second F to: " + "; ".join(
                f"{name} p50 {_pct(v, 0.5):.1f} ms, p99 {_pct(v, 0.99):.1f} ms ({len(v)})" for name, v in stage_ms.items())
                  + f"; the request p50 {_pct(lat, 0.5):.1f} ms")
        if len(lat) < args.flattens:
            print(f"      {args.flattens - len(lat)} F F produced no cancelallorders within 10 s (NOT met for those; "
                  "--verbose shows which)")
    else:
        print("  (c) key F F -> cancelallorders: no cancel request seen (NOT met)")
    if window_depths and depth_at_f:
        print(f"  WS client queue (events received, not yet taken by the engine): in the lag window p50 "
              f"{_pct([float(d) for d in window_depths], 0.5):.0f}, max {max(window_depths)}; at the second F p50 "
              f"{_pct([float(d) for d in depth_at_f], 0.5):.0f}, max {max(depth_at_f)}")
    rm, sm = window_ui
    if rm and sm:
        print(f"  the UI in the lag window: refresh ticks (the app's refresh_now: the engine's snapshot, the panels "
              f"updated) {len(rm)}, p50 {_pct(rm, 0.5):.1f} ms, p99 {_pct(rm, 0.99):.1f} ms, max {max(rm):.1f} ms, "
              f"{sum(rm) / wall / 10:.0f} % of the wall; textual's screen updates (rendering) {len(sm)}, p50 "
              f"{_pct(sm, 0.5):.1f} ms, p99 {_pct(sm, 0.99):.1f} ms, max {max(sm):.1f} ms, {sum(sm) / wall / 10:.0f} % "
              "of the wall (wall times: on a busy machine they include waits for a core)")
    if args.verbose:
        rows = sorted(probe.widget_refreshes.items(), key=lambda kv: -kv[1])
        print("  widget refreshes in the lag window (class, layout, inside a refresh tick: calls): " + ", ".join(
            f"{cls} {'layout' if lay else 'repaint'} {'tick' if tick else 'OUTSIDE'} {n}" for (cls, lay, tick), n in rows))
        print(f"  main-thread stack samples in the lag window:\n{sampler.top()}")
        print(f"  main-thread stack samples during the flattens:\n{flat_sampler.top()}")
    print(f"  control socket served by the console: {served or 'NOT served'}; ctl status answers "
          f"{poller.answers} (errors {poller.errors}), slowest {poller.slowest_ms:.1f} ms")
    print(f"  journal and log: {tmp}")


class _StackSampler:
    """Samples the main thread's stack every ``every_s`` from a daemon thread and files each sample under the
    innermost ``kraken_tui`` frame: ``feed`` (``kraken_tui/paper``), ``console`` (any other ``kraken_tui``
    module, textual or rich), ``loop`` (none of them: the event loop, sockets), or ``idle`` (in ``select``)."""

    def __init__(self, every_s: float = 0.002) -> None:
        import threading

        self.every_s = every_s
        self.counts = {"feed": 0, "console": 0, "loop": 0, "idle": 0}
        self.where: dict[str, int] = {}  # innermost kraken_tui / textual / rich frame ("module:function") -> samples
        self.outer: dict[str, int] = {}  # outermost kraken_tui / textual frame (the task that is running) -> samples
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stack-sampler")
        self.cpu_s = 0.0  # the sampler thread's own CPU so far (part of the console process's CPU), s

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        sep = os.sep
        paper, pkg = f"{sep}kraken_tui{sep}paper{sep}", f"{sep}kraken_tui{sep}"
        ui_libs = (f"{sep}textual{sep}", f"{sep}rich{sep}")
        t0 = time.thread_time()
        while not self._stop.wait(self.every_s):
            self.cpu_s = time.thread_time() - t0
            frame = sys._current_frames().get(self._main)  # noqa: SLF001 (a bench's profiler)
            where = "loop"
            if frame is not None and frame.f_code.co_name == "select" and frame.f_code.co_filename.endswith(
                    "selectors.py"):
                self.counts["idle"] += 1  # waiting in select(): no CPU
                continue
            inner = outer = None
            while frame is not None:
                name = frame.f_code.co_filename
                if paper in name and where == "loop":
                    where = "feed"
                elif (pkg in name or any(lib in name for lib in ui_libs)) and where == "loop":
                    where = "console"
                if pkg in name or any(lib in name for lib in ui_libs):
                    label = f"{Path(name).stem}:{frame.f_code.co_name}"
                    inner = inner or label
                    outer = label
                frame = frame.f_back
            self.counts[where] += 1
            for table, label in ((self.where, inner), (self.outer, outer)):
                if label is not None:
                    table[label] = table.get(label, 0) + 1

    def top(self, n: int = 12) -> str:
        """The ``n`` busiest innermost and outermost frames, as "label samples" lines."""
        rows = []
        for title, table in (("innermost", self.where), ("outermost (the running task)", self.outer)):
            best = sorted(table.items(), key=lambda kv: -kv[1])[:n]
            rows.append(f"      {title}: " + ", ".join(f"{k} {v}" for k, v in best))
        return "\n".join(rows)


class _CtlPoller:
    """A client thread asking the console's control socket for ``status`` every ``every_s`` seconds."""

    def __init__(self, path: str | None, every_s: float) -> None:
        import threading

        self.path, self.every_s = path, every_s
        self.answers = self.errors = 0
        self.slowest_ms = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ctl-poller")

    def start(self) -> None:
        if self.path and self.every_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        import socket

        while not self._stop.wait(self.every_s):
            t = time.perf_counter()
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(5)
                    s.connect(str(self.path))
                    s.sendall(b'{"cmd": "status"}\n')
                    buf = b""
                    while not buf.endswith(b"\n"):
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                self.answers += 1 if buf.endswith(b"\n") else 0
                self.slowest_ms = max(self.slowest_ms, (time.perf_counter() - t) * 1000)
            except OSError:
                self.errors += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--real", action="store_true", help="the latency figures on the real console under a replay")
    ap.add_argument("--replay", default=DEFAULT_REPLAY, help="PATH@SYMBOL (default: the ETHUSD 5 min candles)")
    ap.add_argument("--speed", default="375000", help="data seconds per wall second, or max (default 375000)")
    ap.add_argument("--seconds", type=float, default=10.0, help="lag/CPU window (default 10)")
    ap.add_argument("--ctl-poll", type=float, default=1.0,
                    help="seconds between ctl status requests to the console's socket (0 = none; default 1)")
    ap.add_argument("--flattens", type=int, default=30, help="F F samples (default 30)")
    ap.add_argument("--background-load", type=int, default=0, metavar="N",
                    help="real mode: run N busy processes (CPU loops) beside the console (default 0)")
    ap.add_argument("--verbose", action="store_true", help="real mode: one line per flatten")
    ap.add_argument("--profile", action="store_true",
                    help="real mode: print a cProfile of the console over the lag window (inflates its figures)")
    ap.add_argument("--consume-yield", type=int, default=0, metavar="N",
                    help="real mode, experiment: the engine's WS consumer yields the loop every N events "
                         "(default 0: the engine as it is)")
    ap.add_argument("--timeframe", default="5m", choices=["1m", "5m", "15m", "1h", "4h"],
                    help="real mode: the strategy's candle timeframe (default 5m; candles close --speed times "
                         "faster than on a live market)")
    ap.add_argument("--ws-read-batch-ms", type=float, default=None, metavar="MS",
                    help="real mode, feed in its own process: the WS client's read hold ([client] ws_read_batch_ms; "
                         "default: the config's default; 0 = every frame read as it arrives)")
    ap.add_argument("--ab-read-hold", action="store_true",
                    help="real mode, feed in its own process: over the lag window, the WS client's read hold off and "
                         "on in alternating 1 s slices; prints the console's CPU per message on each side")
    ap.add_argument("--feed", choices=["process", "in-process"], default="process",
                    help="real mode: the market and the exchange in their own process (kraken-tui sim, the "
                         "console in live mode against it, as against Kraken; default) or inside the console's "
                         "process (paper replay with lockstep)")
    args = ap.parse_args()
    if not args.real:
        asyncio.run(_run(args.n))
        return
    with BackgroundLoad(args.background_load) as load:
        asyncio.run(_run_real(args))
    print(f"  background load: {load.describe()}")


if __name__ == "__main__":
    main()
