"""The paper account's own SQLite file: what the paper exchange keeps across restarts, as a real exchange would.

Owns: ``PaperAccountStore`` (open/lock, ``load`` into a ``PaperExchange``, ``flush`` of what changed, ``close``)
and the file's schema. Kept per profile (``kraken_tui.config.profile_dir``), separate from the trade journal:
this is the exchange's own book, not the trader's record. It holds the wallet (balances by currency), the net
positions, the open orders (trigger orders included), each market's last prices and hourly funding rates, the
funding clock (the last top of the hour settled), the dead man's switch deadline, leverage preferences, the
fills list and the account log with its id counter (Kraken Futures docs "Get account log": ids start at 1 and
grow), and the exchange clock when last saved.

Writes: the exchange tells the store of every change through its listener (``PaperExchange.add_listener``);
new fills and account-log rows are queued and every ``flush`` writes them and rewrites the small state tables
in one transaction (WAL, ``synchronous=NORMAL``: a process crash loses nothing committed; a power cut can lose
the last flush). The runtime flushes once a second and on stop.

Restart: ``load`` restores the state and the exchange clock; the first market event after the restart moves
the clock to the present and ``PaperExchange.advance_clock`` settles every top of the hour missed while the
process was down, at the last known relative funding rate of the market and its last known index (else mark)
price (the paper exchange cannot know the rates Kraken published in between; spec §8.3 for the payment).

One process at a time: the file is locked (``fcntl.flock`` on ``<file>.lock``) while open; a second
kraken-tui on the same account gets ``PaperAccountBusy``. The file is created owner-only (0600).
Must not import: the engine, textual, aiohttp, httpx, websockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken_tui.domain import AccountLogEntry, Side, TriggerSignal
from kraken_tui.paper.account import PaperPosition
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.fills import PaperFill
from kraken_tui.paper.orders import PaperOrder

__all__ = ["APPLICATION_ID", "FUNDING_RATES_KEPT", "PaperAccountBusy", "PaperAccountStore", "StoreError"]

log = logging.getLogger(__name__)

#: Seconds between two writes of the account while it runs (a hard kill loses at most this much).
FLUSH_INTERVAL_S = 1.0

#: SQLite ``application_id`` of a paper-account file ("KTPA"); any other non-zero id is a foreign file.
APPLICATION_ID = 0x4B545041
SCHEMA_VERSION = 1
#: Hourly funding rates kept per market in the file (two days: enough to charge a downtime at the last rate).
FUNDING_RATES_KEPT = 48

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (currency TEXT PRIMARY KEY, quantity TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, size TEXT NOT NULL, entry_price TEXT NOT NULL,
                                      fill_ts_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS open_orders (order_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS markets (symbol TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leverage (symbol TEXT PRIMARY KEY, max_leverage TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (seq INTEGER PRIMARY KEY AUTOINCREMENT, fill_id TEXT UNIQUE NOT NULL,
                                  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account_log (id INTEGER PRIMARY KEY, body TEXT NOT NULL)
"""
_STATE_TABLES = ("meta", "balances", "positions", "open_orders", "markets", "leverage")
_MARKET_FIELDS = ("ts_ms", "last", "last_size", "last_ts_ms", "bid", "ask", "bid_size", "ask_size", "mark", "index",
                  "index_from_source")


class StoreError(Exception):
    """The paper-account file cannot be used (foreign, newer, corrupt); the message names the file."""


class PaperAccountBusy(StoreError):
    """Another process holds the paper-account file."""


def _enc(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, Side | TriggerSignal):
        return value.value
    return value


def _row(obj: Any) -> str:
    return json.dumps({f.name: _enc(getattr(obj, f.name)) for f in dataclasses.fields(obj)}, separators=(",", ":"))


def _dec(body: dict[str, Any]) -> dict[str, Any]:
    return {k: Decimal(v["d"]) if isinstance(v, dict) and "d" in v else v for k, v in body.items()}


