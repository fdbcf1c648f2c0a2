"""Builds a journal of N closed round trips quickly (one transaction through ``journal.encode``),
for the journal screen's tests, the demo and ``bench/bench_console.py``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import Fill, FillType, Side
from kraken_tui.journal.db import open_db
from kraken_tui.journal.encode import encode
from kraken_tui.journal.records import RunStarted

T_START_MS = 1_719_792_000_000  # 2024-07-01 00:00 UTC


def build_trades_journal(path: Path, n_trades: int) -> Path:
    """Trade k: entry at T_START + k min, exit 30 s later, 0.01 contracts, fee 0.25 USD per fill; odd k on
    PF_XBTUSD, even on PF_ETHUSD; every third one short. Entry 50000 + (7k mod 500), exit entry +
    ((13k mod 200) - 100). Starting equity 10,000 USD."""
    conn = open_db(path, synchronous="NORMAL")
    conn.execute("BEGIN")
    for sql, params in encode(RunStarted("test", T_START_MS, "paper", "h", "0", Decimal(10000)), None):
        conn.execute(sql, params)
    rows = []
    sql = None
    for k in range(n_trades):
        ts = T_START_MS + k * 60_000
        side = Side.BUY if k % 3 else Side.SELL
        px_in = Decimal(50000 + (k * 7) % 500)
        px_out = px_in + Decimal((k * 13) % 200 - 100)
        for j, (sd, px) in enumerate(((side, px_in), (side.opposite, px_out))):
            f = Fill(f"t{k}-{j}", f"o{k}-{j}", "PF_XBTUSD" if k % 2 else "PF_ETHUSD", sd, Decimal("0.01"), px,
                     ts + j * 30_000, FillType.TAKER, None, Decimal("0.25"), "USD")
            ((sql, params),) = encode(f, "test")
            rows.append(params)
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
    conn.close()
    return path
