"""The look-ahead check behind ``kraken-tui backtest --lookahead-check``: every signal recomputed on data cut at
its bar.

Owns: ``check_lookahead`` (settings + bars -> ``LookaheadReport``, or ``LookaheadError`` naming the first bar,
strategy and field that differ), ``LookaheadReport`` and ``LookaheadError``.

Definition. A signal at bar ``i`` (the bar whose close is ``ts_ms``) has no look-ahead when the strategy,
handed only bars ``0..i``, gives the same signal at bar ``i`` (same symbol, side, confidence, reason,
features and strategy name), and a bar without a signal stays without one. Three runs of the backtest's own
bar loop (``backtest.runner.Backtest``; signals read from the ``SignalRecord`` journal records it emits,
``journal.records``):

1. full: all bars at once, in the backtest's chunks (what ``kraken-tui backtest`` computes; a strategy's
   batch path ``on_candles`` sees a whole chunk at a time);
2. truncated, every bar: one Backtest fed one bar per ``run`` call, so the strategy has been handed exactly
   bars ``0..i`` when it decides at bar ``i`` - the recomputation on data truncated at bar ``i`` for every
   ``i`` in one pass (O(bars)). It catches a signal that uses a later bar (it disappears) and a signal that
   a later bar suppressed (it appears);
3. fresh: for up to ``fresh_samples`` of the full run's signals (evenly spaced, first and last included), a
   new Backtest over bars ``0..i`` only: the literal recomputation, which also catches state carried from
   somewhere other than the bars handed in.

The check covers what the strategy is handed: candles (and, through the backtest, the signal file of the
external component, whose signals are delivered by time). A strategy that reads a data file of its own behind
the backtest's back cannot be checked by truncating the candles.
Errors: ``LookaheadError`` (exit code 1, docs/cli-contract.md: a defect of the strategy's code, not of the
command line).
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kraken_tui.backtest.columns import CandleRow
from kraken_tui.backtest.runner import Backtest, BacktestSettings
from kraken_tui.errors import KrakenTuiError
from kraken_tui.journal.export import iso_ms
from kraken_tui.journal.records import SignalRecord

__all__ = ["FIELDS", "LookaheadError", "LookaheadReport", "check_lookahead"]

#: The fields of a signal compared, in the order a difference is reported.
FIELDS = ("symbol", "side", "confidence", "strategy", "reason", "features")
#: Default number of full-run signals recomputed by a fresh run on the truncated bars.
FRESH_SAMPLES = 20


class LookaheadError(KrakenTuiError):
    """A signal differs when recomputed on data truncated at its bar (exit code 1).

    Attributes:
        bar: 0-based index of the first differing bar; ``ts_ms`` its close (UTC ms).
        strategy: the strategy (ensemble component) that produced the signal.
        field: the first differing field (``FIELDS``, or ``signal`` when one side has none).
        full, truncated: that field's value in the full run and on the truncated data.
        run: which recomputation differed (``truncated``: bar by bar; ``fresh``: a new run on bars 0..i).
    """

    exit_code = 1

    def __init__(self, bar: int, ts_ms: int, strategy: str, field: str, full: object, truncated: object,
                 run: str) -> None:
        self.bar, self.ts_ms, self.strategy, self.field = bar, ts_ms, strategy, field
        self.full, self.truncated, self.run = full, truncated, run
        super().__init__(
            f"look-ahead: bar {bar} (close {iso_ms(ts_ms)}), strategy {strategy}, field {field}: "
            f"{full!r} on the full data, {truncated!r} on the data truncated at that bar ({run} run); the "
            f"strategy reads bars after the one it decides on")


@dataclass(frozen=True)
class LookaheadReport:
    """A passed check: ``bars`` checked, ``signals`` in the full run, ``fresh`` of them recomputed by a fresh
    run on the truncated data, ``strategy`` name."""

    strategy: str
    bars: int
    signals: int
    fresh: int

    def to_json(self) -> dict[str, Any]:
        """``{"passed": true, "bars", "signals", "fresh_recomputed"}`` (the ``backtest --json`` key
        ``lookahead_check``)."""
        return {"passed": True, "bars": self.bars, "signals": self.signals, "fresh_recomputed": self.fresh}

    def describe(self) -> str:
        """One line for the text report."""
        return (f"look-ahead check passed: {self.signals:,} signals over {self.bars:,} bars recomputed on data "
                f"truncated at each bar ({self.fresh} also by a fresh run)")


def _collect(settings: BacktestSettings, feed: Iterable[CandleRow], *, one_by_one: bool) -> dict[int, SignalRecord]:
    """Signals of a Backtest over ``feed`` by bar close (UTC ms); ``one_by_one``: one ``run`` call per bar."""
    records: list[Any] = []
    bt = Backtest(settings)
    bt.sink = records.append
    if one_by_one:
        it = iter(feed)
        while True:
            before = bt.result.candles
            bt.run(it, limit=1)
            if bt.result.candles == before:
                break
    else:
        bt.run(feed)
    bt.finish()
    return {r.ts_ms: r for r in records if isinstance(r, SignalRecord)}


def _values(rec: SignalRecord | None) -> dict[str, Any]:
    if rec is None:
        return {}
    return {"symbol": rec.symbol, "side": rec.side, "confidence": rec.confidence, "strategy": rec.strategy,
            "reason": rec.reason, "features": rec.features}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _compare(bar: int, ts: int, full: SignalRecord | None, trunc: SignalRecord | None, run: str) -> None:
    if full is None and trunc is None:
        return
    if full is None or trunc is None:
        who = (full or trunc)
        assert who is not None
        raise LookaheadError(bar, ts, who.strategy, "signal", None if full is None else full.side,
                             None if trunc is None else trunc.side, run)
    fv, tv = _values(full), _values(trunc)
    for name in FIELDS:
        if not _same(fv[name], tv[name]):
            raise LookaheadError(bar, ts, full.strategy, name, fv[name], tv[name], run)


def _spread(items: Sequence[int], k: int) -> list[int]:
    """Up to ``k`` items evenly spaced over ``items`` (first and last included)."""
    if k <= 0 or not items:
        return []
    if len(items) <= k:
        return list(items)
    if k == 1:
        return [items[-1]]
    return sorted({items[round(j * (len(items) - 1) / (k - 1))] for j in range(k)})


def check_lookahead(settings: BacktestSettings, rows: Sequence[CandleRow], *,
                    fresh_samples: int = FRESH_SAMPLES) -> LookaheadReport:
    """Recompute every signal of a backtest on the bars truncated at its own bar (module docstring).

    Args:
        settings: the backtest's settings (strategy, params, timeframe = the bars' timeframe).
        rows: the bars, time-ordered ``(open_ms, open, high, low, close, volume)`` (USD, UTC ms).
        fresh_samples: how many full-run signals are also recomputed by a fresh run on bars ``0..i``.

    Returns:
        A ``LookaheadReport`` when every signal matches.

    Raises:
        LookaheadError: the first (earliest) bar whose signal differs, naming strategy and field.
        ConfigError, DataFileError: what ``Backtest`` raises for bad settings.
    """
    bar_ms = settings.bar_ms
    index = {r[0] + bar_ms: i for i, r in enumerate(rows)}
    full = _collect(settings, rows, one_by_one=False)
    trunc = _collect(settings, rows, one_by_one=True)
    for ts in sorted(set(full) | set(trunc)):
        _compare(index.get(ts, -1), ts, full.get(ts), trunc.get(ts), "truncated")
    sig_bars = sorted(index[ts] for ts in full if ts in index)
    picked = _spread(sig_bars, fresh_samples)
    for i in picked:
        ts = rows[i][0] + bar_ms
        fresh = _collect(settings, rows[: i + 1], one_by_one=False)
        _compare(i, ts, full.get(ts), fresh.get(ts), "fresh")
    return LookaheadReport(settings.strategy, len(rows), len(full), len(picked))
