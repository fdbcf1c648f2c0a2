"""Live relay, auto fallback and `kraken-tui record`, against loopback websockets servers only."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import websockets

from kraken_tui.cli import main
from kraken_tui.domain import Side
from kraken_tui.errors import ConfigError, TransportError
from kraken_tui.paper.sources.factory import build_source
from kraken_tui.paper.sources.live import LiveSource
from kraken_tui.paper.sources.record import record
from kraken_tui.paper.sources.replay import ReplaySource

# spec §7.3 ticker example, product renamed to PF_XBTUSD; §7.6 trade; §7.7 book snapshot + delta
TICKER = ('{"time":1676393235406,"product_id":"PF_XBTUSD","feed":"ticker","bid":21978.5,"ask":21987.0,'
          '"bid_size":2.5,"ask_size":1.5,"index":21984.54,"last":21983.5,"markPrice":21979.68641534714,'
          '"tag":"perpetual","relative_funding_rate":-1.38e-6}')
TRADE = ('{"feed":"trade","product_id":"PF_XBTUSD","uid":"u1","side":"sell","type":"fill","seq":1,'
         '"time":1676393236000,"qty":0.25,"price":21980.0}')
SNAP = ('{"feed":"book_snapshot","product_id":"PF_XBTUSD","timestamp":1676393236100,"seq":10,"tickSize":null,'
        '"bids":[{"price":21978.5,"qty":1.0}],"asks":[{"price":21987.0,"qty":2.0}]}')
DELTA = ('{"feed":"book","product_id":"PF_XBTUSD","side":"buy","seq":11,"price":21979.0,"qty":0.5,'
         '"timestamp":1676393236200}')
BAD = '{"feed":"trade","product_id":"PF_XBTUSD","side":"sell","time":1,"qty":"lots","price":1}'


async def _serve(frames, subs_seen):
    """A loopback server: sends info, waits for subscribes, then plays ``frames`` and stays open."""

    async def handler(ws):
        await ws.send('{"event":"info","version":1}')
        n_sub = 0
        try:
            async for raw in ws:
                subs_seen.append(json.loads(raw))
                n_sub += 1
                if n_sub == 2:  # ticker + trade
                    for f in frames:
                        await ws.send(f)
        except websockets.ConnectionClosed:
            pass

    server = await websockets.serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"ws://127.0.0.1:{port}/ws/v1"


async def test_live_source_relays_ticker_trade_and_book():
    subs: list = []
    server, url = await _serve([TICKER, BAD, TRADE, SNAP, DELTA], subs)
    src = LiveSource(["pf_xbtusd"], url, now_ms=lambda: 42)
    try:
        await src.connect()
        got = []
        async with asyncio.timeout(5):
            async for t in src.events():
                got.append(t)
                if len(got) == 4:
                    break
    finally:
        await src.close()
        server.close()
    assert {(s["feed"], tuple(s["product_ids"])) for s in subs} == {("ticker", ("PF_XBTUSD",)),
                                                                   ("trade", ("PF_XBTUSD",))}
    tick, trade, snap, delta = got
    assert (tick.mark_price, tick.index_price, tick.last, tick.bid) == (21979.68641534714, 21984.54, 21983.5, 21978.5)
    assert (trade.last, trade.trade_size, trade.trade_side) == (21980.0, 0.25, Side.SELL)
    # after a ticker gave a mark, book quotes leave mark/index to the ticker (None = keep)
    assert (snap.bid, snap.ask, snap.mark_price) == (21978.5, 21987.0, None)
    assert (delta.bid, delta.bid_size) == (21979.0, 0.5)
    assert all(t.ts_ms == 42 for t in got) and src.malformed == 1


def _dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_auto_falls_back_to_synthetic_and_says_why():
    url = f"ws://127.0.0.1:{_dead_port()}/ws/v1"
    src = await build_source("auto", symbols=["PF_XBTUSD"], ws_url=url, live_timeout_s=2.0)
    assert src.synthetic and src.name == "synthetic"
    assert "live feed unavailable" in src.note and "SYNTHETIC" in src.note
    with pytest.raises(TransportError):
        await build_source("live", symbols=["PF_XBTUSD"], ws_url=url, live_timeout_s=2.0)


async def test_auto_uses_live_when_it_answers():
    server, url = await _serve([TICKER], [])
    try:
        src = await build_source("auto", symbols=["PF_XBTUSD"], ws_url=url, live_timeout_s=3.0)
        assert src.name == "live" and not src.synthetic
        await src.close()
    finally:
        server.close()


async def test_factory_kinds(shared_data):
    src = await build_source("synthetic", symbols=["PF_XBTUSD"], speed="max")
    assert src.synthetic and src.speed is None
    path = shared_data("kraken/pf_xbtusd_1m_2025-08.csv")
    rep = await build_source(f"replay:{path}@PF_XBTUSD", symbols=[], speed="10")
    assert rep.name == "replay" and rep.speed == 10.0
    with pytest.raises(ConfigError):
        await build_source("nope", symbols=["PF_X"])
    with pytest.raises(ConfigError):
        await build_source("synthetic", symbols=["PF_X"], funding_path=path)


async def test_record_then_replay_round_trip(tmp_path, shared_data):
    recorded = shared_data("kraken/kraken_futures_ws_v1_2021-07-22.jsonl")
    raw_in = []
    for line in recorded.read_text(encoding="utf-8").splitlines():
        if '"dir":"in"' in line and '"event"' not in line[:60]:
            raw_in.append(line[line.index('"msg":') + 6:-1])  # the frame exactly as received
        if len(raw_in) == 300:
            break
    server, url = await _serve(raw_in, [])
    out = tmp_path / "rec.jsonl"
    try:
        stats = await record(url, ["PI_ETHUSD", "PI_XRPUSD"], out, duration_s=1.0)
    finally:
        server.close()
    lines = out.read_text(encoding="utf-8").splitlines()
    heads = [json.loads(x)["dir"] for x in lines[:3]]
    assert heads == ["connect", "out", "out"]
    assert json.loads(lines[1])["msg"] == {"event": "subscribe", "feed": "ticker", "product_ids": ["PI_ETHUSD", "PI_XRPUSD"]}
    in_msgs = [x[x.index('"msg":') + 6:-1] for x in lines if '"dir":"in"' in x]
    assert in_msgs[0] == '{"event":"info","version":1}'
    assert in_msgs[1:] == raw_in  # byte-for-byte
    assert stats.received == 1 + len(raw_in) and stats.connections == 1
    src = ReplaySource([str(out)], symbols=["PI_ETHUSD"], speed=None)
    ticks = list(src.iter_events())
    assert src.symbols == ("PI_ETHUSD",) and len(ticks) >= 5
    assert ticks[0].bid == 2003.9 and ticks[0].ask == 2004.6  # PI_ETHUSD book snapshot of the recording


async def test_record_stops_on_event_and_skips_non_json(tmp_path):
    server, url = await _serve(["not json", TICKER], [])
    stop = asyncio.Event()
    out = tmp_path / "r.jsonl"
    try:
        task = asyncio.create_task(record(url, ["PF_XBTUSD"], out, stop=stop))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if "PF_XBTUSD" in out.read_text(encoding="utf-8") and '"feed":"ticker"' in out.read_text():
                break
        stop.set()
        stats = await asyncio.wait_for(task, 5)
    finally:
        server.close()
    assert stats.skipped == 1 and stats.received == 2  # info + ticker
    assert out.read_text(encoding="utf-8").endswith(TICKER + "}\n")


async def test_record_unreachable_is_a_transport_error(tmp_path):
    with pytest.raises(TransportError):
        await record(f"ws://127.0.0.1:{_dead_port()}/ws/v1", ["PF_X"], tmp_path / "x.jsonl", duration_s=5)


def test_record_cli_uses_config_url_and_exit_codes(tmp_path, capsys, monkeypatch):
    # load_config reads ./config.toml first: point live.ws_url at a closed loopback port
    url = f"ws://127.0.0.1:{_dead_port()}/ws/v1"
    (tmp_path / "config.toml").write_text(f'[live]\nws_url = "{url}"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["record", "--symbols", "PF_XBTUSD", "--out", str(tmp_path / "o.jsonl"), "--duration", "1"]) == 3
    assert url in capsys.readouterr().err
    assert main(["record", "--symbols", "PF_XBTUSD", "--out", str(tmp_path / "o.jsonl"), "--duration", "0"]) == 2
