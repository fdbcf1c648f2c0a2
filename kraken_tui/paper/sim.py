"""``kraken-tui sim``: serve the paper exchange alone on loopback (cli-contract.md), and the in-process start.

Owns: ``run`` (the ``sim`` handler: builds the market source from flags/config, serves until SIGINT/SIGTERM,
prints the REST URL, WS URL and the paper key pair; with ``--json`` the first stdout line is
``{"rest_url", "ws_url", "api_key", "api_secret"}``) and ``start_paper_server`` (what the default console run
calls to get a started ``PaperServer`` on an ephemeral loopback port). Fault injection for drills/tests:
environment variable ``KRAKEN_TUI_PAPER_FAULTS`` (see ``paper.faults``).
The served account persists in the profile's paper-account file (``paper.store``; profile ``sim`` unless
``--profile`` names another, so a ``sim`` never shares an account with a paper console); ``--fresh`` or
``[paper] fresh`` start it over. A replay source (``--source replay:PATH``) serves a throwaway account.
Must not import: textual, the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time

from kraken_tui.config import Config, load_config, profile_dir, validate_profile_name
from kraken_tui.errors import ConfigError
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.faults import ENV_FAULTS, Faults
from kraken_tui.paper.server import PaperServer
from kraken_tui.paper.sources.base import MarketSource
from kraken_tui.paper.store import PaperAccountStore, StoreError

__all__ = ["run", "start_paper_server"]


async def start_paper_server(cfg: Config, source: MarketSource | None, *, host: str | None = None,
                             port: int | None = None, faults: Faults | None = None,
                             store: PaperAccountStore | None = None) -> PaperServer:
    """Build a PaperExchange from ``cfg.paper`` (restored from ``store``, an opened paper-account file, when
    given), serve it (default ``paper.host``/``paper.port``, port 0 = ephemeral) and pump ``source`` into it.
    Call ``await server.stop()`` when done.

    Raises:
        OSError: the address cannot be bound.
        ConfigError: bad ``paper.symbols``.
    """
    exchange = PaperExchange(cfg.paper)
    if getattr(source, "name", "") == "replay":  # data time runs faster than the wall (PaperExchange.dms_wall_s)
        exchange.dms_wall_s = time.monotonic
    if store is not None:
        store.load(exchange)
    server = PaperServer(exchange, host=host or cfg.paper.host, port=cfg.paper.port if port is None else port,
                         faults=faults, source=source, wall_clock=getattr(source, "name", "") == "live")
    await server.start()
    return server


async def _serve(args: argparse.Namespace, cfg: Config) -> int:
    from kraken_tui.paper.sources.factory import source_from_args  # the source stack loads only for sim/run

    faults = Faults.parse(os.environ.get(ENV_FAULTS, ""))
    source = await source_from_args(args, cfg)
    store: PaperAccountStore | None = None
    if getattr(source, "name", "") != "replay":
        name = validate_profile_name(getattr(args, "profile", None) or "sim")
        store = PaperAccountStore(profile_dir(name) / "paper-account.sqlite")
        try:
            store.open(fresh=bool(getattr(args, "fresh", False)) or cfg.paper.fresh)
        except StoreError as exc:
            raise ConfigError("paper account", str(store.path), f"a usable paper account file ({exc})") from None
    server = await start_paper_server(cfg, source, host=args.host, port=args.port, faults=faults, store=store)
    flusher = asyncio.create_task(store.flush_every()) if store is not None else None
    try:
        info = {"rest_url": server.rest_url, "ws_url": server.ws_url, "api_key": server.api_key,
                "api_secret": server.api_secret}
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"paper exchange ({source.name} market) serving\n  REST: {server.rest_url}\n  WS:   {server.ws_url}\n"
                  f"  API key:    {server.api_key}\n  API secret: {server.api_secret}  (public paper key, not a secret)"
                  "\nCtrl-C to stop.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if flusher is not None:
            flusher.cancel()
        await server.stop()
        if store is not None:
            store.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """The ``sim`` subcommand handler. Returns 0 after SIGINT/SIGTERM.

    Raises:
        ConfigError: bad config, flags or ``KRAKEN_TUI_PAPER_FAULTS`` (exit 2).
    """
    cfg = load_config(getattr(args, "config", None))
    try:
        return asyncio.run(_serve(args, cfg))
    except OSError as exc:
        print(f"kraken-tui sim: cannot listen on {args.host or cfg.paper.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
