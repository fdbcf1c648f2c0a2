"""The engine's side of the external signal source: which strategy component takes external lines, and the
journal of what became of each line.

Owns: ``external_component`` (the ``ExternalSignals`` inside a strategy: the strategy itself, or the
ensemble's ML slot) and ``ExternalJournal`` (an ``ExternalSignals.listener``: a refused line or a dropped
signal becomes a ``SignalRecord`` with action "rejected" and the reason, plus a WARNING event; a queued
signal an INFO event). The readers themselves (file, pipe, socket, webhook) are started by the composition
root (``kraken_tui.runtime``), which hands lines in through ``ExternalSignals.feed_line``: the engine
imports no network library.
Units: times UTC ms (the engine clock).
Must not import: textual, the client, the journal writer.
"""

from __future__ import annotations

from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.facade import EventKind, Severity
from kraken_tui.engine.signals import Strategy
from kraken_tui.engine.strategies.ensemble import Ensemble
from kraken_tui.engine.strategies.external import ExternalOutcome, ExternalSignals
from kraken_tui.journal.records import SignalRecord

__all__ = ["ExternalJournal", "external_component"]


def external_component(strategy: Strategy) -> ExternalSignals | None:
    """The ``ExternalSignals`` that external lines feed: ``strategy`` itself (``name = "external"``), the
    ensemble's ML slot component, or None."""
    if isinstance(strategy, ExternalSignals):
        return strategy
    if isinstance(strategy, Ensemble):
        return strategy.external
    return None


class ExternalJournal:
    """Journals and announces every external line's outcome (module docstring).

    Args:
        io: events, clock and journal. run_id: this run's id (signal ids of rejected lines).
    """

    def __init__(self, io: EngineIO, run_id: str) -> None:
        self.io, self.run_id = io, run_id
        self.rejected = 0
        self._seq = 0

    def __call__(self, outcome: ExternalOutcome) -> None:
        """One outcome (``ExternalSignals.listener``)."""
        io = self.io
        sig = outcome.signal
        where = outcome.source + (f" line {outcome.line_no}" if outcome.line_no is not None else "")
        if outcome.rejection is None:
            if sig is not None:
                io.emit(EventKind.INFO, f"external signal from {where}: {sig.symbol} {sig.side.value} "
                        f"({sig.confidence:.2f}), delivered at the next candle close", symbol=sig.symbol)
            return
        self.rejected += 1
        self._seq += 1
        now = io.now_ms()
        symbol = sig.symbol if sig is not None else "-"
        sid = make_signal_id(self.run_id, f"ext{self._seq}", now)
        io.write_soon(SignalRecord(
            sig.ts_ms or now if sig is not None else now, sid, symbol, sig.side.value if sig is not None else "flat",
            float(sig.confidence) if sig is not None else 0.0, "external",
            sig.reason if sig is not None else f"external line from {where}", "rejected",
            {}, outcome.rejection))
        io.emit(EventKind.RISK_REJECTION, f"external signal from {where} rejected: {outcome.rejection}",
                symbol=sig.symbol if sig is not None else None, severity=Severity.WARNING)
