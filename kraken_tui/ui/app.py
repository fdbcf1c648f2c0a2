"""The console: ``KrakenApp`` (a Textual app over ``engine.facade.EngineControl``) and ``run_console``
(the ``kraken-tui run`` entry point under the UI).

Owns: the live gate (``--mode live`` starts the engine only after the operator typed ``LIVE``;
anything else quits with exit code 2, nothing started); starting and stopping the engine; sampling
``engine.snapshot()`` at ``[ui] refresh_hz`` and handing it to the dashboard; the terminal bell; themes;
the journal and help screens; the command palette. The operator keys are delegated to an
``ui.operator_keys.OperatorKeys`` the app owns (``operator``), the
warnings' wording in ``ui.wording``, the log file in ``ui.logfile`` (nothing reaches stderr under the UI).
The engine is never awaited from a key handler except through workers, and every read of the journal
runs in a thread.
Units: refresh rate per second; clocks UTC epoch seconds (``clock``) and milliseconds (snapshots).
Must not import: the engine's internals (only ``engine.facade`` and ``engine.operator``), the client.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.color import Color
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen

from kraken_tui.config import Config
from kraken_tui.engine.facade import EngineControl, EngineEvent, EngineSnapshot, FlattenReport, Severity
from kraken_tui.errors import exit_code_for
from kraken_tui.journal.db import resolve_journal_path
from kraken_tui.ui import themes
from kraken_tui.ui.keys import (
    FLATTEN_CHORD,
    KEYS,
    FlattenGuard,
    KeyBurst,
    bindings,
    destructive_keymap,
    key_spec,
)
from kraken_tui.ui.logfile import default_log_file, setup_logging
from kraken_tui.ui.operator_keys import OperatorKeys
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.row_actions import ROW_KEYS, RowActions, row_bindings
from kraken_tui.ui.screens.dashboard import DashboardScreen
from kraken_tui.ui.screens.help import HelpScreen
from kraken_tui.ui.screens.journal import JournalScreen
from kraken_tui.ui.screens.live_gate import LiveGateScreen
from kraken_tui.ui.services import EngineServices, RuntimeServices
from kraken_tui.ui.widgets.base import Frame
from kraken_tui.ui.wording import quit_warning, reset_warning, wants_bell

__all__ = ["KrakenApp", "default_log_file", "quit_warning", "reset_warning", "run_console", "wants_bell"]

log = logging.getLogger(__name__)

#: At most one bell per this many seconds (a burst of fills rings once).
BELL_GAP_S = 0.5
#: The largest share of the wall time the refresh ticks take: after a tick that took ``d`` seconds the next one
#: runs no sooner than ``d / REFRESH_DUTY`` later (below ``[ui] refresh_hz`` only when ticks are slow: a loaded
#: machine or a heavy snapshot), so the engine and the flatten keep the loop. Textual renders what a tick changed
#: after it, at a few times the tick's own cost (``bench/bench_console.py --real`` prints both): 5 % of the wall
#: for the ticks keeps the UI to about a quarter of the loop.
REFRESH_DUTY = 0.05
#: Exit code when the live gate is declined (README.md "Commands": usage/confirmation refused).
LIVE_DECLINED_EXIT = 2


class EngineEventPosted(Message):
    """An engine event, moved from the listener onto the app's message queue."""

    def __init__(self, event: EngineEvent) -> None:
        super().__init__()
        self.event = event


