"""The operator's keys on the console: pause, resume, the two-press flatten, reset after HALTED and quit,
each with the confirmation or warning it needs.

Owns: ``OperatorKeys``, a collaborator ``KrakenApp`` owns and delegates its key handling and operator
actions to; it turns keys into ``EngineControl`` calls: the flatten guard sees every key first (any other
key disarms and does nothing else; the window runs between the moments keys were pressed), dialogs block
everything but flatten. The engine's flatten starts in the firing key's own call (``EngineControl.begin_flatten``:
FLATTENING set and its commit under way before the key's handler returns); a worker then waits for its first
request to be on its way (``EngineControl.flatten_launched``) before the console notifies and redraws, and
reports the result (redraws are held for ``FLATTEN_QUIET_S`` at most when it fires). A flatten key is handled
when the terminal driver posts it (``take_now``), ahead of the
redraws and engine messages waiting in the app's queue, unless an earlier key is still in flight (it goes
first: it may disarm).
Only deliberate key presses drive the operator keys:
- The flatten keys are handled here, before any screen or dialog sees them, so they work on every screen
  and modal (quit prompt, command palette, journal, help, confirmations, trade detail, live gate). Inside a
  text box a printable flatten key (F) types (except in the console's ``:`` command line, whose text box sets
  ``types_flatten_key = False``: there F is the flatten key); the chord ``keys.FLATTEN_CHORD`` (ctrl+f) flattens
  there too.
- A key read within ``keys.BURST_GAP_S`` of another (typed or pasted text without bracketed paste, e.g.
  ``grep OFF``) drives no binding: it types into a focused text box or is dropped, and disarms the flatten.
  Bracketed paste arrives as one ``Paste`` event, which no binding sees.
- A key the app posts itself (``simulate_key``: what a click on textual's footer does) never flattens,
  resets, quits or answers a dialog.
- ``[ui] mouse = false``: mouse events are dropped.
Must not import: the engine's internals (only ``engine.facade`` and ``engine.operator``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import events
from textual._time import get_time  # the clock textual stamps Message.time with (textual is pinned)
from textual.screen import ModalScreen
from textual.widgets import Input, TextArea
from textual.worker import Worker

from kraken_tui.engine.facade import FlattenReport
from kraken_tui.engine.operator import OperatorState, TransitionRefused, TransitionSource
from kraken_tui.ui.keys import DESTRUCTIVE, FLATTEN_CHORD, FlattenGuard, GuardResult, KeyBurst, key_spec
from kraken_tui.ui.screens.confirm import ConfirmScreen, QuitChoice, QuitScreen
from kraken_tui.ui.screens.journal import JournalScreen
from kraken_tui.ui.widgets.status import RECONCILIATION_BLOCKER
from kraken_tui.ui.wording import quit_warning, reset_warning
from kraken_tui.wording import counted

if TYPE_CHECKING:
    from textual.app import App

    from kraken_tui.config import UIConfig
    from kraken_tui.engine.facade import EngineControl

__all__ = ["FLATTEN_HEAD_START_S", "FLATTEN_QUIET_S", "OperatorKeys"]

log = logging.getLogger(__name__)

#: Seconds the flatten key's handler holds the app's message queue while the flatten sends its first requests.
FLATTEN_HEAD_START_S = 0.05
#: Seconds the screen's redraws and the refresh ticks are held at most when a flatten fires (``hold_redraws``).
FLATTEN_QUIET_S = 0.2
#: Actions that are not offered while a dialog is open (flatten always is: it is the emergency stop).
_BLOCKED_UNDER_DIALOG = {"pause", "resume", "reset", "journal", "help", "quit_console"}


class OperatorKeys:
    """The console's operator keys and the flatten guard, owned by ``KrakenApp``, which hands it every event
    first (``admit``), every key it posts itself (``admit_simulated``) and its operator actions.

    Args:
        app: the Textual app it acts on (screens, notifications, workers, the keymap, exit).
        engine: returns the engine (``EngineControl``), None before it has started.
        ui: the ``[ui]`` configuration (``mouse``: False drops every mouse event).
        guard: the two-press flatten guard (on ``clock``).
        burst: tells keys typed or pasted too fast to be deliberate presses.
        clock: wall clock, UTC epoch seconds.
        refresh: redraws the dashboard now.
        key_for: the key shown for a binding id (e.g. ``"resume"`` -> ``"r"``).
        exit_code: the engine's exit code once it finished on its own, else None (quit returns it).

    ``flatten_reports``: every ``FlattenReport`` a flatten key (or the quit prompt's flatten) produced, in order.
    """

    def __init__(self, app: App[int], *, engine: Callable[[], EngineControl | None], ui: UIConfig,
                 guard: FlattenGuard, burst: KeyBurst, clock: Callable[[], float], refresh: Callable[[], None],
                 key_for: Callable[[str], str], exit_code: Callable[[], int | None]) -> None:
        self.app = app
        self._engine = engine
        self.ui = ui
        self.guard = guard
        self.burst = burst
        self.clock = clock
        self.refresh = refresh
        self.key_for = key_for
        self._exit_code = exit_code
        self.flatten_reports: list[FlattenReport] = []
        self._flatten_pressed_at: float | None = None
        self._keys_in_flight: set[int] = set()  # ids of keys queued and not yet handled by ``admit``
        self._end_quiet: Callable[[], None] | None = None  # ends the redraw hold of a flatten that fired

    @property
    def engine(self) -> EngineControl | None:
        """The engine now (None before it has started)."""
        return self._engine()

    def _exit(self) -> None:
        self.app.exit(return_code=self._exit_code() or 0)

    def _keys_of(self, binding_id: str) -> set[str]:
        keymap = self.app._keymap  # App.set_keymap's map (textual is pinned)
        return {k.strip() for k in keymap.get(binding_id, key_spec(binding_id).key).split(",")}

    def _flatten_keys(self) -> set[str]:
        return self._keys_of("flatten") | {FLATTEN_CHORD}

    def _answer_keys(self) -> set[str]:
        """Keys that answer the open dialog (a confirmation's yes, the quit prompt's answers)."""
        if isinstance(self.app.screen, QuitScreen):
            return {"y", "f"}
        if isinstance(self.app.screen, ConfirmScreen):
            return {"y"}
        return set()

    def _text_focused(self) -> bool:
        """True while a text box has the focus (it takes printable keys as text)."""
        return isinstance(self.app.focused, Input | TextArea)

    def _queued_key_times(self) -> list[float]:
        """When the keys already waiting in the app's queue were read (textual's clock, seconds)."""
        queue = getattr(self.app._message_queue, "_queue", ())  # asyncio.Queue's deque (textual is pinned)
        return [m.time for m in list(queue) if isinstance(m, events.Key)]

    # ------------------------------------------------------------------ keys
    def _pressed_at(self, event: events.Key) -> float:
        """When ``event``'s key was read from the terminal, on ``self.clock``: now minus the time the
        event waited in the queue (a busy loop handles keys late; the flatten window must not shrink)."""
        waited_s = max(0.0, get_time() - event.time)
        return self.clock() - waited_s

    def take_now(self, event: events.Message) -> bool:
        """The flatten key's fast path, called when the terminal driver posts ``event`` (before it joins the
        app's message queue, where redraws and engine messages wait): a flatten key read while no other key
        waits in the queue or is being handled is handled NOW, with the same rules as ``admit`` (burst,
        text box, the two-press guard), so the flatten never waits behind rendering or feed messages.
        Returns True when handled (the app must not queue it); False for anything else, which the app
        queues as usual (``admit`` sees it in turn)."""
        if not isinstance(event, events.Key) or event.is_forwarded or self.engine is None:
            return False
        if event.key not in self._flatten_keys() or (self._text_focused() and event.is_printable):
            return False
        if self._keys_in_flight:  # an earlier key goes first (it may disarm the flatten)
            return False
        pressed_at = self._pressed_at(event)
        if self.burst.press(event.time, ()):
            if self.guard.other_key(pressed_at) is GuardResult.DISARMED:
                self.refresh()
            log.info("key %r read within %.0f ms of another: typed text, no binding", event.key,
                     self.burst.gap_s * 1000)
            return True  # dropped, as ``admit`` drops a flatten key read in a burst
        if self.guard.press_flatten(pressed_at) is GuardResult.ARMED:
            self.app.set_timer(self.guard.window_s + 0.05, self.refresh)
            self.refresh()
        else:
            self.fire_flatten()
        return True

    def input_in_one_turn(self) -> None:
        """Have the terminal driver hand every event it reads to the app in one turn of the event loop
        (``loop.call_soon_threadsafe(app.post_message, event)``, where ``take_now`` sees a flatten key) instead of
        two (textual's ``Driver.send_message`` schedules a coroutine that becomes a task that posts it): a flatten
        key then waits behind one turn's callbacks (a frame being rendered, market data) fewer. Every event of
        the driver takes this path, so their order is kept. Call it on the app's loop once the driver runs
        (textual is pinned: ``App._driver``); without a driver it does nothing."""
        driver = getattr(self.app, "_driver", None)
        if driver is None:
            return
        loop = asyncio.get_running_loop()
        post = self.app.post_message

        def send_message(message: events.Message) -> None:
            loop.call_soon_threadsafe(post, message)

        driver.send_message = send_message

    def queued(self, event: events.Message) -> None:
        """The app queued ``event`` (``take_now`` did not take it): a key stays in flight until ``admit`` has
        handled it, and no later flatten key overtakes it meanwhile."""
        if isinstance(event, events.Key):
            self._keys_in_flight.add(id(event))

    async def admit(self, event: events.Event) -> bool:
        """``_admit``; the key is in flight until it returns (``queued``)."""
        try:
            return await self._admit(event)
        finally:
            self._keys_in_flight.discard(id(event))

    async def _admit(self, event: events.Event) -> bool:
        """See ``event`` before the app does. Returns True when the app should handle it as usual, False
        when it was handled here (a flatten key) or must be dropped (a mouse event with ``[ui] mouse =
        false``; a key read in a burst outside a text box; the key that disarmed the flatten)."""
        if isinstance(event, events.MouseEvent) and not self.ui.mouse:
            return False  # [ui] mouse = false
        if not isinstance(event, events.Key) or event.is_forwarded:
            return True
        pressed_at = self._pressed_at(event)
        burst = self.burst.press(event.time, self._queued_key_times())
        text = self._text_focused()
        types_f = text and getattr(self.app.focused, "types_flatten_key", True)  # the ':' line: F never types
        is_flatten = event.key in self._flatten_keys() and not (types_f and event.is_printable)
        if burst:
            if self.guard.other_key(pressed_at) is GuardResult.DISARMED:
                self.refresh()
            log.info("key %r read within %.0f ms of another: typed text, no binding", event.key,
                     self.burst.gap_s * 1000)
            return text and not is_flatten  # it types into the text box
        if is_flatten:
            self._flatten_pressed_at = pressed_at
            await self.flatten()
            return False
        if self.guard.other_key(pressed_at) is GuardResult.DISARMED:
            self.app.notify("Flatten cancelled (another key was pressed).", timeout=4)
            self.refresh()
            return False  # the disarming key does nothing else
        self._flatten_pressed_at = None
        return True

    def admit_simulated(self, key: str) -> bool:
        """A key the app posts itself (textual's footer does on a click): True to let it through; False
        (after a warning) for a destructive one."""
        if self._destructive(key):
            self.app.notify("Flatten, reset, quit and dialog answers need the keyboard; clicks never do them.",
                            severity="warning", timeout=6)
            return False
        return True

    def _destructive(self, key: str) -> bool:
        """True for a key of a destructive action (flatten, reset, quit) or an answer of the open dialog."""
        keys = set().union(*(self._keys_of(i) for i in DESTRUCTIVE)) | {FLATTEN_CHORD, "ctrl+q"}
        return key in keys or key in self._answer_keys()

    def check_action(self, action: str) -> bool:
        """Whether the app offers ``action`` now: operator actions are not offered under a dialog (flatten
        always is), nor the journal on the journal screen."""
        if action in _BLOCKED_UNDER_DIALOG and isinstance(self.app.screen, ModalScreen):
            return False
        return not (action == "journal" and isinstance(self.app.screen, JournalScreen))

    def _call(self, verb: str, fn: Callable[[str, TransitionSource], None]) -> bool:
        try:
            fn(f"operator: {verb} key", TransitionSource.KEY)
        except TransitionRefused as exc:
            self.app.notify(f"{verb.capitalize()} refused: {exc}", severity="warning")
            return False
        self.refresh()
        return True

    def pause(self) -> None:
        """Pause entries (exits keep working)."""
        if self.engine is not None and self._call("pause", self.engine.pause):
            self.app.notify("Entries paused - exits, stops and take-profits stay active.")

    def resume(self) -> None:
        """Resume entries; also acknowledges a position reconciliation adopted (the engine's resume)."""
        engine = self.engine
        if engine is None:
            return
        before = engine.snapshot()
        adopted = RECONCILIATION_BLOCKER in before.entry_blockers
        if not self._call("resume", engine.resume):
            return
        if adopted:
            self.app.notify("Adopted position acknowledged: it stays external (the engine places no stop or "
                            "take-profits for it)." + (" Entries resumed." if before.state is OperatorState.PAUSED
                                                        else ""), timeout=10)
        else:
            self.app.notify("Entries resumed.")

    async def flatten(self) -> None:
        """The flatten key: first press arms, a second press within the window fires."""
        if self.engine is None:
            return
        pressed_at, self._flatten_pressed_at = self._flatten_pressed_at, None
        if self.guard.press_flatten(pressed_at) is GuardResult.ARMED:
            self.app.set_timer(self.guard.window_s + 0.05, self.refresh)
            self.refresh()
            return
        worker = self.fire_flatten()
        if worker is not None:
            await self._head_start(worker)

    async def _head_start(self, worker: Worker[None]) -> None:
        """Hold this key's handler (and so the app's message queue: redraws, queued engine events) for up to
        ``FLATTEN_HEAD_START_S`` while the flatten runs, so its first cancel request is not queued behind a
        redraw. The flatten itself never waits for the UI."""
        task = worker._task  # textual is pinned; Worker.wait() refuses a worker that has not begun running
        if task is not None:
            await asyncio.wait({task}, timeout=FLATTEN_HEAD_START_S)

    @property
    def quiet(self) -> bool:
        """True while a flatten that just fired holds the redraws (``hold_redraws``): the app skips its refresh
        ticks."""
        return self._end_quiet is not None

    def hold_redraws(self) -> None:
        """Hold textual's screen updates (``App.batch_update``) and the app's refresh ticks (``quiet``) for
        ``FLATTEN_QUIET_S`` or until the flatten returns, whichever comes first, so the flatten's first steps
        (FLATTENING made durable, the first requests) never wait behind a frame being rendered. The
        dashboard is refreshed and redrawn when the hold ends."""
        if self._end_quiet is not None:
            return
        batch = self.app.batch_update()
        batch.__enter__()

        def end() -> None:
            if self._end_quiet is not end:
                return
            self._end_quiet = None
            batch.__exit__(None, None, None)
            self.refresh()

        self._end_quiet = end
        self.app.set_timer(FLATTEN_QUIET_S, end)

    def _release_redraws(self) -> None:
        end = self._end_quiet
        if end is not None:
            end()

    def fire_flatten(self) -> Worker[None] | None:
        """Start the flatten now (a worker on the app's loop; progress shows in the status bar). Returns the
        worker, or None when there is no engine yet."""
        self.guard.disarm()
        if self.engine is None:  # not started yet (the live gate is asking): nothing to flatten
            self.app.notify("Nothing to flatten: the engine has not started.", severity="warning")
            return None
        engine = self.engine
        try:  # FLATTENING is set and its commit under way before this returns (no loop turn in between)
            started: asyncio.Future[FlattenReport] | Exception = engine.begin_flatten(
                "operator: flatten key", TransitionSource.KEY)
        except Exception as exc:  # the engine promises not to raise; the worker says so loudly
            started = exc
        self.hold_redraws()
        worker: Worker[None] = self.app.run_worker(self._flatten(started), name="flatten", group="flatten",
                                                   exit_on_error=False)
        return worker

    async def _flatten(self, started: asyncio.Future[FlattenReport] | Exception) -> None:
        """The flatten's UI: its notice and redraw once its first request is on its way (the UI's work never
        runs between the key and that request, ``FLATTEN_QUIET_S`` at most), then its report."""
        engine = self.engine
        assert engine is not None
        try:
            if isinstance(started, Exception):
                raise started
            await engine.flatten_launched(FLATTEN_QUIET_S)
            self.app.notify("FLATTEN started: closing every position, then cancelling every order.",
                            severity="warning")
            self.refresh()
            report = await started
        except Exception as exc:  # the engine promises not to raise; say so loudly if it does
            self._release_redraws()
            log.exception("flatten raised")
            self.app.notify(f"FLATTEN ERROR: {exc}. Check the exchange.", severity="error", timeout=60)
            return
        self._release_redraws()
        self.flatten_reports.append(report)
        if report.flat:
            self.app.notify(f"Flat: exchange confirms no positions and no orders "
                            f"({counted(report.rounds, 'round')}, {report.elapsed_ms:.0f} ms). Engine HALTED.",
                            timeout=15)
        else:
            self.app.notify(f"FLATTEN INCOMPLETE: {report.error or 'positions or orders remain'}. Engine HALTED; "
                            "check the exchange.", severity="error", timeout=60)
        self.refresh()

    def reset(self) -> None:
        """Reset HALTED -> PAUSED after a confirmation that says what it re-enables."""
        engine = self.engine
        if engine is None:
            return
        snap = engine.snapshot()
        if snap.state is not OperatorState.HALTED:
            self.app.notify(f"Reset is only for HALTED; the engine is {snap.state.value}.", severity="warning")
            return

        def done(ok: bool | None) -> None:
            if ok and self.engine is not None and self._call("reset", self.engine.reset):
                self.app.notify(f"Reset: PAUSED. Press {self.key_for('resume')} to resume entries.")

        self.app.push_screen(ConfirmScreen("Reset the HALTED engine?", reset_warning(snap, self.key_for("resume")),
                                           yes="reset", danger=True), done)

    def quit_console(self) -> None:
        """Quit; while RUNNING or with positions or orders open, ask first, say what stays open, and offer
        to flatten first."""
        if isinstance(self.app.screen, QuitScreen):
            return
        snap = self.engine.snapshot() if self.engine is not None else None
        warning = quit_warning(snap) if snap is not None else None
        if warning is None:
            self._exit()
            return

        prompt = QuitScreen(warning)

        def done(ok: bool | None) -> None:
            if ok and prompt.choice is QuitChoice.FLATTEN:
                self.app.run_worker(self._flatten_then_quit(), name="flatten-quit", group="flatten-quit",
                                    exit_on_error=False)
            elif ok:
                self._exit()

        self.app.push_screen(prompt, done)

    async def _flatten_then_quit(self) -> None:
        """The quit prompt's ``f``: flatten, then quit once the exchange confirms the account flat."""
        worker = self.fire_flatten()
        if worker is None:
            return
        await self.app.workers.wait_for_complete([worker])
        report = self.flatten_reports[-1] if self.flatten_reports else None
        if report is not None and report.flat:
            self._exit()
        else:
            self.app.notify("Not quitting: the flatten did not verify the account flat. Check the exchange.",
                            severity="error", timeout=60)

    def confirm_flatten(self) -> None:
        """The command palette's flatten: asks in a dialog, then fires."""
        def done(ok: bool | None) -> None:
            if ok:
                self.fire_flatten()

        self.app.push_screen(ConfirmScreen("FLATTEN everything?", "Cancels every order on every symbol (stops "
                                           "included), closes every position with reduce-only market orders, "
                                           "verifies flat with the exchange, then HALTS the engine.",
                                           yes="flatten", danger=True), done)
