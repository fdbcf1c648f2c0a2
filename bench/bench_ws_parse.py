"""Benchmarks of the WebSocket receive path (prints figures; not a test).

1. Parse: the recorded Kraken Futures WS file through ``jsoncodec.loads`` + ``parse_ws_message`` + ``OrderBooks.apply``
   over its received messages (spec §7), best of 20.
2. ``--transport``: the WebSocket client libraries' receive path on the same traffic: a sender in its own process
   (an aiohttp server on loopback) writes the capture's received messages, repeated to ``--frames`` text frames,
   as fast as it can; in this process each client reads every frame (``websockets``' asyncio client, which
   ``kraken.ws.KrakenWsClient`` uses, and aiohttp's ``ClientSession.ws_connect``, whose frame reader has C
   speedups), with and without ``jsoncodec.loads`` + ``parse_ws_message`` per frame. Printed per client: frames/s
   and this process's CPU microseconds per frame (``time.process_time``: the receive path's own cost, whatever
   the machine's load), and the ratio to the first client in the same run. Rounds alternate the clients; the
   best CPU per frame of ``--rounds`` is kept. The load average is printed with the figures.

Run: ``python bench/bench_ws_parse.py [--capture PATH] [--transport [--frames 100000] [--rounds 3]]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kraken_tui.kraken import jsoncodec  # noqa: E402
from kraken_tui.kraken.book import OrderBooks  # noqa: E402
from kraken_tui.kraken.ws_events import BookDeltaEvent, BookSnapshotEvent  # noqa: E402
from kraken_tui.kraken.ws_parse import parse_ws_message  # noqa: E402

_DATA = Path(os.environ.get("KRAKEN_TUI_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
DEFAULT = _DATA / "kraken" / "kraken_futures_ws_v1_2021-07-22.jsonl"


def _received(path: Path) -> list[str]:
    """The capture's received messages, each as the JSON text it arrived as."""
    return [json.dumps(json.loads(line)["msg"]) for line in path.read_text().splitlines() if '"dir":"in"' in line]


def parse_bench(raws: list[str]) -> None:
    rounds = 20
    best = float("inf")
    books = OrderBooks()
    for _ in range(rounds):
        books = OrderBooks()
        t0 = time.perf_counter()
        for raw in raws:
            ev = parse_ws_message(jsoncodec.loads(raw))
            if isinstance(ev, BookSnapshotEvent | BookDeltaEvent):
                books.apply(ev)
        best = min(best, time.perf_counter() - t0)
    n = len(raws)
    print(f"parse: messages {n}, best of {rounds}: {best * 1e3:.1f} ms; {n / best:,.0f} msg/s, "
          f"{best / n * 1e6:.2f} us/msg (jsoncodec.loads + parse + book)")
    eth = books.get("PI_ETHUSD")
    if eth is not None:
        print(f"       PI_ETHUSD best bid {eth.best_bid()} best ask {eth.best_ask()}")


# ---------------------------------------------------------------------- transport


def _sender(raws: list[str], frames: int, port_out: Any) -> None:
    """The sender process: an aiohttp WebSocket server on 127.0.0.1 that writes ``frames`` text frames (``raws``
    repeated) to each client that connects, then closes it."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        n = len(raws)
        for i in range(frames):
            await ws.send_str(raws[i % n])
        await ws.close()
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def _with_websockets(url: str, on_frame: Callable[[str], None]) -> int:
    from websockets.asyncio.client import connect

    n = 0
    async with connect(url, max_size=16 * 2**20, ping_interval=None, compression=None) as ws:
        async for raw in ws:
            on_frame(raw)  # type: ignore[arg-type]
            n += 1
    return n


async def _with_aiohttp(url: str, on_frame: Callable[[str], None]) -> int:
    import aiohttp

    n = 0
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=16 * 2**20,
                                                                       compress=0, autoping=True) as ws:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                on_frame(msg.data)
                n += 1
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
    return n


def _nothing(raw: str) -> None:
    return None


def _parse(raw: str) -> None:
    parse_ws_message(jsoncodec.loads(raw))


async def _one(client: Callable[[str, Callable[[str], None]], Awaitable[int]], url: str,
               on_frame: Callable[[str], None]) -> tuple[int, float, float]:
    """(frames, wall s, process CPU s) of one client reading the whole stream."""
    w0, c0 = time.perf_counter(), time.process_time()
    n = await client(url, on_frame)
    return n, time.perf_counter() - w0, time.process_time() - c0


def transport_bench(raws: list[str], frames: int, rounds: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_sender, args=(raws, frames, send), daemon=True)
    proc.start()
    try:
        port = recv.recv()
        url = f"ws://127.0.0.1:{port}/ws"
        clients = {"websockets (asyncio client)": _with_websockets, "aiohttp (ws_connect)": _with_aiohttp}
        work = {"receive only": _nothing, "receive + jsoncodec.loads + parse_ws_message": _parse}
        load0 = os.getloadavg()
        best: dict[tuple[str, str], tuple[float, float]] = {}
        for _ in range(rounds):
            for wname, fn in work.items():
                for cname, client in clients.items():
                    n, wall, cpu = asyncio.run(_one(client, url, fn))
                    if n != frames:
                        raise SystemExit(f"{cname} read {n} of {frames} frames")
                    key = (wname, cname)
                    us = cpu / n * 1e6
                    if key not in best or us < best[key][0]:
                        best[key] = (us, n / wall)
        load1 = os.getloadavg()
        size = sum(len(r) for r in raws) / len(raws)
        print(f"transport: {frames:,} text frames (the capture's {len(raws):,} received messages repeated, mean "
              f"{size:.0f} bytes) from a sender process on loopback; best of {rounds} rounds; load average "
              f"{load0[0]:.2f} -> {load1[0]:.2f} on {os.cpu_count()} cores")
        for wname in work:
            first: float | None = None
            print(f"  {wname}:")
            for cname in clients:
                us, rate = best[(wname, cname)]
                first = us if first is None else first
                print(f"    {cname:<28} {us:6.2f} us CPU/frame ({1e6 / us:>9,.0f} frames per CPU second), "
                      f"{rate:>9,.0f} frames/s wall; {us / first:.2f}x the first")
    finally:
        proc.terminate()
        proc.join(5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("capture", nargs="?", default=str(DEFAULT), help="the recorded WS file (jsonl)")
    ap.add_argument("--transport", action="store_true", help="also compare the WebSocket clients' receive path")
    ap.add_argument("--frames", type=int, default=100_000, help="frames per transport run (default 100,000)")
    ap.add_argument("--rounds", type=int, default=3, help="transport rounds, best kept (default 3)")
    args = ap.parse_args()
    raws = _received(Path(args.capture))
    parse_bench(raws)
    if args.transport:
        transport_bench(raws, args.frames, args.rounds)


if __name__ == "__main__":
    main()
