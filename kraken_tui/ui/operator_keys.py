"""The operator's keys on the console: pause, resume, the two-press flatten, reset after HALTED and quit,
each with the confirmation or warning it needs.

Owns: ``OperatorKeys``, the part of ``KrakenApp`` that turns keys into ``EngineControl`` calls: the flatten
guard sees every key first (any other key disarms and does nothing else; the window runs between the
moments keys were pressed), dialogs block everything but flatten, and the flatten itself runs as a worker
whose cancel request leaves before the screen is redrawn.
Only deliberate key presses drive the operator keys:
- The flatten keys are handled here, before any screen or dialog sees them, so they work on every screen
  and modal (quit prompt, command palette, journal, help, confirmations, trade detail, live gate). Inside a
  text box a printable flatten key (F) types; the chord ``keys.FLATTEN_CHORD`` (ctrl+f) flattens there too.
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
from typing import TYPE_CHECKING, Any

from textual import events
from textual._time import get_time  # the clock textual stamps Message.time with (textual is pinned)
from textual.screen import ModalScreen
from textual.widgets import Input, TextArea
from textual.worker import Worker

from kraken_tui.engine.operator import OperatorState, TransitionRefused, TransitionSource
from kraken_tui.ui.keys import DESTRUCTIVE, FLATTEN_CHORD, FlattenGuard, GuardResult, KeyBurst, key_spec
from kraken_tui.ui.screens.confirm import ConfirmScreen, QuitChoice, QuitScreen
from kraken_tui.ui.screens.journal import JournalScreen
from kraken_tui.ui.widgets.status import RECONCILIATION_BLOCKER
from kraken_tui.ui.wording import quit_warning, reset_warning
from kraken_tui.wording import counted

if TYPE_CHECKING:
    from textual.app import App

    from kraken_tui.config import Config
    from kraken_tui.engine.facade import EngineControl

    _Base = App[int]
else:
    _Base = object

__all__ = ["OperatorKeys"]

log = logging.getLogger(__name__)

#: Actions that are not offered while a dialog is open (flatten always is: it is the emergency stop).
#: Seconds the flatten key's handler holds the app's message queue while the flatten sends its first requests.
FLATTEN_HEAD_START_S = 0.05
_BLOCKED_UNDER_DIALOG = {"pause", "resume", "reset", "journal", "help", "quit_console"}


class OperatorKeys(_Base):
    """Mixin for ``KrakenApp`` (listed before ``App``): operator key actions and the flatten guard.

    Expects on the app: ``engine`` (``EngineControl`` or None before start), ``guard`` (``FlattenGuard``
    on the app's clock), ``clock`` (UTC epoch seconds), ``flatten_reports``, ``engine_exit_code``,
    ``refresh_now()`` and ``key_for(binding_id)``.
    """

    engine: EngineControl | None
    cfg: Config
    burst: KeyBurst
    guard: FlattenGuard
    clock: Callable[[], float]
    flatten_reports: list[Any]
    engine_exit_code: int | None
    _flatten_pressed_at: float | None

    if TYPE_CHECKING:
        def refresh_now(self) -> None: ...

        def key_for(self, binding_id: str) -> str: ...

    def _keys_of(self, binding_id: str) -> set[str]:
        return {k.strip() for k in self._keymap.get(binding_id, key_spec(binding_id).key).split(",")}

    def _flatten_keys(self) -> set[str]:
        return self._keys_of("flatten") | {FLATTEN_CHORD}

    def _answer_keys(self) -> set[str]:
        """Keys that answer the open dialog (a confirmation's yes, the quit prompt's answers)."""
        if isinstance(self.screen, QuitScreen):
            return {"y", "f"}
        if isinstance(self.screen, ConfirmScreen):
            return {"y"}
        return set()

    def _text_focused(self) -> bool:
        """True while a text box has the focus (it takes printable keys as text)."""
        return isinstance(self.focused, Input | TextArea)

    def _queued_key_times(self) -> list[float]:
        """When the keys already waiting in the app's queue were read (textual's clock, seconds)."""
        queue = getattr(self._message_queue, "_queue", ())  # asyncio.Queue's deque (textual is pinned)
        return [m.time for m in list(queue) if isinstance(m, events.Key)]

    # ------------------------------------------------------------------ keys
    def _pressed_at(self, event: events.Key) -> float:
        """When ``event``'s key was read from the terminal, on ``self.clock``: now minus the time the
        event waited in the queue (a busy loop handles keys late; the flatten window must not shrink)."""
        waited_s = max(0.0, get_time() - event.time)
        return self.clock() - waited_s

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.MouseEvent) and not self.cfg.ui.mouse:
            return  # [ui] mouse = false
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
            return
        pressed_at = self._pressed_at(event)
        burst = self.burst.press(event.time, self._queued_key_times())
        text = self._text_focused()
        is_flatten = event.key in self._flatten_keys() and not (text and event.is_printable)
        if burst:
            if self.guard.other_key(pressed_at) is GuardResult.DISARMED:
                self.refresh_now()
            log.info("key %r read within %.0f ms of another: typed text, no binding", event.key,
                     self.burst.gap_s * 1000)
            if text and not is_flatten:
                await super().on_event(event)  # it types into the text box
            return
        if is_flatten:
            self._flatten_pressed_at = pressed_at
            await self.action_flatten()
            return
        if self.guard.other_key(pressed_at) is GuardResult.DISARMED:
            self.notify("Flatten cancelled (another key was pressed).", timeout=4)
            self.refresh_now()
            return  # the disarming key does nothing else
        self._flatten_pressed_at = None
        await super().on_event(event)

    def simulate_key(self, key: str) -> None:
        """A key the app posts itself (textual's footer does on a click): never a destructive one."""
        if self._destructive(key):
            self.notify("Flatten, reset, quit and dialog answers need the keyboard; clicks never do them.",
                        severity="warning", timeout=6)
            return
        super().simulate_key(key)

    def _destructive(self, key: str) -> bool:
        """True for a key of a destructive action (flatten, reset, quit) or an answer of the open dialog."""
        keys = set().union(*(self._keys_of(i) for i in DESTRUCTIVE)) | {FLATTEN_CHORD, "ctrl+q"}
        return key in keys or key in self._answer_keys()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _BLOCKED_UNDER_DIALOG and isinstance(self.screen, ModalScreen):
            return False
        if action == "journal" and isinstance(self.screen, JournalScreen):
            return False
        return True

    def _call(self, verb: str, fn: Callable[[str, TransitionSource], None]) -> bool:
        try:
            fn(f"operator: {verb} key", TransitionSource.KEY)
        except TransitionRefused as exc:
            self.notify(f"{verb.capitalize()} refused: {exc}", severity="warning")
            return False
        self.refresh_now()
        return True

    def action_pause(self) -> None:
        """Pause entries (exits keep working)."""
        if self.engine is not None and self._call("pause", self.engine.pause):
            self.notify("Entries paused - exits, stops and take-profits stay active.")

    def action_resume(self) -> None:
        """Resume entries; also acknowledges a position reconciliation adopted (the engine's resume)."""
        if self.engine is None:
            return
        before = self.engine.snapshot()
        adopted = RECONCILIATION_BLOCKER in before.entry_blockers
        if not self._call("resume", self.engine.resume):
            return
        if adopted:
            self.notify("Adopted position acknowledged: it stays external (the engine places no stop or "
                        "take-profits for it)." + (" Entries resumed." if before.state is OperatorState.PAUSED
                                                    else ""), timeout=10)
        else:
            self.notify("Entries resumed.")

    async def action_flatten(self) -> None:
        """First press arms, a second press within the window fires."""
        if self.engine is None:
            return
        pressed_at, self._flatten_pressed_at = self._flatten_pressed_at, None
        if self.guard.press_flatten(pressed_at) is GuardResult.ARMED:
            self.set_timer(self.guard.window_s + 0.05, self.refresh_now)
            self.refresh_now()
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

    def fire_flatten(self) -> Worker[None] | None:
        """Start the flatten now (a worker on this loop; progress shows in the status bar). Returns the
        worker, or None when there is no engine yet."""
        self.guard.disarm()
        if self.engine is None:  # not started yet (the live gate is asking): nothing to flatten
            self.notify("Nothing to flatten: the engine has not started.", severity="warning")
            return None
        worker = self.run_worker(self._flatten(), name="flatten", group="flatten", exit_on_error=False)
        self.notify("FLATTEN started: cancelling every order and closing every position.", severity="warning")
        self.call_later(self.refresh_now)
        return worker

    async def _flatten(self) -> None:
        assert self.engine is not None
        try:
            report = await self.engine.flatten("operator: flatten key", TransitionSource.KEY)
        except Exception as exc:  # the engine promises not to raise; say so loudly if it does
            log.exception("flatten raised")
            self.notify(f"FLATTEN ERROR: {exc}. Check the exchange.", severity="error", timeout=60)
            return
        self.flatten_reports.append(report)
        if report.flat:
            self.notify(f"Flat: exchange confirms no positions and no orders ({counted(report.rounds, 'round')}, "
                        f"{report.elapsed_ms:.0f} ms). Engine HALTED.", timeout=15)
        else:
            self.notify(f"FLATTEN INCOMPLETE: {report.error or 'positions or orders remain'}. Engine HALTED; "
                        "check the exchange.", severity="error", timeout=60)
        self.refresh_now()

    def action_reset(self) -> None:
        """Reset HALTED -> PAUSED after a confirmation that says what it re-enables."""
        if self.engine is None:
            return
        snap = self.engine.snapshot()
        if snap.state is not OperatorState.HALTED:
            self.notify(f"Reset is only for HALTED; the engine is {snap.state.value}.", severity="warning")
            return

        def done(ok: bool | None) -> None:
            if ok and self.engine is not None and self._call("reset", self.engine.reset):
                self.notify(f"Reset: PAUSED. Press {self.key_for('resume')} to resume entries.")

        self.push_screen(ConfirmScreen("Reset the HALTED engine?", reset_warning(snap, self.key_for("resume")),
                                       yes="reset", danger=True), done)

    async def action_quit(self) -> None:
        """Textual's quit (ctrl+q, the command palette's Quit): the console's quit, which asks first."""
        self.action_quit_console()

    def action_quit_console(self) -> None:
        """Quit; while RUNNING or with positions or orders open, ask first, say what stays open, and offer
        to flatten first."""
        if isinstance(self.screen, QuitScreen):
            return
        snap = self.engine.snapshot() if self.engine is not None else None
        warning = quit_warning(snap) if snap is not None else None
        if warning is None:
            self.exit(return_code=self.engine_exit_code or 0)
            return

        prompt = QuitScreen(warning)

        def done(ok: bool | None) -> None:
            if ok and prompt.choice is QuitChoice.FLATTEN:
                self.run_worker(self._flatten_then_quit(), name="flatten-quit", group="flatten-quit",
                                exit_on_error=False)
            elif ok:
                self.exit(return_code=self.engine_exit_code or 0)

        self.push_screen(prompt, done)

    async def _flatten_then_quit(self) -> None:
        """The quit prompt's ``f``: flatten, then quit once the exchange confirms the account flat."""
        worker = self.fire_flatten()
        if worker is None:
            return
        await self.workers.wait_for_complete([worker])
        report = self.flatten_reports[-1] if self.flatten_reports else None
        if report is not None and report.flat:
            self.exit(return_code=self.engine_exit_code or 0)
        else:
            self.notify("Not quitting: the flatten did not verify the account flat. Check the exchange.",
                        severity="error", timeout=60)


    def _confirm_flatten(self) -> None:
        def done(ok: bool | None) -> None:
            if ok:
                self.fire_flatten()

        self.push_screen(ConfirmScreen("FLATTEN everything?", "Cancels every order on every symbol (stops included), "
                                       "closes every position with reduce-only market orders, verifies flat with "
                                       "the exchange, then HALTS the engine.", yes="flatten", danger=True), done)
