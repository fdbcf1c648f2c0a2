"""Trades per account: two identical replays into one journal are two accounts (each replay's exchange account
starts empty), so the journal shows twice the trades of one replay, each of the replay's own size, never the
two runs' fills walked together into trades of double size. ``journal trades`` shows the current (last) account
by default, ``--account NAME`` another, ``--all-accounts`` every one.

Data: the first 600 rows of ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` replayed as PF_ETHUSD at max speed
with ``ema_cross`` 9/21 (as ``test_engine_replay_e2e``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sqlite3
from pathlib import Path

from kraken_tui.config import Config
from kraken_tui.journal import cli as journal_cli
from kraken_tui.journal.db import open_db
from kraken_tui.journal.tradecache import load_cached_trades
from kraken_tui.runtime import RunOptions, build_runtime

ROWS = 600


def _config() -> Config:
    return Config.model_validate({
        "strategy": {"name": "ema_cross", "symbols": ["PF_ETHUSD"], "timeframe": "5m",
                     "params": {"fast": 9, "slow": 21, "min_confidence": 0.4}},
        "exits": {"stop_loss_pct": 0.6, "take_profit_pct": [0.5, 1.0, 1.5, 2.0], "trailing_activate_pct": 0.4,
                  "trailing_distance_pct": 0.3, "time_exit_h": 1, "time_exit_min_profit_pct": 0.05},
        "risk": {"cost_atr_multiple": 0},
        "operator": {"stale_data_s": 60},
    })


async def _replay(csv: Path, journal: Path) -> str:
    rt = await build_runtime(_config(), RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, exit_at_end=True,
                                                  journal=journal))
    await rt.start()
    try:
        assert await asyncio.wait_for(rt.wait_finished(), timeout=180) == 0
    finally:
        await rt.aclose()
    return rt.run_id


def _journal(journal: Path, view: str, *extra: str) -> list[dict]:
    out = io.StringIO()
    ns = argparse.Namespace(config=None, since=None, journal=journal, profile=None, view=view, json=True, csv=None,
                            account=None, all_accounts=False)
    for flag in extra:
        if flag == "--all-accounts":
            ns.all_accounts = True
        else:
            ns.account = flag
    assert journal_cli.run(ns, out) == 0
    return json.loads(out.getvalue())


def test_two_identical_replays_are_two_accounts(shared_data, tmp_path):
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(ROWS)))
    one = tmp_path / "one.sqlite"
    two = tmp_path / "two.sqlite"
    asyncio.run(_replay(csv, one))
    asyncio.run(_replay(csv, two))
    asyncio.run(_replay(csv, two))

    conn = open_db(one, create=False)
    single, _ = load_cached_trades(conn, all_accounts=True)
    conn.close()
    assert len(single) >= 3, "the window must trade"
    conn = open_db(two, create=False)
    both, _ = load_cached_trades(conn, all_accounts=True)
    accounts = [r[0] for r in conn.execute("SELECT account FROM runs ORDER BY started_ms")]
    conn.close()
    assert len(set(accounts)) == 2
    assert len(both) == 2 * len(single)
    shape = sorted((t.symbol, t.side.value, t.size, t.entry_price, t.exit_price) for t in single)
    for acct in accounts:
        mine = [t for t in both if t.account == acct]
        assert sorted((t.symbol, t.side.value, t.size, t.entry_price, t.exit_price) for t in mine) == shape

    # the CLI: the current (last) account by default; --account names one; --all-accounts every one
    assert len(_journal(two, "trades")) == len(single)
    assert {t["account"] for t in _journal(two, "trades")} == {accounts[-1]}
    assert {t["account"] for t in _journal(two, "trades", accounts[0])} == {accounts[0]}
    assert len(_journal(two, "trades", "--all-accounts")) == 2 * len(single)
    summary = _journal(two, "summary")
    assert summary["trades"] == len(single) and summary["account"] == accounts[-1]
    every = _journal(two, "summary", "--all-accounts")
    assert sorted(every["accounts"]) == sorted(accounts)
    assert all(s["trades"] == len(single) for s in every["accounts"].values())
    sqlite3.connect(two).close()
