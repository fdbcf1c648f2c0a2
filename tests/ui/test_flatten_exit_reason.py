"""A flatten's closing fill names its trade's exit reason ``flatten``, and the trade detail its source; a fill
nobody here explains stays ``external``."""

from __future__ import annotations

from kraken_tui.journal.records import FlattenSource, flatten_close_tag, flatten_source_of
from kraken_tui.journal.trades import IntentInfo, derive_trades
from kraken_tui.ui.journal_data import TradeDetail
from kraken_tui.ui.screens.trade_detail import detail_text
from tests.journal.factory import fill

XBT = "PF_XBTUSD"


def _trade(close_cli: str | None):
    fills = [fill("f1", XBT, "buy", "0.2", "50000", 1000, cli="e1"),
             fill("f2", XBT, "sell", "0.2", "49000", 2000, cli=close_cli)]
    ts = derive_trades(fills, intents={"e1": IntentInfo("entry", "buy", None)})
    return ts.closed[0], fills


def test_the_source_each_flatten_carries_in_its_closes():
    assert flatten_source_of(f"{flatten_close_tag(FlattenSource.KEY, 17)}-r1-{XBT}") == "key"
    assert flatten_source_of(f"{flatten_close_tag(FlattenSource.CTL, 17)}-r2-{XBT}") == "ctl flatten"
    assert flatten_source_of(f"{flatten_close_tag(FlattenSource.FLOOR, 17)}-r1-{XBT}") == "equity floor"
    assert flatten_source_of(f"{flatten_close_tag(FlattenSource.CLI, 17)}-r1-{XBT}") == "external flatten"
    assert flatten_source_of(f"flat-17-r1-{XBT}") == ""  # a flatten close that names no source
    assert flatten_source_of("kt-123-entry") is None and flatten_source_of(None) is None


def test_a_flatten_close_is_exit_reason_flatten_and_the_detail_names_its_source():
    cli = f"{flatten_close_tag(FlattenSource.CTL, 17)}-r1-{XBT}"
    trade, fills = _trade(cli)
    assert trade.exit_reason == "flatten"
    text = detail_text(TradeDetail(trade, fills, None)).plain
    assert "exit reason: flatten (ctl flatten)" in text


def test_a_close_nobody_explains_stays_external():
    trade, _ = _trade("someone-else")
    assert trade.exit_reason == "external"
    trade, _ = _trade(None)
    assert trade.exit_reason == "external"
