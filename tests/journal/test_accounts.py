"""Trades per account: fills belong to the account of their run (``records.run_account``); trades and statistics
are derived per account and never walk two accounts' fills together; schema 6 assigns older runs; the journal
CLI shows the current account unless ``--account`` / ``--all-accounts`` say otherwise."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from kraken_tui.errors import ConfigError
from kraken_tui.journal import cli as journal_cli
from kraken_tui.journal.db import open_db
from kraken_tui.journal.queries import account_names, current_account, load_trades, starting_equity
from kraken_tui.journal.records import RunStarted, RunStopped, run_account
from kraken_tui.journal.schema import APPLICATION_ID, MIGRATIONS
from kraken_tui.journal.tradecache import load_cached_trades, load_summary_input
from tests.journal.factory import fill, write_journal

D = Decimal


def _run(run_id: str, t0: int, mode: str = "replay", account: str = "", equity: str | None = None) -> list:
    """One run that buys 1 PF_XBTUSD at 100 and sells at 110, three times."""
    recs: list = [RunStarted(run_id, t0, mode, "h", "0", D(equity) if equity else None, account)]
    for k in range(3):
        ts = t0 + 10 * k + 1
        recs.append(fill(f"{run_id}-b{k}", "PF_XBTUSD", "buy", "1", "100", ts))
        recs.append(fill(f"{run_id}-s{k}", "PF_XBTUSD", "sell", "1", "110", ts + 5))
    recs.append(RunStopped(t0 + 100, "quit"))
    return recs


def test_run_account_rule():
    assert run_account("paper", "abcdef0123", "paper") == "paper"
    assert run_account("live", "abcdef0123") == "default"
    assert run_account("replay", "abcdef0123", "replay-x") == "replay-x#abcdef01"
    assert run_account("backtest", "abcdef0123") == "backtest#abcdef01"
    assert RunStarted("abcdef0123", 1, "replay", "h", "0").account_name == "replay#abcdef01"


def test_two_accounts_same_fills_are_two_sets_of_trades(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, _run("run-one-1", 1000, equity="1000") + _run("run-two-2", 1001, equity="5000"))
    conn = open_db(path, create=False)
    assert account_names(conn) == ["replay#run-one-", "replay#run-two-"]
    assert current_account(conn) == "replay#run-two-"
    every, _ = load_cached_trades(conn, all_accounts=True)
    assert len(every) == 6 and {t.size for t in every} == {D(1)}  # never 3 trades of size 2
    mine, _ = load_cached_trades(conn)
    assert len(mine) == 3 and {t.account for t in mine} == {"replay#run-two-"}
    first, _ = load_cached_trades(conn, "replay#run-one-")
    assert [t.account for t in first] == ["replay#run-one-"] * 3
    inp = load_summary_input(conn)  # fresh cache: the stored per-account summary
    assert inp.was_fresh and inp.account == "replay#run-two-" and inp.summary()[0].trades == 3
    assert starting_equity(conn) == D(5000) and starting_equity(conn, "replay#run-one-") == D(1000)
    ts, start = load_trades(conn, "replay#run-one-")
    assert len(ts.closed) == 3 and start == D(1000)
    conn.close()


def _cli(path: Path, view: str, **kw) -> str:
    out = io.StringIO()
    ns = argparse.Namespace(config=None, since=None, journal=path, profile=None, view=view, json=True, csv=None,
                            account=None, all_accounts=False)
    for k, v in kw.items():
        setattr(ns, k, v)
    assert journal_cli.run(ns, out) == 0
    return out.getvalue()


def test_journal_cli_accounts(tmp_path):
    path = tmp_path / "j.sqlite"
    write_journal(path, _run("aaaa1111", 1000, "paper", "paper") + _run("bbbb2222", 2000, "replay"))
    assert json.loads(_cli(path, "summary"))["account"] == "replay#bbbb2222"
    assert json.loads(_cli(path, "summary", account="paper"))["trades"] == 3
    doc = json.loads(_cli(path, "summary", all_accounts=True))
    assert {k: v["trades"] for k, v in doc["accounts"].items()} == {"paper": 3, "replay#bbbb2222": 3}
    assert len(json.loads(_cli(path, "trades", all_accounts=True))) == 6
    text = _cli(path, "trades", all_accounts=True, json=False)
    assert text.splitlines()[0].endswith(",account") and len(text.splitlines()) == 7
    with pytest.raises(ConfigError) as ei:
        _cli(path, "trades", account="nope")
    assert "paper" in str(ei.value) and ei.value.exit_code == 2


def _v5(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    for script in MIGRATIONS[:5]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=5")
    conn.execute("INSERT INTO runs(run_id, started_ms, mode, config_hash, version) VALUES ('r0',1,'paper','h','0')")
    conn.execute("INSERT INTO runs(run_id, started_ms, mode, config_hash, version) VALUES ('r1',2,'replay','h','0')")
    for i, (side, px) in enumerate((("buy", "100"), ("sell", "110"))):
        conn.execute("INSERT INTO fills(run_id, fill_id, order_id, symbol, side, size, price, ts_ms, fill_type, fee) "
                     f"VALUES ('r{i}','f{i}','o','PF_XBTUSD','{side}','1','{px}',{5 + i},'maker','0')")
    conn.close()


@pytest.mark.parametrize(("where", "account"), [("x/journal.sqlite", "default"),
                                                 ("profiles/swing/journal.sqlite", "swing")])
def test_migration_assigns_older_runs(tmp_path, where, account):
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    _v5(path)
    conn = open_db(path)
    assert {r[0] for r in conn.execute("SELECT account FROM runs")} == {account}
    trades, _ = load_cached_trades(conn)
    assert len(trades) == 1 and trades[0].account == account  # the older runs stay one account
    conn.close()
