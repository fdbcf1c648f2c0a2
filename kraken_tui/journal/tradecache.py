"""The derived-trades cache (schema v3 ``trade_cache``): ``derive_trades`` persisted, rebuilt when stale.

Owns: writing the cache, deciding whether it is fresh, and reading trades / statistics rows from it.
Why a cache and not incremental upkeep in the writer: a trade depends on facts that arrive in any
order (a funding payment or an intent journaled after the fill that closed the trade, fills replayed
out of time order, marks for MAE/MFE); re-deriving from the facts is the only way the rules of
``trades`` hold exactly, so the cache stores the result of ``derive_trades`` and a *fingerprint* of
the source tables it was derived from: ``count(*)`` and ``max(id)`` of fills, funding, intents and
signals ("facts"), and of marks apart (marks only move MAE/MFE, which the summary does not use, so a
running app that journals marks does not make the summary stale). Facts are append-only (schema
docstring), so an equal fingerprint means the same rows.
Freshness and writes: a reader that finds the cache stale derives in its own read snapshot, then
(best effort, ``BEGIN IMMEDIATE`` with a short busy timeout, never holding the write lock while
deriving) stores the result when the fingerprint is still the one it derived from; a read-only file,
a busy writer or a newer fact just means the next reader tries again. Migration v2 -> v3 fills the
cache inside the migration's transaction (``build``).
The unfiltered summary (``stats.summarize_rows_with_breakdowns`` over every cached trade, with the
starting equity it used) is stored with the cache too, so ``journal summary`` without ``--since``
reads it instead of recomputing; with ``--since`` (or another starting equity) it is computed from
the cached rows.
Money: exact Decimal text per trade (the trades CSV/JSON contract needs exact values) plus REAL
copies for statistics (``stats.summarize_rows``).
Must not import: aiosqlite, textual, the engine.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from kraken_tui.domain import PositionSide
from kraken_tui.journal.queries import read_data, read_snapshot, starting_equity
from kraken_tui.journal.stats import Summary, TradeRow, summarize_rows_with_breakdowns
from kraken_tui.journal.trades import Trade, TradeSet, derive_trades

__all__ = ["CachedSummaryInput", "build", "fingerprint", "load_cached_trades", "load_summary_input", "rows_of"]

_FACT_TABLES = ("fills", "funding", "intents", "signals")
_COLUMNS = ("symbol, side, size, entry_ts_ms, exit_ts_ms, entry_price, exit_price, gross_pnl_usd, fees_usd, "
            "funding_usd, funding_paid_usd, funding_received_usd, exit_reason, signal_id, strategy, mae_usd, "
            "mfe_usd, net, gross, fees, funding, paid, received, currency, usd_rate, gross_pnl_coin, fees_coin, "
            "funding_coin")
_INSERT = f"INSERT INTO trade_cache({_COLUMNS}) VALUES ({','.join('?' * 28)})"
_ROW_SELECT = ("SELECT exit_ts_ms, entry_ts_ms, side, symbol, coalesce(strategy, 'unknown'), net, gross, fees, "
               "funding, paid, received FROM trade_cache WHERE exit_ts_ms >= ? ORDER BY id")
#: While storing the cache, wait at most this long for the app's writer (ms); then skip storing.
_WRITE_BUSY_MS = 200


Stats = tuple[Summary, dict[str, dict[str, Summary]]]


class CachedSummaryInput:
    """What ``journal summary`` needs: the symbols of open positions, the starting equity (USD or
    None), whether the cache was fresh, and either the stored statistics (``stats``, the unfiltered
    summary and breakdowns) or the rows to compute them from (``rows``, closed trades in exit order)."""

    __slots__ = ("rows", "stats", "open_symbols", "starting_equity_usd", "was_fresh")

    def __init__(self, rows: list[TradeRow] | None, stats: Stats | None, open_symbols: list[str],
                 start: Decimal | None, fresh: bool) -> None:
        self.rows = rows
        self.stats = stats
        self.open_symbols = open_symbols
        self.starting_equity_usd = start
        self.was_fresh = fresh

    def summary(self) -> Stats:
        """(overall summary, breakdowns): the stored ones, else computed from ``rows`` (float stats)."""
        if self.stats is not None:
            return self.stats
        return summarize_rows_with_breakdowns(self.rows or [], self.starting_equity_usd)


def fingerprint(conn: sqlite3.Connection) -> tuple[str, str]:
    """(facts, marks) fingerprints of the source tables, in the caller's transaction (module docstring)."""
    def one(table: str) -> str:
        n, top = conn.execute(f"SELECT count(*), max(id) FROM {table}").fetchone()
        return f"{table}:{n}:{top or 0}"

    return ";".join(one(t) for t in _FACT_TABLES), one("marks")


def _stored(conn: sqlite3.Connection) -> tuple[str, str, str, str] | None:
    row = conn.execute("SELECT facts, marks, open_symbols, summary FROM trade_cache_state WHERE id = 1").fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]), str(row[3]))


def _stats_to_text(stats: Stats, start: Decimal | None) -> str:
    overall, groups = stats
    by = {g: {k: s.to_json() for k, s in per.items()} for g, per in groups.items()}
    return json.dumps({"start": None if start is None else str(start), "overall": overall.to_json(), "by": by})


def _stats_from_text(text: str, start: Decimal | None) -> Stats | None:
    """The stored summary when it was computed with starting equity ``start``, else None."""
    doc = json.loads(text)
    if doc["start"] != (None if start is None else str(start)):
        return None
    groups = {g: {k: Summary(**v) for k, v in per.items()} for g, per in doc["by"].items()}
    return Summary(**doc["overall"]), groups


