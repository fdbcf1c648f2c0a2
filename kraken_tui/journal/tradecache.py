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
Accounts: trades are derived per account (``trades.derive_trades_per_account``) and each cached trade names its
account; readers take one account (the current one, ``queries.current_account``, unless told) or every account,
never a walk of two accounts' fills together.
The unfiltered summary of each account (``stats.summarize_rows_with_breakdowns`` over its cached trades, with the
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
from kraken_tui.journal.queries import current_account, read_data, read_snapshot, starting_equity
from kraken_tui.journal.records import DEFAULT_ACCOUNT
from kraken_tui.journal.stats import Summary, TradeRow, summarize_rows_with_breakdowns
from kraken_tui.journal.trades import Trade, TradeSet

__all__ = ["CachedSummaryInput", "build", "fingerprint", "load_cached_trades", "load_summary_input", "rows_of"]

_FACT_TABLES = ("fills", "funding", "intents", "signals")
_COLUMNS = ("symbol, side, size, entry_ts_ms, exit_ts_ms, entry_price, exit_price, gross_pnl_usd, fees_usd, "
            "funding_usd, funding_paid_usd, funding_received_usd, exit_reason, signal_id, strategy, mae_usd, "
            "mfe_usd, net, gross, fees, funding, paid, received, currency, usd_rate, gross_pnl_coin, fees_coin, "
            "funding_coin, account")
_INSERT = f"INSERT INTO trade_cache({_COLUMNS}) VALUES ({','.join('?' * 29)})"
_ROW_SELECT = ("SELECT exit_ts_ms, entry_ts_ms, side, symbol, coalesce(strategy, 'unknown'), net, gross, fees, "
               "funding, paid, received FROM trade_cache WHERE account = ? AND exit_ts_ms >= ? ORDER BY id")
#: While storing the cache, wait at most this long for the app's writer (ms); then skip storing.
_WRITE_BUSY_MS = 200


Stats = tuple[Summary, dict[str, dict[str, Summary]]]


class CachedSummaryInput:
    """What ``journal summary`` needs for one ``account``: the symbols of its open positions, its starting equity
    (USD or None), whether the cache was fresh, and either the stored statistics (``stats``, the unfiltered
    summary and breakdowns) or the rows to compute them from (``rows``, closed trades in exit order)."""

    __slots__ = ("account", "rows", "stats", "open_symbols", "starting_equity_usd", "was_fresh")

    def __init__(self, rows: list[TradeRow] | None, stats: Stats | None, open_symbols: list[str],
                 start: Decimal | None, fresh: bool, account: str = DEFAULT_ACCOUNT) -> None:
        self.account = account
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


def _open_of(text: str, account: str | None) -> list[str]:
    """The open positions' symbols stored for ``account`` (None: every account's, account order)."""
    doc: dict[str, list[str]] = json.loads(text) if text else {}
    if account is None:
        return [sym for syms in doc.values() for sym in syms]
    return list(doc.get(account, []))


def _stats_doc(stats: Stats, start: Decimal | None) -> dict[str, Any]:
    overall, groups = stats
    by = {g: {k: s.to_json() for k, s in per.items()} for g, per in groups.items()}
    return {"start": None if start is None else str(start), "overall": overall.to_json(), "by": by}


def _stats_from_text(text: str, account: str, start: Decimal | None) -> Stats | None:
    """The summary stored for ``account`` when it was computed with starting equity ``start``, else None."""
    doc = json.loads(text).get(account)
    if doc is None or doc["start"] != (None if start is None else str(start)):
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
            _opt(t.funding_coin), t.account)


