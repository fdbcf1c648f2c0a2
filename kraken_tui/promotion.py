"""The promotion gate: live trading stays off until paper trading met the ``[live]`` success thresholds.

Owns: ``paper_journal_path`` (the paper profile's journal, or ``[live] paper_journal``), ``PaperRecord`` (what the paper journal shows: days traded, closed trades, profit factor, maximum
drawdown), ``read_paper_record`` (derives it from a journal file with ``journal.queries.load_trades`` and
``journal.stats.summarize``) and ``promotion_failures`` (each threshold not met, as one sentence naming the
``[live]`` key). ``runtime.build_runtime`` refuses ``--mode live`` while any threshold fails, unless the
operator passes ``--skip-paper-gate`` (the override is journaled as an operator action).

Definitions: days = first closed trade's entry to last closed trade's exit, in days (86 400 000 ms);
profit factor = gross profit / gross loss of the closed trades' net P&L (None when nothing was lost: counts
as met); maximum drawdown = the largest fall of starting equity + cumulative net P&L from its running peak,
percent of that peak (``journal.stats``).
Must not import: textual, the engine.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kraken_tui.config import Config, LiveConfig
from kraken_tui.journal.db import resolve_journal_path
from kraken_tui.journal.queries import load_trades
from kraken_tui.journal.stats import summarize

__all__ = ["PaperRecord", "paper_journal_path", "promotion_failures", "read_paper_record"]

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PaperRecord:
    """The paper journal's record: ``days`` traded (float), closed ``trades``, ``profit_factor`` (None = no
    losing trade), ``max_drawdown_pct`` (percent; None when the starting equity is unknown)."""

    days: float
    trades: int
    profit_factor: float | None
    max_drawdown_pct: float | None


def paper_journal_path(cfg: Config) -> Path:
    """The journal the gate reads: ``[live] paper_journal`` when set, else the paper profile's journal, i.e.
    where a plain paper run journals (``journal.db.resolve_journal_path``: ``[general] journal_path``, else
    ``<platform data dir>/profiles/<[general] profile, else paper>/journal.sqlite``). A live run's own
    ``--profile``/``--journal`` do not move it.

    Raises:
        ConfigError: ``[general] profile`` is not a valid profile name.
    """
    if cfg.live.paper_journal is not None:
        return cfg.live.paper_journal.expanduser()
    return resolve_journal_path(None, cfg, cfg.general.profile or "paper")


def read_paper_record(path: Path) -> PaperRecord:
    """Read ``path`` (a journal file; a missing file is an empty record).

    Raises:
        JournalError: a corrupt journal.
    """
    if not path.exists():
        return PaperRecord(0.0, 0, None, None)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        trades, start = load_trades(conn)
    finally:
        conn.close()
    closed = trades.closed
    if not closed:
        return PaperRecord(0.0, 0, None, None)
    s = summarize(closed, start)
    days = (max(t.exit_ts_ms for t in closed) - min(t.entry_ts_ms for t in closed)) / DAY_MS
    dd = s.max_drawdown_pct * 100 if s.max_drawdown_pct is not None else None
    return PaperRecord(days, s.trades, s.profit_factor, dd)


def promotion_failures(live: LiveConfig, rec: PaperRecord) -> list[str]:
    """Each ``[live]`` threshold ``rec`` does not meet, as a sentence (empty = promotion allowed, or
    ``require_paper`` is false)."""
    if not live.require_paper:
        return []
    out: list[str] = []
    if rec.days < live.min_paper_days:
        out.append(f"paper history {rec.days:.1f} days < [live] min_paper_days {live.min_paper_days:g}")
    if rec.trades < live.min_paper_trades:
        out.append(f"paper trades {rec.trades} < [live] min_paper_trades {live.min_paper_trades}")
    if rec.trades == 0 or (rec.profit_factor is not None and rec.profit_factor < live.min_paper_profit_factor):
        pf = "none" if rec.trades == 0 else f"{rec.profit_factor:.2f}"
        out.append(f"paper profit factor {pf} < [live] min_paper_profit_factor {live.min_paper_profit_factor:g}")
    if rec.max_drawdown_pct is None or rec.max_drawdown_pct > live.max_paper_drawdown_pct:
        dd = "unknown" if rec.max_drawdown_pct is None else f"{rec.max_drawdown_pct:.1f}%"
        out.append(f"paper max drawdown {dd} > [live] max_paper_drawdown_pct {live.max_paper_drawdown_pct:g}%")
    return out
