"""Manual requests on the control socket are parsed strictly (control.server.parse_manual, control.manual_wire)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.control.manual_wire import action_from_json, action_to_json
from kraken_tui.control.order_grammar import parse_command
from kraken_tui.control.server import ControlServer, RequestError, parse_manual
from tests.ui.fake_engine import FakeEngine

D = Decimal


@pytest.mark.parametrize("text", [
    "buy PF_XBTUSD 0.01", "sell PF_ETHUSD 2000usd lmt 3450 post", "buy PF_XBTUSD 0.01 stp 51000 lmt 51010 ro noexits",
    "close PF_XBTUSD 50% --limit 50000", "close PF_XBTUSD --size 0.004", "cancel o-1", "edit o-1 --price 3 --size 2",
    "stop PF_XBTUSD be", "stop PF_XBTUSD 49000", "tpcancel PF_ETHUSD", "reprotect PF_ETHUSD",
])
def test_every_action_survives_the_wire(text):
    a = parse_command(text)
    line = json.dumps({"cmd": "manual", "action": action_to_json(a)})
    assert parse_manual(line).action == a


@pytest.mark.parametrize("obj, words", [
    ({"cmd": "manual"}, "action must be a JSON object"),
    ({"cmd": "manual", "action": {"kind": "nuke"}}, "action.kind must be one of"),
    ({"cmd": "manual", "action": {"kind": "cancel"}}, "needs order_id"),
    ({"cmd": "manual", "action": {"kind": "cancel", "order_id": "o", "x": 1}}, "unknown field(s): x"),
    ({"cmd": "manual", "action": {"kind": "order", "symbol": "PF_XBTUSD", "side": "buy", "size": 0.01}},
     "action.size must be a string"),
    ({"cmd": "manual", "action": {"kind": "order", "symbol": "PF_XBTUSD", "side": "buy", "size": "NaN"}},
     "positive finite"),
    ({"cmd": "manual", "action": {"kind": "order", "symbol": "PF_XBTUSD", "side": "buy", "size": "-1"}},
     "positive finite"),
    ({"cmd": "manual", "action": {"kind": "order", "symbol": "PF_XBTUSD", "side": "hold", "size": "1"}},
     "buy or sell"),
    ({"cmd": "manual", "action": {"kind": "order", "symbol": "PF_XBTUSD", "side": "buy", "size": "1",
                                  "order_type": "ioc"}}, "order_type must be one of"),
    ({"cmd": "manual", "action": {"kind": "stop", "symbol": "PF_XBTUSD", "breakeven": "yes"}}, "true or false"),
    ({"cmd": "manual", "action": {"kind": "cancel", "order_id": "o"}, "override": 1}, "override must be"),
    ({"cmd": "manual", "action": {"kind": "cancel", "order_id": "o"}, "force": True}, "unknown key(s): force"),
])
def test_bad_requests_say_what_is_wrong(obj, words):
    with pytest.raises(RequestError) as e:
        parse_manual(json.dumps(obj))
    assert words in str(e.value)


def test_a_key_given_twice_inside_the_action_is_refused():
    with pytest.raises(RequestError, match="duplicate key 'side'"):
        parse_manual('{"cmd": "manual", "action": {"kind": "order", "symbol": "PF_XBTUSD", "side": "buy", '
                     '"side": "sell", "size": "1"}}')


@given(st.dictionaries(st.sampled_from(["kind", "symbol", "side", "size", "order_id", "price", "breakeven", "zz"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                                 st.sampled_from(["order", "close", "cancel", "stop", "edit", "buy", "1", "0.5"])),
                       max_size=6))
def test_any_action_object_is_an_action_or_a_clear_refusal(obj):
    try:
        action_from_json(obj)
    except ValueError as e:
        assert str(e)


async def test_the_server_answers_a_refusal_with_code_2_and_sends_nothing():
    eng = FakeEngine()
    srv = ControlServer(eng)
    ans = await srv.dispatch(json.dumps({"cmd": "manual", "action": action_to_json(parse_command("close PF_XBTUSD "
                                                                                                 "--size 5"))}))
    assert ans["ok"] is False and ans["code"] == 2 and "above the PF_XBTUSD position" in ans["error"]
    assert eng.manual_calls[-1][0] == parse_command("close PF_XBTUSD --size 5")  # refused inside the engine
    ans = await srv.dispatch(json.dumps({"cmd": "manual", "preview": True,
                                         "action": action_to_json(parse_command("close PF_ETHUSD 50%"))}))
    assert ans["ok"] and ans["result"] is None and ans["preview"]["sent"]["size"] == "0.6"
    assert len(eng.manual_calls) == 1  # a preview calls no action
    ans = await srv.dispatch(json.dumps({"cmd": "manual", "action": action_to_json(parse_command("close PF_ETHUSD"))}))
    assert ans["ok"] and ans["code"] == 0 and ans["status"]["positions"][0]["symbol"] == "PF_XBTUSD"
