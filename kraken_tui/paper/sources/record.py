"""``kraken-tui record --symbols A,B --out PATH [--duration S]``: capture the public feed as JSON lines.

Owns: the recorder and the ``record`` subcommand handler (``run``). The file has the format of
the recorded capture ``kraken/kraken_futures_ws_v1_2021-07-22.jsonl`` of the data set, which ``--replay`` reads:
- ``{"ts": <epoch s float>, "dir": "connect", "url": URL}`` at each (re)connection;
- ``{"ts": ..., "dir": "out", "url": URL, "msg": {subscribe}}`` for each subscribe sent (spec §7.2);
- ``{"ts": ..., "dir": "in", "msg": <the frame>}`` for each frame received, the frame's text embedded
  byte-for-byte. A frame that is not a JSON object is skipped (logged, counted in ``skipped``); a frame
  spanning several lines is re-serialised compactly (counted in ``reencoded``) so each record stays
  one line.
Feeds recorded: ``ticker`` and ``trade`` (ticker carries bid/ask, mark and index at 1 s, spec §7.3;
``book`` is ~100x the volume and optional through ``record(feeds=...)``). The URL is config
``live.ws_url`` (tests point it at a loopback server). Lines are written as they arrive (line
buffered), so an interrupted recording is still a valid file. Ctrl-C or ``--duration`` stops cleanly;
a dropped connection is retried with backoff and a new ``connect`` line.
Must not import: textual, aiohttp, the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import websockets

from kraken_tui.config import load_config
from kraken_tui.errors import ConfigError, TransportError

__all__ = ["RecordStats", "record", "run"]

log = logging.getLogger(__name__)

DEFAULT_FEEDS = ("ticker", "trade")


@dataclass
class RecordStats:
    """Counts of one recording: frames written ("in"), skipped, re-serialised, and reconnections."""

    received: int = 0
    skipped: int = 0
    reencoded: int = 0
    connections: int = 0


def _dump(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _in_line(ts: float, raw: str | bytes, stats: RecordStats) -> str | None:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        stats.skipped += 1
        log.warning("record: frame that is not a JSON object skipped: %.120s", text)
        return None
    if "\n" in text or "\r" in text:
        stats.reencoded += 1
        text = _dump(obj)
    stats.received += 1
    return '{"ts":' + repr(ts) + ',"dir":"in","msg":' + text.strip() + "}\n"


async def _session(url: str, products: list[str], feeds: Sequence[str], out: IO[str], stats: RecordStats) -> None:
    """One connection: connect line, subscribes, then every frame until the connection ends."""
    async with websockets.connect(url, ping_interval=30, max_size=2**24, open_timeout=10) as ws:
        stats.connections += 1
        out.write(_dump({"ts": time.time(), "dir": "connect", "url": url}) + "\n")
        for feed in feeds:
            msg = {"event": "subscribe", "feed": feed, "product_ids": products}
            await ws.send(_dump(msg))
            out.write(_dump({"ts": time.time(), "dir": "out", "url": url, "msg": msg}) + "\n")
        async for raw in ws:
            line = _in_line(time.time(), raw, stats)
            if line is not None:
                out.write(line)


async def _record_loop(url: str, products: list[str], feeds: Sequence[str], out: IO[str], stats: RecordStats,
                       max_backoff_s: float) -> None:
    backoff = 0.5
    while True:
        try:
            await _session(url, products, feeds, out, stats)
            reason = "closed by server"
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            if stats.connections == 0:
                raise TransportError(f"cannot connect ({type(exc).__name__}: {exc})", endpoint=url) from None
            reason = f"{type(exc).__name__}: {exc}"
        log.warning("record: %s: %s; reconnecting in %.1f s", url, reason, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff_s)


async def record(
    url: str,
    symbols: Iterable[str],
    out_path: Path,
    *,
    duration_s: float | None = None,
    feeds: Sequence[str] = DEFAULT_FEEDS,
    stop: asyncio.Event | None = None,
    max_backoff_s: float = 30.0,
) -> RecordStats:
    """Record the public feed of ``symbols`` from ``url`` into ``out_path`` (module docstring).

    Stops after ``duration_s`` seconds, when ``stop`` is set, or when cancelled; the file is complete.

    Raises:
        ConfigError: no symbols, or ``out_path`` cannot be created (key ``--out``).
        TransportError: the first connection fails (later drops are retried).
    """
    products = [s.strip().upper() for s in symbols if s.strip()]
    if not products:
        raise ConfigError("--symbols", ",".join(symbols), "comma-separated product ids, e.g. PF_XBTUSD,PF_ETHUSD")
    try:
        # one open per recording; line writes hit the page cache (microseconds), not worth a thread hop
        out = Path(out_path).open("w", encoding="utf-8", buffering=1)  # noqa: ASYNC230
    except OSError as exc:
        raise ConfigError("--out", str(out_path), f"a writable file path ({exc.strerror})") from None
    stats = RecordStats()
    stop = stop or asyncio.Event()
    with out:
        task = asyncio.create_task(_record_loop(url, products, feeds, out, stats, max_backoff_s))
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({task, stopper}, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, stopper):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        if task in done and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return stats


def run(args: argparse.Namespace) -> int:
    """Handler of ``kraken-tui record`` (cli.HANDLERS). Ctrl-C ends the recording cleanly with exit 0.

    Raises:
        ConfigError, TransportError: see ``record``; ``cli.main`` maps them to exit codes 2 and 3.
    """
    cfg = load_config(getattr(args, "config", None))
    symbols = [s for s in str(args.symbols).split(",") if s.strip()]
    if args.duration is not None and not args.duration > 0:
        raise ConfigError("--duration", args.duration, "a positive number of seconds")

    async def main() -> RecordStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        return await record(cfg.live.ws_url, symbols, args.out, duration_s=args.duration, stop=stop,
                            max_backoff_s=cfg.client.reconnect_max_backoff_s)

    started = time.monotonic()
    stats = asyncio.run(main())
    print(f"recorded {stats.received} messages from {cfg.live.ws_url} to {args.out} in "
          f"{time.monotonic() - started:.1f} s ({stats.connections} connection(s), {stats.skipped} skipped)",
          file=sys.stderr)
    return 0
