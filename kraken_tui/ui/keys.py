"""Console key bindings (ids remappable through ``[keymap]``) and the two-press flatten guard.

Owns: the binding ids, their default keys and descriptions (footer, help screen, command palette),
and ``FlattenGuard``: the first flatten key arms, a second one within ``window_s`` fires, any other
key disarms, so one stray key never flattens. The window is measured between the moments the keys were
PRESSED (read from the terminal), not when a busy event loop got round to handling them: a double press
made in time fires even when both keys wait in the queue behind a burst of market data.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from textual.binding import Binding, BindingType

__all__ = ["ARM_WINDOW_S", "BURST_GAP_S", "DESTRUCTIVE", "FLATTEN_CHORD", "FlattenGuard", "GuardResult", "KeyBurst",
           "KeySpec", "KEYS", "bindings", "destructive_keymap", "key_spec"]

#: Seconds within which the second flatten key press fires the flatten.
ARM_WINDOW_S = 2.0
#: Keys read within this many seconds of each other are typed or pasted text, never operator keys
#: (``KeyBurst``). A terminal delivers a paste without bracketed paste, or text sent by a program, as one read:
#: its keys are stamped microseconds apart. Deliberate presses are tens of milliseconds apart at the very
#: least (two fingers rolling over two keys ~30 ms, one key pressed twice ~80 ms, key auto-repeat 30-50 ms).
BURST_GAP_S = 0.015
#: The flatten chord that works on every screen, inside text boxes too (a Ctrl-chord types nothing).
FLATTEN_CHORD = "ctrl+f"
#: Binding ids of the destructive actions: no click, paste or burst of keys drives them.
DESTRUCTIVE = frozenset({"flatten", "reset", "quit"})


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One operator key: binding ``id`` (the ``[keymap]`` name), default key, action, footer label and
    a help sentence."""

    id: str
    key: str
    action: str
    label: str
    help: str
    show: bool = True
    scope: str = "app"
    """"app" (works on every screen) or "dashboard" (the dashboard screen only)."""


KEYS: tuple[KeySpec, ...] = (
    KeySpec("pause", "p", "pause", "Pause", "Pause entries: no new positions; exits, stops and take-profits keep working."),
    KeySpec("resume", "r", "resume", "Resume", "Resume entries after a pause (not after HALTED: reset first)."),
    KeySpec("flatten", "F", "flatten", "FLATTEN",
            "Flatten: press twice within 2 s, on any screen or dialog. Cancels every order and closes every "
            "position, then HALTS. Inside a text box (journal filter, command palette, live gate) F types F: "
            "use ctrl+f twice, which works everywhere."),
    KeySpec("reset", "R", "reset", "Reset", "Reset after HALTED (asks first): back to PAUSED, then resume."),
    KeySpec("journal", "j", "journal", "Journal", "Open the trade journal: trades, statistics, equity, export."),
    KeySpec("help", "question_mark", "help", "Help", "This help: every key and the log file."),
    KeySpec("quit", "q", "quit_console", "Quit",
            "Quit the console (asks first while RUNNING or with positions open; the prompt also offers "
            "flatten, then quit)."),
    KeySpec("page", "tab", "next_page", "Page", "Small terminals: show the next group of panels (1, 2, 3 show that page).", show=False,
            scope="dashboard"),
    KeySpec("events", "e", "focus_events", "Events",
            "Events log: scroll back with the arrows / PgUp / PgDn / Home / End, / searches, s filters by "
            "severity, Escape clears the search.", show=False, scope="dashboard"),
    KeySpec("zoom", "z", "zoom_panel", "Zoom",
            "Zoom: draw the next panel alone over the whole dashboard; past the last panel, back to the layout.",
            show=False, scope="dashboard"),
    KeySpec("hide", "v", "hide_panel", "Hide",
            "Hide the zoomed panel from the layout, or show it again (z picks the panel).", show=False,
            scope="dashboard"),
)


