"""Reading the journal back: fills (filtered by symbol and time), one signal, intents, funding, marks,
starting equity, events; derived trades; what a starting engine needs (``read_start_facts``,
``read_order_ids``, ``last_state_change``).

Owns: SELECTs on a reader connection (from ``db.open_db``, or ``readonly.read_only`` for the reads that
take a path; never the writer's) and the decoding of stored text back into exact types. Every read runs
in one ``BEGIN``...``COMMIT`` read transaction, so it sees one consistent WAL snapshot even while the
writer commits. A stored value that does not decode raises ``JournalError`` naming the table, row id
and column. Reads return plain rows and small dataclasses; what they mean to the engine is the
engine's business (``engine.journal_view``).
Must not import: aiosqlite, textual, the engine.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from kraken_tui.domain import Fill, FillType, Side
from kraken_tui.errors import JournalError
from kraken_tui.journal.readonly import CORRUPT_HINT, read_only
from kraken_tui.journal.records import (
    DEFAULT_ACCOUNT,
    FundingPayment,
    IntentRecord,
    ReconciliationOutcome,
    SignalRecord,
)
from kraken_tui.journal.trades import IntentInfo, TradeSet, derive_trades_per_account

__all__ = [
    "EventRow",
    "FillFact",
    "IntentFact",
    "JournalData",
    "OrderIds",
    "PositionFact",
    "StartFacts",
    "account_names",
    "current_account",
    "last_state_change",
    "read_order_ids",
    "read_start_facts",
    "load_data",
    "load_events",
    "load_fills",
    "load_protective_intents",
    "load_signal",
    "load_trades",
    "read_data",
    "read_snapshot",
    "starting_equity",
]


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of ``kraken-tui journal events``: time (UTC ms), kind (state, operator, alert,
    reconciliation), name (state, action, alert level, diff kind), source, symbol, detail text."""

    ts_ms: int
    kind: str
    name: str
    source: str | None
    symbol: str | None
    detail: str


@dataclass(slots=True)
class JournalData:
    """Everything trade derivation needs, read in one snapshot."""

    fills: list[Fill]
    intents: dict[str, IntentInfo]
    strategies: dict[str, str]
    funding: list[FundingPayment]
    marks: dict[str, list[tuple[int, float]]]
    starting_equity_usd: Decimal | None
    """The current account's (``starting_equity``)."""
    fill_accounts: list[str] = field(default_factory=list)
    """The account of each of ``fills`` (same order; ``records.run_account``, through the fill's run)."""
    funding_accounts: list[str] = field(default_factory=list)
    """The account of each of ``funding`` (same order)."""

    def per_account(self) -> dict[str, TradeSet]:
        """``trades.derive_trades_per_account`` over these facts: account -> its trades."""
        return derive_trades_per_account(self.fills, self.fill_accounts, intents=self.intents,
                                         strategies=self.strategies, funding=self.funding,
                                         funding_accounts=self.funding_accounts, marks=self.marks)


@contextlib.contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction (a consistent WAL snapshot) on an autocommit connection."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def _path(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return row[2] if row else "<journal>"


def _bad(conn: sqlite3.Connection, table: str, row_id: object, column: str, value: object) -> JournalError:
    return JournalError(_path(conn), f"table {table} row {row_id} column {column}: cannot read {value!r}",
                        hint="the row was written by something other than kraken-tui")


