"""Small builders shared by the journal tests (fills, trades, a written journal)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from kraken_tui.domain import Fill, FillType, PositionSide, Side
from kraken_tui.journal.trades import Trade
from kraken_tui.journal.writer import JournalWriter

D = Decimal


def fill(fid: str, symbol: str, side: str, size: str, price: str, ts_ms: int, *, fee: str | None = "0",
         cli: str | None = None, fill_type: FillType = FillType.TAKER) -> Fill:
    """A domain Fill from short strings (sizes/prices/fees exact)."""
    return Fill(fid, "o-" + fid, symbol, Side(side), D(size), D(price), ts_ms, fill_type, cli,
                None if fee is None else D(fee), "USD")


def trade(net: str, entry_ts_ms: int, exit_ts_ms: int, *, symbol: str = "PF_XBTUSD", side: str = "long",
          fees: str = "1", funding: str = "0", strategy: str | None = None) -> Trade:
    """A closed Trade whose net P&L is ``net`` USD (gross = net + fees - funding)."""
    gross = D(net) + D(fees) - D(funding)
    return Trade(symbol, PositionSide(side), D(1), entry_ts_ms, exit_ts_ms, D(100), D(100) + gross, gross, D(fees),
                 D(funding), "stop", strategy=strategy)


def write_journal(path: Path, records: list, **kw) -> None:
    """Write ``records`` through a real JournalWriter (its own event loop) and close it."""

    async def go() -> None:
        w = JournalWriter(path, **kw)
        await w.start()
        for r in records:
            await w.write(r)
        await w.close()

    asyncio.run(go())
