"""The one interface every market source implements, and the events it yields.

Owns: ``MarketTick``, ``FundingEvent``, ``MarketSource``, ``MarketSourceDied`` (the run's end when its source
failed: exit code 1, docs/cli-contract.md "Exit codes"). A source yields events in time order; the
paper exchange applies them (quotes, trades, mark and index, hourly funding) and uses the events'
``ts_ms`` as its clock, so a replay at ``speed=max`` books funding at every data hour, not wall hours.
Must not import: textual, the engine, aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kraken_tui.domain import Side

__all__ = ["FundingEvent", "MarketEvent", "MarketSource", "MarketSourceDied", "MarketTick"]


class MarketSourceDied(Exception):
    """The market source of a paper run failed before its end (a file it cannot read on, a price the
    exchange refused, a dead connection): the run ends with exit code 1 and this message.

    Args:
        name: the source's name (``MarketSource.name``). cause: what failed.
    """

    exit_code = 1

    def __init__(self, name: str, cause: BaseException) -> None:
        self.name, self.cause = name, cause
        super().__init__(f"market source {name} died: {type(cause).__name__}: {cause}")


@dataclass(frozen=True, slots=True)
class MarketTick:
    """One observation of one symbol's market. Prices in USD, sizes in contracts, ``ts_ms`` UTC ms.

    Any field may be None when the source does not know it; the exchange keeps the previous value.
    A tick with ``trade_size`` set is a trade print at ``last`` (``trade_side`` = taker side): resting
    limit orders the trade goes through fill as maker.
    """

    symbol: str
    ts_ms: int
    last: float | None = None
    bid: float | None = None
    ask: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    mark_price: float | None = None
    index_price: float | None = None
    trade_size: float | None = None
    trade_side: Side | None = None
    depth: tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]] | None = None
    """A recorded book, (bids, asks) of (price, size) best first; None = the exchange models depth from the
    quote (``paper.book``)."""


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """The funding rate that applies to the hour starting at ``ts_ms``: relative rate per hour (fraction,
    positive = longs pay shorts), spec §8.3."""

    symbol: str
    ts_ms: int
    funding_rate: float


MarketEvent = MarketTick | FundingEvent


@runtime_checkable
class MarketSource(Protocol):
    """A stream of market events for a set of symbols.

    Attributes:
        name: "synthetic", "replay" or "live"; shown in the console's mode banner.
        synthetic: True when prices are invented (the console labels them SYNTHETIC).
        symbols: perpetual symbols the source produces events for.
    """

    name: str
    synthetic: bool
    symbols: tuple[str, ...]

    def events(self) -> AsyncIterator[MarketEvent]:
        """Yield events in non-decreasing ``ts_ms`` order, paced by the source's speed setting.

        Ends when the source is exhausted (replay) or ``close()`` is called.
        """
        ...

    async def close(self) -> None:
        """Stop producing events and release connections or files."""
        ...