def _opt(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _row(t: Trade) -> TradeRow:
    return (t.exit_ts_ms, t.entry_ts_ms, t.side.value, t.symbol, t.strategy or "unknown", _f(t.net_pnl_usd),
            _f(t.gross_pnl_usd), _f(t.fees_usd), _f(t.funding_usd), _f(t.funding_paid_usd),
            _f(t.funding_received_usd))


def _all_closed(sets: dict[str, TradeSet]) -> list[Trade]:
    """Every account's closed trades in exit time order (stable: account order within a tie)."""
    out = [t for ts in sets.values() for t in ts.closed]
    out.sort(key=lambda t: (t.exit_ts_ms, t.entry_ts_ms))
    return out


def _write(conn: sqlite3.Connection, sets: dict[str, TradeSet], fp: tuple[str, str],
           starts: dict[str, Decimal | None]) -> None:
    """Replace the cache with ``sets`` (account -> trades) and each account's summary at its starting equity
    (caller holds a write transaction)."""
    conn.execute("DELETE FROM trade_cache")
    conn.executemany(_INSERT, (_params(t) for t in _all_closed(sets)))
    summary = {acct: _stats_doc(summarize_rows_with_breakdowns(rows_of(ts.closed), starts.get(acct)),
                                starts.get(acct)) for acct, ts in sets.items()}
    open_symbols = {acct: [p.symbol for p in ts.open] for acct, ts in sets.items() if ts.open}
    conn.execute("INSERT OR REPLACE INTO trade_cache_state(id, facts, marks, open_symbols, summary) "
                 "VALUES (1, ?, ?, ?, ?)", (fp[0], fp[1], json.dumps(open_symbols), json.dumps(summary)))


def _derive(conn: sqlite3.Connection) -> tuple[dict[str, TradeSet], dict[str, Decimal | None]]:
    """Every account's trades and starting equity, in the caller's transaction."""
    sets = read_data(conn).per_account()
    return sets, {acct: starting_equity(conn, acct) for acct in sets}


def build(conn: sqlite3.Connection) -> None:
    """Derive every account's trades and store the cache, inside the write transaction the caller holds (used
    by the migration that last changed the cache's columns). Raises ``JournalError`` when a stored fact does not
    decode."""
    fp = fingerprint(conn)
    sets, starts = _derive(conn)
    _write(conn, sets, fp, starts)


def _refresh(conn: sqlite3.Connection) -> dict[str, TradeSet]:
    """Derive in one read snapshot, then store the result if no fact arrived meanwhile (best effort)."""
    with read_snapshot(conn):
        fp = fingerprint(conn)
        sets, starts = _derive(conn)
    busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={_WRITE_BUSY_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if fingerprint(conn) == fp:
                _write(conn, sets, fp, starts)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error:
        pass  # read-only file, writer busy: the next reader tries again
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy}")
    return sets


def _cached_trade(r: tuple[Any, ...]) -> Trade:
    D = Decimal
    return Trade(r[0], PositionSide(r[1]), D(r[2]), r[3], r[4], D(r[5]), D(r[6]), D(r[7]), D(r[8]), D(r[9]), r[12],
                 r[13], r[14], r[15], r[16], D(r[10]), D(r[11]), r[23], D(r[24]),
                 None if r[25] is None else D(r[25]), None if r[26] is None else D(r[26]),
                 None if r[27] is None else D(r[27]), r[28])


def load_summary_input(conn: sqlite3.Connection, since_ms: int | None = None,
                       account: str | None = None) -> CachedSummaryInput:
    """Statistics rows of ``account``'s closed trades (None: the current account, ``queries.current_account``)
    that exited at or after ``since_ms`` (epoch ms; None: all), from the cache when fresh, else derived (and the
    cache refreshed). Raises ``JournalError`` when a stored fact does not decode."""
    since = since_ms if since_ms is not None else -(2**62)
    with read_snapshot(conn):
        acct = current_account(conn) if account is None else account
        stored = _stored(conn)
        if stored is not None and stored[0] == fingerprint(conn)[0]:
            start = starting_equity(conn, acct)
            stats = _stats_from_text(stored[3], acct, start) if since_ms is None else None
            rows = conn.execute(_ROW_SELECT, (acct, since)).fetchall() if stats is None else None
            return CachedSummaryInput(rows, stats, _open_of(stored[2], acct), start, True, acct)
    sets = _refresh(conn)
    with read_snapshot(conn):
        start = starting_equity(conn, acct)
    ts = sets.get(acct, TradeSet())
    rows = [_row(t) for t in ts.closed if t.exit_ts_ms >= since]
    return CachedSummaryInput(rows, None, [p.symbol for p in ts.open], start, False, acct)


def load_cached_trades(conn: sqlite3.Connection, account: str | None = None, *,
                       all_accounts: bool = False) -> tuple[list[Trade], list[str]]:
    """The closed trades of ``account`` (None: the current account, ``queries.current_account``; every
    account's with ``all_accounts``, each trade naming its ``account``), in exit time order with exact Decimals,
    and the open positions' symbols, from the cache when fresh (facts and marks), else derived (and the cache
    refreshed). Raises ``JournalError`` when a stored fact does not decode."""
    with read_snapshot(conn):
        acct = None if all_accounts else current_account(conn) if account is None else account
        stored = _stored(conn)
        if stored is not None and (stored[0], stored[1]) == fingerprint(conn):
            where, args = ("", ()) if acct is None else (" WHERE account = ?", (acct,))
            rows = conn.execute(f"SELECT {_COLUMNS} FROM trade_cache{where} ORDER BY id", args).fetchall()
            return [_cached_trade(r) for r in rows], _open_of(stored[2], acct)
    sets = _refresh(conn)
    if acct is None:
        return _all_closed(sets), [p.symbol for ts in sets.values() for p in ts.open]
    ts = sets.get(acct, TradeSet())
    return ts.closed, [p.symbol for p in ts.open]


def rows_of(trades: Iterable[Trade]) -> list[TradeRow]:
    """Statistics rows of ``trades`` (same layout as the cache's; for callers holding Trade objects)."""
    return [_row(t) for t in trades]
