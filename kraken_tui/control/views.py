"""JSON and text views of an engine for the control channel.

Owns: ``status_dict`` (the JSON of ``ctl status --json``; keys fixed for scripts, README.md "Unattended
runs and control"),
``report_dict`` (a ``FlattenReport`` as JSON), ``health_dict`` (``ctl health``: exit code and one line),
``format_status`` / ``format_report`` / ``format_instances`` (human-readable forms). Pure: no I/O.
Units: sizes contracts, prices and P&L USD, ``liq_distance`` a fraction, times ms.
Must not import: textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kraken_tui.domain.catalog import known_instrument
from kraken_tui.domain.instruments import price_decimals
from kraken_tui.engine.operator import OperatorState
from kraken_tui.wording import counted

if TYPE_CHECKING:  # annotations only: the facade loads the engine and config (not at `ctl status` start-up)
    from kraken_tui.engine.facade import EngineSnapshot, FlattenReport, ManualPreview, ManualResult

__all__ = ["HEALTH_DEGRADED", "HEALTH_DOWN", "HEALTH_OK", "format_instances", "format_manual", "format_report",
           "format_status", "health_dict", "manual_dict", "report_dict", "status_dict"]

HEALTH_OK, HEALTH_DEGRADED, HEALTH_DOWN = 0, 1, 2
"""``ctl health`` exit codes: RUNNING and fresh; degraded; HALTED or unreachable (docs/cli-contract.md)."""


def _num(v: Decimal | float | int | None) -> float | int | None:
    if v is None:
        return None
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2**53 else float(v)
    return v


def status_dict(snap: EngineSnapshot) -> dict[str, Any]:
    """``ctl status --json``: the contract keys (state, state_reason, mode, equity_usd, positions[...],
    open_orders) plus extras (orders: order_id, symbol, side, order_type, size, limit_price, stop_price,
    reduce_only, purpose; entry_blockers, dead_man, flatten, finished, journal_path, strategy).
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
        "orders": [{"order_id": o.order_id, "symbol": o.symbol, "side": o.side.value, "order_type": o.order_type,
                    "size": _num(o.size), "limit_price": _num(o.limit_price), "stop_price": _num(o.stop_price),
                    "reduce_only": o.reduce_only, "purpose": o.purpose} for o in snap.orders],
        "entry_blockers": dict(snap.entry_blockers),
        "dead_man": {"enabled": dm.enabled, "timeout_s": dm.timeout_s, "trigger_ts_ms": dm.trigger_ts_ms,
                     "last_error": dm.last_error},
        "flatten": None if fl is None else {"phase": fl.phase, "round": fl.round, "requests": fl.requests,
                                            "positions_remaining": fl.positions_remaining,
                                            "orders_remaining": fl.orders_remaining, "detail": fl.detail},
        "finished": snap.finished,
        "feed": {"status": snap.feed.status, "age_s": snap.feed.age_s, "detail": snap.feed.detail},
        "journal_path": snap.journal_path,
        "strategy": snap.strategy,
    }


def health_dict(snap: EngineSnapshot, problems: Sequence[str] = ()) -> dict[str, Any]:
    """``ctl health --json``: ``{"code": 0|1|2, "health": "ok|degraded|down", "reason": str, "state": str,
    "feed": str, "problems": [str]}``. ``code`` 2: HALTED, or the engine finished; 1: FLATTENING, PAUSED (by a
    guard or the operator), an entry blocker in force (stale market data, reconciliation, an unprotected
    position, ...), the market feed not live, a notification channel failing (``snap.notify``), or any of
    ``problems`` (other failing parts: each a short sentence); else 0. ``reason`` is one line saying why."""
    state = snap.state
    feed = snap.feed
    problems = list(problems)
    if snap.notify.failing:  # a channel that cannot reach the trader is a degraded instance
        problems.append(f"notifications failing: {snap.notify.detail or 'a channel failed'}")
    issues = list(problems)
    if state is OperatorState.HALTED:
        code, reason = HEALTH_DOWN, f"HALTED: {snap.state_reason}"
    elif snap.finished:
        code, reason = HEALTH_DOWN, f"the engine finished ({state.value}: {snap.state_reason})"
    else:
        if state is not OperatorState.RUNNING:
            issues.insert(0, f"{state.value}: {snap.state_reason}")
        issues += [f"entries blocked: {name}" + (f" ({detail})" if detail else "")
                   for name, detail in snap.entry_blockers.items()]
        if feed.status != "live":
            age = "" if feed.age_s is None else f", no market data for {feed.age_s:.0f} s"
            issues.append(f"market feed {feed.status}{age}" + (f" ({feed.detail})" if feed.detail else ""))
        if issues:
            code, reason = HEALTH_DEGRADED, "; ".join(issues)
        else:
            age = "" if feed.age_s is None else f", last market data {feed.age_s:.1f} s ago"
            code, reason = HEALTH_OK, f"RUNNING, market feed live{age}"
    return {"code": code, "health": ("ok", "degraded", "down")[code], "reason": reason, "state": state.value,
            "feed": feed.status, "problems": list(problems)}


