"""External signals: the JSON-lines parser, thresholds, ageing, file tailing and loopback sockets."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.domain import Candle
from kraken_tui.engine.signals import BuilderMarketView, SignalSide
from kraken_tui.engine.strategies import build_strategy, parse_signal_line
from kraken_tui.engine.strategies.external_io import (
    parse_socket_address,
    run_external_reader,
    serve_socket,
    tail_file,
)
from kraken_tui.errors import ConfigError, DataFileError

VIEW = BuilderMarketView()
GOOD = '{"ts_ms": 1000, "symbol": "PF_XBTUSD", "side": "long", "confidence": 0.8, "reason": "model", "features": {"p": 1}}'


def test_parse_good_line():
    s = parse_signal_line(GOOD + "\n")
    assert (s.symbol, s.side, s.confidence, s.reason, s.ts_ms, s.strategy) == (
        "PF_XBTUSD",
        SignalSide.LONG,
        0.8,
        "model",
        1000,
        "external",
    )
    assert dict(s.features) == {"p": 1.0}
    assert parse_signal_line('{"symbol":"X","side":"flat","confidence":0}').reason == "external model"


@pytest.mark.parametrize(
    "line,field",
    [
        ("not json", None),
        ("[1, 2]", None),
        ('{"side": "long", "confidence": 0.5}', "symbol"),
        ('{"symbol": "X", "side": "buy", "confidence": 0.5}', "side"),
        ('{"symbol": "X", "side": "long", "confidence": 1.5}', "confidence"),
        ('{"symbol": "X", "side": "long", "confidence": true}', "confidence"),
        ('{"symbol": "X", "side": "long", "confidence": NaN}', "confidence"),
        ('{"symbol": "X", "side": "long", "confidence": 0.5, "ts_ms": "soon"}', "ts_ms"),
        ('{"symbol": "X", "side": "long", "confidence": 0.5, "features": {"a": "b"}}', "features"),
        ('{"symbol": "X", "side": "long", "confidence": 0.5, "reason": 3}', "reason"),
    ],
)
def test_parse_bad_lines_name_source_line_and_field(line, field):
    with pytest.raises(DataFileError) as ei:
        parse_signal_line(line, source="signals.jsonl", line_no=7)
    assert ei.value.path == "signals.jsonl" and ei.value.line == 7 and ei.value.field == field
    assert str(ei.value).startswith("signals.jsonl:7: ")


@given(st.text(max_size=200))
def test_parser_never_raises_anything_but_data_file_error(text):
    try:
        parse_signal_line(text)
    except DataFileError:
        pass


@given(
    st.sampled_from(["long", "short", "flat"]),
    st.floats(0, 1),
    st.text(min_size=1, max_size=20).filter(lambda t: t.strip()),
    st.one_of(st.none(), st.integers(0, 2**53)),
)
def test_parser_round_trips_valid_objects(side, conf, symbol, ts):
    obj = {"symbol": symbol, "side": side, "confidence": conf}
    if ts is not None:
        obj["ts_ms"] = ts
    s = parse_signal_line(json.dumps(obj))
    assert (s.symbol, s.side.value, s.confidence, s.ts_ms) == (symbol.strip(), side, conf, ts)


def test_threshold_age_and_bad_line_handling(caplog):
    ext = build_strategy("external", {"min_confidence": 0.6, "max_age_s": 60}, timeframe="1m")
    caplog.set_level(logging.INFO)
    assert ext.feed_line("garbage", source="f", line_no=1) is None and ext.errors == 1
    assert "f:1" in caplog.text
    assert ext.feed_line('{"symbol":"X","side":"long","confidence":0.5}') is None
    assert "confidence 0.5 below 0.6" in ext.dropped[-1]
    ext.feed_line('{"symbol":"X","side":"short","confidence":0.9,"ts_ms":0}')
    candle = Candle(0, 1, 1, 1, 1)  # closes at 60 000 ms: the signal is 60 s old, max 60 -> delivered
    sig = ext.on_candle("X", "1m", candle, VIEW)
    assert sig is not None and sig.side is SignalSide.SHORT
    assert ext.on_candle("X", "1m", candle, VIEW) is None  # delivered once
    ext.feed_line('{"symbol":"X","side":"long","confidence":0.9,"ts_ms":0}')
    assert ext.on_candle("X", "1m", Candle(60_000, 1, 1, 1, 1), VIEW) is None  # 120 s old
    assert "120 s old" in ext.dropped[-1]
    ext.feed_line('{"symbol":"X","side":"long","confidence":0.9}')
    ext.feed_line('{"symbol":"X","side":"flat","confidence":0.9}')
    assert "superseded" in ext.dropped[-1]
    assert ext.on_candle("X", "1m", candle, VIEW).side is SignalSide.FLAT


async def _until(cond, timeout_s=3.0):
    for _ in range(int(timeout_s / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def test_tail_file_follows_appends_partial_lines_and_truncation(tmp_path):
    path = tmp_path / "signals.jsonl"
    path.write_text('{"old": true}\n')  # present before the tail starts: not replayed
    got = []
    stop = asyncio.Event()

    def sink(line, *, source, line_no):
        got.append((line, line_no))

    task = asyncio.create_task(tail_file(path, sink, poll_s=0.01, stop=stop))
    await asyncio.sleep(0.05)
    with path.open("a") as fh:
        fh.write('{"a": 1}\n{"b"')  # the second line is not complete yet
    await _until(lambda: len(got) == 1)
    with path.open("a") as fh:
        fh.write(": 2}\n")
    await _until(lambda: len(got) == 2)
    path.write_text('{"c": 3}\n')  # truncated and rewritten (rotation)
    await _until(lambda: len(got) == 3)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert got == [('{"a": 1}', 1), ('{"b": 2}', 2), ('{"c": 3}', 3)]


async def _send(writer_factory, payload: bytes):
    reader, writer = await writer_factory()
    writer.write(payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_unix_and_tcp_sockets_feed_the_strategy(tmp_path):
    ext = build_strategy("external", {}, timeframe="1m")
    sock = str(tmp_path / "s.sock")
    unix = await serve_socket(f"unix:{sock}", ext.feed_line)
    tcp = await serve_socket("tcp:127.0.0.1:0", ext.feed_line)
    port = tcp.sockets[0].getsockname()[1]
    try:
        await _send(
            lambda: asyncio.open_unix_connection(sock),
            b'{"symbol":"A","side":"long","confidence":0.9}\nbad\n',
        )
        await _send(
            lambda: asyncio.open_connection("127.0.0.1", port),
            b'{"symbol":"B","side":"short","confidence":0.7}',
        )
        await _until(lambda: ext.accepted == 2 and ext.errors == 1)
    finally:
        for srv in (unix, tcp):
            srv.close()
            await srv.wait_closed()
    assert (ext.accepted, ext.errors) == (2, 1)
    c = Candle(0, 1, 1, 1, 1)
    assert ext.on_candle("A", "1m", c, VIEW).side is SignalSide.LONG
    assert ext.on_candle("B", "1m", c, VIEW).side is SignalSide.SHORT


def test_socket_address_must_be_loopback():
    assert parse_socket_address("tcp:127.0.0.1:9000") == ("tcp", "127.0.0.1", 9000)
    assert parse_socket_address("unix:/tmp/x.sock") == ("unix", "/tmp/x.sock", 0)
    for bad in ("tcp:0.0.0.0:9000", "tcp:10.0.0.1:1", "tcp:127.0.0.1:x", "udp:1", "unix:"):
        with pytest.raises(ConfigError) as ei:
            parse_socket_address(bad)
        assert ei.value.key == "strategy.params.socket"


async def test_run_external_reader_needs_a_source():
    with pytest.raises(ConfigError, match="strategy.params.path"):
        await run_external_reader(build_strategy("external", {}), stop=asyncio.Event())


def test_pipe_reader_reads_lines_from_successive_writers(tmp_path):
    import asyncio
    import os

    from kraken_tui.engine.strategies.external_io import read_pipe

    fifo = tmp_path / "signals.fifo"
    os.mkfifo(fifo)
    got = []

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(read_pipe(fifo, lambda line, **kw: got.append((line, kw["line_no"])), stop=stop,
                                             poll_s=0.01))
        await asyncio.sleep(0.05)
        for text in ("a\nb\n", "c\n"):  # two writers, one after the other
            fd = os.open(fifo, os.O_WRONLY)
            os.write(fd, text.encode())
            os.close(fd)
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 2)

    asyncio.run(main())
    assert got == [("a", 1), ("b", 2), ("c", 3)]


def test_tradingview_alert_to_line_and_webhook_secret_file(tmp_path):
    import json

    from kraken_tui.engine.strategies.external import parse_signal_line
    from kraken_tui.engine.strategies.external_io import alert_to_line, load_webhook_secret
    from kraken_tui.errors import ConfigError

    line = alert_to_line({"ticker": "ethusd", "action": "sell", "time": 1_756_561_260_000, "secret": "x"})
    assert "secret" not in json.loads(line)
    sig = parse_signal_line(line)
    assert (sig.symbol, sig.side.value, sig.confidence, sig.ts_ms) == ("PF_ETHUSD", "short", 1.0, 1_756_561_260_000)
    assert parse_signal_line(alert_to_line({"ticker": "PF_XBTUSD", "action": "close"})).side.value == "flat"
    f = tmp_path / "secret"
    f.write_text("hunter2\n")
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as e:
        load_webhook_secret("", f, environ={})
    assert "hunter2" not in str(e.value)
    f.chmod(0o600)
    assert load_webhook_secret("", f, environ={}) == "hunter2"
    assert load_webhook_secret("HOOK", f, environ={"HOOK": "env-wins"}) == "env-wins"
