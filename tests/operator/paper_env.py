"""Flatten test bench: a paper exchange with N positions on several symbols, resting limits, stops and
take-profits, served over loopback, plus a REST client whose HTTP layer counts requests and can inject
client-side timeouts (before the request is sent, or after the server processed it).

Server-side faults (5xx, 429, accepted-but-response-lost) come from ``paper.faults.Faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from pydantic import SecretStr

from kraken_tui.config import ClientConfig, Credentials, PaperConfig
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.faults import Faults
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET, PaperServer
from kraken_tui.paper.sources.base import MarketTick

D = Decimal
T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000
BASE = ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PI_XBTUSD", "PI_ETHUSD"]
PRICES = {"PF_XBTUSD": 50_000.0, "PF_ETHUSD": 3_000.0, "PF_SOLUSD": 100.0, "PI_XBTUSD": 50_000.0,
          "PI_ETHUSD": 3_000.0}
SIZES = {"PF_XBTUSD": "0.01", "PF_ETHUSD": "0.1", "PF_SOLUSD": "2", "PI_XBTUSD": "300", "PI_ETHUSD": "200"}


def symbols_for(n: int) -> list[str]:
    """``n`` perpetuals: the five defaults, then generic PF_Axx USD ones (paper lists any PF_<BASE>USD)."""
    return (BASE + [f"PF_A{k:02d}USD" for k in range(max(0, n - len(BASE)))])[: max(n, len(BASE))]


def _price(sym: str) -> float:
    return PRICES.get(sym, 10.0 + int(sym[4:6]) if sym.startswith("PF_A") else 10.0)


def _size(sym: str) -> str:
    return SIZES.get(sym, "5")


def tick(ex: PaperExchange, ts: int, sym: str, depth: float = 1e9) -> None:
    """A quote around the symbol's price with ``depth`` contracts each side."""
    inst = ex.instruments[sym]
    p = _price(sym)
    step = float(inst.tick_size) * 10
    ex.apply_event(MarketTick(sym, ts, last=p, bid=p - step, ask=p + step, bid_size=depth, ask_size=depth,
                              mark_price=p, index_price=p))


def requote(ex: PaperExchange, ts: int, depth: float = 1e9) -> None:
    """Refresh every symbol's quote (restores the top-of-book size a taker consumed)."""
    for sym in ex.instruments:
        tick(ex, ts, sym, depth)


def book_account(ex: PaperExchange, n_positions: int, seed: int = 1) -> dict[str, Decimal]:
    """Open ``n_positions`` (alternating long/short) with market orders, then rest a far limit, a
    reduce-only stop and a reduce-only take-profit per position, and a non-reduce-only buy stop on one
    flat symbol. Returns the signed sizes opened by symbol. Asserts every order was accepted."""
    rng = random.Random(seed)
    syms = list(ex.instruments)[:n_positions]
    opened: dict[str, Decimal] = {}
    for i, sym in enumerate(syms):
        side = "buy" if i % 2 == 0 else "sell"
        out = ex.send_order({"orderType": "mkt", "symbol": sym, "side": side, "size": _size(sym)})
        assert out.status == "placed", (sym, out.status)
        opened[sym] = D(_size(sym)) * (1 if side == "buy" else -1)
        inst = ex.instruments[sym]
        p = D(repr(_price(sym)))
        far = inst.round_price(p * D("0.8") if side == "buy" else p * D("1.2"))
        exit_side = "sell" if side == "buy" else "buy"
        stop = inst.round_price(p * (D("0.95") if side == "buy" else D("1.05")))
        tp = inst.round_price(p * (D("1.05") if side == "buy" else D("0.95")))
        lot = str(inst.lot_size * rng.randint(1, 3))
        for params in (
            {"orderType": "lmt", "symbol": sym, "side": side, "size": lot, "limitPrice": str(far)},
            {"orderType": "stp", "symbol": sym, "side": exit_side, "size": _size(sym), "stopPrice": str(stop),
             "reduceOnly": "true"},
            {"orderType": "take_profit", "symbol": sym, "side": exit_side, "size": _size(sym),
             "stopPrice": str(tp), "limitPrice": str(tp), "reduceOnly": "true"},
        ):
            o = ex.send_order(params)
            assert o.status == "placed", (params, o.status)
    flat_syms = [s for s in ex.instruments if s not in opened]
    if flat_syms:
        sym = flat_syms[0]
        p = D(repr(_price(sym)))
        inst = ex.instruments[sym]
        o = ex.send_order({"orderType": "stp", "symbol": sym, "side": "buy", "size": str(inst.lot_size * 3),
                           "stopPrice": str(inst.round_price(p * D("1.1")))})
        assert o.status == "placed"
    return opened


