"""The journal's SQL schema as a list of forward migrations, keyed by ``PRAGMA user_version``.

Owns: the DDL. ``MIGRATIONS[k]`` takes a version-``k`` database to version ``k + 1``; a new schema
change is a new list entry, never an edit of an old one (old files must keep migrating the same way).
Version 0 is an empty file. ``APPLICATION_ID`` marks a file as ours (``PRAGMA application_id``), so a
foreign SQLite file is refused instead of being written into.
Conventions: times are UTC epoch milliseconds (``*_ms`` INTEGER); money (USD) and sizes (contracts)
are exact Decimal text; analytics (marks, confidence) are REAL. Facts are append-only; the only
UPDATEs are ``runs.stopped_ms``/``stop_reason`` when a run ends, the derived-trades cache's state row
(a derivation, not a fact) and, once, the version 4 migration filling ``reconciliation.outcome``/
``exchange_size`` of older rows and the version 6 migration assigning ``runs.account`` of older runs.
Must not import: aiosqlite, the engine, textual.
"""

from __future__ import annotations

__all__ = ["APPLICATION_ID", "LATEST_VERSION", "MIGRATIONS"]

#: "KTUI" as a 32-bit integer: the SQLite header's application id of a kraken-tui journal.
APPLICATION_ID = 0x4B545549

_V1 = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    mode TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    version TEXT NOT NULL,
    starting_equity_usd TEXT,
    stopped_ms INTEGER,
    stop_reason TEXT
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('state', 'operator')),
    name TEXT NOT NULL,
    previous TEXT,
    reason TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('key', 'ctl', 'automatic'))
);
CREATE INDEX events_ts ON events(ts_ms);
CREATE TABLE intents (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    cli_ord_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    size TEXT NOT NULL,
    order_type TEXT NOT NULL,
    limit_price TEXT,
    stop_price TEXT,
    reduce_only INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    signal_id TEXT
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    cli_ord_id TEXT,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    size TEXT NOT NULL,
    filled TEXT NOT NULL,
    limit_price TEXT,
    stop_price TEXT,
    reduce_only INTEGER NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX orders_order_id ON orders(order_id);
CREATE TABLE order_events (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    cli_ord_id TEXT,
    order_id TEXT,
    status TEXT NOT NULL,
    event_type TEXT,
    price TEXT,
    amount TEXT,
    reason TEXT,
    error TEXT
);
CREATE INDEX order_events_cli ON order_events(cli_ord_id);
CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    fill_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    cli_ord_id TEXT,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    size TEXT NOT NULL,
    price TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    fill_type TEXT NOT NULL,
    fee TEXT,
    fee_currency TEXT
);
CREATE INDEX fills_ts ON fills(ts_ms);
CREATE TABLE funding (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    symbol TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    amount_usd TEXT NOT NULL,
    funding_rate TEXT NOT NULL,
    UNIQUE (symbol, ts_ms)
);
"""

_V2 = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    level TEXT NOT NULL,
    symbol TEXT,
    message TEXT NOT NULL
);
CREATE INDEX alerts_ts ON alerts(ts_ms);
CREATE TABLE signals (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    signal_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('long', 'short', 'flat')),
    confidence REAL NOT NULL,
    strategy TEXT NOT NULL,
    reason TEXT NOT NULL,
    features TEXT NOT NULL,
    action TEXT NOT NULL,
    rejection_reason TEXT
);
CREATE INDEX intents_signal ON intents(signal_id);
CREATE TABLE equity (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    equity_usd TEXT NOT NULL
);
CREATE INDEX equity_ts ON equity(ts_ms);
CREATE TABLE marks (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    mark_price REAL NOT NULL
);
CREATE INDEX marks_symbol_ts ON marks(symbol, ts_ms);
CREATE TABLE reconciliation (
    id INTEGER PRIMARY KEY,
    run_id TEXT REFERENCES runs(run_id),
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    symbol TEXT,
    journal_value TEXT NOT NULL,
    exchange_value TEXT NOT NULL,
    action TEXT NOT NULL
);
"""

