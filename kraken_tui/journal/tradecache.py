"""The derived-trades cache (``trade_cache``, ``trade_cache_state``): ``derive_trades`` persisted, kept up to date.

Owns: writing the cache, deciding whether it is fresh, extending it over the facts journaled since, and reading
trades / statistics rows from it.
The cache stores the result of ``derive_trades`` and a *fingerprint* of the source tables it was derived from:
``count(*)`` and ``max(id)`` of fills, funding, intents and signals ("facts"), and of marks apart (marks only move
MAE/MFE, which the summary does not use, so a running app that journals marks does not make the summary stale).
Facts are append-only (schema docstring), so an equal fingerprint means the same rows.
Incremental upkeep: next to the trades it stores, per account, the state of the position walk where it stopped
(``trades.TradeWalk.state``: the open positions, the time of each symbol's last fill), the running statistics
(``stats.RunningBreakdowns``) and the highest id of every source table. A reader that finds new facts first tries
to *extend* the cache: it walks on over the new fills only, attributes funding to the trades they closed,
appends those trades and adds them to the running statistics (work in proportion to the new facts, not to the
journal). That gives exactly what a full derivation gives (tests/journal/test_tradecache_incremental.py) when
the new facts come in time order, which is how a running app journals them; the extension checks it and
re-derives everything instead when a new fact could change what was derived before:
- a fill earlier (``ts_ms``, then id) than a fill already walked of its account; the first fill of a new account
  earlier than any walked fill, or while an account has funding payments only (the accounts' order would change);
- an intent whose cliOrdId a walked fill carries, a signal that a cached trade or an open position names;
- a funding payment at or before the last exit of its account and symbol (it would belong to a cached trade);
- a mark older than the last walked fill of its symbol (it would move an open position's MAE/MFE sampled before);
- a run whose id an earlier fill or payment names (it would move them to another account);
- a closed trade that sorts before the last cached trade of its account, a changed starting equity.
Why in the reader and not in the app's journal writer: the writer's thread shares the GIL with the event loop
that sends orders (its stalls are a measured target, ``bench/bench_journal.py``); the extension costs the
summary a few milliseconds and the live path nothing.
Freshness and writes: a reader that finds the cache stale derives (or extends) in its own read snapshot, then
(best effort, ``BEGIN IMMEDIATE`` with a short busy timeout, never holding the write lock while deriving) stores
the result when the fingerprint is still the one it derived from; a read-only file, a busy writer or a newer fact
just means the next reader tries again. The migration that last changed the cache fills it inside the
migration's transaction (``build``).
Accounts: trades are derived per account (``trades.derive_trades_per_account``) and each cached trade names its
account; readers take one account (the current one, ``queries.current_account``, unless told) or every account,
never a walk of two accounts' fills together.
The unfiltered summary of each account (``stats.summarize_rows_with_breakdowns`` over its cached trades, with the
starting equity it used) is stored with the cache too, so ``journal summary`` without ``--since`` reads it
instead of recomputing; with ``--since`` it is computed from the cached rows that closed since (index
``trade_cache_account``), or read from the stored one when ``--since`` is at or before the account's first exit.
Money: exact Decimal text per trade (the trades CSV/JSON contract needs exact values) plus REAL
copies for statistics (``stats.summarize_rows``).
Must not import: aiosqlite, textual, the engine.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from kraken_tui.domain import Fill, FillType, PositionSide, Side
from kraken_tui.errors import JournalError
from kraken_tui.journal.queries import account_names as queries_account_names
from kraken_tui.journal.queries import current_account, read_data, read_snapshot, starting_equity
from kraken_tui.journal.readonly import CORRUPT_HINT
from kraken_tui.journal.records import DEFAULT_ACCOUNT, FundingPayment
from kraken_tui.journal.stats import RunningBreakdowns, Summary, TradeRow, summarize_rows_with_breakdowns
from kraken_tui.journal.trades import (
    IntentInfo,
    Trade,
    TradeSet,
    TradeWalk,
    attribute_funding,
    facts_per_account,
)

__all__ = ["CachedSummaryInput", "account_names", "build", "fingerprint", "load_cached_trades", "load_summary_input", "rows_of"]

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
#: Version of the incremental state document (``trade_cache_state.walk``); another version is re-derived.
_WALK_VERSION = 1
#: How many times a reader tries to extend the cache when another reader or a new fact got there first.
_EXTEND_TRIES = 3
#: The source tables whose highest id the incremental state keeps (runs: their rowid).
_ID_TABLES = ("fills", "funding", "intents", "signals", "marks", "runs")


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


def _one_fp(conn: sqlite3.Connection, table: str) -> str:
    n, top = conn.execute(f"SELECT count(*), max(id) FROM {table}").fetchone()  # noqa: S608 - fixed names
    return f"{table}:{n}:{top or 0}"


def _facts_fp(conn: sqlite3.Connection) -> str:
    return ";".join(_one_fp(conn, t) for t in _FACT_TABLES)


def fingerprint(conn: sqlite3.Connection) -> tuple[str, str]:
    """(facts, marks) fingerprints of the source tables, in the caller's transaction (module docstring)."""
    return _facts_fp(conn), _one_fp(conn, "marks")


