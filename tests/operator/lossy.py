"""Faults the operator end-to-end tests inject around an engine run on the paper exchange (engine_env.py):
fills that never reach the journal, a crash between a send and its answer, stop orders the exchange refuses.

- ``drop_ws_fills(eng)``: the engine's WebSocket ``fills`` messages are lost from now on (nothing else is).
- ``crash_before_answer(ex, srv, journal)``: run 1 journals a market entry's intent and stops before the
  send's answer; the order then fills on the exchange while no engine runs (the fill is in no journal).
- ``refuse_stops(ex)``: the exchange answers every stop order with ``marketSuspended`` (placed nothing)
  until the returned ``restore()`` is called; other orders pass.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from kraken_tui.config import Config
from kraken_tui.domain import OrderType, Side
from kraken_tui.engine.core import Engine
from kraken_tui.journal.records import IntentPurpose, IntentRecord
from kraken_tui.kraken import ws_events as W
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.orders import Outcome
from kraken_tui.paper.server import PaperServer

from .engine_env import engine_run

T0 = 1_704_067_200_000
#: An entry cliOrdId of an earlier run (run8 ``aaaaaaaa``, never a test run's uuid prefix).
CID = "kt-aaaaaaaa-PF_XBTUSD-1704067200000-entry"
#: What ``refuse_stops`` answers.
REFUSAL = "marketSuspended"


def drop_ws_fills(eng: Engine) -> None:
    """From now on ``eng`` never sees a WebSocket ``FillsEvent`` (snapshot or update); other events pass."""
    real = eng.on_ws_event

    async def lossy(ev: Any) -> None:
        if not isinstance(ev, W.FillsEvent):
            await real(ev)

    eng.on_ws_event = lossy  # type: ignore[method-assign]


async def crash_before_answer(ex: PaperExchange, srv: PaperServer, journal: Path, cfg: Config | None = None, *,
                              cid: str = CID, side: Side = Side.BUY, size: str = "0.01") -> Outcome:
    """Run 1 journals the intent of a market entry (``cid``, ``side``, ``size`` contracts of PF_XBTUSD) and
    stops before sending it; the order is then sent to ``ex`` directly (it fills while no engine runs).
    Returns the exchange's answer (asserted ``placed``)."""
    async with engine_run(srv, journal, cfg) as eng:
        await eng.journal.write(IntentRecord(T0, cid, "PF_XBTUSD", side, Decimal(size), OrderType.MARKET,
                                             IntentPurpose.ENTRY))
        await eng.journal.flush()
    out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": side.value, "size": size,
                         "cliOrdId": cid})
    assert out is not None and out.status == "placed"
    return out


def refuse_stops(ex: PaperExchange) -> Callable[[], None]:
    """The exchange refuses every stop order sent from now on (``REFUSAL``, nothing placed); call the
    returned function to end the fault."""
    real = ex.send_order

    def refusing(params: dict[str, object], order_tag: str | None = None) -> Outcome:
        if params.get("orderType") == "stp":
            return Outcome(REFUSAL, ex.now_ms, cli_ord_id=str(params.get("cliOrdId")))
        return real(params, order_tag)

    ex.send_order = refusing  # type: ignore[method-assign]

    def restore() -> None:
        ex.send_order = real  # type: ignore[method-assign]

    return restore
