"""engine.takeover ``Takeover.note``: how the journal's fills of earlier-run orders give the entry (size-weighted
price, first fill time) of the position to take over, and that the take-over is queued once per symbol;
``Takeover.run`` while HALTED: the unprotected position is said once (not at every pass) and its retries end,
blocker lifted, once the position is gone."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from kraken_tui.domain import Fill, FillType, Position, PositionSide, Side
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine
from kraken_tui.engine.takeover import BLOCKER, Takeover
from kraken_tui.journal.records import Alert

D = Decimal
CID = "kt-aaaaaaaa-PF_XBTUSD-1704067200000-entry"


class _Eng:
    """What the take-over is given: a job queue that records the names, an account, a state machine."""

    def __init__(self, state: OperatorState = OperatorState.RUNNING) -> None:
        self.jobs: list[str] = []
        self.journaled: list[Alert] = []
        self.account = AccountTracker()
        self.sm = OperatorStateMachine(lambda: 0, state, "test")
        self.io = EngineIO(emit=lambda *a, **k: None, now_ms=lambda: 0, write=self._write,
                           write_soon=self.journaled.append, submit=lambda name, job: self.jobs.append(name))

    async def _write(self, record) -> None:
        self.journaled.append(record)


def _takeover(eng: _Eng) -> Takeover:
    """A ``Takeover`` over ``eng``; the exchange, order flow and orphan sweep are never reached here."""
    return Takeover(eng.io, account=eng.account, sm=eng.sm, client=None, flow=None, orphans=None,  # type: ignore[arg-type]
                    instruments={}, run_id="r", strategy_name="test", protective=True,
                    is_external=lambda symbol: False, booked_size=lambda symbol: D(0))


def _fill(fid: str, side: Side, size: str, price: int, ts: int) -> Fill:
    return Fill(fid, "o1", "PF_XBTUSD", side, D(size), D(price), ts, FillType.TAKER, CID)


def test_partial_fills_average_the_entry_and_keep_the_first_time():
    eng = _Eng()
    t = _takeover(eng)
    t.note(_fill("f1", Side.BUY, "0.01", 50_000, 1_000), D(0), D("0.01"))
    t.note(_fill("f2", Side.BUY, "0.03", 50_100, 2_000), D("0.01"), D("0.04"))
    o = t.opened["PF_XBTUSD"]
    # (0.01 x 50 000 + 0.03 x 50 100) / 0.04 = (500 + 1 503) / 0.04 = 50 075
    assert o is not None and (o.size, o.price, o.ts_ms) == (D("0.04"), D(50_075), 1_000)
    assert eng.jobs == ["take over PF_XBTUSD"]  # queued once while pending


def test_reduce_keeps_the_entry_flip_restarts_and_unknown_start_is_none():
    t = _takeover(_Eng())
    t.note(_fill("f1", Side.SELL, "0.02", 40_000, 1_000), D(0), D("-0.02"))
    t.note(_fill("f2", Side.BUY, "0.005", 39_000, 2_000), D("-0.02"), D("-0.015"))
    o = t.opened["PF_XBTUSD"]
    assert o is not None and (o.size, o.price, o.ts_ms) == (D("0.015"), D(40_000), 1_000)
    t.note(_fill("f3", Side.BUY, "0.025", 39_500, 3_000), D("-0.015"), D("0.01"))  # through zero
    o = t.opened["PF_XBTUSD"]
    assert o is not None and (o.size, o.price, o.ts_ms) == (D("0.01"), D(39_500), 3_000)
    t2 = _takeover(_Eng())
    t2.note(_fill("f4", Side.BUY, "0.01", 41_000, 4_000), D("0.02"), D("0.03"))  # the position's start unknown
    assert t2.opened["PF_XBTUSD"] is None


def test_halted_retries_warn_once_and_a_closed_position_lifts_the_blocker():
    eng = _Eng(OperatorState.HALTED)  # Takeover.run returns before any exchange call while HALTED
    eng.account.positions["PF_XBTUSD"] = Position("PF_XBTUSD", PositionSide.LONG, D("0.01"), D(50_000))
    t = _takeover(eng)
    t.failed["PF_XBTUSD"] = "no stop"
    eng.sm.block_entries(BLOCKER, "no stop")
    for _ in range(3):  # one reconciliation pass each
        asyncio.run(t.run("PF_XBTUSD"))
    assert [(a.level, "not taken over while the engine is HALTED" in a.message) for a in eng.journaled] == [
        ("HIGH", True)]
    assert "PF_XBTUSD" in t.failed and BLOCKER in eng.sm.entry_blockers  # still unprotected: retried later
    eng.account.positions.clear()  # the flatten closed it
    asyncio.run(t.run("PF_XBTUSD"))
    assert t.failed == {} and BLOCKER not in eng.sm.entry_blockers and len(eng.journaled) == 1
