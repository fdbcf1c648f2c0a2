"""The control socket of a running instance, and the ``kraken-tui ctl`` client.

Owns: ``ControlServer`` - a UNIX stream socket (mode 0600, in the runtime directory) that drives any
``facade.EngineControl``; ``request`` / ``find_sockets`` for clients; ``status_dict``, the JSON of
``ctl status --json`` (keys fixed by ../shared/guides/cli-contract.md); and ``run``, the ``ctl`` handler.
Must not import: textual.

Protocol: one JSON object per line each way. Request ``{"cmd": "status|pause|resume|flatten|reset",
"reason": str}``; answer ``{"ok": true, "cmd": ..., "status": {...}}`` (flatten adds ``"report"``) or
``{"ok": false, "error": str, "code": int}`` where ``code`` is the exit code ``ctl`` should use
(2 refused / bad request, 1 internal error). A connection may carry several requests.

Socket path: ``<runtime dir>/ctl-<pid>.sock`` where the runtime dir is platformdirs'
``user_runtime_dir("kraken-tui")`` (``$XDG_RUNTIME_DIR/kraken-tui`` on Linux), falling back to
``<tempdir>/kraken-tui-<uid>`` (mode 0700) when that cannot be created. A socket file nobody listens on
(an instance that was killed) is stale: the server replaces one at its own path, clients skip them.

``ctl`` exit codes: 0 done; 2 no running instance found, several found without ``--socket``, or the
engine refused the transition (the message says why, e.g. "resume works from PAUSED only"); 3 a
flatten that did not end verified flat; 1 an internal error in the instance.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs

from kraken_tui.engine.facade import EngineControl, EngineSnapshot, FlattenReport
from kraken_tui.engine.operator import TransitionRefused, TransitionSource

__all__ = [
    "COMMANDS",
    "ControlServer",
    "default_socket_path",
    "find_sockets",
    "report_dict",
    "request",
    "run",
    "runtime_dir",
    "status_dict",
]

log = logging.getLogger(__name__)

APP_NAME = "kraken-tui"
COMMANDS = ("status", "pause", "resume", "flatten", "reset")
DEFAULT_REASONS = {
    "pause": "operator pause via ctl",
    "resume": "operator resume via ctl",
    "flatten": "operator flatten via ctl",
    "reset": "operator reset via ctl",
}
MAX_LINE = 64 * 1024


# ----------------------------------------------------------------------------- paths


def runtime_dir() -> Path:
    """The directory holding control sockets (created 0700): platformdirs' user runtime dir, else
    ``<tempdir>/kraken-tui-<uid>``."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset or not 0700
        warnings.simplefilter("ignore")
        first = Path(platformdirs.user_runtime_dir(APP_NAME))
    candidates = [first, Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}"]
    for d in candidates:
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = d.stat()
            if st.st_uid != os.getuid() or not os.access(d, os.W_OK):
                continue
            if stat.S_IMODE(st.st_mode) & 0o077:
                d.chmod(0o700)
            return d
        except OSError:
            continue
    raise OSError(f"no usable runtime directory among {', '.join(map(str, candidates))}")


def default_socket_path(pid: int | None = None) -> Path:
    """``<runtime dir>/ctl-<pid>.sock`` for this process (or ``pid``)."""
    return runtime_dir() / f"ctl-{os.getpid() if pid is None else pid}.sock"