def load_fills(conn: sqlite3.Connection, *, symbol: str | None = None, since_ms: int | None = None,
               until_ms: int | None = None) -> list[Fill]:
    """Fills, oldest first (ties in insertion order). Sizes/prices/fees exact Decimal.

    Args:
        symbol: only this perpetual (exact match, e.g. ``PF_XBTUSD``); None = every symbol.
        since_ms / until_ms: only fills with ``since_ms <= ts_ms <= until_ms`` (UTC ms, both inclusive);
            None = unbounded on that side.

    Raises:
        JournalError: a stored value does not decode (names the row).
    """
    out: list[Fill] = []
    sides = {s.value: s for s in Side}
    types = {t.value: t for t in FillType}
    where: list[str] = []
    args: list[str | int] = []
    if symbol is not None:
        where.append("symbol = ?")
        args.append(symbol)
    if since_ms is not None:
        where.append("ts_ms >= ?")
        args.append(since_ms)
    if until_ms is not None:
        where.append("ts_ms <= ?")
        args.append(until_ms)
    rows = conn.execute(
        "SELECT id, fill_id, order_id, cli_ord_id, symbol, side, size, price, ts_ms, fill_type, fee, fee_currency "
        "FROM fills" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ts_ms, id",
        args,
    )
    for rid, fill_id, order_id, cli, sym, side, size, price, ts, ftype, fee, fee_ccy in rows:
        try:
            out.append(Fill(fill_id, order_id, sym, sides[side], Decimal(size), Decimal(price), ts, types[ftype],
                            cli, None if fee is None else Decimal(fee), fee_ccy))
        except (InvalidOperation, ValueError, TypeError, KeyError):
            raise _bad(conn, "fills", rid, "side/size/price/fill_type/fee",
                       (side, size, price, ftype, fee)) from None
    return out


def load_signal(conn: sqlite3.Connection, signal_id: str) -> SignalRecord | None:
    """The journaled signal ``signal_id`` (the natural key ``<run8>-<SYMBOL>-<ts_ms>`` an ``IntentRecord`` and
    a derived ``Trade`` name), as the ``SignalRecord`` that was written (``features`` decoded from JSON;
    ``confidence`` a fraction 0..1; ``ts_ms`` UTC ms), or None when the journal has no such signal.

    Raises:
        JournalError: the stored row does not decode (names the row and column).
    """
    row = conn.execute(
        "SELECT id, ts_ms, signal_id, symbol, side, confidence, strategy, reason, action, features, rejection_reason "
        "FROM signals WHERE signal_id = ?",
        (signal_id,),
    ).fetchone()
    if row is None:
        return None
    rid, ts, sid, sym, side, conf, strategy, reason, action, features, rejection = row
    try:
        feats = json.loads(features)
        if not isinstance(feats, dict):
            raise ValueError("features is not a JSON object")
        return SignalRecord(ts, sid, sym, side, conf, strategy, reason, action, feats, rejection)
    except (ValueError, TypeError):
        raise _bad(conn, "signals", rid, "features/side/confidence", (features, side, conf)) from None


#: Intent purposes that protect a position: the stop, the take-profit levels and a trailing stop.
PROTECTIVE_PURPOSES = ("stop", "tp1", "tp2", "tp3", "tp4", "trailing")


def load_protective_intents(conn: sqlite3.Connection, symbol: str, since_ms: int, until_ms: int
                            ) -> list[IntentRecord]:
    """The protective orders (``PROTECTIVE_PURPOSES``: stop, tp1..tp4, trailing) the engine decided for
    ``symbol`` with ``since_ms <= ts_ms <= until_ms`` (UTC ms, both inclusive), oldest first, as the
    ``IntentRecord`` written (prices USD, size contracts, exact).

    Raises:
        JournalError: a stored row does not decode (names the row and column).
    """
    marks = ",".join("?" * len(PROTECTIVE_PURPOSES))
    rows = conn.execute(
        "SELECT id, ts_ms, cli_ord_id, symbol, side, size, order_type, purpose, limit_price, stop_price, "
        f"reduce_only, signal_id FROM intents WHERE symbol = ? AND ts_ms >= ? AND ts_ms <= ? AND purpose IN ({marks}) "
        "ORDER BY ts_ms, id",
        (symbol, since_ms, until_ms, *PROTECTIVE_PURPOSES),
    )
    out: list[IntentRecord] = []
    for rid, ts, cli, sym, side, size, otype, purpose, limit, stop, ro, sig in rows:
        try:
            out.append(IntentRecord(ts, cli, sym, side, Decimal(size), otype, purpose,
                                    None if limit is None else Decimal(limit), None if stop is None else Decimal(stop),
                                    bool(ro), sig))
        except (InvalidOperation, ValueError, TypeError):
            raise _bad(conn, "intents", rid, "side/size/order_type/purpose/prices", (side, size, otype, purpose)) from None
    return out


