"""``kraken-tui journal [--journal PATH] summary|trades|events [--since ISO] [--json] [--csv PATH]
[--account NAME | --all-accounts]``.

Owns: the journal subcommand (README.md "Commands"): resolving the file (``--journal``, then
``[general] journal_path``, then the platform data dir), opening it as a reader (never creating it,
safe while a running kraken-tui writes it), and printing. ``--since`` keeps trades that *closed* at or
after the time (the P&L realised in the period; trades are still derived from all fills so positions
opened earlier are priced right) and events at or after it. ``--json`` prints JSON on stdout;
``--csv PATH`` writes CSV to PATH (both may be given). Trades come from the derived-trades cache
(``tradecache``; re-derived and stored when stale), the summary's statistics from its float rows.
Accounts: a journal may hold several exchange accounts (``records.run_account``: a profile's paper or live
account, or one per replay run); trades and statistics are derived per account. ``summary`` and ``trades`` show
the current account (that of the journal's last run) unless ``--account NAME`` names another; ``--all-accounts``
shows every one: trades with an ``account`` column/key, one summary per account (``{"accounts": {NAME: summary}}``
in JSON). A single account's JSON summary names it in ``"account"``; each trade's JSON names its ``"account"``.
The configuration is read only when it names the file (no ``--journal``) or is named (``--config``).
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

from kraken_tui.errors import ConfigError, JournalError
from kraken_tui.journal.db import open_db, resolve_journal_path
from kraken_tui.journal.export import (
    TRADES_CSV_HEADER,
    event_to_json,
    iso_ms,
    parse_since,
    summary_csv_rows,
    trade_csv_row,
    trade_to_json,
    write_csv,
    write_events_csv,
    write_trades_csv,
)
from kraken_tui.journal.queries import current_account, load_events, read_snapshot
from kraken_tui.journal.readonly import CORRUPT_HINT
from kraken_tui.journal.stats import Summary
from kraken_tui.journal.tradecache import (
    CachedSummaryInput,
    account_names,
    load_cached_trades,
    load_summary_input,
)

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


def _accounts(args: argparse.Namespace, conn: sqlite3.Connection) -> list[str]:
    """The accounts to show: every one (``--all-accounts``), the one named (``--account``), else the current one.

    Raises:
        ConfigError: ``--account`` names no account of the journal (the message lists them).
    """
    names = account_names(conn)
    with read_snapshot(conn):
        current = current_account(conn)
    if getattr(args, "all_accounts", False):
        return names
    wanted = getattr(args, "account", None)
    if wanted is None:
        return [current]
    if wanted not in names:
        raise ConfigError("--account", wanted, "an account of this journal: " + ", ".join(names))
    return [wanted]


def _summary_doc(inp: CachedSummaryInput, overall: Summary, groups: dict[str, dict[str, Summary]]) -> dict[str, object]:
    doc: dict[str, object] = dict(overall.to_json())
    doc["by"] = {g: {k: s.to_json() for k, s in by.items()} for g, by in groups.items()}
    doc["open_positions"] = len(inp.open_symbols)
    doc["account"] = inp.account
    return doc


def _summary(args: argparse.Namespace, conn: sqlite3.Connection, since_ms: int | None, out: TextIO) -> None:
    every = bool(getattr(args, "all_accounts", False))
    shown = [(inp, *inp.summary()) for inp in (load_summary_input(conn, since_ms, a) for a in _accounts(args, conn))]
    if args.csv:
        rows = [{**({"account": inp.account} if every else {}), **row}
                for inp, overall, groups in shown for row in summary_csv_rows(overall, groups)]
        header = list(rows[0].keys()) if rows else ["account", "group", "key"]
        _write_csv_file(args.csv, lambda fh: write_csv(fh, header, (r.values() for r in rows)))
    if args.json:
        docs = {inp.account: _summary_doc(inp, overall, groups) for inp, overall, groups in shown}
        out.write(json.dumps({"accounts": docs} if every else next(iter(docs.values()))) + "\n")
    elif not args.csv:
        for n, (inp, overall, groups) in enumerate(shown):
            if every or len(shown) > 1:
                out.write(("\n" if n else "") + f"account {inp.account}\n")
            else:
                out.write(f"account                {inp.account}\n")
            _summary_text(overall, groups, out)
            if inp.open_symbols:
                out.write(f"\nopen positions (not in the statistics): {', '.join(inp.open_symbols)}\n")


def _trades(args: argparse.Namespace, conn: sqlite3.Connection, since_ms: int | None, out: TextIO) -> None:
    every = bool(getattr(args, "all_accounts", False))
    closed, _ = load_cached_trades(conn, _accounts(args, conn)[0] if not every else None, all_accounts=every)
    trades = [t for t in closed if since_ms is None or t.exit_ts_ms >= since_ms]
    if args.csv:
        if every:  # rows of several accounts: each names its account
            _write_csv_file(args.csv, lambda fh: write_csv(fh, (*TRADES_CSV_HEADER, "account"),
                                                           ((*trade_csv_row(t), t.account) for t in trades)))
        else:
            _write_csv_file(args.csv, lambda fh: write_trades_csv(fh, trades))
    if args.json:
        out.write(json.dumps([{**trade_to_json(t), "account": t.account} for t in trades]) + "\n")
    elif not args.csv:
        if every:
            write_csv(out, (*TRADES_CSV_HEADER, "account"), ((*trade_csv_row(t), t.account) for t in trades))
        else:
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
    cfg = None
    if args.journal is None or getattr(args, "config", None) is not None:  # the config names the file, or is named
        from kraken_tui.config import load_config  # pydantic: not imported when --journal names the file

        cfg = load_config(getattr(args, "config", None))
    since_ms = parse_since(args.since) if args.since else None
    path = resolve_journal_path(args.journal, cfg, getattr(args, "profile", None))
    conn = open_db(path, create=False, quick_check=True)
    try:
        _VIEWS[args.view](args, conn, since_ms, out)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise
        raise JournalError(str(path), f"cannot read it ({exc})", hint=CORRUPT_HINT) from None
    finally:
        conn.close()
    return 0