def _is_live(path: Path) -> bool:
    """True when something accepts connections on the UNIX socket ``path``."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def find_sockets(directory: Path | None = None) -> list[Path]:
    """Live control sockets in ``directory`` (default: the runtime dir), stale ones skipped."""
    try:
        d = directory or runtime_dir()
    except OSError:
        return []
    return [p for p in sorted(d.glob("ctl-*.sock")) if p.is_socket() and _is_live(p)]


# ----------------------------------------------------------------------------- JSON views


def _num(v: Decimal | float | int | None) -> float | int | None:
    if v is None:
        return None
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2**53 else float(v)
    return v


def status_dict(snap: EngineSnapshot) -> dict[str, Any]:
    """``ctl status --json``: the cli-contract keys (state, state_reason, mode, equity_usd, positions[...],
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


# ----------------------------------------------------------------------------- server


class ControlServer:
    """Serve ``ctl`` requests for one engine on a UNIX socket.

    Args:
        engine: anything implementing ``facade.EngineControl`` (calls run on this event loop).
        path: socket path; default ``default_socket_path()``.

    ``start()`` binds (replacing a stale file at the path; refusing a live one), sets mode 0600 and
    returns the path; ``stop()`` closes and removes the file.

    Raises (start):
        OSError: the path is in use by a live instance, or cannot be bound.
    """

    def __init__(self, engine: EngineControl, path: Path | None = None) -> None:
        self.engine = engine
        self.path = path
        self._server: asyncio.AbstractServer | None = None
        self._inflight: set[asyncio.Task[Any]] = set()

    async def start(self) -> Path:
        """Bind and listen; returns the socket path."""
        path = self.path or default_socket_path()
        if path.exists() or path.is_symlink():
            if path.is_socket() and _is_live(path):
                raise OSError(f"control socket {path} is in use by a running instance")
            path.unlink()  # stale: left by an instance that did not exit cleanly
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(path), limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.path = path
        return path

    async def stop(self) -> None:
        """Stop listening, wait for in-flight requests briefly, remove the socket file. Safe twice."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        for t in list(self._inflight):
            t.cancel()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await _send(writer, {"ok": False, "error": f"request longer than {MAX_LINE} bytes", "code": 2})
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                await _send(writer, await self.dispatch(line))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._inflight.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def dispatch(self, line: bytes | str) -> dict[str, Any]:
        """Answer one request line (see the module docstring). Never raises."""
        try:
            req = json.loads(line)
        except ValueError as exc:
            return {"ok": False, "error": f"not JSON: {exc}", "code": 2}
        if not isinstance(req, dict) or req.get("cmd") not in COMMANDS:
            return {"ok": False, "error": f"cmd must be one of {', '.join(COMMANDS)}", "code": 2}
        cmd = req["cmd"]
        reason = req.get("reason")
        reason = reason.strip() if isinstance(reason, str) else ""
        if cmd != "status" and not reason:
            reason = DEFAULT_REASONS[cmd]
        eng = self.engine
        try:
            out: dict[str, Any] = {"ok": True, "cmd": cmd}
            if cmd == "pause":
                eng.pause(reason, TransitionSource.CTL)
            elif cmd == "resume":
                eng.resume(reason, TransitionSource.CTL)
            elif cmd == "reset":
                eng.reset(reason, TransitionSource.CTL)
            elif cmd == "flatten":
                report = await eng.flatten(reason, TransitionSource.CTL)
                out["report"] = report_dict(report)
                if not report.flat:
                    out.update(ok=False, error=f"flatten did not verify flat: {report.error}", code=3)
            out["status"] = status_dict(eng.snapshot())
            return out
        except TransitionRefused as exc:
            return {"ok": False, "error": str(exc), "code": 2}
        except Exception as exc:  # a bug in the engine: say so, keep serving
            log.exception("ctl %s failed", cmd)
            return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}", "code": 1}


async def _send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
    writer.write((json.dumps(obj) + "\n").encode())
    await writer.drain()


# ----------------------------------------------------------------------------- client


async def request(path: Path, cmd: str, reason: str | None = None, *, timeout_s: float | None = 10.0) -> dict[str, Any]:
    """Send one request to the instance at ``path`` and return its answer.

    Raises:
        OSError: nothing listens at ``path`` (ConnectionRefusedError / FileNotFoundError).
        TimeoutError: no answer within ``timeout_s`` (None = wait for ever; flatten uses that).
        ValueError: the answer is not a JSON object.
    """
    async def go() -> dict[str, Any]:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=16 * MAX_LINE)
        try:
            writer.write((json.dumps({"cmd": cmd, "reason": reason}) + "\n").encode())
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if not line:
            raise ValueError("the instance closed the connection without an answer")
        ans = json.loads(line)
        if not isinstance(ans, dict):
            raise ValueError("answer is not a JSON object")
        return ans

    return await asyncio.wait_for(go(), timeout_s) if timeout_s else await go()


def _fmt(v: Any, nd: int = 2) -> str:
    if v is None:
        return "-"
    return f"{v:,.{nd}f}" if isinstance(v, float) else str(v)


def format_status(s: dict[str, Any]) -> str:
    """Human-readable ``ctl status``."""
    lines = [f"state      {s['state']} ({s['state_reason']})",
             f"mode       {s['mode']}    equity {_fmt(s['equity_usd'])} USD"]
    for name, detail in (s.get("entry_blockers") or {}).items():
        lines.append(f"blocked    {name}" + (f": {detail}" if detail else ""))
    lines.append(f"positions  {len(s['positions'])}")
    for p in s["positions"]:
        liq = "" if p["liq_price"] is None else f"  liq {p['liq_price']} ({_fmt((p['liq_distance'] or 0) * 100, 1)}%)"
        ext = "  [external]" if p.get("external") else ""
        lines.append(f"  {p['symbol']} {p['side']} {p['size']} @ {p['entry_price']}  mark {_fmt(p['mark_price'])}"
                     f"  upnl {_fmt(p['upnl_usd'])} USD{liq}{ext}")
    lines.append(f"orders     {s['open_orders']} open")
    dm = s.get("dead_man") or {}
    if dm.get("enabled"):
        lines.append(f"dead man   {dm['timeout_s']} s" + (f"  error: {dm['last_error']}" if dm.get("last_error") else ""))
    return "\n".join(lines)


def format_report(r: dict[str, Any]) -> str:
    """Human-readable flatten report."""
    closed = ", ".join(f"{c['symbol']} {c['size']}" for c in r["closed"]) or "nothing"
    head = "flat (verified by the exchange)" if r["flat"] else f"NOT FLAT: {r['error']}"
    return (f"flatten: {head}\n  cancelled {r['cancelled_orders']} order(s); closed {closed}\n"
            f"  {r['rounds']} round(s), {r['requests']} REST calls, {r['elapsed_ms']:.0f} ms")


def _pick_socket(args: argparse.Namespace, err: Callable[[str], None]) -> Path | None:
    if args.socket is not None:
        return Path(args.socket)
    live = find_sockets()
    if len(live) == 1:
        return live[0]
    try:
        where = str(runtime_dir())
    except OSError:
        where = "the runtime directory"
    if not live:
        err(f"no running kraken-tui instance (no live control socket in {where}); start one with "
            f"'kraken-tui --no-ui' (or the console) or pass --socket PATH")
    else:
        err("several running instances; choose one with --socket: " + ", ".join(map(str, live)))
    return None


def run(args: argparse.Namespace) -> int:
    """``kraken-tui ctl [--socket PATH] status|pause|resume|flatten|reset [--json] [--reason TEXT]``.
    Returns the exit code (module docstring)."""

    def err(msg: str) -> None:
        print(f"kraken-tui ctl: {msg}", file=sys.stderr)

    path = _pick_socket(args, err)
    if path is None:
        return 2
    action = args.action
    reason = args.reason if args.reason is not None else DEFAULT_REASONS.get(action)
    if action == "reset" and not (reason or "").strip():
        err("reset needs a non-empty --reason")
        return 2
    try:
        ans = asyncio.run(request(path, action, reason, timeout_s=None if action == "flatten" else 10.0))
    except (OSError, TimeoutError) as exc:
        err(f"cannot reach the instance at {path}: {exc.__class__.__name__}: {exc}")
        return 2
    except ValueError as exc:
        err(f"bad answer from {path}: {exc}")
        return 1
    if args.json:
        print(json.dumps(ans["status"] if action == "status" and ans.get("ok") else ans))
    else:
        if "report" in ans:
            print(format_report(ans["report"]))
        if ans.get("ok"):
            if action != "status":
                print(f"{action}: done")
            print(format_status(ans["status"]))
        elif "status" in ans:
            print(format_status(ans["status"]))
    if not ans.get("ok"):
        if not args.json:
            err(str(ans.get("error", "refused")))
        return int(ans.get("code", 1))
    return 0


# ----------------------------------------------------------------------------- kraken-tui flatten

CONFIRM_WORD = "FLATTEN"


def run_flatten(args: argparse.Namespace) -> int:
    """``kraken-tui flatten [--config PATH] [--url URL] [--yes]``: flatten the account now.

    Where it acts, in order:
    1. ``--url URL`` given: that exchange directly (a ``kraken-tui sim`` paper exchange, or Kraken), with
       the configured keys, or the public paper key pair for a loopback URL when none are configured.
    2. one running instance found: through its ctl socket (the engine flattens and latches HALTED).
    3. ``general.mode = "live"``: Kraken at ``live.rest_url`` with the configured keys (``[live] enabled``
       is not required: a flatten only removes exposure).
    4. paper mode and nothing running: nothing to flatten - the built-in paper exchange only exists
       inside a running kraken-tui; says so and exits 0.
    Asks to type FLATTEN unless ``--yes``. Exit codes: 0 verified flat (or nothing to flatten); 2 refused
    confirmation, missing keys, several instances; 3 not verified flat / exchange error.
    """
    from kraken_tui.config import load_config

    def err(msg: str) -> None:
        print(f"kraken-tui flatten: {msg}", file=sys.stderr)

    cfg = load_config(getattr(args, "config", None))
    url: str | None = getattr(args, "url", None)
    target: Path | str
    if url:
        target = url
    else:
        live = find_sockets()
        if len(live) > 1:
            err("several running instances; use 'kraken-tui ctl --socket PATH flatten': " + ", ".join(map(str, live)))
            return 2
        if live:
            target = live[0]
        elif cfg.general.mode == "live":
            target = cfg.live.rest_url
        else:
            print("Nothing to flatten: paper mode, and no kraken-tui instance is running. The built-in paper "
                  "exchange only exists inside a running kraken-tui (use 'kraken-tui ctl flatten' there); "
                  "pass --url for a 'kraken-tui sim' exchange, or set general.mode = \"live\" for Kraken.")
            return 0
    what = f"the running instance at {target}" if isinstance(target, Path) else f"the account at {target}"
    if not args.yes:
        try:
            typed = input(f"This cancels EVERY order and closes EVERY position on {what}.\n"
                          f"Type {CONFIRM_WORD} to proceed: ")
        except EOFError:
            typed = ""
        if typed.strip() != CONFIRM_WORD:
            err(f"not confirmed (type {CONFIRM_WORD}, or pass --yes); nothing was done")
            return 2
    if isinstance(target, Path):
        try:
            ans = asyncio.run(request(target, "flatten", "operator flatten via 'kraken-tui flatten'", timeout_s=None))
        except (OSError, ValueError) as exc:
            err(f"cannot reach the instance at {target}: {exc}")
            return 2
        if "report" in ans:
            print(format_report(ans["report"]))
        if not ans.get("ok"):
            err(str(ans.get("error")))
            return int(ans.get("code", 1))
        print(f"the instance is now {ans['status']['state']} ({ans['status']['state_reason']})")
        return 0
    creds = _flatten_credentials(cfg, target)
    if creds is None:
        err(f"no API keys for {target}: set KRAKEN_TUI_API_KEY and KRAKEN_TUI_API_SECRET, "
            "or [credentials] key_file (mode 0600)")
        return 2
    report = asyncio.run(_flatten_direct(cfg, target, creds))
    print(format_report(report_dict(report)))
    return 0 if report.flat else 3


def _flatten_credentials(cfg: Any, url: str) -> Any:
    """Configured keys; for a loopback URL with none configured, the public paper key pair."""
    from urllib.parse import urlsplit

    from pydantic import SecretStr

    from kraken_tui.config import Credentials, load_credentials

    creds = load_credentials(cfg)
    if creds is None and urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1"):
        from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET

        creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET),
                            source="paper key pair")
    return creds


async def _flatten_direct(cfg: Any, url: str, creds: Any) -> FlattenReport:
    import httpx

    from kraken_tui.engine.flatten import flatten_account
    from kraken_tui.kraken.rest import KrakenRestClient

    async with httpx.AsyncClient() as http:
        client = KrakenRestClient(http, url, creds, config=cfg.client)
        with contextlib.suppress(Exception):  # only for rounding; the positions' sizes are on the lot
            await client.instruments()

        def show(p: Any) -> None:
            print(f"  {p.phase}: round {p.round}, {p.requests} REST calls" + (f" - {p.detail}" if p.detail else ""),
                  flush=True)

        return await flatten_account(client, progress=show)