class _Stored:
    """The ``trade_cache_state`` row: fingerprints, open symbols and summaries (JSON text), incremental state."""

    __slots__ = ("facts", "marks", "open_symbols", "summary", "walk")

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.facts, self.marks, self.open_symbols, self.summary, self.walk = (str(v) for v in row)


def _stored(conn: sqlite3.Connection) -> _Stored | None:
    row = conn.execute("SELECT facts, marks, open_symbols, summary, walk FROM trade_cache_state WHERE id = 1"
                       ).fetchone()
    return None if row is None else _Stored(row)


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


def _key(t: Trade) -> list[Any]:
    """A trade's place in its account's order (``trades.attribute_funding``'s): exit, entry, symbol."""
    return [t.exit_ts_ms, t.entry_ts_ms, t.symbol]


class _Derived:
    """Every account's trades (``sets``, account order), walks, statistics and starting equity, with the fingerprint
    and the highest ids of the source tables they were derived from (one read snapshot)."""

    __slots__ = ("sets", "walks", "stats", "starts", "fp", "top")

    def __init__(self, sets: dict[str, TradeSet], walks: dict[str, TradeWalk], stats: dict[str, RunningBreakdowns],
                 starts: dict[str, Decimal | None], fp: tuple[str, str], top: dict[str, int]) -> None:
        self.sets, self.walks, self.stats, self.starts, self.fp, self.top = sets, walks, stats, starts, fp, top


def _top_ids(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: int(conn.execute(f"SELECT coalesce(max({'rowid' if t == 'runs' else 'id'}), 0) FROM {t}"  # noqa: S608
                                ).fetchone()[0]) for t in _ID_TABLES}


def _derive(conn: sqlite3.Connection) -> _Derived:
    """Derive every account's trades from all the facts, in the caller's transaction."""
    fp, top = fingerprint(conn), _top_ids(conn)
    d = read_data(conn)
    sets: dict[str, TradeSet] = {}
    walks: dict[str, TradeWalk] = {}
    stats: dict[str, RunningBreakdowns] = {}
    starts: dict[str, Decimal | None] = {}
    for acct, (fills, funding) in facts_per_account(d.fills, d.fill_accounts, d.funding, d.funding_accounts).items():
        walk = TradeWalk(intents=d.intents, strategies=d.strategies, marks=d.marks, account=acct)
        walk.feed(sorted(fills, key=lambda f: f.ts_ms))
        closed, _ = attribute_funding(walk.closed, funding)
        sets[acct], walks[acct] = TradeSet(closed=closed, open=walk.open_positions()), walk
        starts[acct] = starting_equity(conn, acct)
        stats[acct] = RunningBreakdowns(starts[acct])
        stats[acct].add(rows_of(closed))
    return _Derived(sets, walks, stats, starts, fp, top)


