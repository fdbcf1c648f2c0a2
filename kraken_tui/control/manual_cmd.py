"""``kraken-tui ctl order|close|cancel|stop|edit|tpcancel|reprotect ...``: manual actions on a running instance.

Owns: ``run_manual`` (the handler), ``words_of`` (the command line as the words of ``control.order_grammar``, the
grammar the console's ``:`` line reads) and ``OVERRIDE_PROMPT``. The request is a ``manual`` request on the control
socket (``control.manual_wire``); the instance previews the action again, sends it on its job worker and answers
with the exchange's result.

- ``--preview``: what would be sent (after tick and lot rounding), nothing sent.
- An opening order the risk gate refuses is refused (exit 2, the gate's reason). ``--override`` sends it anyway; in
  live mode only with the symbol typed at the prompt (a terminal), or ``--yes-i-mean-it SYMBOL`` for a script.
  The override is journaled.
- Exit codes: 0 the exchange accepted it; 2 refused before anything was sent (bad words, unknown symbol, size,
  price side, HALTED, the risk gate, no instance); 3 the exchange did not accept it, or no answer came within
  ``--timeout`` (the action may have been sent); 1 an internal error in the instance. ``--json`` prints the answer (``control.views.manual_dict``).
Must not import: textual.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from kraken_tui.control.client import DEFAULT_TIMEOUT_S, NoAnswer, pick_instance, send
from kraken_tui.control.manual_wire import action_to_json
from kraken_tui.control.order_grammar import GRAMMAR, GrammarError, parse_command
from kraken_tui.control.views import format_manual
from kraken_tui.engine.facade import ManualOrder

__all__ = ["OVERRIDE_PROMPT", "run_manual", "words_of"]

OVERRIDE_PROMPT = "Live mode: the risk gate refused this order. Type the symbol ({symbol}) to send it anyway: "


def words_of(args: argparse.Namespace) -> list[str]:
    """The grammar's words for ``args``: the action, its positional words, then the flags given."""
    words = [args.action, *(args.words or [])]
    for flag in ("reduce_only", "post_only", "no_exits", "breakeven"):
        if getattr(args, flag, False):
            words.append("--" + flag.replace("_", "-"))
    for opt in ("fraction", "size", "limit", "price"):
        v = getattr(args, opt, None)
        if v is not None:
            words += [f"--{opt}", str(v)]
    return words


def _confirm(symbol: str, given: str | None, err: Callable[[str], None]) -> str | None:
    """The typed confirmation of a live override: ``given`` (``--yes-i-mean-it``), else asked on a terminal."""
    if given is not None:
        return given
    if not sys.stdin.isatty():
        err(f"an override in live mode needs the symbol typed on a terminal, or --yes-i-mean-it {symbol}")
        return None
    try:
        return input(OVERRIDE_PROMPT.format(symbol=symbol))
    except EOFError:
        return None


def run_manual(args: argparse.Namespace, err: Callable[[str], None]) -> int:
    """The handler of the manual ``ctl`` actions (module docstring). Returns the exit code."""
    try:
        action = parse_command(words_of(args))
    except GrammarError as exc:
        err(f"{exc}\nusage: kraken-tui ctl " + "\n       kraken-tui ctl ".join(
            ("order " + g if g.startswith("buy") else g) for g in GRAMMAR))
        return 2
    override = bool(getattr(args, "override", False))
    if override and not isinstance(action, ManualOrder):
        err("--override applies to an opening order the risk gate refused (ctl order ...)")
        return 2
    path = pick_instance(args.socket, err)
    if path is None:
        return 2
    timeout_s = getattr(args, "timeout", None) or DEFAULT_TIMEOUT_S["manual"]
    req: dict[str, Any] = {"cmd": "manual", "action": action_to_json(action),
                           "preview": bool(getattr(args, "preview", False)), "override": override, "confirm": None}
    try:
        if override:
            st = asyncio.run(send(path, {"cmd": "status", "reason": None}, timeout_s=timeout_s))
            if (st.get("status") or {}).get("mode") == "live":
                sym = action.symbol.upper() if isinstance(action, ManualOrder) else ""
                typed = _confirm(sym, getattr(args, "yes_i_mean_it", None), err)
                if typed is None or typed.strip().upper() != sym:
                    err(f"override not confirmed (expected {sym}); nothing was sent")
                    return 2
                req["confirm"] = typed.strip().upper()
        ans = asyncio.run(send(path, req, timeout_s=timeout_s))
    except NoAnswer as exc:
        err(f"{exc}; the action may have been sent: check the instance's Events and the exchange before sending "
            "it again")
        return 3
    except (OSError, TimeoutError) as exc:
        err(f"cannot reach the instance at {path}: {exc.__class__.__name__}: {exc}")
        return 2
    except ValueError as exc:
        err(f"bad answer from {path}: {exc}")
        return 1
    if args.json:
        print(json.dumps({k: v for k, v in ans.items() if k != "status"}))
    elif "preview" in ans:
        print(format_manual(ans))
    code = int(ans.get("code", 0 if ans.get("ok") else 1))
    if not ans.get("ok") and not args.json:
        msg = str(ans.get("error") or "refused")
        if ans.get("overridable"):
            msg += " (--override sends it anyway; in live mode after the symbol is typed)"
        err(msg)
    return code
