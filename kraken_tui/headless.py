"""``kraken-tui run`` dispatch and the headless runner (``--no-ui``).

Owns: ``run_command`` (the ``run`` handler: config, the live gate, ``RunOptions`` from flags, then the
console or the headless runner), ``run_headless`` (build the runtime, serve the ctl socket, print one
line per ``EngineEvent``, stop in order on exit-at-end / SIGINT / SIGTERM, print what stays open) and
``EventPrinter``. The headless path never imports textual: the console is imported lazily.
Must not import at module level: textual, the runtime (``kraken_tui.runtime``, loaded when the run starts).

Output (stdout, one line each, flushed): a start line naming the mode, journal and ctl socket path;
one line per event - text ``2024-01-01T00:00:00.000Z INFO     fill      PF_XBTUSD message`` or, with
``--log-format json``, ``{"ts_ms", "time", "kind", "severity", "symbol", "message", "data"}``; a final
summary of positions and orders left open (they stay: stopping never closes anything; the journal is
complete when the process exits). With JSON the start and summary lines are JSON too
(``"kind": "start"`` / ``"kind": "summary"``).

Exit codes (README.md "Commands"): 0 done (exit-at-end, SIGINT, SIGTERM); 2 usage/config error (incl. the
live gate: no keys, or ``[live] enabled = false``); 3 exchange/authentication error; 4 journal error;
5 stopped HALTED by a kill condition (equity floor); 1 internal error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kraken_tui.config import Config, load_config, load_credentials
from kraken_tui.errors import ConfigError
from kraken_tui.wording import counted, where_left_open

__all__ = ["EventPrinter", "check_live_gate", "options_from_args", "run_command", "run_headless"]


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)  # Decimals and enums as text


class EventPrinter:
    """An ``EventListener`` that prints one line per event on ``out``; never raises (a closed stdout or
    an unprintable event is counted in ``errors`` and skipped)."""

    def __init__(self, out: TextIO, fmt: str = "text") -> None:
        if fmt not in ("text", "json"):
            raise ValueError(f"log format must be text or json, got {fmt!r}")
        self.out = out
        self.fmt = fmt
        self.errors = 0

    def line(self, text: str) -> None:
        """Print one line and flush; errors are counted, not raised."""
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except (OSError, ValueError):
            self.errors += 1

    def info(self, kind: str, message: str, **data: Any) -> None:
        """A line of the runner itself (start, summary) in the chosen format."""
        if self.fmt == "json":
            self.line(json.dumps({"kind": kind, "message": message, **_jsonable(data)}))
        else:
            self.line(message)

    def __call__(self, ev: Any) -> None:
        try:
            if self.fmt == "json":
                text = json.dumps({"ts_ms": ev.ts_ms, "time": _iso(ev.ts_ms), "kind": str(ev.kind),
                                   "severity": str(ev.severity), "symbol": ev.symbol, "message": ev.message,
                                   "data": _jsonable(dict(ev.data))})
            else:
                # the message is a whole sentence that usually names the symbol already
                sym = f" {ev.symbol}" if ev.symbol and not ev.message.startswith(ev.symbol) else ""
                text = f"{_iso(ev.ts_ms)} {str(ev.severity).upper():<8} {str(ev.kind):<9}{sym} {ev.message}"
        except Exception:  # a malformed event must not break the engine's listener loop
            self.errors += 1
            return
        self.line(text)


def check_live_gate(cfg: Config, mode: str) -> None:
    """Refuse ``--mode live`` without keys or without ``[live] enabled = true``.

    Raises:
        ConfigError: (exit 2) naming ``[live] enabled`` or the credential variables / key file.
        SecretsError: the configured credentials are unreadable or unsafe (exit 2).
    """
    if mode != "live":
        return
    where = str(cfg.source_path) if cfg.source_path else "the config (none found; built-in defaults)"
    if not cfg.live.enabled:
        raise ConfigError("live.enabled", False, f"true to trade real money: set [live] enabled = true in {where}")
    if load_credentials(cfg) is None:
        raise ConfigError("credentials", "none", "API keys for --mode live: set KRAKEN_TUI_API_KEY and "
                          "KRAKEN_TUI_API_SECRET, or [credentials] key_file (mode 0600)")


def options_from_args(args: argparse.Namespace, cfg: Config) -> Any:
    """``RunOptions`` (kraken_tui.runtime) from the ``run`` flags, config defaults filling the gaps.

    Raises:
        ConfigError: bad ``--speed`` or ``--symbol-map`` (names the flag).
    """
    from kraken_tui.paper.sources.pacing import parse_speed
    from kraken_tui.paper.sources.replay import parse_symbol_map
    from kraken_tui.runtime import RunOptions

    kw: dict[str, Any] = {
        "mode": args.mode or cfg.general.mode,
        "source": args.source or cfg.general.source,
        "replay": list(args.replay or []),
        "funding": str(args.funding) if args.funding else None,
        "funding_rate": getattr(args, "funding_rate", None),
        "symbol_map": parse_symbol_map(args.symbol_map or []),
        "exit_at_end": bool(args.exit_at_end),
        "journal": args.journal or cfg.general.journal_path,
        "skip_paper_gate": bool(getattr(args, "skip_paper_gate", False)),
        "profile": getattr(args, "profile", None),
        "fresh": True if getattr(args, "fresh", False) else None,
    }
    if args.speed is not None:
        kw["speed"] = parse_speed(args.speed)
    return RunOptions(**kw)


async def run_headless(cfg: Config, opts: Any, *, log_format: str = "text", out: TextIO | None = None,
                       socket_path: Path | None = None,
                       build: Callable[[Config, Any], Awaitable[Any]] | None = None) -> int:
    """Run the engine without the console until it finishes or SIGINT/SIGTERM; returns the exit code.

    Args:
        cfg: the loaded config. opts: ``kraken_tui.runtime.RunOptions``.
        log_format: text or json lines. out: where lines go (stdout).
        socket_path: ctl socket path (default ``control.default_socket_path()``).
        build: ``kraken_tui.runtime.build_runtime`` unless given (tests pass a fake runtime builder).

    Raises:
        KrakenTuiError subclasses from building/starting the runtime (config 2, exchange 3, journal 4).
    """
    from kraken_tui.control import ControlServer

    if build is None:
        from kraken_tui.runtime import build_runtime

        build = build_runtime
    printer = EventPrinter(out or sys.stdout, log_format)
    rt = await build(cfg, opts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    code = 0
    engine: Any = None
    ctl: Any = None
    try:
        await rt.start()
        engine = rt.engine  # exists once the runtime started
        for ev in engine.snapshot().events:  # what happened during start, then every later event
            printer(ev)
        engine.add_listener(printer)
        mode = getattr(rt.mode, "value", rt.mode)
        ctl = ControlServer(engine, socket_path, info={"kind": "headless", "mode": str(mode),
                                                       "journal": str(rt.journal_path) if rt.journal_path else None,
                                                       "started_ms": int(time.time() * 1000)})
        try:
            path = await ctl.start()
        except OSError as exc:
            raise ConfigError("ctl socket", str(socket_path or "runtime dir"), f"a free socket path ({exc})") from None
        printer.info("start", f"kraken-tui headless: mode {mode}, journal {rt.journal_path}\nctl socket: {path}",
                     mode=mode, journal=str(rt.journal_path), ctl_socket=str(path),
                     paper_url=getattr(rt, "paper_url", None))
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
        finished = asyncio.create_task(rt.wait_finished(), name="runtime-finished")
        stopper = asyncio.create_task(stop.wait(), name="signal")
        done, _ = await asyncio.wait({finished, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if finished in done:
            code = int(finished.result() or 0)
        else:
            printer.info("stop", "signal received: stopping in order (positions and protective orders stay)")
            finished.cancel()
        stopper.cancel()
        for t in (finished, stopper):
            with contextlib.suppress(asyncio.CancelledError):
                await t
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if ctl is not None:
            await ctl.stop()
        try:
            await rt.aclose()
        finally:
            snap = None
            if engine is not None:
                engine.remove_listener(printer)
                with contextlib.suppress(Exception):
                    snap = engine.snapshot()  # after the orderly stop: what stays open
            if snap is not None:
                _summary(printer, snap)
    return code


def _summary(printer: EventPrinter, snap: Any) -> None:
    """What stays open after the stop (nothing is closed by stopping)."""
    pos = [f"{p.symbol} {p.side.value} {p.size} @ {p.entry_price}" for p in snap.positions]
    orders = [f"{o.symbol} {o.purpose} {o.side.value} {o.order_type} {o.size}" for o in snap.orders]
    state = f"{snap.state.value} ({snap.state_reason})"
    if not pos and not orders:
        text = f"stopped {state}: no open positions, no open orders"
    else:
        text = (f"stopped {state}: {counted(len(pos), 'position')} and {counted(len(orders), 'order')} stay open "
                + where_left_open(snap.mode.value, getattr(snap, "paper_account", None))
                + "".join(f"\n  position {p}" for p in pos) + "".join(f"\n  order    {o}" for o in orders))
    printer.info("summary", text, state=snap.state.value, state_reason=snap.state_reason, positions=pos,
                 orders=orders)


def run_command(args: argparse.Namespace) -> int:
    """The ``run`` handler: the console by default, the headless runner with ``--no-ui``.

    Raises:
        ConfigError / SecretsError (exit 2), ExchangeError (3), JournalError (4): handled by ``cli.main``.
    """
    cfg = load_config(getattr(args, "config", None))
    mode = args.mode or cfg.general.mode
    check_live_gate(cfg, mode)
    opts = options_from_args(args, cfg)
    if not args.no_ui:
        from kraken_tui.ui.app import run_console  # textual loads only here

        return int(run_console(cfg, opts) or 0)
    fmt = args.log_format or cfg.general.log_format
    return asyncio.run(run_headless(cfg, opts, log_format=fmt))
