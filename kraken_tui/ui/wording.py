"""What the console says to the operator before it acts: the quit warning (what stays open), the reset
warning (what a reset re-enables), and which engine events ring the terminal bell.

Owns: these texts and the bell rule (pure functions over ``engine.facade`` values; no textual).
"""

from __future__ import annotations

from kraken_tui.engine.facade import EngineEvent, EngineSnapshot, EventKind, Severity
from kraken_tui.engine.operator import OperatorState
from kraken_tui.wording import counted, where_left_open

__all__ = ["quit_warning", "reset_warning", "wants_bell"]

_ALERT_LEVELS = {"HIGH", "EXTREME", "CRITICAL"}


def wants_bell(event: EngineEvent) -> bool:
    """Ring for fills, risk-gate rejections, HIGH-or-worse liquidation alerts (``data["level"]`` or
    ``data["risk_level"]``) and anything critical."""
    if event.kind in (EventKind.FILL, EventKind.RISK_REJECTION):
        return True
    if event.severity is Severity.CRITICAL:
        return True
    if event.kind is EventKind.ALERT:
        level = str(event.data.get("level") or event.data.get("risk_level") or "").upper()
        return level in _ALERT_LEVELS
    return False


def quit_warning(snap: EngineSnapshot) -> str | None:
    """What stays open if the console quits now, and that quitting stops a RUNNING engine (None when nothing
    needs saying: no positions, no orders, and the engine not RUNNING)."""
    running = snap.state is OperatorState.RUNNING
    if not snap.positions and not snap.orders:
        if not running:
            return None
        return ("The engine is RUNNING: quitting stops it, and it opens no positions until it is started again.\n"
                "No position and no order is open.\n"
                "To keep it running instead, detach tmux (ctrl-b d) and reattach later (tmux attach).")
    lines = []
    where = where_left_open(snap.mode.value, snap.paper_account)
    if snap.positions:
        lines.append(f"{counted(len(snap.positions), 'position')} stay{'s' if len(snap.positions) == 1 else ''} "
                     f"open {where}:")
        for p in snap.positions:
            stop = f"stop {p.stop_price}" if p.stop_price is not None else "NO STOP"
            lines.append(f"  {p.symbol} {p.side.value} {p.size} @ {p.entry_price}  ({stop}, "
                         f"{counted(p.take_profits_left, 'take-profit')} left)")
    protective = [o for o in snap.orders if o.reduce_only]
    others = len(snap.orders) - len(protective)
    lines.append(f"{counted(len(protective), 'protective (reduce-only) order')} "
                 f"stay{'s' if len(protective) == 1 else ''} {where}"
                 + (f", and {counted(others, 'other order')}." if others else "."))
    lines.append("Nothing manages them after you quit: no trailing stop, no time exit, no new protective orders.")
    if snap.dead_man.enabled:
        lines.append(f"The dead man's switch is ON: Kraken cancels ALL orders, stops included, about "
                     f"{snap.dead_man.timeout_s} s after the console stops.")
    lines.append("To keep the console running instead, detach tmux (ctrl-b d) and reattach later (tmux attach).")
    return "\n".join(lines)


def reset_warning(snap: EngineSnapshot, resume_key: str) -> str:
    """What a reset re-enables (shown before asking)."""
    return (f"The engine is HALTED: {snap.state_reason}.\n\n"
            "Reset moves it to PAUSED. That re-enables exits: stop-losses, take-profits, trailing stops, time exits, "
            "and reconciliation with the exchange. Any position still open is managed again from now.\n"
            f"Entries stay paused until you press {resume_key} (resume).")
