"""An adopted (external) position stays external across restarts, and so does its acknowledgement.

The test serves one paper exchange over loopback for three engine runs on one journal: run 1 adopts a
position opened by hand (external, entries paused); run 2 starts with it still external and unacknowledged
(entries still blocked), and the operator resumes (acknowledges); run 3 starts with it external and
acknowledged (no blocker, RUNNING).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.engine.journal_view import ACKNOWLEDGED_ACTION, journal_view
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.engine.reconcile import BLOCKER_NAME
from tests.e2e.harness import rows
from tests.paper.helpers import make_exchange, quote

from .engine_env import engine_run, served

T0 = 1_704_067_200_000


def _view(eng):
    snap = eng.snapshot()
    return {"state": snap.state, "blocked": BLOCKER_NAME in snap.entry_blockers,
            "positions": [(p.symbol, p.side.value, p.size, p.external) for p in snap.positions]}


async def _three_runs(journal):
    ex = make_exchange()
    quote(ex, T0)
    out = ex.send_order({"orderType": "mkt", "symbol": "PF_XBTUSD", "side": "buy", "size": "0.02",
                         "cliOrdId": "manual-by-hand-1"})
    assert out is not None and out.status == "placed"
    async with served(ex) as srv:
        async with engine_run(srv, journal) as eng:
            first = _view(eng)
        between = journal_view(str(journal)).external
        async with engine_run(srv, journal) as eng:
            second = _view(eng)
            eng.resume("seen it", TransitionSource.KEY)
            acked = _view(eng)
        async with engine_run(srv, journal) as eng:
            third = _view(eng)
            await eng.rec.run("a later pass")
            later = _view(eng)
    return first, between, second, acked, third, later


def test_external_tag_and_acknowledgement_survive_restarts(tmp_path):
    journal = tmp_path / "j.sqlite"
    first, between, second, acked, third, later = asyncio.run(_three_runs(journal))
    pos = [("PF_XBTUSD", "long", Decimal("0.02"), True)]
    assert first == {"state": OperatorState.PAUSED, "blocked": True, "positions": pos}
    assert between == {"PF_XBTUSD": False}
    # restart: still external, still not acknowledged, so entries stay blocked
    assert second == {"state": OperatorState.PAUSED, "blocked": True, "positions": pos}
    assert acked == {"state": OperatorState.RUNNING, "blocked": False, "positions": pos}
    # restart after the acknowledgement: external, trading not blocked
    assert third == {"state": OperatorState.RUNNING, "blocked": False, "positions": pos}
    assert later == third
    actions = [a for (a,) in rows(journal, "SELECT action FROM reconciliation WHERE symbol = 'PF_XBTUSD' "
                                           "AND kind = 'position' ORDER BY id")]
    assert actions == ["adopted as external, entries paused", ACKNOWLEDGED_ACTION]
