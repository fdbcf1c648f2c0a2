"""The control socket of a running instance.

Owns: ``ControlServer`` - a UNIX stream socket (mode 0600, in the runtime directory, ``control.paths``) that
drives any ``facade.EngineControl`` - the request vocabulary (``COMMANDS``, ``DEFAULT_REASONS``, ``MAX_LINE``;
defined in ``control.protocol``, re-exported here), the request parser (``parse_request``: strict JSON, duplicate keys refused) and the limits that keep a
misbehaving client from exhausting the instance (``ControlLimits``). The protocol is described in the
``kraken_tui.control`` package docstring.
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_tui.control.manual_wire import WireError, action_from_json
from kraken_tui.control.paths import default_socket_path, is_live, remove_info, write_info
from kraken_tui.control.protocol import COMMANDS, DEFAULT_REASONS, MAX_LINE
from kraken_tui.control.views import health_dict, manual_dict, report_dict, status_dict
from kraken_tui.engine.facade import EngineControl, EngineMode, EngineSnapshot, ManualAction
from kraken_tui.engine.operator import TransitionRefused, TransitionSource

__all__ = ["COMMANDS", "DEFAULT_REASONS", "MAX_LINE", "ControlLimits", "ControlServer", "ManualRequest",
           "RequestError", "parse_manual", "parse_request"]

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class ControlLimits:
    """What one instance grants its ctl clients, so that no client (a leaked connection, a tight poller, a
    flood) can exhaust the instance's file descriptors or its event loop.

    Attributes:
        max_connections: connections held open at once. A new connection beyond it closes the connection
            that has been idle longest (no request in flight), so a fresh ``ctl`` always gets an answer; when
            every held connection has a request in flight the new one is refused (``code`` 1).
        idle_timeout_s: seconds a connection may stay open without sending a full request line.
        max_line_bytes: longest request line, bytes; a longer one is answered ``code`` 2 and closed.
        requests_per_s / burst: per-connection token bucket; a faster client is slowed down (its next
            request waits), never answered out of order.
        global_requests_per_s: the same over all connections together (pollers that reconnect each time).
        status_cache_s: ``status`` and ``health`` answer from an engine snapshot at most this old, seconds
            (building one costs the engine's loop; a command that changes state refreshes it).
        write_timeout_s: seconds an answer may wait for a client that does not read it.
        log_every_s: a repeated server error is logged once, then counted and summarised at most this often.
    """

    max_connections: int = 32
    idle_timeout_s: float = 10.0
    max_line_bytes: int = MAX_LINE
    requests_per_s: float = 20.0
    burst: int = 20
    global_requests_per_s: float = 100.0
    status_cache_s: float = 0.2
    write_timeout_s: float = 5.0
    log_every_s: float = 60.0


class RequestError(ValueError):
    """A request line the server refuses (not JSON, duplicate keys, unknown ``cmd``): answered ``code`` 2."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise RequestError(f"duplicate key {k!r} in request")
        out[k] = v
    return out


def _load(line: bytes | str) -> dict[str, Any]:
    try:
        req = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except RequestError:
        raise
    except (ValueError, RecursionError) as exc:
        raise RequestError(f"not JSON: {exc}") from None
    if not isinstance(req, dict) or req.get("cmd") not in COMMANDS:
        raise RequestError(f"cmd must be one of {', '.join(COMMANDS)}")
    return req


def parse_request(line: bytes | str) -> tuple[str, str]:
    """Parse one request line ``{"cmd": str, "reason": str|null}`` into ``(cmd, reason)``; ``reason`` stripped,
    defaulted from ``DEFAULT_REASONS`` for commands that change state (``manual`` requests: ``parse_manual``).

    Raises:
        RequestError: not UTF-8 JSON, not an object, a key given twice (JSON allows it, and "the last one wins"
            would run a command other than the one the client's own check saw), or ``cmd`` not in ``COMMANDS``.
    """
    req = _load(line)
    cmd = str(req["cmd"])
    reason = req.get("reason")
    reason = reason.strip() if isinstance(reason, str) else ""
    if cmd not in ("status", "health", "manual") and not reason:
        reason = DEFAULT_REASONS[cmd]
    return cmd, reason


@dataclass(frozen=True, slots=True)
class ManualRequest:
    """A ``manual`` request: the ``action``; ``preview`` answers what would be sent without sending;
    ``override`` sends an opening order the risk gate refused; ``confirm`` the symbol typed to confirm an
    override in live mode."""

    action: ManualAction
    preview: bool = False
    override: bool = False
    confirm: str | None = None


_MANUAL_KEYS = {"cmd", "action", "preview", "override", "confirm", "reason"}


def parse_manual(line: bytes | str) -> ManualRequest:
    """Parse a ``{"cmd": "manual", "action": {...}, "preview": bool, "override": bool, "confirm": str|null}`` line
    (``control.manual_wire`` for ``action``).

    Raises:
        RequestError: what ``parse_request`` refuses, an unknown key, a wrong type, or a bad ``action``.
    """
    req = _load(line)
    if req["cmd"] != "manual":
        raise RequestError("not a manual request")
    unknown = sorted(set(req) - _MANUAL_KEYS)
    if unknown:
        raise RequestError(f"manual request has unknown key(s): {', '.join(unknown)}")
    flags = {k: req.get(k, False) for k in ("preview", "override")}
    for k, v in flags.items():
        if not isinstance(v, bool):
            raise RequestError(f"{k} must be true or false")
    confirm = req.get("confirm")
    if confirm is not None and not isinstance(confirm, str):
        raise RequestError("confirm must be a string")
    try:
        action = action_from_json(req.get("action"))
    except WireError as exc:
        raise RequestError(str(exc)) from None
    return ManualRequest(action, flags["preview"], flags["override"], confirm)


class _Bucket:
    """Token bucket: ``rate`` tokens/s up to ``burst``; ``delay()`` takes one and says how long to wait, s."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def delay(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class _OnceLog:
    """Log each kind of error once with its detail, then only a count every ``every_s`` seconds."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.seen: dict[str, tuple[float, int]] = {}

    def __call__(self, kind: str, msg: str, *, exc: BaseException | None = None) -> None:
        now = time.monotonic()
        last = self.seen.get(kind)
        if last is None:
            self.seen[kind] = (now, 0)
            log.error("%s", msg, exc_info=exc)
            return
        at, count = last
        if now - at >= self.every_s:
            log.error("%s (and %d more like it in the last %.0f s)", msg, count, now - at)
            self.seen[kind] = (now, 0)
        else:
            self.seen[kind] = (at, count + 1)


@dataclass(slots=True)
class _Conn:
    writer: asyncio.StreamWriter
    last_active: float
    busy: bool = False


class ControlServer:
    """Serve ``ctl`` requests for one engine on a UNIX socket.

    Args:
        engine: anything implementing ``facade.EngineControl`` (calls run on this event loop).
        path: socket path; default ``default_socket_path()``.
        info: what ``ctl list`` shows about this instance (``control.paths`` metadata keys: ``kind``
            console/headless, ``mode``, ``journal``, ``started_ms``); ``pid`` and ``socket`` are added. None
            writes no metadata file.
        problems: returns the failing parts ``ctl health`` reports as degraded besides the engine's own
            (e.g. a notification channel that fails: one short sentence each); None = none.
        limits: connection cap, idle timeout, request size and rate limits, status cache age
            (``ControlLimits``; defaults when None).

    ``start()`` binds (replacing a stale file at the path; refusing a live one), sets mode 0600, writes the
    metadata file next to it and returns the path; ``stop()`` closes and removes both files. Requests are
    served by the event loop's own tasks: nothing runs until a client sends a line, so the server costs the
    loop nothing while idle, and ``limits`` bound what busy or idle clients can cost.

    Raises (start):
        OSError: the path is in use by a live instance, or cannot be bound.
    """

    def __init__(self, engine: EngineControl, path: Path | None = None, *, info: dict[str, Any] | None = None,
                 problems: Callable[[], Sequence[str]] | None = None, limits: ControlLimits | None = None) -> None:
        self.engine = engine
        self.path = path
        self.info = info
        self.problems = problems
        self.limits = limits or ControlLimits()
        self._server: asyncio.AbstractServer | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._conns: dict[asyncio.StreamWriter, _Conn] = {}
        self._global = _Bucket(self.limits.global_requests_per_s, self.limits.global_requests_per_s)
        self._snap: tuple[float, EngineSnapshot] | None = None
        self._log = _OnceLog(self.limits.log_every_s)
        self.refused = 0
        """Connections refused because every held one had a request in flight."""
        self.evicted = 0
        """Idle connections closed to admit a new one (connection cap) or after ``idle_timeout_s``."""

    @property
    def connections(self) -> int:
        """Connections currently held open."""
        return len(self._conns)

    async def start(self) -> Path:
        """Bind and listen; returns the socket path."""
        path = self.path or default_socket_path()
        if path.exists() or path.is_symlink():
            if path.is_socket() and is_live(path):
                raise OSError(f"control socket {path} is in use by a running instance")
            path.unlink()  # stale: left by an instance that did not exit cleanly
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._handle, path=str(path),
                                                           limit=self.limits.max_line_bytes, backlog=128)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.path = path
        if self.info is not None:
            try:
                write_info(path, {**self.info, "pid": os.getpid(), "socket": str(path)})
            except OSError as exc:  # ctl still works through --socket; only ctl list lacks the details
                log.warning("control metadata not written next to %s: %s", path, exc)
        return path

    async def stop(self) -> None:
        """Stop listening, wait for in-flight requests briefly, remove the socket file. Safe twice."""
        if self._server is not None:
            self._server.close()
            for conn in list(self._conns.values()):
                conn.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        for t in list(self._inflight):
            t.cancel()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            remove_info(self.path)

    def _admit(self, writer: asyncio.StreamWriter) -> bool:
        """Make room for a new connection under the cap: close the longest-idle one. False: all are busy."""
        if len(self._conns) >= self.limits.max_connections:
            idle = [c for c in self._conns.values() if not c.busy]
            if not idle:
                self.refused += 1
                self._log("cap", f"ctl connection refused: {len(self._conns)} connections, each with a request "
                                 f"in flight (limit {self.limits.max_connections})")
                return False
            oldest = min(idle, key=lambda c: c.last_active)
            self._conns.pop(oldest.writer, None)
            oldest.writer.close()
            self.evicted += 1
        self._conns[writer] = _Conn(writer, time.monotonic())
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        lim = self.limits
        if not self._admit(writer):
            with contextlib.suppress(Exception):
                writer.write(_encode({"ok": False, "error": "too many ctl connections with requests in flight",
                                      "code": 1}))
            writer.close()
            return
        if task is not None:
            self._inflight.add(task)
        conn = self._conns[writer]
        bucket = _Bucket(lim.requests_per_s, lim.burst)
        try:
            while not writer.is_closing():
                try:
                    line = await asyncio.wait_for(reader.readline(), lim.idle_timeout_s)
                except TimeoutError:
                    self.evicted += 1
                    break
                except (ValueError, asyncio.LimitOverrunError):
                    await self._send(writer, {"ok": False, "error": f"request longer than {lim.max_line_bytes} "
                                                                   "bytes", "code": 2})
                    break
                if not line:
                    break
                if not line.strip():
                    continue
                conn.busy = True
                wait = max(bucket.delay(), self._global.delay())
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._send(writer, await self.dispatch(line))
                conn.busy = False
                conn.last_active = time.monotonic()
        except (ConnectionError, asyncio.CancelledError, TimeoutError):
            pass
        except Exception as exc:  # never let one connection flood the log with tracebacks
            self._log("conn", f"ctl connection failed: {type(exc).__name__}: {exc}", exc=exc)
        finally:
            if task is not None:
                self._inflight.discard(task)
            self._conns.pop(writer, None)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _send(self, writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
        writer.write(_encode(obj))
        await asyncio.wait_for(writer.drain(), self.limits.write_timeout_s)

    def _snapshot(self, fresh: bool) -> EngineSnapshot:
        now = time.monotonic()
        if fresh or self._snap is None or now - self._snap[0] >= self.limits.status_cache_s:
            self._snap = (now, self.engine.snapshot())
        return self._snap[1]

    async def dispatch(self, line: bytes | str) -> dict[str, Any]:
        """Answer one request line (see the module docstring). Never raises."""
        try:
            cmd, reason = parse_request(line)
            if cmd == "manual":
                return await self._manual(parse_manual(line))
        except RequestError as exc:
            return {"ok": False, "error": str(exc), "code": 2}
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
            snap = self._snapshot(fresh=cmd not in ("status", "health"))
            if cmd == "health":
                out["health"] = health_dict(snap, list(self.problems()) if self.problems is not None else [])
            out["status"] = status_dict(snap)
            return out
        except TransitionRefused as exc:
            return {"ok": False, "error": str(exc), "code": 2}
        except Exception as exc:  # a bug in the engine: say so, keep serving
            self._log(f"cmd:{cmd}:{type(exc).__name__}", f"ctl {cmd} failed: {type(exc).__name__}: {exc}", exc=exc)
            return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}", "code": 1}


    async def _manual(self, req: ManualRequest) -> dict[str, Any]:
        """Answer a ``manual`` request: ``{"ok", "cmd": "manual", "preview": {...}, "result": {...}|null,
        "status": {...}}``, ``code`` 2 when refused (bad input, the engine's refusal, the risk gate without an
        override, an override in live mode without the typed symbol), 3 when the exchange rejected a request,
        1 on an internal error (``control.views.manual_dict``)."""
        eng = self.engine
        try:
            p = eng.preview_manual(req.action)
            snap = self._snapshot(fresh=False)
            if req.preview:
                return {**manual_dict(p, None), "status": status_dict(snap)}
            if req.override and snap.mode is EngineMode.LIVE and p.order is not None \
                    and (req.confirm or "").strip().upper() != p.order.symbol:
                return {**manual_dict(p, None), "ok": False, "code": 2, "status": status_dict(snap),
                        "error": f"an override in live mode needs the typed confirmation: the symbol "
                                 f"{p.order.symbol} (ctl --override on a terminal, or --yes-i-mean-it "
                                 f"{p.order.symbol})"}
            result = await eng.manual(req.action, TransitionSource.CTL, override=req.override)
            return {**manual_dict(p, result), "status": status_dict(self._snapshot(fresh=True))}
        except Exception as exc:  # a bug in the engine: say so, keep serving
            self._log(f"cmd:manual:{type(exc).__name__}", f"ctl manual failed: {type(exc).__name__}: {exc}", exc=exc)
            return {"ok": False, "cmd": "manual", "error": f"internal error: {type(exc).__name__}: {exc}", "code": 1}


def _encode(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode()
