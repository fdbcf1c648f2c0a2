"""The JSON codec of the wire paths (``kraken.jsoncodec``): same decisions as the standard library."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from kraken_tui.errors import ProtocolError
from kraken_tui.kraken import jsoncodec
from kraken_tui.kraken.fields import get_decimal, get_float


def test_loads_matches_the_standard_library_on_a_ticker():
    text = ('{"feed":"ticker","product_id":"PF_ETHUSD","bid":3162.0,"ask":3162.2,"time":1700000000000,'
            '"funding_rate":1e-05,"volume":0,"suspended":false,"leverage":"50x"}')
    assert jsoncodec.loads(text) == json.loads(text)
    assert jsoncodec.loads(text.encode()) == json.loads(text)


def test_loads_hands_what_orjson_refuses_to_the_standard_library():
    # NaN literals are not JSON for orjson; json.loads reads them as before (the parsers then refuse them)
    assert math.isnan(jsoncodec.loads('{"x": NaN}')["x"])
    assert jsoncodec.loads('{"x": -Infinity}')["x"] == -math.inf
    with pytest.raises(ValueError):
        jsoncodec.loads("{not json")
    with pytest.raises(ValueError):
        jsoncodec.loads("")


def test_dumps_round_trips_and_refuses_like_json():
    msg = {"feed": "trade", "price": 3162.1, "qty": 0.1, "seq": 7, "time": 1_700_000_000_000, "side": "buy"}
    assert json.loads(jsoncodec.dumps_bytes(msg)) == msg
    assert json.loads(jsoncodec.dumps_bytes({"big": 2**70})) == {"big": 2**70}  # fallback to json
    with pytest.raises(TypeError):
        jsoncodec.dumps_bytes({"x": Decimal("1.5")})  # json cannot either


@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, -2.25, 3, 10**30, 1e-9])
def test_number_fast_path_equals_the_general_path(value):
    # a dict subclass takes the general path; a plain dict the fast one: both must agree
    class Obj(dict):
        pass

    fast, slow = {"v": value}, Obj(v=value)
    assert get_float(fast, "v", "t") == get_float(slow, "v", "t")
    assert type(get_float(fast, "v", "t")) is float
    assert get_decimal(fast, "v", "t") == get_decimal(slow, "v", "t")
    assert str(get_decimal(fast, "v", "t")) == str(get_decimal(slow, "v", "t"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.0])
def test_number_fast_path_still_refuses(value):
    # NaN/inf are never numbers; -1 and 0 are not > 0
    with pytest.raises(ProtocolError):
        get_float({"v": value}, "v", "t", positive=True)
    with pytest.raises(ProtocolError):
        get_decimal({"v": value}, "v", "t", positive=True)
