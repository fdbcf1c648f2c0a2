"""Flatten the whole account: cancel every order, close every position the exchange reports, verify flat.

Owns: ``flatten_account``, the one procedure behind ``Engine.flatten`` (ctl, console key, equity floor)
and ``kraken-tui flatten`` (no running instance). It has no dependency on strategy, engine state or UI
code (../shared/guides/lessons.md "Flatten and kill switch": a short path that cannot be derailed by an
exception elsewhere).
Must not import: textual, the journal, the engine core.

Procedure (spec §4.7 openpositions, §4.8 openorders, §4.13 cancelallorders, §4.15 batchorder):

round 1   cancelallorders (every symbol, trigger orders included)  ||  openpositions     (concurrent)
          one batchorder: a reduce-only ``mkt`` close per position, sized from the exchange's position
          openpositions  ||  openorders                                                    (verify)
round k   (only while something is left) cancelallorders again if orders remain or are unknown,
          closes for what the last verifying read still showed, verify again; backoff doubles.

A clean run therefore costs 5 REST calls whatever the number of positions N (up to ``MAX_BATCH``
closes per batchorder), in 3 sequential round trips. With no position there is no batch (4 calls).
A running engine passes ``known_positions``: the positions as the exchange itself last pushed them on
the private ``open_positions`` feed (spec §7.10). Round 1 then sizes the closes from that report and
skips the sizing read: 4 calls (cancel-all, one batch, two verifying reads). Whatever the feed missed
is seen by the verifying reads and closed in round 2, sized from ``openpositions``.

Safety rules:
- Closes are reduce-only market orders (``mkt`` = IOC with Kraken's 1 % price protection). An answer
  that was lost (timeout, 5xx, connection closed after processing: ``OrderStatus.UNKNOWN``) is never
  re-sent blindly: the next round is sized from a fresh ``openpositions`` read, and even a late-arriving
  earlier close cannot flip the position because the exchange trims or rejects a reduce-only order that
  would not reduce it (``wouldNotReducePosition``).
- Every call spends the client's rate-limit reserve when needed (``priority``): cancel-all, the
  reduce-only closes and the sizing/verifying reads.
- Never raises for exchange, transport or protocol errors, nor for a bug inside it: the report says
  ``flat=False`` with the error. ``asyncio.CancelledError`` propagates (the caller cancelled it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from kraken_tui.domain import ZERO, Order, OrderRequest, OrderResult, OrderStatus, OrderType, Position, Side
from kraken_tui.domain import PositionSide as PSide
from kraken_tui.engine.facade import FlattenProgress, FlattenReport
from kraken_tui.kraken.rest_orders import BatchSend
from kraken_tui.wording import counted

__all__ = ["MAX_BATCH", "flatten_account", "close_requests"]

log = logging.getLogger(__name__)

#: Closes per batchorder call. Kraken documents no maximum (spec §10 gap 5); CCXT declares 100 and
#: nautilus_trader chunks cancels at 50, so 50 is a conservative chunk.
MAX_BATCH = 50


def close_requests(positions: Sequence[Position], tag: str) -> list[OrderRequest]:
    """Reduce-only market orders that close ``positions`` exactly (size = the exchange's size).

    Args:
        positions: as reported by openpositions (spec §4.7); zero-size rows are skipped.
        tag: a short unique prefix for the cliOrdIds (``<tag>-<symbol>``, at most 100 chars).

    Returns:
        One ``OrderRequest`` per position: sell for a long, buy for a short.
    """
    out = []
    for p in positions:
        if p.size <= 0:
            continue
        side = Side.SELL if p.side is PSide.LONG else Side.BUY
        cli = f"{tag}-{p.symbol}"[:100]
        out.append(OrderRequest(p.symbol, side, OrderType.MARKET, p.size, reduce_only=True, cli_ord_id=cli))
    return out


class _Run:
    """State of one flatten (request count, progress, errors)."""

    def __init__(self, progress: Callable[[FlattenProgress], None] | None, clock: Callable[[], float]) -> None:
        self.progress = progress
        self.clock = clock
        self.t0 = clock()
        self.started_ms = int(time.time() * 1000)
        self.requests = 0
        self.cancelled = 0
        self.first_cancel_ms: float | None = None
        self.errors: list[str] = []
        self.round = 1
        self.first_seen: dict[str, Decimal] = {}
        self.last_seen: dict[str, Decimal] = {}

    def ms(self) -> float:
        return (self.clock() - self.t0) * 1000.0

    def emit(self, phase: str, positions: int = 0, orders: int = 0, detail: str = "") -> None:
        if self.progress is None:
            return
        p = FlattenProgress(phase, self.started_ms, self.round, positions, orders, self.requests, detail)
        try:
            self.progress(p)
        except Exception:  # a broken progress listener must never stop a flatten
            log.exception("flatten progress listener failed")

    def error(self, what: str, exc: BaseException | str) -> None:
        text = f"{what}: {exc if isinstance(exc, str) else f'{type(exc).__name__}: {exc}'}"
        log.warning("flatten round %d: %s", self.round, text)
        self.errors.append(text)

    def saw_positions(self, positions: Sequence[Position]) -> None:
        now = {p.symbol: p.signed_size for p in positions if p.size > 0}
        for sym, size in now.items():
            self.first_seen.setdefault(sym, size)
        self.last_seen = now

    def closed(self) -> tuple[tuple[str, Decimal], ...]:
        out = []
        for sym in sorted(self.first_seen):
            gone = self.first_seen[sym] - self.last_seen.get(sym, ZERO)
            if gone != 0:
                out.append((sym, gone))
        return tuple(out)


async def _call(run: _Run, what: str, make: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
    """One counted REST call: (True, result) or (False, None) with the error recorded."""
    run.requests += 1
    try:
        return True, await make()
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # every failure is reported, never raised (module docstring)
        run.error(what, exc)
        return False, None


async def _cancel_all(run: _Run, client: Any) -> bool | None:
    """cancelallorders; True when the exchange confirmed, None when the outcome is unknown."""
    if run.first_cancel_ms is None:
        run.first_cancel_ms = run.ms()
    ok, res = await _call(run, "cancelallorders", client.cancel_all_orders)
    if not ok:
        return None
    if res.status is OrderStatus.UNKNOWN:
        run.error("cancelallorders", res.error or "outcome unknown")
        return None
    run.cancelled += len(res.cancelled)
    return True


async def _close(run: _Run, client: Any, positions: Sequence[Position]) -> None:
    """Send the closes in batches of ``MAX_BATCH`` (concurrently), priority (reduce-only)."""
    reqs = close_requests(positions, f"flat-{run.started_ms}-r{run.round}")
    chunks = [reqs[i : i + MAX_BATCH] for i in range(0, len(reqs), MAX_BATCH)]

    async def send(chunk: list[OrderRequest]) -> None:
        ins = [BatchSend(r, str(k)) for k, r in enumerate(chunk)]
        ok, results = await _call(run, "batchorder", lambda: client.batch_order(ins, priority=True))
        if not ok:
            return
        for r in results or ():
            _note_result(run, r)

    await asyncio.gather(*(send(c) for c in chunks))


def _note_result(run: _Run, r: OrderResult) -> None:
    if r.status is OrderStatus.UNKNOWN:
        run.error(f"close {r.cli_ord_id}", r.error or "outcome unknown (verified by re-reading positions)")
    elif not r.accepted:
        run.error(f"close {r.cli_ord_id}", f"exchange answered {r.raw_status or r.status.value}")
    else:
        log.info("flatten close %s %s filled %s", r.cli_ord_id, r.status.value, r.filled_size)


async def _read_both(run: _Run, client: Any) -> tuple[list[Position] | None, list[Order] | None]:
    (okp, pos), (oko, orders) = await asyncio.gather(
        _call(run, "openpositions", lambda: client.open_positions(priority=True)),
        _call(run, "openorders", lambda: client.open_orders(priority=True)),
    )
    return (pos if okp else None), (orders if oko else None)


async def flatten_account(
    client: Any,
    *,
    progress: Callable[[FlattenProgress], None] | None = None,
    known_positions: Sequence[Position] | None = None,
    max_rounds: int = 6,
    first_backoff_s: float = 0.2,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> FlattenReport:
    """Cancel every order and close every position on the account, then verify it is flat.

    Args:
        client: a ``KrakenRestClient`` (live Kraken or the paper exchange); only ``cancel_all_orders``,
            ``open_positions(priority=True)``, ``open_orders(priority=True)`` and
            ``batch_order(..., priority=True)`` are used.
        progress: called with a ``FlattenProgress`` at each phase (cancelling, closing, verifying,
            retrying, done, failed); must be quick; its exceptions are logged and ignored.
        known_positions: the exchange's own latest position report (private WS feed); None = read
            ``openpositions`` first. Never the caller's derived view: only what the exchange reported.
        max_rounds: rounds before giving up (>= 1).
        first_backoff_s: wait before round 2, seconds; doubles every round.
        clock: monotonic seconds for ``elapsed_ms`` / ``first_cancel_ms``. sleep: async sleep (tests).

    Returns:
        ``FlattenReport``: ``flat`` True only when the last ``openpositions`` and ``openorders`` reads
        both came back empty; ``requests`` = REST calls made (a read the client retried internally
        counts once); ``closed`` = per symbol, the signed position size that went away between the
        first and the last read; ``error`` = what went wrong when not flat (None when flat).

    Raises:
        Nothing but ``asyncio.CancelledError``: every other failure is in the report.
    """
    run = _Run(progress, clock)
    try:
        known = None if known_positions is None else [p for p in known_positions if p.size != 0]
        return await _flatten(client, run, max(1, max_rounds), first_backoff_s, sleep, known)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in this module must still leave a report (engine goes HALTED)
        log.exception("flatten failed unexpectedly")
        run.error("internal error", exc)
        run.emit("failed", detail=run.errors[-1])
        return _report(run, False)


def _report(run: _Run, flat: bool, left: str = "") -> FlattenReport:
    error = None
    if not flat:
        parts = ([left] if left else []) + run.errors[-3:]
        error = "; ".join(parts) or "not verified flat"
    return FlattenReport(flat, run.round, run.requests, run.cancelled, run.closed(), run.ms(),
                         run.first_cancel_ms, error)


async def _flatten(client: Any, run: _Run, max_rounds: int, backoff_s: float,
                   sleep: Callable[[float], Awaitable[None]], known: list[Position] | None) -> FlattenReport:
    positions: list[Position] | None = known
    if known is not None:
        run.saw_positions(known)
    orders_left: bool | None = None  # None = unknown -> cancel again
    left = ""
    for rnd in range(1, max_rounds + 1):
        run.round = rnd
        if rnd > 1:
            run.emit("retrying", len(positions or ()), 0, left)
            await sleep(backoff_s * 2 ** (rnd - 2))
        # 1. cancel every order (round 1 always) while reading positions when we do not know them.
        run.emit("cancelling")
        jobs: list[Awaitable[Any]] = []
        if rnd == 1 or orders_left is not False:
            jobs.append(_cancel_all(run, client))
        read_positions = positions is None
        if read_positions:
            jobs.append(_call(run, "openpositions", lambda: client.open_positions(priority=True)))
        results = await asyncio.gather(*jobs)
        if read_positions:
            ok, got = results[-1]
            positions = list(got) if ok else None
            if positions is not None:
                run.saw_positions(positions)
        # 2. close what the exchange reports, in one batch.
        if positions:
            run.emit("closing", len(positions))
            await _close(run, client, positions)
        # 3. verify.
        run.emit("verifying")
        pos, orders = await _read_both(run, client)
        if pos is not None:
            run.saw_positions(pos)
        positions, orders_left = pos, (bool(orders) if orders is not None else None)
        if pos == [] and orders == []:
            run.emit("done")
            return _report(run, True)
        left = _left(pos, orders)
    run.emit("failed", len(positions or ()), 0, left)
    return _report(run, False, f"after {counted(run.round, 'round')}: {left}")


def _left(pos: list[Position] | None, orders: list[Order] | None) -> str:
    p = "positions unknown" if pos is None else f"{counted(len(pos), 'position')} open " + ", ".join(
        f"{x.symbol} {x.side.value} {x.size}" for x in pos[:5])
    o = "orders unknown" if orders is None else f"{counted(len(orders), 'order')} open"
    return f"{p.strip()}; {o}"
