"""Exchange input the fuzz soak (bench/soak.py) found crashing the parsers: JSON nested deeper than the
decoder's recursion limit and integers beyond the float range. Both must be typed refusals."""

from __future__ import annotations

import asyncio

import pytest

from kraken_tui.config import ClientConfig
from kraken_tui.errors import ProtocolError
from kraken_tui.kraken import jsoncodec
from kraken_tui.kraken.fields import get_float, get_int
from kraken_tui.kraken.rest_errors import check_response
from kraken_tui.kraken.ws import KrakenWsClient
from kraken_tui.kraken.ws_events import MalformedMessage
from kraken_tui.kraken.ws_parse import parse_ws_message

DEEP = b"[" * 10_000 + b"]" * 10_000


def test_deep_json_is_a_value_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        jsoncodec.loads(DEEP)
    with pytest.raises(ValueError):
        jsoncodec.loads(b'{"a":' * 5000 + b"1" + b"}" * 5000)


def test_deep_rest_body_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="not JSON"):
        check_response("/derivatives/api/v3/openpositions", 200, {}, DEEP)


async def test_deep_ws_frame_becomes_a_malformed_message_event():
    ws = KrakenWsClient("ws://127.0.0.1:9/ws/v1", None, config=ClientConfig())
    ws._handle_frame(None, DEEP.decode())  # type: ignore[arg-type]
    ev = ws._queue.get_nowait()
    assert isinstance(ev, MalformedMessage)
    await asyncio.sleep(0)


@pytest.mark.parametrize("big", [10**400, -(10**400)], ids=["huge", "-huge"])
def test_integer_beyond_float_range_is_a_protocol_error(big):
    with pytest.raises(ProtocolError, match="bid"):
        parse_ws_message({"feed": "ticker", "product_id": "PF_XBTUSD", "bid": big, "ask": 1.0})
    with pytest.raises(ProtocolError):
        get_float({"x": big}, "x", "src")
    with pytest.raises(ProtocolError):
        get_int({"x": str(big)}, "x", "src")
