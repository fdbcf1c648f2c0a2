"""Child process of test_engine_sigkill: the Engine pointed at a paper server run by the test process.

argv: paper REST URL, paper WS URL, journal path, config JSON. Builds the ordinary clients with the paper
key pair, the journal writer and the Engine (data clock), starts it (start-up reconciliation included),
prints ``ready`` and one JSON line with the engine's booked positions, then runs until it is killed or
reads ``quit`` on stdin (orderly stop: engine, WS, journal).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from kraken_tui.config import Config, Credentials
from kraken_tui.engine.core import Engine
from kraken_tui.engine.facade import EngineMode
from kraken_tui.journal.records import RunStarted, RunStopped
from kraken_tui.journal.writer import JournalWriter
from kraken_tui.kraken.rest import KrakenRestClient
from kraken_tui.kraken.ws import KrakenWsClient
from kraken_tui.paper.server import PAPER_API_KEY, PAPER_API_SECRET


async def main(rest_url: str, ws_url: str, journal: Path, cfg: Config) -> None:
    creds = Credentials(api_key=SecretStr(PAPER_API_KEY), api_secret=SecretStr(PAPER_API_SECRET), source="paper")
    writer = JournalWriter(journal)
    await writer.start()
    run_id = uuid.uuid4().hex
    await writer.write(RunStarted(run_id, int(time.time() * 1000), "paper", "test", "test", None))
    async with httpx.AsyncClient() as http:
        client = KrakenRestClient(http, rest_url, creds, config=cfg.client)
        ws = KrakenWsClient(ws_url, creds, config=cfg.client)
        eng = Engine(cfg, client=client, ws=ws, journal=writer, run_id=run_id, mode=EngineMode.PAPER,
                     data_clock=True, journal_path=str(journal))
        await eng.start()
        booked = {s: str(q) for s, q in eng.rec.booked.items() if q != 0}
        print("ready", flush=True)
        print(json.dumps({"booked": booked, "passes": eng.rec.passes, "state": eng.sm.state.value}), flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if line.strip() == "quit":
            await eng.stop("quit")
            await ws.stop()
            await writer.write(RunStopped(int(time.time() * 1000), "quit"))
            await writer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Config.model_validate(json.loads(sys.argv[4]))))
