"""The control socket of a running instance.

Owns: ``ControlServer`` - a UNIX stream socket (mode 0600, in the runtime directory, ``control.paths``) that
drives any ``facade.EngineControl`` - and the request vocabulary (``COMMANDS``, ``DEFAULT_REASONS``,
``MAX_LINE``). The protocol is described in the ``kraken_tui.control`` package docstring.
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kraken_tui.control.paths import default_socket_path, is_live, remove_info, write_info
from kraken_tui.control.views import health_dict, report_dict, status_dict
from kraken_tui.engine.facade import EngineControl
from kraken_tui.engine.operator import TransitionRefused, TransitionSource

__all__ = ["COMMANDS", "DEFAULT_REASONS", "MAX_LINE", "ControlServer"]

log = logging.getLogger(__name__)

COMMANDS = ("status", "pause", "resume", "flatten", "reset", "health")
DEFAULT_REASONS = {
    "pause": "operator pause via ctl",
    "resume": "operator resume via ctl",
    "flatten": "operator flatten via ctl",
    "reset": "operator reset via ctl",
}
MAX_LINE = 64 * 1024
"""Longest request line the server reads, bytes."""


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

    ``start()`` binds (replacing a stale file at the path; refusing a live one), sets mode 0600, writes the
    metadata file next to it and returns the path; ``stop()`` closes and removes both files. Requests are
    served by the event loop's own tasks: nothing runs until a client sends a line, so the server costs the
    loop nothing while idle.

    Raises (start):
        OSError: the path is in use by a live instance, or cannot be bound.
    """

    def __init__(self, engine: EngineControl, path: Path | None = None, *, info: dict[str, Any] | None = None,
                 problems: Callable[[], Sequence[str]] | None = None) -> None:
        self.engine = engine
        self.path = path
        self.info = info
        self.problems = problems
        self._server: asyncio.AbstractServer | None = None
        self._inflight: set[asyncio.Task[Any]] = set()

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
            self._server = await asyncio.start_unix_server(self._handle, path=str(path), limit=MAX_LINE)
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
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        for t in list(self._inflight):
            t.cancel()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            remove_info(self.path)

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
        if cmd not in ("status", "health") and not reason:
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
            snap = eng.snapshot()
            if cmd == "health":
                out["health"] = health_dict(snap, list(self.problems()) if self.problems is not None else [])
            out["status"] = status_dict(snap)
            return out
        except TransitionRefused as exc:
            return {"ok": False, "error": str(exc), "code": 2}
        except Exception as exc:  # a bug in the engine: say so, keep serving
            log.exception("ctl %s failed", cmd)
            return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}", "code": 1}


async def _send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
    writer.write((json.dumps(obj) + "\n").encode())
    await writer.drain()