def make_exchange(n_symbols: int, balance: float = 10_000_000.0) -> PaperExchange:
    """An exchange listing ``n_symbols`` perpetuals (at least the five defaults), quoted at T0."""
    ex = PaperExchange(PaperConfig(symbols=symbols_for(n_symbols), starting_balance_usd=balance))
    requote(ex, T0 + 1000)
    return ex


@dataclass
class ClientFaults:
    """Client-side faults at the HTTP layer, drawn from a seeded RNG.

    ``timeout_before_rate``: the request never leaves (httpx.ConnectTimeout). ``timeout_after_rate``: the
    request reaches the server and is processed, the answer is thrown away (httpx.ReadTimeout).
    ``late_rate``: the request is delivered ``late_s`` seconds later in the background while the caller
    gets a ReadTimeout at once (the exchange processes it after the client gave up). Only POSTs
    (order calls) are affected unless ``reads`` is True.
    """

    timeout_before_rate: float = 0.0
    timeout_after_rate: float = 0.0
    late_rate: float = 0.0
    late_s: float = 0.05
    reads: bool = False
    seed: int = 7
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


class FaultyTransport(httpx.AsyncBaseTransport):
    """Counts every HTTP request (by path tail) and applies ``ClientFaults``."""

    def __init__(self, faults: ClientFaults | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.faults = faults or ClientFaults()
        self.count = 0
        self.paths: list[str] = []
        self.late: list[asyncio.Task] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        self.paths.append(request.url.path.rsplit("/", 1)[-1])
        f = self.faults
        if request.method == "POST" or f.reads:
            if f.rng.random() < f.timeout_before_rate:
                raise httpx.ConnectTimeout("injected: never sent", request=request)
            if f.rng.random() < f.late_rate:
                await request.aread()

                async def later() -> None:
                    await asyncio.sleep(f.late_s)
                    with contextlib.suppress(Exception):
                        resp = await self.inner.handle_async_request(request)
                        await resp.aread()

                self.late.append(asyncio.create_task(later()))
                raise httpx.ReadTimeout("injected: delivered late", request=request)
            if f.rng.random() < f.timeout_after_rate:
                resp = await self.inner.handle_async_request(request)
                await resp.aread()
                raise httpx.ReadTimeout("injected: answer lost after processing", request=request)
        return await self.inner.handle_async_request(request)

    async def drain(self) -> None:
        """Wait for late deliveries to land."""
        for t in self.late:
            with contextlib.suppress(Exception):
                await t

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Env:
    ex: PaperExchange
    server: PaperServer
    client: KrakenRestClient
    transport: FaultyTransport


FAST = ClientConfig(timeout_s=2.0, read_retries=4, retry_backoff_s=0.01, rate_limit_window_s=1.0)


@contextlib.asynccontextmanager
async def paper_env(ex: PaperExchange, *, faults: Faults | None = None, client_faults: ClientFaults | None = None,
                    config: ClientConfig = FAST) -> AsyncIterator[Env]:
    """Serve ``ex`` on 127.0.0.1 (ephemeral port) with server faults, and yield an ``Env`` whose client
    has instruments loaded (the instruments call happens before faults are switched on)."""
    srv = PaperServer(ex, faults=Faults())
    await srv.start()
    assert srv.rest_url.startswith("http://127.0.0.1:")
    transport = FaultyTransport()
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="paper")
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            client = KrakenRestClient(http, srv.rest_url, creds, config=config)
            await client.instruments()
            transport.count, transport.paths = 0, []
            srv.faults = faults or Faults()
            transport.faults = client_faults or ClientFaults()
            yield Env(ex, srv, client, transport)
            await transport.drain()
    finally:
        await srv.stop()


def exchange_flat(ex: PaperExchange) -> bool:
    """The PaperExchange object itself has no position and no open order (trigger orders included)."""
    return not ex.positions and not ex.open_orders
