"""The ``kraken-tui ctl`` client: one request to a running instance, and the ``ctl`` command handler.

Owns: ``request`` (send one JSON request line, read one answer), ``pick_instance`` (the one running instance,
or a refusal naming each running one and its kind), ``list_instances`` (``ctl list`` rows) and ``run``
(``kraken-tui ctl``; exit codes in the ``kraken_tui.control`` package docstring; ``ctl health`` exits 0
healthy, 1 degraded, 2 HALTED or unreachable). Every request has a timeout (``DEFAULT_TIMEOUT_S``, ``ctl
--timeout S``): an instance that accepts but does not answer makes ``ctl`` exit 2 ("unreachable", as when none
runs), or 3 for ``flatten`` (not verified flat: the account's state is unknown).

``ctl list --json``: a list of ``{"pid": int, "kind": "console|headless|unknown", "mode": str|null,
"state": "RUNNING|PAUSED|FLATTENING|HALTED"|null (null: did not answer), "state_reason": str|null,
"journal": str|null, "started_ms": int|null, "socket": str}``.
``ctl health --json``: ``{"code": 0|1|2, "health": "ok|degraded|down", "reason": str, "state": str|null,
"feed": str|null, "problems": [str]}`` (``control.views.health_dict``; unreachable: code 2, state null).
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

from kraken_tui.control.paths import Instance, find_instances, runtime_dir
from kraken_tui.control.protocol import DEFAULT_REASONS, MAX_LINE
from kraken_tui.control.views import HEALTH_DOWN, format_instances, format_report, format_status

__all__ = ["CONNECT_TIMEOUT_S", "DEFAULT_TIMEOUT_S", "MANUAL_ACTIONS", "NoAnswer", "list_instances", "pick_instance",
           "request", "run", "send"]


CONNECT_TIMEOUT_S = 3.0
"""Seconds ``request`` waits to connect and send before it gives up on an instance."""
DEFAULT_TIMEOUT_S = {"flatten": 120.0, "status": 10.0, "health": 5.0, "manual": 60.0}
"""Seconds ``ctl`` waits for an answer, per command (others: 10 s); ``--timeout`` overrides."""
#: ``ctl`` actions that are manual actions (``control.manual_cmd``; the words of ``control.order_grammar``).
MANUAL_ACTIONS = ("order", "close", "cancel", "stop", "edit", "tpcancel", "reprotect")


class NoAnswer(TimeoutError):
    """The instance accepted the request but did not answer within the timeout (stopped or hung)."""


async def request(path: Path, cmd: str, reason: str | None = None, *, timeout_s: float = 10.0,
                  connect_timeout_s: float = CONNECT_TIMEOUT_S) -> dict[str, Any]:
    """Send one request ``{"cmd": cmd, "reason": reason}`` to the instance at ``path`` and return its answer
    (``send`` with that object; it raises what ``send`` raises)."""
    return await send(path, {"cmd": cmd, "reason": reason}, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)


async def send(path: Path, obj: dict[str, Any], *, timeout_s: float = 10.0,
               connect_timeout_s: float = CONNECT_TIMEOUT_S) -> dict[str, Any]:
    """Send one request object (one JSON line) to the instance at ``path`` and return its answer.

    Raises:
        OSError: nothing listens at ``path`` (ConnectionRefusedError / FileNotFoundError).
        TimeoutError: could not connect and send within ``connect_timeout_s`` seconds.
        NoAnswer: the request was sent but no answer came within ``timeout_s`` seconds (a hung or stopped
            instance; for ``flatten`` the account's state is then unknown).
        ValueError: the answer is not a JSON object.
    """
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path), limit=16 * MAX_LINE),
                                            connect_timeout_s)
    try:
        writer.write((json.dumps(obj) + "\n").encode())
        await asyncio.wait_for(writer.drain(), connect_timeout_s)
        try:
            line = await asyncio.wait_for(reader.readline(), timeout_s)
        except TimeoutError:
            raise NoAnswer(f"no answer to {obj.get('cmd')!r} within {timeout_s:g} s (the instance is stopped or "
                           "hung)") from None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    if not line:
        raise ValueError("the instance closed the connection without an answer")
    ans = json.loads(line)
    if not isinstance(ans, dict):
        raise ValueError("answer is not a JSON object")
    return ans


def pick_instance(socket: Path | None, err: Callable[[str], None], *, use: str = "--socket") -> Path | None:
    """The socket to talk to: ``socket`` when given, else the only running instance's. None (after ``err``)
    when none runs, or several run: the message names each (pid, console or headless, mode, journal) and how
    to choose (``use``)."""
    if socket is not None:
        return socket
    live = find_instances()
    if len(live) == 1:
        return live[0].socket
    try:
        where = str(runtime_dir())
    except OSError:
        where = "the runtime directory"
    if not live:
        err(f"no running kraken-tui instance (no live control socket in {where}); start one with "
            f"'kraken-tui' (the console) or 'kraken-tui --no-ui', or pass --socket PATH")
    else:
        kinds = ", ".join(sorted({i.kind for i in live}))
        err(f"several running instances ({len(live)}: {kinds}); choose one with {use}:\n"
            + "\n".join(f"  {i.describe()}" for i in live))
    return None


async def _row(inst: Instance) -> dict[str, Any]:
    row: dict[str, Any] = {"pid": inst.pid, "kind": inst.kind, "mode": inst.info.get("mode"), "state": None,
                           "state_reason": None, "journal": inst.info.get("journal"),
                           "started_ms": inst.info.get("started_ms"), "socket": str(inst.socket)}
    try:
        ans = await request(inst.socket, "status", timeout_s=3.0)
    except (OSError, TimeoutError, ValueError):
        return row
    st = ans.get("status") or {}
    row.update(state=st.get("state"), state_reason=st.get("state_reason"))
    row["mode"] = row["mode"] or st.get("mode")
    row["journal"] = row["journal"] or st.get("journal_path")
    return row


async def list_instances() -> list[dict[str, Any]]:
    """``ctl list`` rows (module docstring), one per running instance, each asked for its state."""
    return list(await asyncio.gather(*(_row(i) for i in find_instances())))


def _health(args: argparse.Namespace, err: Callable[[str], None]) -> int:
    said: list[str] = []

    def note(msg: str) -> None:
        said.append(msg)
        err(msg)

    path = pick_instance(args.socket, note)
    if path is None:  # the reason line says why: none runs, or several do (stderr names them)
        why = said[0].splitlines()[0].rstrip(":") if said else "no single running instance"
        ans: dict[str, Any] = {"code": HEALTH_DOWN, "health": "down", "reason": why,
                               "state": None, "feed": None, "problems": []}
    else:
        try:
            got = asyncio.run(request(path, "health", timeout_s=5.0))
            ans = got["health"] if got.get("ok") else {"code": HEALTH_DOWN, "health": "down",
                                                       "reason": str(got.get("error")), "state": None,
                                                       "feed": None, "problems": []}
        except (OSError, TimeoutError, ValueError, KeyError) as exc:
            ans = {"code": HEALTH_DOWN, "health": "down", "reason": f"unreachable: {type(exc).__name__}: {exc}",
                   "state": None, "feed": None, "problems": []}
    print(json.dumps(ans) if args.json else f"{ans['health']}: {ans['reason']}")
    return int(ans["code"])


def run(args: argparse.Namespace) -> int:
    """``kraken-tui ctl [--socket PATH] status|pause|resume|flatten|reset|list|health [--json] [--reason TEXT]``,
    and the manual actions ``order|close|cancel|stop|edit|tpcancel|reprotect ...`` (``control.manual_cmd``).
    Returns the exit code (module docstring)."""

    def err(msg: str) -> None:
        print(f"kraken-tui ctl: {msg}", file=sys.stderr)

    if args.action == "list":
        rows = asyncio.run(list_instances())
        print(json.dumps(rows) if args.json else format_instances(rows))
        return 0
    if args.action == "health":
        return _health(args, err)
    if args.action in MANUAL_ACTIONS:
        from kraken_tui.control.manual_cmd import run_manual

        return run_manual(args, err)
    if getattr(args, "words", None):
        err(f"{args.action} takes no further words: {' '.join(args.words)}")
        return 2
    path = pick_instance(args.socket, err)
    if path is None:
        return 2
    action = args.action
    reason = args.reason if args.reason is not None else DEFAULT_REASONS.get(action)
    if action == "reset" and not (reason or "").strip():
        err("reset needs a non-empty --reason")
        return 2
    timeout_s = getattr(args, "timeout", None) or DEFAULT_TIMEOUT_S.get(action, 10.0)
    try:
        ans = asyncio.run(request(path, action, reason, timeout_s=timeout_s))
    except NoAnswer as exc:
        hint = ("the account may not be flat: check it, or run 'kraken-tui flatten' (it can flatten on the "
                "exchange directly)") if action == "flatten" else "nothing was confirmed"
        err(f"{exc}; {hint}")
        return 3 if action == "flatten" else 2
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
