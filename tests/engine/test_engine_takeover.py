"""engine.takeover ``Takeover.note``: how the journal's fills of earlier-run orders give the entry (size-weighted
price, first fill time) of the position to take over, and that the take-over is queued once per symbol;
``Takeover.run`` while HALTED: the unprotected position is said once (not at every pass) and its retries end,
blocker lifted, once the position is gone."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

from kraken_tui.domain import Fill, FillType, Position, PositionSide, Side
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine
from kraken_tui.engine.takeover import BLOCKER, Takeover
from kraken_tui.journal.records import Alert

D = Decimal
CID = "kt-aaaaaaaa-PF_XBTUSD-1704067200000-entry"


class _Eng:
    def __init__(self) -> None:
        self.jobs: list[str] = []

    def submit(self, name, job) -> None:
        self.jobs.append(name)


def _fill(fid: str, side: Side, size: str, price: int, ts: int) -> Fill:
    return Fill(fid, "o1", "PF_XBTUSD", side, D(size), D(price), ts, FillType.TAKER, CID)


def test_partial_fills_average_the_entry_and_keep_the_first_time():
    eng = _Eng()
    t = Takeover(eng)  # type: ignore[arg-type]
    t.note(_fill("f1", Side.BUY, "0.01", 50_000, 1_000), D(0), D("0.01"))
    t.note(_fill("f2", Side.BUY, "0.03", 50_100, 2_000), D("0.01"), D("0.04"))
    o = t.opened["PF_XBTUSD"]
    # (0.01 x 50 000 + 0.03 x 50 100) / 0.04 = (500 + 1 503) / 0.04 = 50 075
    assert o is not None and (o.size, o.price, o.ts_ms) == (D("0.04"), D(50_075), 1_000)
    assert eng.jobs == ["take over PF_XBTUSD"]  # queued once while pending


def test_reduce_keeps_the_entry_flip_restarts_and_unknown_start_is_none():
    t = Takeover(_Eng())  # type: ignore[arg-type]
    t.note(_fill("f1", Side.SELL, "0.02", 40_000, 1_000), D(0), D("-0.02"))
    t.note(_fill("f2", Side.BUY, "0.005", 39_000, 2_000), D("-0.02"), D("-0.015"))
    o = t.opened["PF_XBTUSD"]
    assert o is not None and (o.size, o.price, o.ts_ms) == (D("0.015"), D(40_000), 1_000)
    t.note(_fill("f3", Side.BUY, "0.025", 39_500, 3_000), D("-0.015"), D("0.01"))  # through zero
    o = t.opened["PF_XBTUSD"]
    assert o is not None and (o.size, o.price, o.ts_ms) == (D("0.01"), D(39_500), 3_000)
    t2 = Takeover(_Eng())  # type: ignore[arg-type]
    t2.note(_fill("f4", Side.BUY, "0.01", 41_000, 4_000), D("0.02"), D("0.03"))  # the position's start unknown
    assert t2.opened["PF_XBTUSD"] is None


class _HaltedEng:
    """Just what ``Takeover.run`` reads while the engine is HALTED (it returns before any exchange call)."""

    def __init__(self) -> None:
        self.account = SimpleNamespace(managed={}, positions={
            "PF_XBTUSD": Position("PF_XBTUSD", PositionSide.LONG, D("0.01"), D(50_000))})
        self.rec = SimpleNamespace(is_external=lambda symbol: False)
        self.sm = OperatorStateMachine(lambda: 0, OperatorState.HALTED, "test")
        self.journaled: list[Alert] = []

    def emit(self, *args, **kwargs) -> None:
        pass

    def _write_soon(self, record) -> None:
        self.journaled.append(record)

    def now_ms(self) -> int:
        return 0


def test_halted_retries_warn_once_and_a_closed_position_lifts_the_blocker():
    eng = _HaltedEng()
    t = Takeover(eng)  # type: ignore[arg-type]
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