def _load_funding(conn: sqlite3.Connection) -> list[FundingPayment]:
    out: list[FundingPayment] = []
    for rid, sym, ts, amount, rate in conn.execute(
        "SELECT id, symbol, ts_ms, amount_usd, funding_rate FROM funding ORDER BY ts_ms, id"
    ):
        try:
            out.append(FundingPayment(sym, ts, Decimal(amount), Decimal(rate)))
        except (InvalidOperation, ValueError, TypeError):
            raise _bad(conn, "funding", rid, "amount_usd/funding_rate", (amount, rate)) from None
    return out


def _has_accounts(conn: sqlite3.Connection) -> bool:
    """Whether the journal's schema names accounts (version 6+; a read-only reader may meet an older file)."""
    return any(r[1] == "account" for r in conn.execute("PRAGMA table_info(runs)"))


def current_account(conn: sqlite3.Connection) -> str:
    """The account of the journal's newest run (by start time, then insertion), ``records.DEFAULT_ACCOUNT`` for a
    journal without runs or from before accounts (schema < 6): what the journal's readers show by default."""
    if not _has_accounts(conn):
        return DEFAULT_ACCOUNT
    row = conn.execute("SELECT account FROM runs ORDER BY started_ms DESC, rowid DESC LIMIT 1").fetchone()
    return DEFAULT_ACCOUNT if row is None else str(row[0])


def account_names(conn: sqlite3.Connection) -> list[str]:
    """Every account the journal's runs traded, the one used least recently first (the current one last); plus
    ``records.DEFAULT_ACCOUNT`` when a fill or funding payment belongs to no listed run."""
    if not _has_accounts(conn):
        return [DEFAULT_ACCOUNT]
    names = [str(r[0]) for r in conn.execute(
        "SELECT account FROM runs GROUP BY account ORDER BY max(started_ms), max(rowid)")]
    orphan = conn.execute(
        "SELECT 1 FROM fills f LEFT JOIN runs r ON r.run_id = f.run_id WHERE r.run_id IS NULL "
        "UNION ALL SELECT 1 FROM funding p LEFT JOIN runs r ON r.run_id = p.run_id WHERE r.run_id IS NULL "
        "LIMIT 1").fetchone()
    if orphan is not None and DEFAULT_ACCOUNT not in names:
        names.insert(0, DEFAULT_ACCOUNT)
    return names


def _row_accounts(conn: sqlite3.Connection, table: str, order: str) -> list[str]:
    """The account of every row of ``table`` (fills or funding) in ``order``, through its run."""
    if not _has_accounts(conn):
        n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed table names
        return [DEFAULT_ACCOUNT] * int(n)
    return [str(r[0]) for r in conn.execute(
        f"SELECT coalesce(r.account, ?) FROM {table} t LEFT JOIN runs r ON r.run_id = t.run_id "  # noqa: S608
        f"ORDER BY {order}", (DEFAULT_ACCOUNT,))]


