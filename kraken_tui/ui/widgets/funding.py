"""Funding panel: per symbol the current and predicted funding rate (per hour and annualised), the
countdown to the next funding time (engine clock), and funding accrued on the open position.

Units: rates relative per hour shown as percent per hour; annualised = rate x 24 x 365 percent;
accrued USD (+ received). A compact column set (``table.KeyedTable`` variants) for narrow panels keeps every
column: shorter labels, annual rates of 10 % or more without decimals, accruals of 1,000 USD or more without
cents.
Must not import: the engine's internals, the journal.
"""

from __future__ import annotations

from decimal import Decimal

from textual.app import ComposeResult

from kraken_tui.engine.facade import MarketStateView
from kraken_tui.ui import format as fmt
from kraken_tui.ui.palette import Palette
from kraken_tui.ui.widgets.base import Frame, Panel
from kraken_tui.ui.widgets.table import Cell, KeyedTable

__all__ = ["FundingPanel", "funding_cells"]

#: Widths hold the widest cell with its gap: a rate "-0.0123%", an annual "+876.0%", a countdown "1:00:00",
#: an accrual "-12,345.67" (the last column needs no gap); 55 cells with the scrollbar.
COLUMNS = (("Symbol", "symbol", 10), ("Rate/h", "rate", 9), ("Annual", "annual", 8), ("Pred/h", "pred", 9),
           ("Next in", "next", 8), ("Accrued $", "accrued", 10))
#: The compact set: 50 cells with the scrollbar, every column kept (annual rates from 10 % and accruals
#: from 1,000 USD without decimals).
COMPACT = (("Symbol", "symbol", 10), ("Rate/h", "rate", 9), ("Ann.", "annual", 6), ("Pred/h", "pred", 9),
           ("Next", "next", 8), ("Accr $", "accrued", 7))


def funding_cells(m: MarketStateView, accrued: Decimal | None, now_ms: int, pal: Palette,
                  compact: bool = False) -> tuple[Cell, ...]:
    """One row; ``now_ms`` is the engine clock (data time in replay); ``compact``: the compact set's cells."""
    countdown = None if m.next_funding_ts_ms is None else (m.next_funding_ts_ms - now_ms) / 1000
    annual = fmt.annualised_pct(m.funding_rate)
    if compact and m.funding_rate is not None and abs(m.funding_rate * fmt.HOURS_PER_YEAR) >= 0.1:
        annual = f"{m.funding_rate * fmt.HOURS_PER_YEAR * 100:+.0f}%"
    places = 0 if compact and accrued is not None and abs(accrued) >= 1000 else 2
    return (m.symbol, fmt.rate_pct(m.funding_rate), annual, fmt.rate_pct(m.predicted_funding_rate),
            fmt.countdown(countdown),
            pal.dim("-") if accrued is None else pal.signed(fmt.signed_money(accrued, places), accrued))


class FundingPanel(Panel):
    """Funding rates and accruals (longs pay when the rate is positive)."""

    page = 2

    def __init__(self) -> None:
        super().__init__("Funding", id="funding")

    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="funding-table", variants=[COMPACT])

    def show(self, frame: Frame) -> None:
        snap = frame.snap
        table = self.query_one(KeyedTable)
        compact = table.variant > 0
        accrued = {p.symbol: p.funding_accrued_usd for p in snap.positions}
        rows = [(m.symbol, funding_cells(m, accrued.get(m.symbol), snap.ts_ms, frame.palette, compact))
                for m in snap.markets]
        table.sync(rows, force=frame.force)
