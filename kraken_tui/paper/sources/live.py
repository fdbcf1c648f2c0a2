"""LiveSource: Kraken Futures' public WS v1 feed relayed as MarketTicks (no keys needed).

Owns: subscribing ``ticker`` and ``trade`` (plus ``book`` when asked) for the symbols on the shared
WS client ``kraken_tui.kraken.ws.KrakenWsClient`` (config ``live.ws_url``; spec §7.1-§7.2; the client
does protocol pings, reconnects with jittered backoff and re-subscribes), and turning its parsed
events into ticks and hourly FundingEvents through ``ws_ticks.TickBuilder`` (spec §7.3-§7.7, §8.3).

Behaviour: a malformed message (``MalformedMessage``) is logged with its feed and field and counted
in ``malformed``; ``error``/``alert`` events (e.g. "Invalid product id") are logged and counted in
``alerts``; a disconnect is logged and counted in ``disconnects`` - the stream goes on after the
client reconnects (the books restart from the new snapshot). Tick time is the local receive time
(UTC ms). ``connect()`` raises ``TransportError`` when the feed cannot be reached within
``connect_timeout_s``; that is what ``source = "auto"`` uses to fall back to synthetic.
Must not import: textual, aiohttp, the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from kraken_tui.config import ClientConfig
from kraken_tui.errors import TransportError
from kraken_tui.kraken import ws_events as ev
from kraken_tui.kraken.ws import KrakenWsClient
from kraken_tui.paper.sources.base import MarketEvent
from kraken_tui.paper.sources.ws_ticks import TickBuilder

__all__ = ["LiveSource"]

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


class LiveSource:
    """A MarketSource relaying Kraken's public feed (module docstring).

    Args:
        symbols: Kraken product ids to subscribe (e.g. PF_XBTUSD).
        ws_url: the WS v1 URL (config ``live.ws_url``).
        book: also subscribe ``book`` (best bid/ask sizes from the full book; heavier).
        symbol_map: product -> perpetual, when the feed's names differ from the exchange's.
        connect_timeout_s: seconds to wait for the connection in ``connect()``.
        client_config: the ``[client]`` section (ping interval, backoff, stale detection).
        now_ms: clock for tick times (UTC ms), injectable for tests.
    """

    name = "live"
    synthetic = False

    def __init__(
        self,
        symbols: Iterable[str],
        ws_url: str,
        *,
        book: bool = False,
        symbol_map: Mapping[str, str] | None = None,
        connect_timeout_s: float = 5.0,
        client_config: ClientConfig | None = None,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.products = sorted({s.upper() for s in symbols})
        if not self.products:
            raise ValueError("LiveSource needs at least one symbol")
        self.symbol_map = {k.upper(): v.upper() for k, v in (symbol_map or {}).items()}
        self.symbols = tuple(sorted({self.symbol_map.get(p, p) for p in self.products}))
        self.ws_url = ws_url
        self.feeds = ("ticker", "trade", "book") if book else ("ticker", "trade")
        self.connect_timeout_s = connect_timeout_s
        cfg = client_config or ClientConfig.model_validate({})  # the [client] defaults
        self._client = KrakenWsClient(ws_url, None, config=cfg.model_copy(update={"timeout_s": connect_timeout_s}))
        self._now_ms = now_ms
        self._started = False
        self._closed = False
        self.malformed = 0
        self.alerts = 0
        self.disconnects = 0

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            await self._client.start()
            for feed in self.feeds:
                await self._client.subscribe(feed, self.products)

    async def connect(self) -> None:
        """Start the client and wait until the feed is connected.

        Raises:
            TransportError: unreachable, refused, or not connected within ``connect_timeout_s``
                (endpoint = the URL); the client is stopped first.
        """
        await self._start()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                while True:
                    event = await self._client.__anext__()
                    if isinstance(event, ev.Connected):
                        return
                    if isinstance(event, ev.Disconnected):
                        raise TransportError(f"cannot connect ({event.reason})", endpoint=self.ws_url)
        except TimeoutError:
            await self.close()
            raise TransportError(f"not connected within {self.connect_timeout_s:g} s", endpoint=self.ws_url) from None
        except (TransportError, StopAsyncIteration) as exc:
            await self.close()
            if isinstance(exc, TransportError):
                raise
            raise TransportError("client stopped before connecting", endpoint=self.ws_url) from None

    def _ticks(self, builder: TickBuilder, event: Any) -> list[MarketEvent]:
        if isinstance(event, ev.MalformedMessage):
            self.malformed += 1
            log.warning("live feed %s: malformed message skipped: %s", self.ws_url, event.error)
        elif isinstance(event, ev.WsAlert):
            self.alerts += 1
            log.warning("live feed %s: %s: %s", self.ws_url, event.kind, event.message)
        elif isinstance(event, ev.Disconnected):
            self.disconnects += 1
            log.warning("live feed %s disconnected (%s); reconnecting", self.ws_url, event.reason)
        else:
            return builder.feed(event, self._now_ms())
        return []

    async def events(self) -> AsyncIterator[MarketEvent]:
        """Yield ticks (and hourly FundingEvents from the ticker, ``ws_ticks``) until ``close()``."""
        await self._start()
        builder = TickBuilder(self.symbol_map, self.symbols)
        async for event in self._client:
            if self._closed:
                return
            for tick in self._ticks(builder, event):
                yield tick

    async def close(self) -> None:
        """Stop the stream and close the connection."""
        self._closed = True
        await self._client.stop()