def _iso_s(ms: Any) -> str:
    if not isinstance(ms, int | float):
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_instances(rows: Sequence[dict[str, Any]]) -> str:
    """Human-readable ``ctl list``: one line per instance (the ``ctl list --json`` rows)."""
    if not rows:
        return "no running kraken-tui instance"
    head = f"{'PID':>7}  {'KIND':<8}  {'MODE':<6}  {'STATE':<10}  {'STARTED (UTC)':<20}  JOURNAL"
    lines = [head]
    for r in rows:
        lines.append(f"{r['pid']!s:>7}  {r['kind']:<8}  {r['mode'] or '?':<6}  {r['state'] or 'unreachable':<10}  "
                     f"{_iso_s(r['started_ms']):<20}  {r['journal'] or '-'}")
    return "\n".join(lines)


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
    for o in s.get("orders") or []:
        sym = o["symbol"]
        price = " ".join(f"{k} {_on_grid(o[f'{k}_price'], sym)}" for k in ("limit", "stop") if o[f"{k}_price"] is not None)
        lines.append(f"  {o['order_id']}  {sym} {o['side']} {o['order_type']} {_on_grid(o['size'], sym, size=True)}"
                     f"{'  ' + price if price else ''}{'  reduce-only' if o['reduce_only'] else ''}  ({o['purpose']})")
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


def manual_dict(p: ManualPreview, r: ManualResult | None) -> dict[str, Any]:
    """The answer to a ``manual`` request (``ctl order|close|cancel|stop|edit ... --json``): ``{"ok", "cmd":
    "manual", "code", "error", "overridable", "preview": {"ok", "message", "sent", "notes", "gate_refusal"},
    "result": ManualResult.as_dict() | null}``. ``code``: 0 done; 2 refused before anything was sent (the
    preview's or the engine's refusal, the risk gate); 3 the exchange did not accept a request; without a result
    (a preview) the preview's verdict."""
    prev = {"ok": p.ok, "message": p.message, "sent": p.order.as_dict() if p.order else None, "notes": list(p.notes),
            "gate_refusal": p.gate_refusal}
    out: dict[str, Any] = {"cmd": "manual", "preview": prev, "result": r.as_dict() if r is not None else None,
                           "overridable": p.overridable}
    if r is None:
        out.update(ok=p.ok, code=0 if p.ok else 2, error=None if p.ok else p.message)
    elif r.ok:
        out.update(ok=True, code=0, error=None)
    else:
        out.update(ok=False, code=2 if r.status in ("refused", "not sent") else 3, error=r.message)
    return out


def format_manual(ans: dict[str, Any]) -> str:
    """Human-readable answer to a manual action: what was (or would be) sent, the rounding notes, the exchange's
    answer or the refusal."""
    prev = ans.get("preview") or {}
    res = ans.get("result")
    lines = []
    if res is not None:
        lines.append(res["message"])
        if res.get("order_id") or res.get("cli_ord_id"):
            lines.append(f"  exchange: {res['status']}  order {res.get('order_id') or '-'}  "
                         f"cliOrdId {res.get('cli_ord_id') or '-'}  filled {res.get('filled')}")
        for a in res.get("answers") or []:
            if a.get("purpose"):
                lines.append(f"  {a['purpose']}: {a['status']}")
        if res.get("overridden"):
            lines.append("  risk gate overridden (journaled)")
    else:
        lines.append(("would send: " if prev.get("ok") else "refused: ") + str(prev.get("message")))
    lines += [f"  {n}" for n in (res or prev).get("notes") or []]
    return "\n".join(lines)