def _walk_doc(der: _Derived) -> str:
    """The incremental state (module docstring) of ``der``, JSON text."""
    per: dict[str, Any] = {}
    for acct, ts in der.sets.items():
        last_exit: dict[str, int] = {}
        for t in ts.closed:
            last_exit[t.symbol] = max(last_exit.get(t.symbol, t.exit_ts_ms), t.exit_ts_ms)
        per[acct] = {"walk": der.walks[acct].state(), "last_key": _key(ts.closed[-1]) if ts.closed else None,
                     "last_exit": last_exit, "start": _text(der.starts[acct]), "stats": der.stats[acct].state()}
    return json.dumps({"v": _WALK_VERSION, "top": der.top, "accounts": list(der.sets), "per": per})


def _text(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _state_values(der: _Derived) -> tuple[str, str, str, str, str]:
    """(facts, marks, open symbols, summaries, walk) of the ``trade_cache_state`` row for ``der``."""
    summary = {acct: _stats_doc(der.stats[acct].summaries(), der.starts[acct]) for acct in der.sets}
    open_symbols = {acct: [p.symbol for p in ts.open] for acct, ts in der.sets.items() if ts.open}
    return der.fp[0], der.fp[1], json.dumps(open_symbols), json.dumps(summary), _walk_doc(der)


def _write(conn: sqlite3.Connection, der: _Derived) -> None:
    """Replace the cache with ``der`` (caller holds a write transaction)."""
    conn.execute("DELETE FROM trade_cache")
    conn.executemany(_INSERT, (_params(t) for t in _all_closed(der.sets)))
    conn.execute("INSERT OR REPLACE INTO trade_cache_state(id, facts, marks, open_symbols, summary, walk) "
                 "VALUES (1, ?, ?, ?, ?, ?)", _state_values(der))


def build(conn: sqlite3.Connection) -> None:
    """Derive every account's trades and store the cache, inside the write transaction the caller holds (used
    by the migration that last changed the cache's columns). Raises ``JournalError`` when a stored fact does not
    decode."""
    _write(conn, _derive(conn))


# ---------------------------------------------------------------------------------------------- incremental


class _Extension:
    """What extending the cache adds: per account the new closed trades (in order) and the new state."""

    __slots__ = ("new", "top", "values")

    def __init__(self, new: list[Trade], top: dict[str, int], values: tuple[str, str, str, str, str]) -> None:
        self.new, self.top, self.values = new, top, values


def _in(column: str, n: int) -> str:
    return f"{column} IN ({','.join('?' * n)})"


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for k in range(0, len(items), size):
        yield items[k:k + size]


def _any_row(conn: sqlite3.Connection, sql: str, values: Sequence[str], *extra: object) -> bool:
    """Whether ``sql`` (with ``{}`` for an ``IN`` list of ``values``, then ``extra`` parameters) finds a row."""
    for part in _chunks(values):
        if conn.execute(sql.format(','.join('?' * len(part))), (*part, *extra)).fetchone() is not None:
            return True
    return False


def _new_fills(conn: sqlite3.Connection, after_id: int) -> list[tuple[Fill, str]]:
    """The fills with id > ``after_id`` and their accounts, in time order (``ts_ms``, then id)."""
    out: list[tuple[Fill, str]] = []
    sides = {s.value: s for s in Side}
    types = {t.value: t for t in FillType}
    rows = conn.execute(
        "SELECT f.id, f.fill_id, f.order_id, f.cli_ord_id, f.symbol, f.side, f.size, f.price, f.ts_ms, f.fill_type, "
        "f.fee, f.fee_currency, coalesce(r.account, ?) FROM fills f LEFT JOIN runs r ON r.run_id = f.run_id "
        "WHERE f.id > ? ORDER BY f.id", (DEFAULT_ACCOUNT, after_id)).fetchall()  # a rowid range, not an index scan
    rows.sort(key=lambda r: (r[8], r[0]))  # time order: ts_ms, then id
    for rid, fill_id, order_id, cli, sym, side, size, price, ts, ftype, fee, fee_ccy, acct in rows:
        try:
            out.append((Fill(fill_id, order_id, sym, sides[side], Decimal(size), Decimal(price), ts, types[ftype],
                             cli, None if fee is None else Decimal(fee), fee_ccy), str(acct)))
        except (InvalidOperation, ValueError, TypeError, KeyError):
            raise JournalError(_path(conn), f"table fills row {rid}: cannot read {(side, size, price, ftype, fee)!r}",
                               hint="the row was written by something other than kraken-tui") from None
    return out


def _path(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return row[2] if row else "<journal>"


def _funding_since(conn: sqlite3.Connection, account: str, symbol: str, after_ms: int) -> list[FundingPayment]:
    """``account``'s funding payments of ``symbol`` later than ``after_ms``, in time order."""
    out: list[FundingPayment] = []
    for rid, ts, amount, rate in conn.execute(
            "SELECT p.id, p.ts_ms, p.amount_usd, p.funding_rate FROM funding p LEFT JOIN runs r ON r.run_id = p.run_id "
            "WHERE p.symbol = ? AND p.ts_ms > ? AND coalesce(r.account, ?) = ? ORDER BY p.ts_ms, p.id",
            (symbol, after_ms, DEFAULT_ACCOUNT, account)):
        try:
            out.append(FundingPayment(symbol, ts, Decimal(amount), Decimal(rate)))
        except (InvalidOperation, ValueError, TypeError):
            raise JournalError(_path(conn), f"table funding row {rid}: cannot read {(amount, rate)!r}",
                               hint="the row was written by something other than kraken-tui") from None
    return out


def _extend(conn: sqlite3.Connection, stored: _Stored) -> _Extension | None:
    """Extend the cache over the facts journaled since it was stored (module docstring), in the caller's read
    snapshot; None when the facts are not in the order that allows it (then everything is re-derived)."""
    try:
        doc = json.loads(stored.walk) if stored.walk else None
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("v") != _WALK_VERSION:
        return None
    top_old: dict[str, int] = doc["top"]
    per: dict[str, Any] = doc["per"]
    top = _top_ids(conn)
    # a new run that earlier fills or payments name would move them to another account
    for (run_id,) in conn.execute("SELECT run_id FROM runs WHERE rowid > ?", (top_old["runs"],)).fetchall():
        if conn.execute("SELECT 1 FROM fills WHERE run_id = ? AND id <= ? UNION ALL SELECT 1 FROM funding WHERE "
                        "run_id = ? AND id <= ? LIMIT 1",
                        (run_id, top_old["fills"], run_id, top_old["funding"])).fetchone() is not None:
            return None
    # an intent for a walked fill, a signal named by a cached trade or an open position
    cids = [str(r[0]) for r in conn.execute("SELECT cli_ord_id FROM intents WHERE id > ?", (top_old["intents"],))]
    if cids and _any_row(conn, "SELECT 1 FROM fills WHERE cli_ord_id IN ({}) AND id <= ? LIMIT 1", cids,
                         top_old["fills"]):
        return None
    sids = [str(r[0]) for r in conn.execute("SELECT signal_id FROM signals WHERE id > ?", (top_old["signals"],))]
    if sids:
        open_sids = {leg[11] for a in per.values() for leg in a["walk"]["legs"].values()}
        if open_sids.intersection(sids) or _any_row(
                conn, "SELECT 1 FROM trade_cache WHERE signal_id IN ({}) LIMIT 1", sids):
            return None
    # a mark older than the last walked fill of its symbol
    last_fill: dict[str, int] = {}
    for a in per.values():
        for sym, ts in a["walk"]["last_fill_ms"].items():
            last_fill[sym] = max(last_fill.get(sym, ts), ts)
    for sym, oldest in conn.execute("SELECT symbol, min(ts_ms) FROM marks WHERE id > ? GROUP BY symbol",
                                    (top_old["marks"],)):
        if sym in last_fill and oldest < last_fill[sym]:
            return None
    fills = _new_fills(conn, top_old["fills"])
    by_acct: dict[str, list[Fill]] = {}
    walked_ms = max((ts for a in per.values() for ts in a["walk"]["last_fill_ms"].values()), default=-(2**62))
    for f, acct in fills:
        if acct not in per:
            # a new account: last in the accounts' order (first fills, then funding-only accounts) only when its
            # first fill comes after every walked fill and no account so far has funding only
            if f.ts_ms < walked_ms or any(not a["walk"]["last_fill_ms"] for a in per.values()):
                return None
            _new_account(conn, doc, acct)
        by_acct.setdefault(acct, []).append(f)
    # a payment that belongs to a cached trade; one of a new account without fills: that account comes last
    for sym, ts, acct in conn.execute(
            "SELECT p.symbol, p.ts_ms, coalesce(r.account, ?) FROM funding p LEFT JOIN runs r ON r.run_id = p.run_id "
            "WHERE p.id > ?", (DEFAULT_ACCOUNT, top_old["funding"])):
        if acct not in per:
            _new_account(conn, doc, acct)
        if ts <= per[acct]["last_exit"].get(sym, -(2**62)):
            return None
    new: list[Trade] = []
    summary = json.loads(stored.summary) if stored.summary else {}
    open_symbols: dict[str, list[str]] = json.loads(stored.open_symbols) if stored.open_symbols else {}
    for acct, acct_fills in by_acct.items():
        state = per[acct]
        walked = state["walk"]["last_fill_ms"]
        if walked and acct_fills[0].ts_ms < max(walked.values()):
            return None
        start = starting_equity(conn, acct)
        if _text(start) != state["start"]:
            return None
        legs = state["walk"]["legs"]
        wanted = sorted({f.cli_ord_id for f in acct_fills if f.cli_ord_id})
        intents: dict[str, IntentInfo] = {}
        for part in _chunks(wanted):
            for cli, purpose, side, sig in conn.execute(
                    "SELECT cli_ord_id, purpose, side, signal_id FROM intents WHERE " + _in("cli_ord_id", len(part)),
                    tuple(part)):
                intents[cli] = IntentInfo(purpose, side, sig)
        signal_ids = sorted({leg[11] for leg in legs.values() if leg[11]} |
                            {i.signal_id for i in intents.values() if i.signal_id})
        strategies: dict[str, str] = {}
        for part in _chunks(signal_ids):
            strategies.update(conn.execute("SELECT signal_id, strategy FROM signals WHERE " +
                                           _in("signal_id", len(part)), tuple(part)).fetchall())
        marks: dict[str, list[tuple[int, float]]] = {}
        for sym in {f.symbol for f in acct_fills}:
            since = walked.get(sym, min(f.ts_ms for f in acct_fills if f.symbol == sym))
            marks[sym] = [(int(ts), float(px)) for ts, px in conn.execute(
                "SELECT ts_ms, mark_price FROM marks WHERE symbol = ? AND ts_ms >= ? ORDER BY ts_ms, id", (sym, since))]
        try:
            walk = TradeWalk.from_state(state["walk"], intents=intents, strategies=strategies, marks=marks,
                                        account=acct)
        except (KeyError, ValueError, TypeError):
            return None
        walk.feed(acct_fills)
        funding: list[FundingPayment] = []
        for sym in sorted({t.symbol for t in walk.closed}):
            funding.extend(_funding_since(conn, acct, sym, state["last_exit"].get(sym, -(2**62))))
        closed, _ = attribute_funding(walk.closed, funding)
        if closed and state["last_key"] is not None and _key(closed[0]) <= state["last_key"]:
            return None
        try:
            stats = RunningBreakdowns.from_state(state["stats"])
        except (KeyError, ValueError, TypeError):
            return None
        stats.add(rows_of(closed))
        for t in closed:
            state["last_exit"][t.symbol] = max(state["last_exit"].get(t.symbol, t.exit_ts_ms), t.exit_ts_ms)
        if closed:
            state["last_key"] = _key(closed[-1])
        state["walk"], state["stats"] = walk.state(), stats.state()
        summary[acct] = _stats_doc(stats.summaries(), start)
        opened = [p.symbol for p in walk.open_positions()]
        if opened:
            open_symbols[acct] = opened
        else:
            open_symbols.pop(acct, None)
        new.extend(closed)
    new.sort(key=lambda t: (t.exit_ts_ms, t.entry_ts_ms))
    doc["top"] = top
    fp = fingerprint(conn)
    return _Extension(new, top, (fp[0], fp[1], json.dumps(open_symbols), json.dumps(summary), json.dumps(doc)))


def _new_account(conn: sqlite3.Connection, doc: dict[str, Any], acct: str) -> None:
    """Add an account not seen yet to the incremental state ``doc`` (last in the accounts' order)."""
    start = starting_equity(conn, acct)
    doc["per"][acct] = {"walk": TradeWalk(account=acct).state(), "last_key": None, "last_exit": {},
                        "start": _text(start), "stats": RunningBreakdowns(start).state()}
    doc["accounts"].append(acct)


def _store(conn: sqlite3.Connection, top: dict[str, int], write: Callable[[sqlite3.Connection], bool]
           ) -> bool | None:
    """Run ``write(conn)`` in a short write transaction when no row arrived in the source tables since they had
    the highest ids ``top`` (they are append-only). Returns True when ``write`` wrote, False when a row arrived
    or ``write`` declined, None when nothing could be written (a read-only file, the app's writer holding the
    lock past ``_WRITE_BUSY_MS``): best effort, the next reader tries again."""
    busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout={_WRITE_BUSY_MS}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = _top_ids(conn) == top and write(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.OperationalError:
        return None
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy}")
    return done


def _append(c: sqlite3.Connection, *, ext: _Extension, walk: str) -> bool:
    """Store ``ext`` (caller holds the write transaction) when the state is still ``walk``, the one it extended."""
    row = c.execute("SELECT walk FROM trade_cache_state WHERE id = 1").fetchone()
    if row is None or str(row[0]) != walk:
        return False  # extended by another reader since: try again from its state
    c.executemany(_INSERT, (_params(t) for t in ext.new))
    c.execute("UPDATE trade_cache_state SET facts = ?, marks = ?, open_symbols = ?, summary = ?, walk = ? "
              "WHERE id = 1", ext.values)
    return True


def _try_extend(conn: sqlite3.Connection) -> bool:
    """Extend the cache (``_extend``) and store it; True when the cache is fresh now, False when it cannot be
    extended (or stored: a read-only file, a busy writer). The state is read in the extension's snapshot and
    stored only if it is still that state (another reader may have extended it meanwhile: then, or when a fact
    arrived meanwhile, it tries again from the new state, at most ``_EXTEND_TRIES`` times)."""
    for _ in range(_EXTEND_TRIES):
        with read_snapshot(conn):
            stored = _stored(conn)
            if stored is None:
                return False
            if (stored.facts, stored.marks) == fingerprint(conn):
                return True  # fresh: another reader brought it up to date
            ext = _extend(conn, stored)
        if ext is None:
            return False
        stored_now = _store(conn, ext.top, functools.partial(_append, ext=ext, walk=stored.walk))
        if stored_now is True:
            return True
        if stored_now is None:  # read-only, busy: re-derived in memory by the caller
            return False
    return False


def _refresh(conn: sqlite3.Connection) -> dict[str, TradeSet] | None:
    """Bring the cache up to date: extend it over the new facts when it can (returns None: read it from the
    cache), else derive everything in one read snapshot and store it if no fact arrived meanwhile (best effort;
    returns the derived trades)."""
    if _try_extend(conn):
        return None
    with read_snapshot(conn):
        der = _derive(conn)
    def write_all(c: sqlite3.Connection) -> bool:
        _write(c, der)
        return True

    _store(conn, der.top, write_all)
    return der.sets


def _cached_trade(r: tuple[Any, ...]) -> Trade:
    D = Decimal
    return Trade(r[0], PositionSide(r[1]), D(r[2]), r[3], r[4], D(r[5]), D(r[6]), D(r[7]), D(r[8]), D(r[9]), r[12],
                 r[13], r[14], r[15], r[16], D(r[10]), D(r[11]), r[23], D(r[24]),
                 None if r[25] is None else D(r[25]), None if r[26] is None else D(r[26]),
                 None if r[27] is None else D(r[27]), r[28])


def _fresh_summary(conn: sqlite3.Connection, since_ms: int | None, acct: str,
                   check: bool = True) -> CachedSummaryInput | None:
    """``load_summary_input`` from a fresh cache (facts fingerprint equal; not compared without ``check``: the
    caller has just stored it), in the caller's snapshot; else None."""
    stored = _stored(conn)
    if stored is None or (check and stored.facts != _facts_fp(conn)):
        return None
    start = starting_equity(conn, acct)
    stats = None
    if since_ms is None or since_ms <= _first_exit(conn, acct):
        stats = _stats_from_text(stored.summary, acct, start)  # every trade closed since: the stored summary
    rows = None
    if stats is None:
        rows = conn.execute(_ROW_SELECT, (acct, since_ms if since_ms is not None else -(2**62))).fetchall()
    return CachedSummaryInput(rows, stats, _open_of(stored.open_symbols, acct), start, True, acct)


def _first_exit(conn: sqlite3.Connection, acct: str) -> int:
    row = conn.execute("SELECT min(exit_ts_ms) FROM trade_cache WHERE account = ?", (acct,)).fetchone()
    return -(2**62) if row is None or row[0] is None else int(row[0])


def load_summary_input(conn: sqlite3.Connection, since_ms: int | None = None,
                       account: str | None = None) -> CachedSummaryInput:
    """Statistics rows of ``account``'s closed trades (None: the current account, ``queries.current_account``)
    that exited at or after ``since_ms`` (epoch ms; None: all), from the cache when fresh, else after extending
    or re-deriving it. Raises ``JournalError`` when a stored fact does not decode or the file is corrupt."""
    since = since_ms if since_ms is not None else -(2**62)
    with _corrupt_is_journal_error(conn):
        with read_snapshot(conn):
            acct = current_account(conn) if account is None else account
            got = _fresh_summary(conn, since_ms, acct)
        if got is not None:
            return got
        sets = _refresh(conn)
        with read_snapshot(conn):
            if sets is None:  # extended and stored: read it (a fact journaled since waits for the next reader)
                got = _fresh_summary(conn, since_ms, acct, check=False)
                if got is not None:
                    return got
                sets = _derive(conn).sets
            start = starting_equity(conn, acct)
    ts = sets.get(acct, TradeSet())
    rows = [_row(t) for t in ts.closed if t.exit_ts_ms >= since]
    return CachedSummaryInput(rows, None, [p.symbol for p in ts.open], start, False, acct)


def _fresh_trades(conn: sqlite3.Connection, acct: str | None,
                  check: bool = True) -> tuple[list[Trade], list[str]] | None:
    """``load_cached_trades`` from a fresh cache (facts and marks; not compared without ``check``: the caller has
    just stored it), in the caller's snapshot; else None."""
    stored = _stored(conn)
    if stored is None or (check and (stored.facts, stored.marks) != fingerprint(conn)):
        return None
    where, args = ("", ()) if acct is None else (" WHERE account = ?", (acct,))
    rows = conn.execute(f"SELECT {_COLUMNS} FROM trade_cache{where} ORDER BY id", args).fetchall()  # noqa: S608
    trades = [_cached_trade(r) for r in rows]
    if acct is None:  # rows appended by extensions: the order of a full derivation (``_all_closed``)
        order = {a: k for k, a in enumerate(_accounts_of(stored))}
        trades.sort(key=lambda t: (t.exit_ts_ms, t.entry_ts_ms, order.get(t.account, len(order))))
    return trades, _open_of(stored.open_symbols, acct)


def _accounts_of(stored: _Stored) -> list[str]:
    try:
        return list(json.loads(stored.walk)["accounts"]) if stored.walk else []
    except (ValueError, KeyError, TypeError):
        return []


def load_cached_trades(conn: sqlite3.Connection, account: str | None = None, *,
                       all_accounts: bool = False) -> tuple[list[Trade], list[str]]:
    """The closed trades of ``account`` (None: the current account, ``queries.current_account``; every
    account's with ``all_accounts``, each trade naming its ``account``), in exit time order with exact Decimals,
    and the open positions' symbols, from the cache when fresh (facts and marks), else after extending or
    re-deriving it. Raises ``JournalError`` when a stored fact does not decode or the file is corrupt."""
    with _corrupt_is_journal_error(conn):
        with read_snapshot(conn):
            acct = None if all_accounts else current_account(conn) if account is None else account
            got = _fresh_trades(conn, acct)
        if got is not None:
            return got
        sets = _refresh(conn)
        if sets is None:
            with read_snapshot(conn):
                got = _fresh_trades(conn, acct, check=False)
                if got is not None:
                    return got
                sets = _derive(conn).sets
    if acct is None:
        return _all_closed(sets), [p.symbol for ts in sets.values() for p in ts.open]
    ts = sets.get(acct, TradeSet())
    return ts.closed, [p.symbol for p in ts.open]


def account_names(conn: sqlite3.Connection) -> list[str]:
    """``queries.account_names`` without its scan of every fill and payment for ones of no listed run, when the
    cache's state answers it: the state lists every account that has facts, so ``DEFAULT_ACCOUNT`` is added when
    the state has it and no run names it, and the rows journaled since are checked alone (rowid range). Falls
    back to ``queries.account_names`` when no state is stored or a run arrived since (it may own older rows)."""
    with _corrupt_is_journal_error(conn), read_snapshot(conn):
        stored = _stored(conn)
        try:
            doc = json.loads(stored.walk) if stored is not None and stored.walk else None
            top = doc["top"] if isinstance(doc, dict) and doc.get("v") == _WALK_VERSION else None
        except (ValueError, KeyError, TypeError):
            top = None
        if doc is None or top is None or conn.execute("SELECT 1 FROM runs WHERE rowid > ? LIMIT 1",
                                                      (top["runs"],)).fetchone() is not None:
            return queries_account_names(conn)
        names = [str(r[0]) for r in conn.execute(
            "SELECT account FROM runs GROUP BY account ORDER BY max(started_ms), max(rowid)")]
        if DEFAULT_ACCOUNT in names:
            return names
        orphan = DEFAULT_ACCOUNT in doc["per"] or conn.execute(
            "SELECT 1 FROM fills f LEFT JOIN runs r ON r.run_id = f.run_id WHERE f.id > ? AND r.run_id IS NULL "
            "UNION ALL SELECT 1 FROM funding p LEFT JOIN runs r ON r.run_id = p.run_id WHERE p.id > ? AND "
            "r.run_id IS NULL LIMIT 1", (top["fills"], top["funding"])).fetchone() is not None
        return [DEFAULT_ACCOUNT, *names] if orphan else names


class _corrupt_is_journal_error:  # noqa: N801 - used as a context manager
    """Turn SQLite's "database disk image is malformed" (and other ``DatabaseError``s that are not operational)
    met while reading into a ``JournalError`` naming the file (``db`` checks only the structure it needs up front:
    a page read later may still be found corrupt here)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            raise JournalError(_path(self._conn), f"cannot read it ({exc})", hint=CORRUPT_HINT) from None


def rows_of(trades: Iterable[Trade]) -> list[TradeRow]:
    """Statistics rows of ``trades`` (same layout as the cache's; for callers holding Trade objects)."""
    return [_row(t) for t in trades]
