"""The trade journal: one SQLite file (WAL), one writer task fed by a queue, schema migrations,
queries and statistics.

Modules: ``records`` (input records), ``schema`` (DDL + migrations), ``db`` (open/pragmas/integrity),
``readonly`` (a quick read-only connection), ``reconfacts`` (structured facts of older reconciliation
rows, filled by a migration), ``encode`` (record -> SQL), ``writer`` (the writer task), ``queries``
(readers), ``trades`` (round trips from fills), ``tradecache`` (derived trades and summary stored,
rebuilt when stale), ``stats`` (statistics), ``accountlog`` (totals vs the exchange's account log),
``export`` (CSV/JSON formats), ``cli`` (``kraken-tui journal``).
Must not import: textual, the engine.
"""
