"""``kraken-tui journal summary|trades|events`` per README.md "Commands" (keys, CSV header, exit codes)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kraken_tui.cli import main
from kraken_tui.errors import ConfigError
from kraken_tui.journal.export import TRADES_CSV_HEADER, iso_ms, parse_since
from kraken_tui.journal.records import FundingPayment, IntentRecord, RunStarted, StateChange
from tests.journal.factory import D, fill, write_journal

XBT, ETH = "PF_XBTUSD", "PF_ETHUSD"
H = 3_600_000
DAY = 24 * H
RECORDS = [
    RunStarted("r1", 0, "paper", "h", "0.1.0", D(10000)),
    IntentRecord(0, "tp", XBT, "sell", D("0.1"), "lmt", "tp1", limit_price=D(51000)),
    # trade 1, day 0: long 0.1 XBT 50000 -> 51000: gross 100, fees 2 + 2 = 4, funding -0.3 -> net 95.7
    fill("1", XBT, "buy", "0.1", "50000", H, fee="2"),
    FundingPayment(XBT, 2 * H, D("-0.3"), D("0.00006")),
    fill("2", XBT, "sell", "0.1", "51000", 3 * H, fee="2", cli="tp"),
    # trade 2, day 2: short 1 ETH 3000 -> 3100: gross -100, fees 1.5 + 1.55 = 3.05 -> net -103.05
    fill("3", ETH, "sell", "1", "3000", 2 * DAY, fee="1.5"),
    fill("4", ETH, "buy", "1", "3100", 2 * DAY + H, fee="1.55"),
    StateChange(2 * DAY + 2 * H, "PAUSED", "daily loss limit", "automatic", "RUNNING"),
]


def _journal(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, RECORDS)
    return path


def test_summary_json_keys_and_values(tmp_path, capsys):
    path = _journal(tmp_path)
    assert main(["journal", "--journal", str(path), "summary", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("trades", "wins", "losses", "win_rate", "net_pnl_usd", "gross_pnl_usd", "fees_usd",
                "funding_usd", "max_drawdown_usd", "profit_factor", "sharpe"):
        assert key in doc, key
    # net = 95.7 - 103.05 = -7.35; gross = 100 - 100 = 0; fees 4 + 3.05 = 7.05; funding -0.3
    assert (doc["trades"], doc["wins"], doc["losses"]) == (2, 1, 1)
    assert doc["net_pnl_usd"] == -7.35 and doc["gross_pnl_usd"] == 0.0
    assert doc["fees_usd"] == 7.05 and doc["funding_usd"] == -0.3
    # equity 10000 -> 10095.7 -> 9992.65: drawdown 103.05; profit factor 95.7 / 103.05
    assert doc["max_drawdown_usd"] == 103.05
    assert abs(doc["profit_factor"] - 95.7 / 103.05) < 1e-12
    assert doc["by"]["side"]["short"]["net_pnl_usd"] == -103.05


def test_trades_csv_header_and_pnl_sums_to_net(tmp_path, capsys):
    path = _journal(tmp_path)
    out = tmp_path / "t.csv"
    assert main(["journal", "--journal", str(path), "trades", "--csv", str(out)]) == 0
    rows = list(csv.reader(out.open()))
    assert tuple(rows[0]) == TRADES_CSV_HEADER
    assert rows[1] == ["1970-01-01T01:00:00.000Z", "1970-01-01T03:00:00.000Z", XBT, "long", "0.1", "50000",
                       "51000", "95.7", "4", "-0.3", "tp1"]
    assert rows[2][3] == "short" and rows[2][10] == "external"
    assert sum(Decimal(r[7]) for r in rows[1:]) == Decimal("-7.35")  # = summary net_pnl_usd


def test_since_keeps_trades_closed_after_it(tmp_path, capsys):
    path = _journal(tmp_path)
    assert main(["journal", "--journal", str(path), "trades", "--json", "--since", "1970-01-02"]) == 0
    trades = json.loads(capsys.readouterr().out)
    assert [t["symbol"] for t in trades] == [ETH] and trades[0]["pnl_usd"] == -103.05


def test_events_text_and_json(tmp_path, capsys):
    path = _journal(tmp_path)
    assert main(["journal", "--journal", str(path), "events"]) == 0
    assert "PAUSED [automatic]: RUNNING -> PAUSED: daily loss limit" in capsys.readouterr().out
    assert main(["journal", "--journal", str(path), "events", "--json", "--since", "1970-01-04T00:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_exit_codes(tmp_path, capsys):
    assert main(["journal", "--journal", str(tmp_path / "missing.sqlite"), "summary"]) == 4
    assert "missing.sqlite" in capsys.readouterr().err
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"x" * 5000)
    assert main(["journal", "--journal", str(bad), "summary"]) == 4
    assert "bad.sqlite" in capsys.readouterr().err
    path = _journal(tmp_path)
    assert main(["journal", "--journal", str(path), "summary", "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["journal", "--journal", str(path), "trades", "--csv", str(tmp_path / "no" / "dir.csv")]) == 2


def test_default_path_comes_from_config(tmp_path, capsys, monkeypatch):
    path = _journal(tmp_path)
    (tmp_path / "config.toml").write_text(f'[general]\njournal_path = "{path}"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["journal", "summary", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trades"] == 2


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
def test_since_parser_round_trips_iso(dt):
    ms = int(dt.replace(tzinfo=UTC).timestamp() * 1000)
    assert parse_since(iso_ms(ms)) == ms
    assert parse_since(iso_ms(ms).replace("Z", "+00:00")) == ms


@given(st.text(max_size=30))
def test_since_parser_never_crashes(text):
    try:
        parse_since(text)
    except ConfigError as exc:
        assert exc.key == "--since"
