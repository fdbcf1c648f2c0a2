"""Property tests of the paper exchange's input parsers: bad input gives a status or a typed error, never a crash."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kraken_tui.errors import ConfigError
from kraken_tui.paper.faults import Faults
from kraken_tui.paper.instruments import build_instruments
from kraken_tui.paper.orders import OrderParams, parse_order_params
from kraken_tui.paper.routes import resolve

INST = build_instruments(["PF_XBTUSD"])["PF_XBTUSD"]
values = st.one_of(st.none(), st.text(max_size=12), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                   st.booleans(), st.sampled_from(["lmt", "mkt", "buy", "sell", "0.1", "50000", "true", "1e400"]))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["orderType", "side", "size", "limitPrice", "stopPrice", "triggerSignal",
                                        "reduceOnly", "cliOrdId"]), values))
def test_parse_order_params_never_crashes(params):
    out = parse_order_params(params, INST)
    assert isinstance(out, OrderParams | str)
    if isinstance(out, OrderParams):
        assert out.size > 0 and out.size % INST.lot_size == 0
        for p in (out.limit_price, out.stop_price):
            assert p is None or (p > 0 and p % INST.tick_size == 0)


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(100), places=4))
def test_sizes_on_the_lot_grid_are_accepted(size):
    out = parse_order_params({"orderType": "mkt", "side": "buy", "size": str(size)}, INST)
    assert isinstance(out, OrderParams) and out.size == size


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_faults_parse_gives_faults_or_config_error(text):
    try:
        f = Faults.parse(text)
    except ConfigError as exc:
        assert "KRAKEN_TUI_PAPER_FAULTS" in str(exc) or "faults." in str(exc)
    else:
        assert isinstance(f, Faults)


def test_faults_parse_values():
    f = Faults.parse("latency_ms=50, http_5xx_rate=0.25,seed=7")
    assert (f.latency_ms, f.http_5xx_rate, f.seed) == (50.0, 0.25, 7) and f.active
    with pytest.raises(ConfigError):
        Faults.parse("http_5xx_rate=2")


@given(st.text(alphabet="/abcdefghijklmnopqrstuvwxyz0123456789_-.", max_size=60), st.sampled_from(["GET", "POST", "PUT"]))
def test_route_resolution_never_crashes(path, method):
    found = resolve(method, "/" + path)
    assert found is None or callable(found[0])