def destructive_keymap(mode: str) -> dict[str, str]:
    """The default keys of the destructive actions for ``[ui] destructive_keys`` (binding id -> key):
    ``plain`` keeps F / R / q; ``ctrl`` makes them ``ctrl+f`` / ``ctrl+r`` / ``ctrl+q``. ``[keymap]`` entries
    override these."""
    if mode == "ctrl":
        return {"flatten": FLATTEN_CHORD, "reset": "ctrl+r", "quit": "ctrl+q"}
    return {}


class KeyBurst:
    """Tells deliberate key presses from typed or pasted text by their timing (``BURST_GAP_S``).

    Args:
        gap_s: keys closer than this (seconds, on the clock the key events are stamped with) form a burst.
    """

    def __init__(self, gap_s: float = BURST_GAP_S) -> None:
        self.gap_s = gap_s
        self._last: float | None = None

    def press(self, at: float, queued: Iterable[float] = ()) -> bool:
        """A key read at ``at`` (seconds); ``queued``: when the keys already waiting behind it were read.
        True when it is part of a burst: within ``gap_s`` of the key before it or of one queued after it."""
        burst = self._last is not None and abs(at - self._last) < self.gap_s
        burst = burst or any(abs(q - at) < self.gap_s for q in queued)
        self._last = at
        return burst


def key_spec(binding_id: str) -> KeySpec:
    """The ``KeySpec`` with ``binding_id``.

    Raises:
        StopIteration: no such binding id (a programming error: ids are the constants above).
    """
    return next(k for k in KEYS if k.id == binding_id)


def bindings(scope: str = "app") -> list[BindingType]:
    """``BINDINGS`` of the app (``scope="app"``) or the dashboard screen: one ``Binding`` per
    ``KeySpec`` carrying its id (so ``App.set_keymap`` can remap it)."""
    return [Binding(k.key, k.action, k.label, id=k.id, show=k.show) for k in KEYS if k.scope == scope]


class GuardResult(StrEnum):
    """What a key press did to the flatten guard."""

    ARMED = "armed"
    FIRE = "fire"
    DISARMED = "disarmed"
    IGNORED = "ignored"


class FlattenGuard:
    """Two-press confirmation for flatten.

    Args:
        clock: monotonic seconds (injected so tests can freeze it).
        window_s: the second press must come within this many seconds of the first.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = ARM_WINDOW_S) -> None:
        self._clock = clock
        self.window_s = window_s
        self._armed_at: float | None = None

    def _now(self, at: float | None) -> float:
        return self._clock() if at is None else at

    @property
    def armed(self) -> bool:
        """True while a first press is waiting for its second (and the window has not run out)."""
        return self.armed_at_time(None)

    def armed_at_time(self, at: float | None) -> bool:
        """True when a press at ``at`` (the guard's clock, seconds; None = now) lands inside the window."""
        return self._armed_at is not None and self._now(at) - self._armed_at <= self.window_s

    def remaining_s(self) -> float:
        """Seconds left in the arming window (0 when not armed)."""
        if not self.armed:
            return 0.0
        assert self._armed_at is not None
        return max(0.0, self.window_s - (self._clock() - self._armed_at))

    def press_flatten(self, at: float | None = None) -> GuardResult:
        """The flatten key, pressed at ``at`` (the guard's clock, seconds; None = now): ``ARMED`` on the
        first press (or after the window ran out), ``FIRE`` on a second press within the window (the guard
        disarms itself)."""
        if self.armed_at_time(at):
            self._armed_at = None
            return GuardResult.FIRE
        self._armed_at = self._now(at)
        return GuardResult.ARMED

    def other_key(self, at: float | None = None) -> GuardResult:
        """Any other key, pressed at ``at`` (None = now): ``DISARMED`` when it was armed, else ``IGNORED``."""
        if self._armed_at is None:
            return GuardResult.IGNORED
        was_armed = self.armed_at_time(at)
        self._armed_at = None
        return GuardResult.DISARMED if was_armed else GuardResult.IGNORED

    def disarm(self) -> None:
        """Forget a pending first press (window expired, screen changed)."""
        self._armed_at = None
