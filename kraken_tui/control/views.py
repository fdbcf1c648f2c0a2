"""JSON and text views of an engine for the control channel.

Owns: ``status_dict`` (the JSON of ``ctl status --json``; keys fixed for scripts, README.md "Unattended
runs and control"),
``report_dict`` (a ``FlattenReport`` as JSON), ``format_status`` / ``format_report`` (their human-readable
forms). Pure: no I/O.
Units: sizes contracts, prices and P&L USD, ``liq_distance`` a fraction, times ms.
Must not import: textual.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kraken_tui.domain.catalog import known_instrument
from kraken_tui.domain.instruments import price_decimals
from kraken_tui.engine.facade import EngineSnapshot, FlattenReport
from kraken_tui.wording import counted

__all__ = ["format_report", "format_status", "report_dict", "status_dict"]


def _num(v: Decimal | float | int | None) -> float | int | None:
    if v is None:
        return None
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2**53 else float(v)
    return v


def status_dict(snap: EngineSnapshot) -> dict[str, Any]:
    """``ctl status --json``: the contract keys (state, state_reason, mode, equity_usd, positions[...],
    open_orders) plus extras (entry_blockers, dead_man, flatten, finished, journal_path, strategy).
    Sizes contracts, prices and P&L USD, ``liq_distance`` a fraction (None when no liquidation price)."""
    positions = [
        {"symbol": p.symbol, "side": p.side.value, "size": _num(p.size), "entry_price": _num(p.entry_price),
         "mark_price": _num(p.mark_price), "upnl_usd": _num(p.upnl_usd), "liq_price": _num(p.liq_price),
         "liq_distance": p.liq_distance, "external": p.external}
        for p in snap.positions
    ]
    dm = snap.dead_man
    fl = snap.flatten
    return {
        "state": snap.state.value,
        "state_reason": snap.state_reason,
        "mode": snap.mode.value,
        "equity_usd": _num(snap.account.equity_usd),
        "positions": positions,
        "open_orders": len(snap.orders),
        "entry_blockers": dict(snap.entry_blockers),
        "dead_man": {"enabled": dm.enabled, "timeout_s": dm.timeout_s, "trigger_ts_ms": dm.trigger_ts_ms,
                     "last_error": dm.last_error},
        "flatten": None if fl is None else {"phase": fl.phase, "round": fl.round, "requests": fl.requests,
                                            "positions_remaining": fl.positions_remaining,
                                            "orders_remaining": fl.orders_remaining, "detail": fl.detail},
        "finished": snap.finished,
        "journal_path": snap.journal_path,
        "strategy": snap.strategy,
    }


def report_dict(r: FlattenReport) -> dict[str, Any]:
    """A ``FlattenReport`` as JSON (closed: list of {symbol, size} signed contracts; times ms)."""
    return {"flat": r.flat, "rounds": r.rounds, "requests": r.requests, "cancelled_orders": r.cancelled_orders,
            "closed": [{"symbol": s, "size": _num(z)} for s, z in r.closed], "elapsed_ms": round(r.elapsed_ms, 3),
            "first_cancel_ms": None if r.first_cancel_ms is None else round(r.first_cancel_ms, 3),
            "error": r.error}


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    return f"{v:,.{nd}f}" if isinstance(v, float) else str(v)


def _on_grid(v: Any, symbol: str, *, size: bool = False) -> str:
    """A price (or, with ``size``, a size) of ``symbol`` as text on the instrument's tick (lot) grid, with
    thousands separators; 2 decimals for a symbol without a known spec (``domain.catalog``)."""
    if v is None:
        return "-"
    inst = known_instrument(symbol)
    if inst is None:
        return _fmt(float(v))
    step = inst.lot_size if size else inst.tick_size
    return f"{float(v):,.{price_decimals(step)}f}"


def format_status(s: dict[str, Any]) -> str:
    """Human-readable ``ctl status``: prices on the instrument's tick, sizes on its lot, money to the cent
    (the JSON keeps full precision)."""
    lines = [f"state      {s['state']} ({s['state_reason']})",
             f"mode       {s['mode']}    equity {_fmt(s['equity_usd'])} USD"]
    for name, detail in (s.get("entry_blockers") or {}).items():
        lines.append(f"blocked    {name}" + (f": {detail}" if detail else ""))
    lines.append(f"positions  {len(s['positions'])}")
    for p in s["positions"]:
        sym = p["symbol"]
        liq = "" if p["liq_price"] is None else \
            f"  liq {_on_grid(p['liq_price'], sym)} ({_fmt((p['liq_distance'] or 0) * 100, 1)}%)"
        ext = "  [external]" if p.get("external") else ""
        lines.append(f"  {sym} {p['side']} {_on_grid(p['size'], sym, size=True)} @ {_on_grid(p['entry_price'], sym)}"
                     f"  mark {_on_grid(p['mark_price'], sym)}  upnl {_fmt(_float(p['upnl_usd']))} USD{liq}{ext}")
    lines.append(f"orders     {s['open_orders']} open")
    dm = s.get("dead_man") or {}
    if dm.get("enabled"):
        lines.append(f"dead man   {dm['timeout_s']} s" + (f"  error: {dm['last_error']}" if dm.get("last_error") else ""))
    return "\n".join(lines)


def format_report(r: dict[str, Any]) -> str:
    """Human-readable flatten report."""
    closed = ", ".join(f"{c['symbol']} {c['size']}" for c in r["closed"]) or "nothing"
    head = "flat (verified by the exchange)" if r["flat"] else f"NOT FLAT: {r['error']}"
    return (f"flatten: {head}\n  cancelled {counted(r['cancelled_orders'], 'order')}; closed {closed}\n"
            f"  {counted(r['rounds'], 'round')}, {counted(r['requests'], 'REST call')}, {r['elapsed_ms']:.0f} ms")
