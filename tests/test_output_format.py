"""Human output rounds prices and sizes to the instrument's tick and lot (JSON keeps full precision); empty
``journal events`` says so; a mistyped subcommand is refused with the valid choices named."""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D

import pytest

from kraken_tui.cli import main
from kraken_tui.control.views import format_status
from kraken_tui.domain import PositionSide
from kraken_tui.journal.export import trade_to_json, write_trades_csv
from kraken_tui.journal.trades import Trade


def _status(symbol: str, size, entry, mark, liq) -> dict:
    return {"state": "RUNNING", "state_reason": "start", "mode": "paper", "equity_usd": 10000.123456,
            "positions": [{"symbol": symbol, "side": "long", "size": size, "entry_price": entry, "mark_price": mark,
                           "upnl_usd": 12.3456789, "liq_price": liq, "liq_distance": 0.1, "external": False}],
            "open_orders": 0}


def test_ctl_status_prices_on_the_tick_and_sizes_on_the_lot():
    text = format_status(_status("PF_XBTUSD", 0.12345678, 100000.4, 100000.6, 10397.404663927577))
    # PF_XBTUSD: tick 1 USD, lot 0.0001
    assert "liq 10,397 (10.0%)" in text and "0.1235 @ 100,000  mark 100,001" in text and "upnl 12.35 USD" in text
    assert "10397.404663927577" not in text
    text = format_status(_status("PI_XBTUSD", 1000, 30000.25, 30070.1, 33333.333333))
    # PI_XBTUSD: tick 0.5 -> 1 decimal, lot 1 contract
    assert "PI_XBTUSD long 1,000 @ 30,000.2  mark 30,070.1" in text and "liq 33,333.3" in text


def _trade() -> Trade:
    return Trade("PF_ETHUSD", PositionSide.LONG, D("1.23456"), 0, 3_600_000, D("3000.0333333333333333333333"),
                 D("3100.06666666666666666666667"), D("123.4567890123456789012345"), D("3.3333333333333333333333"),
                 D("-0.1234567890123456789012"), "signal")


def test_trades_csv_rounds_to_tick_lot_and_satoshi_json_keeps_precision():
    out = io.StringIO()
    t = _trade()
    write_trades_csv(out, [t])
    (row,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    # PF_ETHUSD: tick 0.1, lot 0.001; money to 1e-8
    assert (row["size"], row["entry_price"], row["exit_price"]) == ("1.235", "3000", "3100.1")
    assert (row["pnl_usd"], row["fees_usd"], row["funding_usd"]) == ("119.99999889", "3.33333333", "-0.12345679")
    j = trade_to_json(t)
    assert j["pnl_usd"] == float(t.net_pnl_usd) and j["entry_price"] == float(t.entry_price) and j["size"] == 1.23456


def test_journal_events_says_no_events(tmp_path, capsys):
    from kraken_tui.journal.db import open_db

    path = tmp_path / "j.sqlite"
    open_db(path).close()
    assert main(["journal", "--journal", str(path), "events"]) == 0
    assert capsys.readouterr().out == "no events\n"


def test_a_mistyped_subcommand_names_the_valid_choices(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["jurnal", "summary"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'jurnal'" in err and "'journal'" in err and "unrecognized arguments" not in err
