"""The ``kraken-tui ctl`` client: one request to a running instance, and the ``ctl`` command handler.

Owns: ``request`` (send one JSON request line, read one answer) and ``run`` (``kraken-tui ctl``; exit codes
in the ``kraken_tui.control`` package docstring).
Must not import: textual.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kraken_tui.control.paths import find_sockets, runtime_dir
from kraken_tui.control.server import DEFAULT_REASONS, MAX_LINE
from kraken_tui.control.views import format_report, format_status

__all__ = ["request", "run"]


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