class KrakenApp(App[int]):
    """The console.

    Args:
        engine: the engine to show and drive (None when ``services`` builds it on mount).
        cfg: configuration ([ui] theme, refresh_hz, bell; [keymap]; [general] log_file).
        clock: wall clock, UTC epoch seconds (frozen in tests); drives the UTC clock, countdowns and
            the two-press flatten window.
        services: builds/starts the engine on mount and closes it on unmount (``RuntimeServices``).
        log_file: shown in the help screen (default from ``default_log_file``).
        export_dir: where the journal screen writes CSV exports (default: the current directory).
        journal_path: the journal file when the snapshot does not name one.
    """

    CSS_PATH = "app.tcss"
    TITLE = "kraken-tui"
    BINDINGS = bindings("app") + row_bindings()
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        engine: EngineControl | None,
        cfg: Config,
        *,
        clock: Callable[[], float] = time.time,
        services: EngineServices | None = None,
        log_file: Path | None = None,
        export_dir: Path | None = None,
        journal_path: Path | None = None,
    ) -> None:
        super().__init__()
        if engine is None and services is None:
            raise ValueError("KrakenApp needs an engine or services that build one")
        self.engine: EngineControl | None = engine
        self.cfg = cfg
        self.clock = clock
        self.services = services
        self.log_file = log_file or default_log_file(cfg)
        self.export_dir = export_dir or Path.cwd()
        self.journal_path = journal_path
        self.guard = FlattenGuard(clock=clock)
        self.burst = KeyBurst()
        self.palette = Palette()
        self.bells = 0
        self.engine_exit_code: int | None = None
        self.fatal: str | None = None
        self._last_bell = -1e18
        self._force = True
        self._last_snap: EngineSnapshot | None = None
        self._perf: Callable[[], float] = time.perf_counter  # the refresh ticks' cost clock (tests set their own)
        self._next_tick_s = 0.0  # ``_perf`` time before which a refresh tick is skipped (``REFRESH_DUTY``)
        self._theme_dirs = themes.theme_dirs(cfg.source_path)
        self._listening = False
        self.live_pending = False
        """True while the live gate waits for its typed confirmation (the engine is not started)."""
        self.operator = OperatorKeys(self, engine=lambda: self.engine, ui=cfg.ui, guard=self.guard,
                                     burst=self.burst, clock=clock, refresh=self.refresh_now, key_for=self.key_for,
                                     exit_code=lambda: self.engine_exit_code)
        """The operator keys: sees every event first; the operator actions below delegate to it."""
        self.rows = RowActions(self, engine=lambda: self.engine)
        """The row cursor, the row actions and the ``:`` command line (``ui.row_actions``)."""

    @property
    def flatten_reports(self) -> list[FlattenReport]:
        """Every report of a flatten fired from the console (keys, quit prompt, palette), in order."""
        return self.operator.flatten_reports

    # ------------------------------------------------------------------ operator keys (delegated)
    def post_message(self, message: Message) -> bool:
        """Queue ``message``; a flatten key posted on the app's own thread is handled at once instead when
        ``OperatorKeys.take_now`` takes it (the flatten does not wait behind queued redraws)."""
        operator = self.__dict__.get("operator")  # None while the app is being constructed
        if operator is not None and threading.get_ident() == self._thread_id and operator.take_now(message):
            return True
        posted = super().post_message(message)
        if posted and operator is not None:
            operator.queued(message)
        return posted

    async def on_event(self, event: events.Event) -> None:
        if await self.operator.admit(event):
            await super().on_event(event)

    def simulate_key(self, key: str) -> None:
        """A key the app posts itself (textual's footer does on a click): never a destructive one."""
        if self.operator.admit_simulated(key):
            super().simulate_key(key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "row":
            return self.rows.available()
        return self.operator.check_action(action)

    def action_row(self, name: str) -> None:
        """A row action or the command line (``ui.row_actions.RowActions.act``)."""
        self.rows.act(name)

    def action_pause(self) -> None:
        """Pause entries (exits keep working)."""
        self.operator.pause()

    def action_resume(self) -> None:
        """Resume entries (also acknowledges an adopted position)."""
        self.operator.resume()

    async def action_flatten(self) -> None:
        """First press arms, a second press within the window fires."""
        await self.operator.flatten()

    def action_reset(self) -> None:
        """Reset HALTED -> PAUSED after a confirmation."""
        self.operator.reset()

    async def action_quit(self) -> None:
        """Textual's quit (ctrl+q, the command palette's Quit): the console's quit, which asks first."""
        self.operator.quit_console()

    def action_quit_console(self) -> None:
        """Quit; asks first while RUNNING or with positions or orders open."""
        self.operator.quit_console()

    # ------------------------------------------------------------------ lifecycle
    def get_default_screen(self) -> Screen:
        return DashboardScreen(zoom=self.cfg.ui.zoom, hidden=tuple(self.cfg.ui.hidden_panels))

    @property
    def dashboard(self) -> DashboardScreen:
        """The dashboard (the app's base screen)."""
        return self.screen_stack[0]  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.operator.input_in_one_turn()  # a flatten key reaches ``take_now`` one loop turn sooner
        self._setup_themes()
        self._setup_keymap()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self.set_interval(1 / self.cfg.ui.refresh_hz, self.refresh_tick, name="refresh")
        if self.engine is not None:
            self._attach_engine()
            return
        live_target = getattr(self.services, "live_target", None)
        target = live_target() if callable(live_target) else None
        if target is None:
            self._start_engine()
            return
        self.live_pending = True
        log.info("live mode: asking for the typed confirmation before starting (%s)", target)
        self.push_screen(LiveGateScreen(target), self._live_answer)

    def _live_answer(self, ok: bool | None) -> None:
        """The live gate's answer: start the engine, or quit with exit code 2 having started nothing."""
        if ok:
            self.live_pending = False
            log.info("live mode confirmed by the operator")
            self._start_engine()
            return
        log.warning("live mode not confirmed: quitting without starting the engine")
        self.live_pending = False
        self.fatal = "kraken-tui: live trading not confirmed (type LIVE to start); nothing was started"
        self.exit(return_code=LIVE_DECLINED_EXIT)

    def _start_engine(self) -> None:
        self.run_worker(self._boot(), name="engine-start", group="engine", exit_on_error=False)

    def _attach_engine(self) -> None:
        """Listen to the engine's events and draw the first frames."""
        assert self.engine is not None
        self.engine.add_listener(self._on_engine_event)
        self._listening = True
        self.refresh_now()
        self.call_after_refresh(self.refresh_now)  # again once the layout has sizes (the event log wraps)

    async def _boot(self) -> None:
        """Build and start the runtime on this loop; a failure ends the app with its exit code."""
        assert self.services is not None
        try:
            self.engine = await self.services.open()
        except Exception as exc:
            log.exception("engine start failed")
            self.fatal = f"kraken-tui: {exc}"
            self.exit(return_code=exit_code_for(exc))
            return
        self._attach_engine()
        self.run_worker(self._wait_engine(), name="engine-wait", group="engine", exit_on_error=False)

    async def _wait_engine(self) -> None:
        assert self.services is not None
        code = await self.services.wait()
        self.engine_exit_code = code
        log.info("engine finished with exit code %s", code)
        self.notify(f"The engine finished (exit code {code}). Press q to quit.",
                    severity="information" if code == 0 else "error", timeout=30)
        if getattr(self.services, "exit_at_end", False):
            self.exit(return_code=code)

    async def on_unmount(self) -> None:
        if self.engine is not None and self._listening:
            self.engine.remove_listener(self._on_engine_event)
            self._listening = False
        if self.services is not None:
            try:
                await self.services.close()
            except Exception:
                log.exception("engine stop failed")

    # ------------------------------------------------------------------ themes and keys
    def _setup_themes(self) -> None:
        for theme in themes.available_themes(self._theme_dirs):
            self.register_theme(theme)
        loaded = themes.load_theme(self.cfg.ui.theme, self._theme_dirs)
        if loaded.theme.name not in self.available_themes:
            self.register_theme(loaded.theme)
        self.theme = loaded.theme.name
        if loaded.problem:
            log.warning(loaded.problem)
            self.notify(loaded.problem, severity="warning", timeout=10)
        self.palette = self._palette()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """The console's own theme variables (``themes.EXTRA_KEYS``) for themes that do not set them."""
        return dict(themes.VARIABLE_DEFAULTS)

    def _palette(self) -> Palette:
        v = self.theme_variables
        try:
            muted = v.get("kt-muted") or Color.parse(v["foreground"]).blend(Color.parse(v["background"]), 0.45).hex
        except Exception:  # a theme without plain colours: the palette's default
            muted = None
        return Palette.from_variables(v, muted=muted)

    def _on_theme_changed(self, _theme: Any) -> None:
        self.palette = self._palette()
        self._force = True

    def _setup_keymap(self) -> None:
        known = {k.id for k in KEYS}
        unknown = sorted(set(self.cfg.keymap) - known)
        if unknown:
            self.notify(f"[keymap] ignores unknown binding id(s): {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(known))})", severity="warning", timeout=10)
        keymap = destructive_keymap(self.cfg.ui.destructive_keys)
        keymap.update({k: v for k, v in self.cfg.keymap.items() if k in known})
        self.set_keymap(keymap)

    def key_for(self, binding_id: str) -> str:
        """The key currently bound to ``binding_id``, as displayed (e.g. ``F``, ``?``)."""
        spec = key_spec(binding_id)
        key = self._keymap.get(binding_id, spec.key).split(",")[0]
        return self.get_key_display(Binding(key, spec.action))

    # ------------------------------------------------------------------ refresh
    def refresh_tick(self) -> None:
        """The ``refresh`` interval: ``refresh_now``, skipped while a flatten that just fired holds the redraws
        (``OperatorKeys.hold_redraws``, which refreshes when the hold ends) and while the last tick's cost is
        not yet paid back (``REFRESH_DUTY``: slow ticks come less often)."""
        if self.operator.quiet:
            return
        t0 = self._perf()
        if t0 < self._next_tick_s:
            return
        self.refresh_now()
        self._next_tick_s = t0 + (self._perf() - t0) / REFRESH_DUTY

    def refresh_now(self) -> None:
        """Sample the engine once and draw (``refresh_tick`` calls this at ``[ui] refresh_hz``)."""
        if self.engine is None:
            return
        try:
            snap = self.engine.snapshot()
        except Exception:
            log.exception("snapshot failed")
            return
        self._last_snap = snap
        if not self.screen_stack:  # a timer firing while the app shuts down: nothing left to draw on
            return
        dash = self.dashboard
        if not isinstance(dash, DashboardScreen) or not dash.is_mounted:
            return
        journal = next((s for s in reversed(self.screen_stack) if isinstance(s, JournalScreen)), None)
        if journal is not None:  # the dashboard is covered: only the journal's status bar is drawn
            with contextlib.suppress(NoMatches):
                journal.show_status(snap, int(self.clock() * 1000), self.palette, armed_s=self.guard.remaining_s(),
                                    flatten_key=self.key_for("flatten"), reset_key=self.key_for("reset"),
                                    resume_key=self.key_for("resume"))
            return
        frame = Frame(snap, int(self.clock() * 1000), self.palette, force=self._force)
        self._force = False
        try:
            with self.batch_update():
                dash.show(frame, armed_s=self.guard.remaining_s(), flatten_key=self.key_for("flatten"),
                          reset_key=self.key_for("reset"), resume_key=self.key_for("resume"))
                self.rows.place()
        except NoMatches:  # the screen is being built or torn down (start-up, exit)
            self._force = True

    @property
    def snapshot(self) -> EngineSnapshot | None:
        """The last snapshot drawn."""
        return self._last_snap

    # ------------------------------------------------------------------ engine events
    def _on_engine_event(self, event: EngineEvent) -> None:
        """Engine listener: runs on the engine's loop; only queues a message."""
        self.post_message(EngineEventPosted(event))

    def on_engine_event_posted(self, message: EngineEventPosted) -> None:
        event = message.event
        if self.cfg.ui.bell and wants_bell(event):
            self.ring()
        if event.severity in (Severity.ERROR, Severity.CRITICAL):
            self.notify(event.message, severity="error", timeout=10)

    def ring(self) -> None:
        """Ring the terminal bell (at most once per ``BELL_GAP_S``)."""
        now = self.clock()
        if now - self._last_bell < BELL_GAP_S:
            return
        self._last_bell = now
        self.bells += 1
        self.bell()

    def action_journal(self) -> None:
        """Open the journal screen."""
        self.push_screen(JournalScreen(self._journal_file(), self.export_dir))

    def _journal_file(self) -> Path:
        snap = self._last_snap
        if snap is not None and snap.journal_path:
            return Path(snap.journal_path)
        if self.journal_path is not None:
            return self.journal_path
        if self.services is not None and self.services.journal_path:
            return Path(self.services.journal_path)
        return resolve_journal_path(None, self.cfg)

    def action_help(self) -> None:
        """Show every key, the log file and the journal."""
        keys = [(self.key_for(k.id), k.help) for k in KEYS]
        keys.insert(3, (FLATTEN_CHORD, "Flatten from anywhere, text boxes included: press twice within 2 s. "
                                       "Clicks and pasted or fast-typed text never flatten, reset or quit."))
        keys += [({"colon": ":", "escape": "Esc"}.get(k, k), what) for k, _name, what in ROW_KEYS]
        keys += [("ctrl+p", "Command palette: every action, themes (dark, light, high-contrast)."),
                 ("Journal", "Esc back, / filter, s sort, o order, Enter detail, e export CSV, c charts.")]
        self.push_screen(HelpScreen(keys, str(self.log_file), str(self._journal_file())))

    # ------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Pause entries", "Block new entries; exits keep working", self.action_pause)
        yield SystemCommand("Resume entries", "Allow entries again (from PAUSED)", self.action_resume)
        yield SystemCommand("Flatten everything", "Close every position, cancel every order, HALT (asks first)",
                            self.operator.confirm_flatten)
        yield SystemCommand("Reset after HALTED", "HALTED -> PAUSED (asks first)", self.action_reset)
        yield SystemCommand("Journal", "Trades, statistics, equity curve, CSV export", self.action_journal)
        yield SystemCommand("Help", "Every key and the log file", self.action_help)
        for name in sorted(self.available_themes):
            if any((d / f"{name}.toml").is_file() for d in self._theme_dirs):
                yield SystemCommand(f"Theme: {name}", f"Switch to the {name} theme", lambda n=name: self._set_theme(n))
        yield from super().get_system_commands(screen)

    def _set_theme(self, name: str) -> None:
        self.theme = name


def run_console(cfg: Config, opts: Any) -> int:
    """Run the console until the operator quits: build the runtime (``kraken_tui.runtime.build_runtime``)
    inside the app's event loop, start it, show it, and stop it (``Runtime.aclose``) when the app
    unmounts. Logging goes to ``[general] log_file`` (default: the platform log dir).

    Args:
        cfg: the loaded configuration.
        opts: ``kraken_tui.runtime.RunOptions``.

    Returns:
        The exit code: 0 on a normal quit, the engine's exit code when it finished on its own (e.g. 5
        after a kill condition), or the start error's code (``errors.exit_code_for``); the start error is
        printed on stderr after the UI has closed.
    """
    log_file = default_log_file(cfg)
    restore = setup_logging(log_file)
    services = RuntimeServices(cfg, opts)
    app = KrakenApp(None, cfg, services=services, log_file=log_file, journal_path=getattr(opts, "journal", None))
    try:
        app.run(mouse=cfg.ui.mouse)
    finally:
        restore()
    if app.fatal:
        print(app.fatal, file=sys.stderr)
    code = app.return_code
    if app.live_pending:  # quit (ctrl+q, ctrl+c) while the live gate was still asking
        code = LIVE_DECLINED_EXIT
        print("kraken-tui: live trading not confirmed; nothing was started", file=sys.stderr)
    if code is None:
        code = 1 if app.fatal else 0
    return code
