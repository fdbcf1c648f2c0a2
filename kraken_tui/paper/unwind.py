"""The paper account's place in the auto-deleveraging (unwind) queue (spec §4.1 ``unwindqueue``, §9).

Owns: ``percentile`` and ``queue``. Kraken's Equity Protection Process ends with assignment and then unwind of
profitable counterparties (Kraken Support "Equity Protection Process"), first those ranked highest by profit and
leverage; ``unwindqueue`` reports, per open position, the percentile bucket the account sits in.
[GAP] Kraken does not publish the ranking formula. The paper exchange has one account, so it ranks the position
on its own: score = max(0, unrealised P&L / position IM) x (position notional / margin equity), the usual
profit x leverage ranking, and reports it in buckets of 20 (20 = last to be unwound ... 100 = first); a
position that is not in profit is at the back (percentile 0 is never reported: Kraken lists open positions).
Must not import: aiohttp, textual, the engine, ``paper.exchange``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from kraken_tui.domain.money import notional_usd, settlement_margins
from kraken_tui.paper.account import PaperPosition
from kraken_tui.paper.venue import Venue

__all__ = ["percentile", "queue"]


def percentile(ex: Venue, pos: PaperPosition) -> int:
    """The unwind-queue bucket of one position: 20, 40, 60, 80 or 100 (module docstring)."""
    inst = ex.instruments[pos.symbol]
    mark = ex.mark_of(pos.symbol, pos.entry_price)
    im = settlement_margins(inst, pos.size, pos.entry_price)[0]
    upnl = ex.upnl_usd(pos)
    if not inst.is_linear:
        im = im * mark
    equity, _ = ex.equity_and_mm()
    if im <= 0 or upnl <= 0 or equity <= 0:
        return 20
    leverage = notional_usd(inst, pos.size, mark) / equity
    score = float(upnl / im * leverage)
    return int(min(100, max(20, 20 * math.ceil(min(score, 5.0)))))


def queue(ex: Venue) -> list[dict[str, Any]]:
    """``[{"symbol", "percentile"}]`` for every open position, by symbol."""
    return [{"symbol": s, "percentile": percentile(ex, ex.positions[s])} for s in sorted(ex.positions)
            if ex.positions[s].size != Decimal(0)]