# Version 3: a cache of the round-trip trades derived from the facts (``tradecache`` owns it). It is
# never a fact: it is rebuilt whenever ``trade_cache.fingerprint`` no longer matches the source tables.
# Exact Decimal text for the CSV/JSON trade contract, REAL copies of the money for fast statistics.
_V3 = """
CREATE TABLE trade_cache (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    size TEXT NOT NULL,
    entry_ts_ms INTEGER NOT NULL,
    exit_ts_ms INTEGER NOT NULL,
    entry_price TEXT NOT NULL,
    exit_price TEXT NOT NULL,
    gross_pnl_usd TEXT NOT NULL,
    fees_usd TEXT NOT NULL,
    funding_usd TEXT NOT NULL,
    funding_paid_usd TEXT NOT NULL,
    funding_received_usd TEXT NOT NULL,
    exit_reason TEXT NOT NULL,
    signal_id TEXT,
    strategy TEXT,
    mae_usd REAL NOT NULL,
    mfe_usd REAL NOT NULL,
    net REAL NOT NULL,
    gross REAL NOT NULL,
    fees REAL NOT NULL,
    funding REAL NOT NULL,
    paid REAL NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE trade_cache_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    facts TEXT NOT NULL,
    marks TEXT NOT NULL,
    open_symbols TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""

# Version 4: the structured facts of a reconciliation diff next to its text. ``outcome`` is one of
# ``records.RECONCILIATION_OUTCOMES`` (what was done: adopted, synced, closed, acknowledged...);
# ``exchange_size`` the exchange's position as signed contracts (exact Decimal text; position diffs that
# state it). Rows of older journals are filled from their text once, by the migration (``reconfacts``).
_V4 = """
ALTER TABLE reconciliation ADD COLUMN outcome TEXT;
ALTER TABLE reconciliation ADD COLUMN exchange_size TEXT;
"""

# Version 5: inverse (PI_) trades in the derived-trades cache: the settlement currency, the USD rate the coin
# figures were valued at, and the coin figures (NULL for USD-settled trades). The cache is a derivation: ``db``
# rebuilds it right after this step, with the new columns filled.
_V5 = """
ALTER TABLE trade_cache ADD COLUMN currency TEXT NOT NULL DEFAULT 'usd';
ALTER TABLE trade_cache ADD COLUMN usd_rate TEXT NOT NULL DEFAULT '1';
ALTER TABLE trade_cache ADD COLUMN gross_pnl_coin TEXT;
ALTER TABLE trade_cache ADD COLUMN fees_coin TEXT;
ALTER TABLE trade_cache ADD COLUMN funding_coin TEXT;
"""

# Version 6: the account every run (so every fill and funding payment, through ``run_id``) belongs to, and the
# account of each cached trade. Trades and statistics are derived per account and never walk two accounts'
# fills together. Existing runs are assigned by ``db`` (the profile the journal file belongs to, else
# ``default``); the trades cache is emptied here and rebuilt by ``db`` with the new column filled.
_V6 = """
ALTER TABLE runs ADD COLUMN account TEXT NOT NULL DEFAULT 'default';
CREATE INDEX runs_account ON runs(account);
ALTER TABLE trade_cache ADD COLUMN account TEXT NOT NULL DEFAULT 'default';
CREATE INDEX trade_cache_account ON trade_cache(account, exit_ts_ms);
DELETE FROM trade_cache;
DELETE FROM trade_cache_state
"""

#: MIGRATIONS[k] takes a version-k journal to version k+1. Version 1: runs, operator/state events,
#: intents, orders, order events, fills, funding. Version 2: alerts, signals, equity snapshots,
#: marks, reconciliation diffs. Version 3: the derived-trades cache (``db`` fills it once the schema has all
#: its columns, v5).
#: Version 4: reconciliation ``outcome`` and ``exchange_size`` (``db`` fills them for older rows).
#: Version 5: the coin columns of inverse trades in the derived-trades cache (rebuilt on the next read).
#: Version 6: ``runs.account`` and ``trade_cache.account`` (trades per account; ``db`` assigns older runs).
#: Version 7: the derived-trades cache's incremental state and the indexes its checks use (``db`` rebuilds it).
# Version 7: the incremental state of the derived-trades cache (``tradecache``: where the walk stopped, the
# running statistics, the highest id of each source table), and the indexes its checks read: fills by cliOrdId
# (an intent journaled after its fill), cached trades by signal id (a signal journaled after its trade). The
# cache is emptied here and rebuilt by ``db`` with its state.
_V7 = """
ALTER TABLE trade_cache_state ADD COLUMN walk TEXT NOT NULL DEFAULT '';
CREATE INDEX fills_cli ON fills(cli_ord_id);
CREATE INDEX trade_cache_signal ON trade_cache(signal_id);
DELETE FROM trade_cache;
DELETE FROM trade_cache_state
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7)
LATEST_VERSION = len(MIGRATIONS)
