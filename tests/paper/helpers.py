"""Test helpers for the paper exchange: a deterministic in-test market and an exchange factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
from pydantic import SecretStr

from kraken_tui.config import Credentials, PaperConfig
from kraken_tui.domain import Side
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.rest_http import new_session
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET, PaperServer
from kraken_tui.paper.sources.base import FundingEvent, MarketTick

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # an exact hour (UTC ms)
D = Decimal
HOUR = 3_600_000


def make_exchange(**cfg: object) -> PaperExchange:
    """A fresh exchange with the default instruments and 10 000 USD, fees 2/5 bps unless overridden."""
    return PaperExchange(PaperConfig(**cfg))  # type: ignore[arg-type]


def quote(ex: PaperExchange, ts: int, sym: str = "PF_XBTUSD", bid: float = 49_990.0, ask: float = 50_010.0,
          mark: float | None = 50_000.0, bid_size: float | None = 10.0, ask_size: float | None = 10.0,
          index: float | None = None, last: float | None = None, trade: float | None = None,
          side: Side | None = None) -> None:
    """Apply one tick (a quote, optionally a trade print of ``trade`` contracts at ``last``)."""
    ex.apply_event(MarketTick(sym, ts, last=last, bid=bid, ask=ask, bid_size=bid_size, ask_size=ask_size,
                              mark_price=mark, index_price=index if index is not None else mark, trade_size=trade,
                              trade_side=side))


def funding(ex: PaperExchange, ts: int, rate: float, sym: str = "PF_XBTUSD") -> None:
    """Announce the relative hourly funding rate for the hour starting at ``ts``."""
    ex.apply_event(FundingEvent(sym, ts, rate))


class ListMarket:
    """A tiny deterministic MarketSource over a fixed list of events."""

    name = "test"
    synthetic = True

    def __init__(self, events: list, symbols: tuple[str, ...] = ("PF_XBTUSD",)) -> None:
        self._events = events
        self.symbols = symbols
        self.closed = False

    async def events(self):
        for e in self._events:
            if self.closed:
                return
            yield e

    async def close(self) -> None:
        self.closed = True


@contextlib.asynccontextmanager
async def paper_client(ex: PaperExchange) -> AsyncIterator[KrakenRestClient]:
    """Serve ``ex`` on an ephemeral 127.0.0.1 port and yield the project's REST client (default aiohttp
    backend), signed with the paper keys and with instruments loaded; the server stops on exit."""
    srv = PaperServer(ex)
    await srv.start()
    assert srv.rest_url.startswith("http://127.0.0.1:")
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="paper")
    try:
        session = new_session()
        try:
            client = KrakenRestClient(session, srv.rest_url, creds)
            await client.instruments()
            yield client
        finally:
            await session.close()
    finally:
        await srv.stop()


_call_nonce = iter(range(10**12, 10**13))


async def call(srv: PaperServer, method: str, path: str, query: str = "", body: str = "", sign: bool = True,
               nonce: str | None = None) -> httpx.Response:
    """One raw REST request to the paper server, signed with the paper keys unless ``sign`` is False."""
    nonce = str(next(_call_nonce)) if nonce is None else nonce
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        from kraken_tui.kraken.auth import sign_rest

        headers.update(APIKey=PAPER_API_KEY, Nonce=nonce, Authent=sign_rest(PAPER_API_SECRET, query + body, nonce, path))
    url = srv.rest_url + path + (f"?{query}" if query else "")
    async with httpx.AsyncClient() as c:
        return await c.request(method, url, content=body.encode(), headers=headers)


def scripted_sequence(ex: PaperExchange) -> tuple[str, str]:
    """The trading sequence the endpoint tests read back: funding 0.0001/h; market buy 0.5 (taker at 50010);
    resting sell 0.2 @ 50500 (cliOrdId tp-1) filled as maker by a print at 50610; a stop placed then cancelled; a
    post-only rejected; one funding hour settled on the 0.3 long. Returns (take-profit id, cancelled stop id)."""
    funding(ex, T0, 0.0001)
    quote(ex, T0 + 1000)
    assert ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.5"}).status == "placed"
    sell = ex.send_order({"orderType": "lmt", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.2",
                          "limitPrice": "50500", "cliOrdId": "tp-1"})
    stop = ex.send_order({"orderType": "stp", "symbol": "PF_XBTUSD", "side": "sell", "size": "0.1",
                          "stopPrice": "49000", "reduceOnly": "true"})
    ex.cancel_order(stop.order_id)
    assert ex.send_order({"orderType": "post", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.1",
                          "limitPrice": "50020"}).status == "postWouldExecute"
    quote(ex, T0 + 2000, bid=50_600, ask=50_620, mark=50_610, last=50_610, trade=1.0, side=Side.BUY)
    quote(ex, T0 + HOUR + 1000, bid=50_600, ask=50_620, mark=50_610)
    return sell.order_id, stop.order_id