def starting_equity(conn: sqlite3.Connection, account: str | None = None) -> Decimal | None:
    """E_0 of the statistics of ``account`` (None: the current one, ``current_account``), USD: the account's
    first run's starting equity, else the first equity snapshot of its runs; None when unknown or not positive.
    Raises ``JournalError`` when the stored text does not decode."""
    if not _has_accounts(conn):
        row = conn.execute(
            "SELECT starting_equity_usd FROM runs WHERE starting_equity_usd IS NOT NULL ORDER BY started_ms LIMIT 1"
        ).fetchone()
        if row is None:
            row = conn.execute("SELECT equity_usd FROM equity ORDER BY ts_ms, id LIMIT 1").fetchone()
        return _positive(conn, row)
    acct = current_account(conn) if account is None else account
    row = conn.execute(
        "SELECT starting_equity_usd FROM runs WHERE starting_equity_usd IS NOT NULL AND account = ? "
        "ORDER BY started_ms LIMIT 1", (acct,)).fetchone()
    if row is None:
        row = conn.execute("SELECT e.equity_usd FROM equity e JOIN runs r ON r.run_id = e.run_id "
                           "WHERE r.account = ? ORDER BY e.ts_ms, e.id LIMIT 1", (acct,)).fetchone()
    return _positive(conn, row)


def _positive(conn: sqlite3.Connection, row: tuple[str] | None) -> Decimal | None:
    if row is None:
        return None
    try:
        value = Decimal(row[0])
    except InvalidOperation:
        raise _bad(conn, "runs/equity", "first", "starting equity", row[0]) from None
    return value if value > 0 else None


def read_data(conn: sqlite3.Connection, *, with_marks: bool = True) -> JournalData:
    """Like ``load_data`` inside a transaction the caller already holds (one snapshot)."""
    fills = load_fills(conn)
    fill_accounts = _row_accounts(conn, "fills", "t.ts_ms, t.id")
    intents = {
        cli: IntentInfo(purpose, side, sig)
        for cli, purpose, side, sig in conn.execute("SELECT cli_ord_id, purpose, side, signal_id FROM intents")
    }
    strategies = dict(conn.execute("SELECT signal_id, strategy FROM signals").fetchall())
    funding = _load_funding(conn)
    funding_accounts = _row_accounts(conn, "funding", "t.ts_ms, t.id")
    marks: dict[str, list[tuple[int, float]]] = {}
    if with_marks:
        for sym, ts, px in conn.execute("SELECT symbol, ts_ms, mark_price FROM marks ORDER BY symbol, ts_ms, id"):
            marks.setdefault(sym, []).append((ts, px))
    return JournalData(fills, intents, strategies, funding, marks, starting_equity(conn), fill_accounts,
                       funding_accounts)


def load_data(conn: sqlite3.Connection, *, with_marks: bool = True) -> JournalData:
    """Read fills, intents, signal strategies, funding, marks and starting equity in one snapshot."""
    with read_snapshot(conn):
        return read_data(conn, with_marks=with_marks)


def load_trades(conn: sqlite3.Connection, account: str | None = None) -> tuple[TradeSet, Decimal | None]:
    """Derive the trades of ``account`` (None: the current one, ``current_account``) from the journal (see
    ``trades``); returns them and that account's starting equity (USD)."""
    with read_snapshot(conn):
        d = read_data(conn)
        acct = current_account(conn) if account is None else account
        start = starting_equity(conn, acct)
    return d.per_account().get(acct, TradeSet()), start


