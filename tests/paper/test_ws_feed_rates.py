"""The paper exchange's private WS feed rates follow Kraken's (spec §7.3, §7.10): ``open_positions`` goes out
when a position changes and, for a held position's mark and P&L, at the ticker's pace; a flat account gets no
per-tick ``open_positions``."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from kraken_tui.domain import Side
from kraken_tui.kraken.auth import sign_challenge
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET, PaperServer

from .helpers import T0, make_exchange, quote


async def _subscribed(srv: PaperServer):
    ws = await websockets.connect(srv.ws_url)
    assert json.loads(await ws.recv()) == {"event": "info", "version": 1}
    await ws.send(json.dumps({"event": "challenge", "api_key": PAPER_API_KEY}))
    challenge = json.loads(await ws.recv())["message"]
    auth = {"api_key": PAPER_API_KEY, "original_challenge": challenge,
            "signed_challenge": sign_challenge(PAPER_API_SECRET, challenge)}
    await ws.send(json.dumps({"event": "subscribe", "feed": "open_positions", **auth}))
    await ws.send(json.dumps({"event": "subscribe", "feed": "trade", "product_ids": ["PF_XBTUSD"]}))
    return ws


async def _drain(ws, quiet_s: float = 0.3) -> list[dict]:
    """Every message until the socket is quiet for ``quiet_s``."""
    out = []
    while True:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), quiet_s)))
        except TimeoutError:
            return out


def _ticks(ex, start: int, n: int) -> None:
    for i in range(n):
        quote(ex, start + i, last=50_000.0 + i % 7, trade=0.01, side=Side.BUY)


@pytest.mark.parametrize("interval_s", [1.0, 0.0])
async def test_open_positions_is_not_sent_per_tick(interval_s):
    ex = make_exchange()
    quote(ex, T0 + 1000)
    srv = PaperServer(ex, ticker_interval_s=interval_s, heartbeat_interval_s=60)
    await srv.start()
    try:
        ws = await _subscribed(srv)
        await _drain(ws)  # acks and snapshots
        _ticks(ex, T0 + 2000, 300)  # flat: 300 trade prints, no open_positions
        await asyncio.sleep(0)
        got = await _drain(ws)
        assert sum(m.get("feed") == "trade" for m in got) == 300
        assert [m for m in got if m.get("feed") == "open_positions"] == []
        ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.1", "cliOrdId": "r1"})
        got = await _drain(ws)  # the position change: one update at once
        pos = [m for m in got if m.get("feed") == "open_positions"]
        assert len(pos) == 1 and pos[0]["positions"][0]["balance"] == 0.1
        _ticks(ex, T0 + 3000, 300)  # held: the mark moves the figures at the ticker's pace
        await asyncio.sleep(0)
        got = await _drain(ws, 1.5 if interval_s else 0.3)
        n = sum(m.get("feed") == "open_positions" for m in got)
        if interval_s:  # one ticker (and so one open_positions) per second at most
            assert 1 <= n <= 3
        else:  # unthrottled tickers (a lockstep replay): with the tickers (one per loop turn here)
            assert n >= 1
        await ws.close()
    finally:
        await srv.stop()
