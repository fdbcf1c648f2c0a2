"""The ``kraken-tui ctl`` command: status, pause, resume, flatten, reset, list and health through the control
socket's client (``control.client``), and the manual actions (``control.manual_cmd``).

Owns: ``run`` (``kraken-tui ctl``; exit codes in the ``kraken_tui.control`` package docstring; ``ctl health``
exits 0 healthy, 1 degraded, 2 HALTED or unreachable). An instance that accepts but does not answer within the
timeout (``client.DEFAULT_TIMEOUT_S``, ``ctl --timeout S``) makes ``ctl`` exit 2 ("unreachable", as when none
runs), or 3 for ``flatten`` (not verified flat: the account's state is unknown).

``ctl health --json``: ``{"code": 0|1|2, "health": "ok|degraded|down", "reason": str, "state": str|null,
"feed": str|null, "problems": [str]}`` (``control.views.health_dict``; unreachable: code 2, state null).
Must not import: textual.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from kraken_tui.control.client import DEFAULT_TIMEOUT_S, NoAnswer, list_instances, pick_instance, request
from kraken_tui.control.protocol import DEFAULT_REASONS
from kraken_tui.control.views import HEALTH_DOWN, format_instances, format_report, format_status

__all__ = ["MANUAL_ACTIONS", "run"]

#: ``ctl`` actions that are manual actions (``control.manual_cmd``; the words of ``control.order_grammar``).
MANUAL_ACTIONS = ("order", "close", "cancel", "stop", "edit", "tpcancel", "reprotect")


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