def _f(d: Decimal) -> float:
    return float(d)


def _params(t: Trade) -> tuple[object, ...]:
    return (t.symbol, t.side.value, str(t.size), t.entry_ts_ms, t.exit_ts_ms, str(t.entry_price), str(t.exit_price),
            str(t.gross_pnl_usd), str(t.fees_usd), str(t.funding_usd), str(t.funding_paid_usd),
            str(t.funding_received_usd), t.exit_reason, t.signal_id, t.strategy, t.mae_usd, t.mfe_usd,
            _f(t.net_pnl_usd), _f(t.gross_pnl_usd), _f(t.fees_usd), _f(t.funding_usd), _f(t.funding_paid_usd),
            _f(t.funding_received_usd), t.currency, str(t.usd_rate), _opt(t.gross_pnl_coin), _opt(t.fees_coin),
            _opt(t.funding_coin))


def _opt(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _row(t: Trade) -> TradeRow:
    return (t.exit_ts_ms, t.entry_ts_ms, t.side.value, t.symbol, t.strategy or "unknown", _f(t.net_pnl_usd),
            _f(t.gross_pnl_usd), _f(t.fees_usd), _f(t.funding_usd), _f(t.funding_paid_usd),
            _f(t.funding_received_usd))


def _write(conn: sqlite3.Connection, ts: TradeSet, fp: tuple[str, str], start: Decimal | None) -> None:
    """Replace the cache with ``ts`` and its summary at ``start`` (caller holds a write transaction)."""
    conn.execute("DELETE FROM trade_cache")
    conn.executemany(_INSERT, (_params(t) for t in ts.closed))
    summary = _stats_to_text(summarize_rows_with_breakdowns(rows_of(ts.closed), start), start)
    conn.execute("INSERT OR REPLACE INTO trade_cache_state(id, facts, marks, open_symbols, summary) "
                 "VALUES (1, ?, ?, ?, ?)", (fp[0], fp[1], ",".join(p.symbol for p in ts.open), summary))


def _derive(conn: sqlite3.Connection) -> TradeSet:
    d = read_data(conn)
    return derive_trades(d.fills, intents=d.intents, strategies=d.strategies, funding=d.funding, marks=d.marks)


def build(conn: sqlite3.Connection) -> None:
    """Derive every trade and store the cache, inside the write transaction the caller holds (used by
    the v2 -> v3 migration). Raises ``JournalError`` when a stored fact does not decode."""
    fp = fingerprint(conn)
    _write(conn, _derive(conn), fp, starting_equity(conn))


def _refresh(conn: sqlite3.Connection) -> tuple[TradeSet, Decimal | None]:
    """Derive in one read snapshot, then store the result if no fact arrived meanwhile (best effort)."""
    with read_snapshot(conn):
        fp = fingerprint(conn)
        ts = _derive(conn)
        start = starting_equity(conn)
    busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={_WRITE_BUSY_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if fingerprint(conn) == fp:
                _write(conn, ts, fp, start)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error:
        pass  # read-only file, writer busy: the next reader tries again
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy}")
    return ts, start


def _cached_trade(r: tuple[Any, ...]) -> Trade:
    D = Decimal
    return Trade(r[0], PositionSide(r[1]), D(r[2]), r[3], r[4], D(r[5]), D(r[6]), D(r[7]), D(r[8]), D(r[9]), r[12],
                 r[13], r[14], r[15], r[16], D(r[10]), D(r[11]), r[23], D(r[24]),
                 None if r[25] is None else D(r[25]), None if r[26] is None else D(r[26]),
                 None if r[27] is None else D(r[27]))


def load_summary_input(conn: sqlite3.Connection, since_ms: int | None = None) -> CachedSummaryInput:
    """Statistics rows of the closed trades that exited at or after ``since_ms`` (epoch ms; None: all),
    from the cache when fresh, else derived (and the cache refreshed). Raises ``JournalError`` when a
    stored fact does not decode."""
    since = since_ms if since_ms is not None else -(2**62)
    with read_snapshot(conn):
        stored = _stored(conn)
        if stored is not None and stored[0] == fingerprint(conn)[0]:
            start = starting_equity(conn)
            open_symbols = [s for s in stored[2].split(",") if s]
            stats = _stats_from_text(stored[3], start) if since_ms is None else None
            rows = conn.execute(_ROW_SELECT, (since,)).fetchall() if stats is None else None
            return CachedSummaryInput(rows, stats, open_symbols, start, True)
    ts, start = _refresh(conn)
    rows = [_row(t) for t in ts.closed if t.exit_ts_ms >= since]
    return CachedSummaryInput(rows, None, [p.symbol for p in ts.open], start, False)


def load_cached_trades(conn: sqlite3.Connection) -> tuple[list[Trade], list[str]]:
    """Every closed trade (exit time order, exact Decimals) and the open positions' symbols, from the
    cache when fresh (facts and marks), else derived (and the cache refreshed)."""
    with read_snapshot(conn):
        stored = _stored(conn)
        if stored is not None and (stored[0], stored[1]) == fingerprint(conn):
            rows = conn.execute(f"SELECT {_COLUMNS} FROM trade_cache ORDER BY id").fetchall()
            return [_cached_trade(r) for r in rows], [s for s in stored[2].split(",") if s]
    ts, _ = _refresh(conn)
    return ts.closed, [p.symbol for p in ts.open]


def rows_of(trades: Iterable[Trade]) -> list[TradeRow]:
    """Statistics rows of ``trades`` (same layout as the cache's; for callers holding Trade objects)."""
    return [_row(t) for t in trades]
