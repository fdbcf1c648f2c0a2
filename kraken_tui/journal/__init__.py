"""The trade journal: one SQLite file (WAL), one writer task fed by a queue, schema migrations,
queries and statistics. Must not import: textual, the engine.
"""
