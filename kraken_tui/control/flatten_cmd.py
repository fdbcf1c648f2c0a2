"""The ``kraken-tui flatten`` command: flatten the account now, through a running instance or directly.

Owns: ``run_flatten`` (where it acts and its exit codes are in its docstring) and the direct path
(``engine.flatten.flatten_account`` against an exchange URL with the configured or paper keys).
Must not import: textual.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

from kraken_tui.control.client import DEFAULT_TIMEOUT_S, NoAnswer, pick_instance, request
from kraken_tui.control.paths import find_instances
from kraken_tui.control.views import format_report, report_dict
from kraken_tui.engine.facade import FlattenReport

__all__ = ["CONFIRM_WORD", "run_flatten"]

CONFIRM_WORD = "FLATTEN"


def run_flatten(args: argparse.Namespace) -> int:
    """``kraken-tui flatten [--config PATH] [--url URL] [--yes]``: flatten the account now.

    Where it acts, in order:
    1. ``--url URL`` given: that exchange directly (a ``kraken-tui sim`` paper exchange, or Kraken), with
       the configured keys, or the public paper key pair for a loopback URL when none are configured.
    2. one running instance found (console or headless): through its ctl socket (the engine flattens and
       latches HALTED).
    3. ``general.mode = "live"``: Kraken at ``live.rest_url`` with the configured keys (``[live] enabled``
       is not required: a flatten only removes exposure).
    4. paper mode and nothing running: nothing to flatten - the built-in paper exchange only exists
       inside a running kraken-tui; says so and exits 0.
    Asks to type FLATTEN unless ``--yes``. When the running instance does not answer within ``--timeout``
    seconds (default 120: stopped or hung) or cannot be reached, and the instance or the config is in live
    mode, it offers the direct path instead (Kraken at ``live.rest_url``): a second typed FLATTEN, or ``--yes``. Exit
    codes: 0 verified flat (or nothing to flatten); 2 refused confirmation, missing keys, several instances;
    3 not verified flat / exchange error / the instance did not answer and no direct path was taken.
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
        live = find_instances()
        if len(live) > 1:
            pick_instance(None, err, use="'kraken-tui ctl --socket PATH flatten'")
            return 2
        if live:
            target = live[0].socket
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
        timeout_s = getattr(args, "timeout", None) or DEFAULT_TIMEOUT_S["flatten"]
        try:
            ans = asyncio.run(request(target, "flatten", "operator flatten via 'kraken-tui flatten'",
                                      timeout_s=timeout_s))
        except (OSError, TimeoutError, ValueError) as exc:
            why = str(exc) if isinstance(exc, NoAnswer) else f"cannot reach the instance at {target}: {exc}"
            instance_mode = next((i.info.get("mode") for i in find_instances() if i.socket == target), None)
            direct = cfg.live.rest_url if "live" in (cfg.general.mode, instance_mode) else None
            if direct is None:
                err(f"{why}; the account may not be flat. In paper mode the exchange lives inside that instance: "
                    "stop it (its paper account is then gone) or pass --url for a 'kraken-tui sim' exchange")
                return 3
            err(f"{why}")
            if not args.yes:
                try:
                    typed = input(f"Flatten directly on the exchange at {direct} instead (the instance may still "
                                  f"be trading)? Type {CONFIRM_WORD} to proceed: ")
                except EOFError:
                    typed = ""
                if typed.strip() != CONFIRM_WORD:
                    err("direct flatten not confirmed; the account may not be flat")
                    return 3
            else:
                err(f"flattening directly on the exchange at {direct}")
            target = direct
        else:
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
