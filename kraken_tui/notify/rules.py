"""Which engine events become notifications, and their text.

Owns: ``Alert`` (one notification: title, body, level, dedupe key) and ``alert_for`` (an ``EngineEvent`` ->
``Alert`` or None). Sent: anything CRITICAL (HALTED, fatal errors, a failed flatten, the equity floor,
liquidation risk EXTREME/CRITICAL); flatten started and done; a state change into PAUSED by a guard (daily
loss limit) or into HALTED; HIGH-level alerts (external position adopted, dead man's switch refresh failing)
except liquidation risk HIGH; a protective order removed by the exchange (position unprotected); market data
stale or the feed lost; reconciliation warnings. Units and vocabulary: ``engine.facade`` (docs/architecture.md
"The operator state machine").
Must not import: textual, the paper exchange, the UI.
"""

from __future__ import annotations

from dataclasses import dataclass

from kraken_tui.engine.facade import EngineEvent, EventKind, Severity

__all__ = ["Alert", "alert_for"]

_LOUD = (Severity.WARNING, Severity.ERROR, Severity.CRITICAL)


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification. ``level``: ``critical``, ``warning`` or ``info`` (apprise failure/warning/info);
    ``key``: what deduplication compares (the body)."""

    title: str
    body: str
    level: str
    key: str


def _wanted(ev: EngineEvent) -> bool:
    if ev.severity is Severity.CRITICAL:
        return True
    if ev.kind is EventKind.FLATTEN:
        return ev.severity in _LOUD or "flat" in ev.data or ev.message.startswith("flatten started")
    if ev.kind is EventKind.STATE_CHANGE:
        return ev.data.get("state") in ("PAUSED", "HALTED") and ev.data.get("source") not in ("key", "ctl", "restore")
    if ev.kind is EventKind.ALERT:
        level = str(ev.data.get("level") or "").upper()
        if "risk_level" in ev.data:
            return level in ("EXTREME", "CRITICAL")
        return level in ("HIGH", "EXTREME", "CRITICAL") or ev.severity in _LOUD
    if ev.kind in (EventKind.FEED, EventKind.RECONCILIATION):
        return ev.severity in _LOUD and "warm-up" not in ev.message
    return False


def alert_for(ev: EngineEvent, *, label: str) -> Alert | None:
    """The notification for ``ev``, or None when it is not one to send (module docstring).

    Args:
        ev: the engine event.
        label: who sends, e.g. ``kraken-tui paper`` (profile name and host go here), prefixed to the title.
    """
    if not _wanted(ev):
        return None
    level = "critical" if ev.severity is Severity.CRITICAL else "warning" if ev.severity in _LOUD else "info"
    title = f"{label}: {ev.kind.value}{' ' + ev.symbol if ev.symbol else ''} ({level})"
    return Alert(title, ev.message, level, ev.message)