class PaperAccountStore:
    """The paper account file at ``path`` (module docstring). Open it with ``open()``; ``fresh=True`` wipes it.

    Args:
        path: the SQLite file (created with its directory when missing).

    Raises (from ``open``):
        PaperAccountBusy: another process has the file open.
        StoreError: the file is not a paper-account file, is newer than this version, or is corrupt.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._log_rows: list[AccountLogEntry] = []
        self._fill_rows: list[PaperFill] = []
        self._ex: PaperExchange | None = None
        self.restored = False

    # ------------------------------------------------------------------ open / close
    def open(self, *, fresh: bool = False) -> None:
        """Lock and open the file, create the schema; ``fresh`` deletes every row (the account starts over)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise PaperAccountBusy(f"paper account {self.path} is in use by another kraken-tui process") from None
        self._lock_fd = fd
        if not self.path.exists():  # owner-only (0600) whatever the umask; SQLite's WAL and -shm files follow it
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(self.path, 0o600)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if app_id not in (0, APPLICATION_ID) or (app_id == 0 and _has_tables(conn)):
                raise StoreError(f"{self.path} is not a kraken-tui paper-account file; move it away or pass "
                                 "another --profile")
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer kraken-tui (schema {version})")
            conn.execute("BEGIN IMMEDIATE")
            for stmt in _SCHEMA.split(";"):
                conn.execute(stmt)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if fresh:
                for table in (*_STATE_TABLES, "fills", "account_log"):
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._unlock()
            raise StoreError(f"{self.path}: {exc}; move the file away to start a new paper account") from None
        except StoreError:
            self._unlock()
            raise
        self._conn = conn

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            self._lock_fd = None

    def close(self) -> None:
        """Flush what is pending, close the file and release the lock. Idempotent."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.flush()
            if self._ex is not None:
                self._ex.remove_listener(self._on_change)
            self._conn.close()
            self._conn = None
        self._unlock()

    # ------------------------------------------------------------------ load
    def load(self, ex: PaperExchange) -> bool:
        """Restore the saved account into ``ex`` (a newly built exchange) and start following its changes.

        Returns True when an account was restored, False for a new file (``ex`` keeps its configured
        starting balance, which the next flush saves). Positions, orders and markets of symbols the exchange
        no longer lists are dropped with a warning.
        """
        conn = self._require()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        self._ex = ex
        ex.add_listener(self._on_change)
        if "log_seq" not in meta:
            self.restored = False
            return False
        ex.account_uid = meta.get("account_uid", ex.account_uid)
        ex.log_seq = int(meta["log_seq"])
        ex.now_ms = int(meta.get("now_ms", "0"))
        hour = meta.get("funded_hour_ms")
        ex.funded_hour_ms = int(hour) if hour else None
        dms = meta.get("dms_trigger_ms")
        ex.dms_trigger_ms = int(dms) if dms else None
        ex.balances.quantities = {c: Decimal(q) for c, q in conn.execute("SELECT currency, quantity FROM balances")}
        ex.positions.clear()
        for sym, size, entry, ts in conn.execute("SELECT symbol, size, entry_price, fill_ts_ms FROM positions"):
            if sym not in ex.instruments:
                log.warning("paper account %s: position %s %s dropped (symbol not listed)", self.path, sym, size)
                continue
            ex.positions[sym] = PaperPosition(sym, Decimal(size), Decimal(entry), int(ts))
        ex.open_orders.clear()
        for (body,) in conn.execute("SELECT body FROM open_orders"):
            order = _order(json.loads(body))
            if order.symbol in ex.instruments:
                ex.open_orders[order.order_id] = order
        for sym, body in conn.execute("SELECT symbol, body FROM markets"):
            market = ex.markets.get(sym)
            if market is None:
                continue
            data = json.loads(body)
            for name in _MARKET_FIELDS:
                if name in data:
                    setattr(market, name, data[name])
            market.funding_rates = [(int(h), float(r)) for h, r in data.get("funding_rates", [])]
        ex.leverage_preferences = {s: Decimal(v) for s, v in conn.execute("SELECT symbol, max_leverage FROM leverage")}
        ex.fills.clear()
        for (body,) in conn.execute("SELECT body FROM (SELECT seq, body FROM fills ORDER BY seq DESC LIMIT ?) "
                                    "ORDER BY seq", (ex.fills.maxlen or 10_000,)):
            ex.fills.append(_fill(json.loads(body)))
        ex.account_log.clear()
        for (body,) in conn.execute("SELECT body FROM (SELECT id, body FROM account_log ORDER BY id DESC LIMIT ?) "
                                    "ORDER BY id", (ex.account_log.maxlen or 200_000,)):
            ex.account_log.append(AccountLogEntry(**_dec(json.loads(body))))
        self.restored = True
        return True

    # ------------------------------------------------------------------ save
    def _on_change(self, kind: str, payload: object) -> None:
        if kind == "account_log" and isinstance(payload, AccountLogEntry):
            self._log_rows.append(payload)
        elif kind == "fill" and isinstance(payload, PaperFill):
            self._fill_rows.append(payload)

    def flush(self) -> None:
        """Write the queued fills and account-log rows and the current state in one transaction.

        Raises:
            sqlite3.Error: the write failed (the queued rows stay queued for the next flush).
        """
        conn, ex = self._require(), self._ex
        if ex is None:
            return
        logs, fills = self._log_rows, self._fill_rows
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in _STATE_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            meta = {"account_uid": ex.account_uid, "log_seq": str(ex.log_seq), "now_ms": str(ex.now_ms),
                    "funded_hour_ms": "" if ex.funded_hour_ms is None else str(ex.funded_hour_ms),
                    "dms_trigger_ms": "" if ex.dms_trigger_ms is None else str(ex.dms_trigger_ms)}
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            conn.executemany("INSERT INTO balances VALUES (?, ?)",
                             [(c, str(q)) for c, q in ex.balances.quantities.items()])
            conn.executemany("INSERT INTO positions VALUES (?, ?, ?, ?)",
                             [(p.symbol, str(p.size), str(p.entry_price), p.fill_ts_ms) for p in ex.positions.values()])
            conn.executemany("INSERT INTO open_orders VALUES (?, ?)",
                             [(o.order_id, _row(o)) for o in ex.open_orders.values()])
            conn.executemany("INSERT INTO markets VALUES (?, ?)", [
                (s, json.dumps({**{n: getattr(m, n) for n in _MARKET_FIELDS},
                                "funding_rates": m.funding_rates[-FUNDING_RATES_KEPT:]}))
                for s, m in ex.markets.items()])
            conn.executemany("INSERT INTO leverage VALUES (?, ?)",
                             [(s, str(v)) for s, v in ex.leverage_preferences.items()])
            conn.executemany("INSERT OR IGNORE INTO fills (fill_id, body) VALUES (?, ?)",
                             [(f.fill_id, _row(f)) for f in fills])
            conn.executemany("INSERT OR REPLACE INTO account_log VALUES (?, ?)", [(e.id, _row(e)) for e in logs])
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise
        del logs[:]
        del fills[:]

    async def flush_every(self, interval_s: float = FLUSH_INTERVAL_S) -> None:
        """Run ``flush`` every ``interval_s`` seconds until cancelled; a failed write is logged and retried at the
        next one (the queued rows stay queued)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                self.flush()
            except Exception:
                log.exception("paper account %s: write failed", self.path)

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"paper account {self.path} is not open")
        return self._conn


def _has_tables(conn: sqlite3.Connection) -> bool:
    return int(conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]) > 0


def _order(body: dict[str, Any]) -> PaperOrder:
    data = _dec(body)
    data["side"] = Side(data["side"])
    if data.get("trigger_signal") is not None:
        data["trigger_signal"] = TriggerSignal(data["trigger_signal"])
    return PaperOrder(**data)


def _fill(body: dict[str, Any]) -> PaperFill:
    data = _dec(body)
    data["side"] = Side(data["side"])
    return PaperFill(**data)
