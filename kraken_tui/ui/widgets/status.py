"""Status bar (two lines at the top): the loud mode banner (PAPER / REPLAY / LIVE, plus SYNTHETIC),
engine state with its reason, flatten progress or the armed-flatten warning, feed status and data
age, dead man's switch countdown, rate-limit headroom and the UTC clock.

Units: data age seconds; headroom percent of the REST cost budget; countdowns H:MM:SS.
Must not import: the engine's internals (only ``engine.facade``/``engine.operator`` types), the journal.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from kraken_tui.engine.facade import EngineMode, EngineSnapshot
from kraken_tui.engine.operator import OperatorState
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import update_text

__all__ = ["RECONCILIATION_BLOCKER", "StatusBar", "acknowledge_hint", "blockers_text", "state_line", "top_line"]


def _badge(word: str, style: str) -> Text:
    """A Text holding ``word`` styled as a badge; what is appended after it keeps its own style (the
    badge's style is a span, not the base style of the whole line)."""
    t = Text()
    t.append(word, style=style)
    return t


def _mode_badge(snap: EngineSnapshot, pal: Palette) -> Text:
    colour = {EngineMode.LIVE: pal.short, EngineMode.REPLAY: pal.accent, EngineMode.BACKTEST: pal.accent}.get(
        snap.mode, pal.long)
    t = _badge(f" {snap.mode.value.upper()} ", f"bold reverse {colour}")
    if snap.synthetic:
        t.append(" ")
        t.append(" SYNTHETIC PRICES ", style=f"bold reverse {pal.warn}")
    return t


def top_line(snap: EngineSnapshot, wall_ms: int, pal: Palette) -> Text:
    """Line 1, most important first (a narrow terminal cuts the end): mode banner, UTC clock, data time
    (replay), feed and data age, dead man's switch, rate-limit headroom, strategy, profile, notifications
    failing."""
    t = _mode_badge(snap, pal)
    t.append("  UTC ", style=pal.muted)
    t.append(fmt.hhmmss_utc(wall_ms), style="bold")
    if snap.mode in (EngineMode.REPLAY, EngineMode.BACKTEST):
        t.append("  data ", style=pal.muted)
        t.append(fmt.ymd_hms_utc(snap.ts_ms))
    feed = snap.feed
    if snap.mode is EngineMode.REPLAY and feed.status in ("stale", "ended"):
        # a replay that has run out of data: its quiet feed is the end of the file, not a fault
        t.append("  replay ended", style=f"bold {pal.warn}")
    else:
        feed_style = pal.long if feed.status == "live" else pal.warn if feed.status in ("connecting", "ended") \
            else pal.short
        t.append("  feed ", style=pal.muted)
        t.append(feed.status, style=f"bold {feed_style}")
        t.append(f" {fmt.age(feed.age_s)}")
    dms = snap.dead_man
    if dms.enabled:
        t.append("  DMS ", style=pal.muted)
        left = None if dms.trigger_ts_ms is None else (dms.trigger_ts_ms - wall_ms) / 1000
        t.append(fmt.countdown(left), style=pal.short if dms.last_error else "")
        if dms.last_error:
            t.append(f" ({dms.last_error})", style=pal.short)
    if snap.rate_limit_headroom is not None:
        t.append("  rate ", style=pal.muted)
        t.append(fmt.pct(snap.rate_limit_headroom, 0), style=pal.warn if snap.rate_limit_headroom < 0.3 else "")
    if snap.strategy:
        t.append(f"  {snap.strategy}", style=pal.muted)
    t.append(f"  profile {snap.profile}" if snap.profile else "", style=pal.muted)
    t.append("  NOTIFY FAILING" if snap.notify.failing else "", style=f"bold {pal.short}")
    return t


#: The entry blocker reconciliation sets for an unexplained (adopted) position; resume acknowledges it.
RECONCILIATION_BLOCKER = "reconciliation mismatch"


def blockers_text(snap: EngineSnapshot, pal: Palette) -> Text:
    """Every entry blocker as ``name: detail``, separated by `` | `` (empty when there is none)."""
    t = Text()
    for i, (name, detail) in enumerate(snap.entry_blockers.items()):
        if i:
            t.append(" | ", style=pal.muted)
        t.append(name, style=f"bold {pal.warn}")
        if detail:
            # The engine's reconciliation detail ends with "; resume acknowledges it": the state line says
            # that first, with the actual key.
            t.append(f": {detail.removesuffix('; resume acknowledges it')}")
    return t


def acknowledge_hint(snap: EngineSnapshot, pal: Palette, resume_key: str = "r") -> Text:
    """What resume does about a reconciliation blocker (an adopted external position): acknowledges it
    (and, from PAUSED, resumes entries). Empty without that blocker."""
    if RECONCILIATION_BLOCKER not in snap.entry_blockers:
        return Text()
    then = " and resume entries" if snap.state is OperatorState.PAUSED else ""
    return Text(f"  press {resume_key} to acknowledge the adopted position{then}", style=f"bold {pal.warn}")


def _reason_repeats_a_blocker(snap: EngineSnapshot) -> bool:
    """True when the state reason only restates a blocker detail (the engine pauses with
    ``reconciliation: <the blocker detail>``)."""
    reason = snap.state_reason
    return any(detail and detail in reason for detail in snap.entry_blockers.values())


def state_line(snap: EngineSnapshot, pal: Palette, *, armed_s: float = 0.0, flatten_key: str = "F",
               reset_key: str = "R", resume_key: str = "r") -> Text:
    """Line 2: the engine state in words with its reason and, while PAUSED or RUNNING, every entry blocker
    with its detail; the armed flatten or flatten progress override it because they matter most."""
    if armed_s > 0:
        # 78 cells: one line at 80 columns, so arming does not shift the dashboard.
        return Text(f" FLATTEN ARMED  {flatten_key} again within {armed_s:.1f} s closes everything; "
                    "any other key cancels ", style=f"bold reverse {pal.short}")
    fl = snap.flatten
    state = snap.state
    if state is OperatorState.FLATTENING:
        t = _badge(" FLATTENING ", f"bold reverse {pal.short}")
        if fl is not None:
            t.append(f"  {fl.phase}, round {fl.round}: {fl.positions_remaining} positions and "
                     f"{fl.orders_remaining} orders left on the exchange, {fl.requests} requests")
            if fl.detail:
                t.append(f" ({fl.detail})", style=pal.muted)
        else:
            t.append(f"  {snap.state_reason}")
        return t
    if state is OperatorState.HALTED:
        t = _badge(" HALTED ", f"bold reverse {pal.short}")
        t.append(f"  {snap.state_reason}.")
        if fl is not None and fl.phase != "done":
            t.append(f" NOT FLAT: {fl.positions_remaining} positions, {fl.orders_remaining} orders remain on the "
                     "exchange.", style=f"bold {pal.short}")
        elif fl is not None and fl.phase == "done" and not snap.positions and not snap.orders:
            t.append(" Flat: no positions, no orders.", style=f"bold {pal.long}")
        t.append(f" Press {reset_key} to reset (asks first).", style=pal.muted)
        return t
    blockers = blockers_text(snap, pal)
    if state is OperatorState.PAUSED:
        t = _badge(" ENTRIES PAUSED - EXITS ACTIVE ", f"bold reverse {pal.warn}")
        t.append_text(acknowledge_hint(snap, pal, resume_key))
        if not (blockers and _reason_repeats_a_blocker(snap)):
            t.append(f"  {snap.state_reason}")
        if blockers:
            t.append("  blocked: ", style=pal.muted)
            t.append_text(blockers)
        return t
    t = _badge(" RUNNING ", f"bold reverse {pal.long}")
    if blockers:
        t.append_text(acknowledge_hint(snap, pal, resume_key))
        t.append("  entries blocked: ", style=f"bold {pal.warn}")
        t.append_text(blockers)
    else:
        t.append(f"  {snap.state_reason}", style=pal.muted)
    return t


class StatusBar(Static):
    """Docked at the top: line 1 (cut with an ellipsis on a narrow terminal) and the state line, which
    wraps (up to three lines) when entry blockers make it long (so their details stay readable at 80 columns)."""

    DEFAULT_CSS = """
    StatusBar { dock: top; height: auto; max-height: 4; padding: 0 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__(Text("  starting…  the engine is connecting to the exchange", style="bold"), id="status")
        self._last: tuple[Text, Text] | None = None

    def show(self, snap: EngineSnapshot, wall_ms: int, pal: Palette, *, armed_s: float, flatten_key: str,
             reset_key: str, resume_key: str = "r", force: bool = False) -> None:
        """Draw both lines (only when something changed)."""
        top = top_line(snap, wall_ms, pal)
        top.no_wrap = True
        top.overflow = "ellipsis"
        state = state_line(snap, pal, armed_s=armed_s, flatten_key=flatten_key, reset_key=reset_key,
                           resume_key=resume_key)
        state.overflow = "ellipsis"
        if force or (top, state) != self._last:
            update_text(self, Group(top, state))
            self._last = (top, state)

    def plain(self) -> str:
        """What the bar shows, as plain text (both lines, unwrapped)."""
        if self._last is None:
            return ""
        return f"{self._last[0].plain}\n{self._last[1].plain}"
