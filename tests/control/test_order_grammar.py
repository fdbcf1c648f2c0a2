"""The words of a manual action (control.order_grammar), shared by ``ctl`` and the console's ``:`` line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.control.order_grammar import GrammarError, parse_command
from kraken_tui.domain import Side
from kraken_tui.engine.manual import (
    CancelOrder,
    CancelTakeProfits,
    EditOrder,
    ManualClose,
    ManualOrder,
    MoveStopTo,
    OrderKind,
    Reprotect,
)

D = Decimal


@pytest.mark.parametrize("text, want", [
    (":buy PF_XBTUSD 0.01 mkt", ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"))),
    ("buy pf_xbtusd 0.01", ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"))),
    (":sell PF_ETHUSD 2000usd lmt 3450 post",
     ManualOrder("PF_ETHUSD", Side.SELL, notional_usd=D(2000), order_type=OrderKind.LIMIT, limit_price=D(3450),
                 post_only=True)),
    ("order sell PF_ETHUSD 2000 usd lmt 3450 --post-only --no-exits",
     ManualOrder("PF_ETHUSD", Side.SELL, notional_usd=D(2000), order_type=OrderKind.LIMIT, limit_price=D(3450),
                 post_only=True, attach_exits=False)),
    ("buy PF_XBTUSD 0.01 stp 51000 ro",
     ManualOrder("PF_XBTUSD", Side.BUY, size_contracts=D("0.01"), order_type=OrderKind.STOP, stop_price=D(51000),
                 reduce_only=True)),
    ("sell PF_XBTUSD 0.01 tp 52000 --reduce-only",
     ManualOrder("PF_XBTUSD", Side.SELL, size_contracts=D("0.01"), order_type=OrderKind.TAKE_PROFIT,
                 stop_price=D(52000), reduce_only=True)),
    ("close PF_XBTUSD", ManualClose("PF_XBTUSD")),
    ("close PF_XBTUSD 50%", ManualClose("PF_XBTUSD", fraction=D("0.5"))),
    ("close PF_XBTUSD --fraction 0.25 --limit 50100", ManualClose("PF_XBTUSD", fraction=D("0.25"),
                                                                   limit_price=D(50100))),
    ("close PF_XBTUSD --size 0.004", ManualClose("PF_XBTUSD", size=D("0.004"))),
    ("cancel o-123", CancelOrder("o-123")),
    ("stop PF_XBTUSD be", MoveStopTo("PF_XBTUSD", breakeven=True)),
    ("stop PF_XBTUSD --breakeven", MoveStopTo("PF_XBTUSD", breakeven=True)),
    ("stop PF_XBTUSD --price 49000", MoveStopTo("PF_XBTUSD", price=D(49000))),
    ("stop PF_XBTUSD 49000.5", MoveStopTo("PF_XBTUSD", price=D("49000.5"))),
    ("edit abc --price 49000 --size 0.02", EditOrder("abc", price=D(49000), size=D("0.02"))),
    ("tpcancel PF_ETHUSD", CancelTakeProfits("PF_ETHUSD")),
    ("reprotect PF_ETHUSD", Reprotect("PF_ETHUSD")),
])
def test_examples(text, want):
    assert parse_command(text) == want


@pytest.mark.parametrize("text, words", [
    ("", "empty command"),
    ("buy", "missing a symbol"),
    ("buy PF_XBTUSD", "missing a size"),
    ("buy PF_XBTUSD -1", "word 3 '-1'"),
    ("buy PF_XBTUSD 0", "must be above 0"),
    ("buy PF_XBTUSD 1e3", "word 3 '1e3'"),
    ("buy PF_XBTUSD 0.01 lmt", "missing a limit price"),
    ("buy PF_XBTUSD 0.01 lmt abc", "word 5 'abc'"),
    ("buy PF_XBTUSD 0.01 mkt lmt 3", "order type was given already"),
    ("buy PF_XBTUSD 0.01 yolo", "word 4 'yolo'"),
    ("hold PF_XBTUSD", "unknown command"),
    ("order hold", "expected buy or sell"),
    ("close PF_XBTUSD 150%", "at most 100%"),
    ("close PF_XBTUSD --fraction 2", "at most 1"),
    ("close PF_XBTUSD 50% --size 1", "not both"),
    ("stop PF_XBTUSD be now", "unexpected"),
    ("edit abc", "needs --price"),
    ("cancel", "missing an order id"),
    ("buy PF/XBT 1", "expected a symbol"),
])
def test_mistakes_say_which_word(text, words):
    with pytest.raises(GrammarError) as e:
        parse_command(text)
    assert words in str(e.value)


_num = st.decimals(min_value=D("0.0001"), max_value=D(10**7), places=4, allow_nan=False, allow_infinity=False)


@given(side=st.sampled_from([Side.BUY, Side.SELL]), sym=st.sampled_from(["PF_XBTUSD", "PF_ETHUSD", "PI_XBTUSD"]),
       size=_num, usd=st.booleans(), kind=st.sampled_from(list(OrderKind)), price=_num, ro=st.booleans(),
       post=st.booleans(), exits=st.booleans())
def test_an_order_written_out_parses_back(side, sym, size, usd, kind, price, ro, post, exits):
    words = [side.value, sym, f"{size}usd" if usd else str(size)]
    words += {OrderKind.MARKET: ["mkt"], OrderKind.LIMIT: ["lmt", str(price)], OrderKind.STOP: ["stp", str(price)],
              OrderKind.TAKE_PROFIT: ["tp", str(price)]}[kind]
    words += (["ro"] if ro else []) + (["post"] if post else []) + ([] if exits else ["noexits"])
    got = parse_command(" ".join(words))
    assert isinstance(got, ManualOrder)
    assert (got.symbol, got.side, got.order_type, got.reduce_only, got.post_only, got.attach_exits) == \
        (sym, side, kind, ro, post, exits)
    assert (got.notional_usd if usd else got.size_contracts) == size
    assert (got.limit_price if kind is OrderKind.LIMIT else got.stop_price) == (None if kind is OrderKind.MARKET
                                                                                 else price)
    assert parse_command(words) == got  # the word list (ctl) and the line (console) agree


@given(st.text(max_size=60))
def test_any_text_is_an_action_or_a_grammar_error(text):
    try:
        parse_command(text)
    except GrammarError as e:
        assert str(e)


@given(st.lists(st.sampled_from(["buy", "sell", "close", "stop", "edit", "PF_XBTUSD", "0.01", "usd", "lmt", "stp",
                                 "tp", "50%", "--size", "--price", "--limit", "be", "ro", "post", "x", "-1", "%"]),
                max_size=8))
def test_word_soup_never_raises_anything_else(words):
    try:
        parse_command(words)
    except GrammarError:
        pass
