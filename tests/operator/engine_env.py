"""An in-process Engine run against a paper exchange the test serves over loopback, so a test can stop the
engine and start another one on the same journal and the same exchange (a restart).

``served(ex)`` serves ``ex`` (no market source: the test quotes with ``tests.paper.helpers.quote``);
``engine_run(srv, journal, cfg)`` builds the ordinary clients with the paper key pair, the journal writer
and an Engine (data clock, restored operator state from the journal, as ``Runtime`` does), starts it (the
start-up reconciliation included), yields it and stops everything in order.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from kraken_tui.config import Config, Credentials
from kraken_tui.engine.core import Engine
from kraken_tui.engine.facade import EngineMode
from kraken_tui.journal.records import RunStarted, RunStopped
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.ws import KrakenWsClient
from kraken_tui.paper.exchange import PaperExchange
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET, PaperServer
from kraken_tui.runtime import last_operator_state


def engine_cfg(**exits: Any) -> Config:
    """ema_cross on PF_XBTUSD 1h (no signal within a test), no interval passes, no stale-data pause."""
    return Config.model_validate({"strategy": {"name": "ema_cross", "symbols": ["PF_XBTUSD"], "timeframe": "1h"},
                                  "operator": {"stale_data_s": 86_400, "reconcile_interval_s": 3600},
                                  "exits": exits})


@contextlib.asynccontextmanager
async def served(ex: PaperExchange) -> AsyncIterator[PaperServer]:
    """Serve ``ex`` on a loopback port for the duration."""
    srv = PaperServer(ex, ticker_interval_s=0.0)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@contextlib.asynccontextmanager
async def engine_run(srv: PaperServer, journal: Path, cfg: Config | None = None) -> AsyncIterator[Engine]:
    """A started Engine on ``srv`` journaling to ``journal`` (see the module docstring)."""
    cfg = cfg or engine_cfg()
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="paper")
    writer = JournalWriter(journal)
    await writer.start()
    restored = last_operator_state(journal)
    run_id = uuid.uuid4().hex
    await writer.write(RunStarted(run_id, int(time.time() * 1000), "paper", "test", "test", None))
    async with httpx.AsyncClient() as http:
        client = KrakenRestClient(http, srv.rest_url, creds, config=cfg.client)
        ws = KrakenWsClient(srv.ws_url, creds, config=cfg.client)
        eng = Engine(cfg, client=client, ws=ws, journal=writer, run_id=run_id, mode=EngineMode.PAPER,
                     data_clock=True, journal_path=str(journal), restored=restored)
        try:
            await eng.start()
            yield eng
        finally:
            await eng.stop("quit")
            await ws.stop()
            await writer.write(RunStopped(int(time.time() * 1000), "quit"))
            await writer.close()
