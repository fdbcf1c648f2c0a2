"""``kraken-tui journal [--journal PATH] summary|trades|events [--since ISO] [--json] [--csv PATH]``.

Owns: the journal subcommand (README.md "Commands"): resolving the file (``--journal``, then
``[general] journal_path``, then the platform data dir), opening it as a reader (never creating it,
safe while a running kraken-tui writes it), and printing. ``--since`` keeps trades that *closed* at or
after the time (the P&L realised in the period; trades are still derived from all fills so positions
opened earlier are priced right) and events at or after it. ``--json`` prints JSON on stdout;
``--csv PATH`` writes CSV to PATH (both may be given). Trades come from the derived-trades cache
(``tradecache``; re-derived and stored when stale), the summary's statistics from its float rows.
Exit codes: 0 done, 2 bad flag or config (``ConfigError``), 4 journal unusable (``JournalError``).
Must not import: textual, the engine.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from kraken_tui.config import load_config
from kraken_tui.errors import ConfigError
from kraken_tui.journal.db import open_db, resolve_journal_path
from kraken_tui.journal.export import (
    event_to_json,
    iso_ms,
    parse_since,
    summary_csv_rows,
    trade_to_json,
    write_csv,
    write_events_csv,
    write_trades_csv,
)
from kraken_tui.journal.queries import load_events
from kraken_tui.journal.stats import Summary
from kraken_tui.journal.tradecache import load_cached_trades, load_summary_input

__all__ = ["run"]


def _write_csv_file(path: Path, writer: Callable[[TextIO], None]) -> None:
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer(fh)
    except OSError as exc:
        raise ConfigError("--csv", str(path), f"a writable file path ({exc.strerror})") from None


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _summary_text(overall: Summary, groups: dict[str, dict[str, Summary]], out: TextIO) -> None:
    j = overall.to_json()
    for key, value in j.items():
        out.write(f"{key:22} {_fmt(value)}\n")
    for group, by_key in groups.items():
        out.write(f"\nby {group}:\n")
        for k, s in by_key.items():
            out.write(f"  {k:14} trades {s.trades:6}  win_rate {_fmt(s.win_rate):>7}  "
                      f"net_pnl_usd {_fmt(float(s.net_pnl_usd)):>14}\n")


def _summary(args: argparse.Namespace, conn: sqlite3.Connection, since_ms: int | None, out: TextIO) -> None:
    inp = load_summary_input(conn, since_ms)
    overall, groups = inp.summary()
    if args.csv:
        rows = summary_csv_rows(overall, groups)
        _write_csv_file(args.csv, lambda fh: write_csv(fh, rows[0].keys(), (r.values() for r in rows)))
    if args.json:
        doc = overall.to_json()
        doc["by"] = {g: {k: s.to_json() for k, s in by.items()} for g, by in groups.items()}
        doc["open_positions"] = len(inp.open_symbols)
        out.write(json.dumps(doc) + "\n")
    elif not args.csv:
        _summary_text(overall, groups, out)
        if inp.open_symbols:
            out.write(f"\nopen positions (not in the statistics): {', '.join(inp.open_symbols)}\n")


def _trades(args: argparse.Namespace, conn: sqlite3.Connection, since_ms: int | None, out: TextIO) -> None:
    closed, _ = load_cached_trades(conn)
    trades = [t for t in closed if since_ms is None or t.exit_ts_ms >= since_ms]
    if args.csv:
        _write_csv_file(args.csv, lambda fh: write_trades_csv(fh, trades))
    if args.json:
        out.write(json.dumps([trade_to_json(t) for t in trades]) + "\n")
    elif not args.csv:
        write_trades_csv(out, trades)


def _events(args: argparse.Namespace, conn: sqlite3.Connection, since_ms: int | None, out: TextIO) -> None:
    events = load_events(conn, since_ms)
    if args.csv:
        _write_csv_file(args.csv, lambda fh: write_events_csv(fh, events))
    if args.json:
        out.write(json.dumps([event_to_json(e) for e in events]) + "\n")
    elif not args.csv:
        if not events:
            out.write("no events" + (f" since {iso_ms(since_ms)}" if since_ms is not None else "") + "\n")
        for e in events:
            src = f" [{e.source}]" if e.source else ""
            sym = f" {e.symbol}" if e.symbol else ""
            out.write(f"{iso_ms(e.ts_ms)} {e.kind} {e.name}{sym}{src}: {e.detail}\n")


_VIEWS = {"summary": _summary, "trades": _trades, "events": _events}


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Handler of ``kraken-tui journal`` (``cli.HANDLERS["journal"]``). Returns the exit code (0).

    Raises:
        ConfigError: bad ``--config``/``--since``/``--csv`` (exit 2).
        JournalError: the file is missing, corrupt, foreign or too new (exit 4).
    """
    out = out or sys.stdout
    cfg = load_config(getattr(args, "config", None))
    since_ms = parse_since(args.since) if args.since else None
    path = resolve_journal_path(args.journal, cfg, getattr(args, "profile", None))
    conn = open_db(path, create=False, quick_check=True)
    try:
        _VIEWS[args.view](args, conn, since_ms, out)
    finally:
        conn.close()
    return 0