def load_events(conn: sqlite3.Connection, since_ms: int | None = None) -> list[EventRow]:
    """Operator actions, state changes, alerts and reconciliation diffs at or after ``since_ms``, oldest
    first."""
    since = since_ms if since_ms is not None else -1
    with read_snapshot(conn):
        rows = conn.execute(
            "SELECT ts_ms, kind, name, source, NULL, "
            "  CASE WHEN previous IS NULL THEN reason ELSE previous || ' -> ' || name || ': ' || reason END, 0, id "
            "FROM events WHERE ts_ms >= ?1 "
            "UNION ALL SELECT ts_ms, 'alert', level, NULL, symbol, message, 1, id FROM alerts WHERE ts_ms >= ?1 "
            "UNION ALL SELECT ts_ms, 'reconciliation', kind, NULL, symbol, "
            "  'journal=' || journal_value || ' exchange=' || exchange_value || ' action=' || action, 2, id "
            "FROM reconciliation WHERE ts_ms >= ?1 "
            "ORDER BY 1, 7, 8",
            (since,),
        ).fetchall()
    return [EventRow(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


# ----------------------------------------------------------------------------- reads by path (engine start)

_T = TypeVar("_T")

#: How many of the newest intents ``read_start_facts`` returns (older ones cannot still rest).
START_INTENTS_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class PositionFact:
    """One position reconciliation row with a symbol: ``run_seq`` the position of its run among the
    journal's runs (0 = first; -1 = a run the journal does not list), ``ts_ms`` UTC ms, ``outcome``
    (``ReconciliationOutcome``; None = not classified), ``exchange_size`` the exchange's position in
    signed contracts when the row states it, else None."""

    run_seq: int
    ts_ms: int
    symbol: str
    outcome: ReconciliationOutcome | None
    exchange_size: Decimal | None


@dataclass(frozen=True, slots=True)
class FillFact:
    """One journaled fill: ``run_seq`` as in ``PositionFact``, ids, symbol, side, ``size`` contracts
    (> 0, exact), ``ts_ms`` UTC ms (the exchange's fill time)."""

    run_seq: int
    fill_id: str
    cli_ord_id: str | None
    symbol: str
    side: Side
    size: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class IntentFact:
    """One journaled order intent with what its order events say last: ``size`` contracts sent,
    ``purpose`` (``records.IntentPurpose`` text), ``last_status`` the newest order event's status (None =
    no event), ``order_id`` the newest exchange order id an event gave it (None = none)."""

    cli_ord_id: str
    symbol: str
    side: Side
    size: Decimal
    purpose: str
    last_status: str | None
    order_id: str | None


@dataclass(frozen=True, slots=True)
class StartFacts:
    """What a starting engine reads from a journal, in one snapshot: ``positions`` every position
    reconciliation row with a symbol (journal order), ``fills`` every fill (journal order), ``intents``
    the newest ``START_INTENTS_LIMIT`` intents (newest first). Empty for a missing file or a file without
    tables."""

    positions: tuple[PositionFact, ...] = ()
    fills: tuple[FillFact, ...] = ()
    intents: tuple[IntentFact, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderIds:
    """Our orders by id as the journal has them: ``purposes`` cliOrdId -> intent purpose (every intent);
    ``cli_of`` exchange order id -> cliOrdId (the order events of our intents)."""

    purposes: dict[str, str] = field(default_factory=dict)
    cli_of: dict[str, str] = field(default_factory=dict)


def _read_path(path: str | Path | None, empty: _T, read: Callable[[sqlite3.Connection], _T]) -> _T:
    """Run ``read`` in one read snapshot on a read-only connection to ``path``; ``empty`` when there is no
    file or the file has no such table yet. A corrupt file raises ``JournalError`` naming it."""
    conn = read_only(path)
    if conn is None:
        return empty
    try:
        conn.isolation_level = None
        with read_snapshot(conn):
            return read(conn)
    except sqlite3.OperationalError:  # a journal without these tables yet
        return empty
    except sqlite3.DatabaseError as exc:
        raise JournalError(str(path), f"cannot read it ({exc})", hint=CORRUPT_HINT) from None
    finally:
        conn.close()


def _run_seq(conn: sqlite3.Connection) -> dict[str, int]:
    return {str(r): i for i, (r,) in enumerate(conn.execute("SELECT run_id FROM runs ORDER BY rowid"))}


def _start_facts(conn: sqlite3.Connection) -> StartFacts:
    runs = _run_seq(conn)
    positions: list[PositionFact] = []
    for rid, run_id, ts, sym, outcome, size in conn.execute(
            "SELECT id, run_id, ts_ms, symbol, outcome, exchange_size FROM reconciliation "
            "WHERE kind = 'position' AND symbol IS NOT NULL ORDER BY id"):
        try:
            positions.append(PositionFact(runs.get(run_id, -1), ts, sym,
                                          None if outcome is None else ReconciliationOutcome(outcome),
                                          None if size is None else Decimal(size)))
        except (InvalidOperation, ValueError, TypeError):
            raise _bad(conn, "reconciliation", rid, "outcome/exchange_size", (outcome, size)) from None
    fills: list[FillFact] = []
    for rid, run_id, fid, cid, sym, side, size, ts in conn.execute(
            "SELECT id, run_id, fill_id, cli_ord_id, symbol, side, size, ts_ms FROM fills ORDER BY id"):
        try:
            fills.append(FillFact(runs.get(run_id, -1), fid, cid, sym, Side(side), Decimal(size), ts))
        except (InvalidOperation, ValueError, TypeError):
            raise _bad(conn, "fills", rid, "side/size", (side, size)) from None
    intents: list[IntentFact] = []
    for rid, cid, sym, side, size, purpose, status, oid in conn.execute(
            "SELECT i.id, i.cli_ord_id, i.symbol, i.side, i.size, i.purpose, "
            "(SELECT e.status FROM order_events e WHERE e.cli_ord_id = i.cli_ord_id ORDER BY e.id DESC LIMIT 1), "
            "(SELECT e.order_id FROM order_events e WHERE e.cli_ord_id = i.cli_ord_id AND e.order_id IS NOT NULL "
            "ORDER BY e.id DESC LIMIT 1) FROM intents i ORDER BY i.id DESC LIMIT ?", (START_INTENTS_LIMIT,)):
        try:
            intents.append(IntentFact(cid, sym, Side(side), Decimal(size), purpose, status, oid))
        except (InvalidOperation, ValueError, TypeError):
            raise _bad(conn, "intents", rid, "side/size", (side, size)) from None
    return StartFacts(tuple(positions), tuple(fills), tuple(intents))


def read_start_facts(path: str | Path | None) -> StartFacts:
    """Read what a starting engine needs from the journal at ``path`` (read-only, one snapshot).

    Returns:
        ``StartFacts``; empty for no path, a missing file or a journal without tables.

    Raises:
        JournalError: a corrupt or foreign-version file (``readonly.read_only``), or a stored value that does
            not decode (names the table, row and column).
    """
    return _read_path(path, StartFacts(), _start_facts)


def _order_ids(conn: sqlite3.Connection) -> OrderIds:
    out = OrderIds()
    for cid, purpose in conn.execute("SELECT cli_ord_id, purpose FROM intents"):
        out.purposes[cid] = purpose
    for oid, cid in conn.execute("SELECT DISTINCT e.order_id, e.cli_ord_id FROM order_events e JOIN intents i "
                                 "ON i.cli_ord_id = e.cli_ord_id WHERE e.order_id IS NOT NULL"):
        out.cli_of[oid] = cid
    return out


def read_order_ids(path: str | Path | None) -> OrderIds:
    """Every intent's cliOrdId and purpose and every exchange order id their order events gave them, from
    the journal at ``path`` (read-only, one snapshot); an empty ``OrderIds`` for no path, a missing file
    or a journal without tables.

    Raises:
        JournalError: a corrupt or foreign-version file (``readonly.read_only``).
    """
    return _read_path(path, OrderIds(), _order_ids)


def _last_state(conn: sqlite3.Connection) -> tuple[str, str] | None:
    row = conn.execute("SELECT name, reason FROM events WHERE kind = 'state' ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def last_state_change(path: str | Path | None) -> tuple[str, str] | None:
    """The newest operator state change journaled at ``path`` (by insertion order) as (state name, e.g.
    ``HALTED``; reason text), or None for no path, a missing file, a journal without tables or no state
    change yet.

    Raises:
        JournalError: a corrupt or foreign-version file (``readonly.read_only``).
    """
    return _read_path(path, None, _last_state)
