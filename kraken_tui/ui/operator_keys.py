"""The operator's keys on the console: pause, resume, the two-press flatten, reset after HALTED and quit,
each with the confirmation or warning it needs.

Owns: ``OperatorKeys``, the part of ``KrakenApp`` that turns keys into ``EngineControl`` calls: the flatten
guard sees every key first (any other key disarms and does nothing else; the window runs between the
moments keys were pressed), dialogs block everything but flatten, and the flatten itself runs as a worker
whose cancel request leaves before the screen is redrawn.
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
from textual.worker import Worker

from kraken_tui.engine.operator import OperatorState, TransitionRefused, TransitionSource
from kraken_tui.ui.keys import FlattenGuard, GuardResult, key_spec
from kraken_tui.ui.screens.confirm import ConfirmScreen
from kraken_tui.ui.screens.journal import JournalScreen
from kraken_tui.ui.widgets.status import RECONCILIATION_BLOCKER
from kraken_tui.ui.wording import quit_warning, reset_warning
from kraken_tui.wording import counted

if TYPE_CHECKING:
    from textual.app import App

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
    guard: FlattenGuard
    clock: Callable[[], float]
    flatten_reports: list[Any]
    engine_exit_code: int | None
    _flatten_pressed_at: float | None

    if TYPE_CHECKING:
        def refresh_now(self) -> None: ...

        def key_for(self, binding_id: str) -> str: ...

    def _flatten_keys(self) -> set[str]:
        return {k.strip() for k in self._keymap.get("flatten", key_spec("flatten").key).split(",")}

    # ------------------------------------------------------------------ keys
    def _pressed_at(self, event: events.Key) -> float:
        """When ``event``'s key was read from the terminal, on ``self.clock``: now minus the time the
        event waited in the queue (a busy loop handles keys late; the flatten window must not shrink)."""
        waited_s = max(0.0, get_time() - event.time)
        return self.clock() - waited_s

    async def on_event(self, event: events.Event) -> None:
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
            return
        pressed_at = self._pressed_at(event)
        is_flatten = event.key in self._flatten_keys()
        if not is_flatten and self.guard.other_key(pressed_at) is GuardResult.DISARMED:
            self.notify("Flatten cancelled (another key was pressed).", timeout=4)
            self.refresh_now()
            return  # the disarming key does nothing else
        # The binding's action runs after this returns: hand it the press time (consumed once).
        self._flatten_pressed_at = pressed_at if is_flatten else None
        await super().on_event(event)

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

    def action_quit_console(self) -> None:
        """Quit; with positions or orders open, ask first and say what stays open."""
        snap = self.engine.snapshot() if self.engine is not None else None
        warning = quit_warning(snap) if snap is not None else None
        if warning is None:
            self.exit(return_code=self.engine_exit_code or 0)
            return

        def done(ok: bool | None) -> None:
            if ok:
                self.exit(return_code=self.engine_exit_code or 0)

        self.push_screen(ConfirmScreen("Quit the console?", warning, yes="quit"), done)


    def _confirm_flatten(self) -> None:
        def done(ok: bool | None) -> None:
            if ok:
                self.fire_flatten()

        self.push_screen(ConfirmScreen("FLATTEN everything?", "Cancels every order on every symbol (stops included), "
                                       "closes every position with reduce-only market orders, verifies flat with "
                                       "the exchange, then HALTS the engine.", yes="flatten", danger=True), done)
