"""A paper run whose market source dies ends loudly (runtime ``_watch_source``, docs/cli-contract.md "Exit
codes"): a source that raises in the middle of its stream (here after 150 of 300 ticks) ends the headless run
with exit 1, HALTED, and a CRITICAL ``market source ... died`` line - not "exit-at-end" with exit 0."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

from kraken_tui.config import Config
from kraken_tui.engine.facade import EngineMode
from kraken_tui.headless import run_headless
from kraken_tui.paper.sources.base import MarketTick
from kraken_tui.runtime import RunOptions, Runtime

T0 = 1_700_000_000_000


class _DyingSource:
    """150 ticks of PF_XBTUSD, then a price the feed cannot carry: the stream raises."""

    name, synthetic, symbols = "dying", False, ("PF_XBTUSD",)

    async def events(self) -> AsyncIterator[MarketTick]:
        for i in range(300):
            if i == 150:
                raise OverflowError("price 1e308 out of range")
            p = 30_000.0 + i
            yield MarketTick("PF_XBTUSD", T0 + i * 60_000, last=p, bid=p - 0.5, ask=p + 0.5, bid_size=10.0,
                             ask_size=10.0, mark_price=p, index_price=p)

    async def close(self) -> None:
        return None


async def test_a_source_that_dies_ends_the_run_with_exit_1_and_the_reason(tmp_path):
    cfg = Config.model_validate({"strategy": {"symbols": ["PF_XBTUSD"]}})
    opts = RunOptions(exit_at_end=True, speed=None, journal=tmp_path / "j.sqlite")

    async def build(cfg: Config, opts: RunOptions) -> Runtime:
        return Runtime(cfg, opts, mode=EngineMode.PAPER, journal_path=tmp_path / "j.sqlite", source=_DyingSource(),
                       credentials=None)

    out = io.StringIO()
    code = await run_headless(cfg, opts, log_format="json", out=out, socket_path=tmp_path / "ctl.sock", build=build)
    lines = [json.loads(x) for x in out.getvalue().splitlines() if x.startswith("{")]
    died = [x for x in lines if "market source dying died" in x.get("message", "")]
    assert code == 1, [x.get("message") for x in lines][-5:]
    assert died and died[0]["severity"] == "critical" and "OverflowError" in died[0]["message"]
    assert lines[-1]["kind"] == "summary" and lines[-1]["state"] == "HALTED"
