"""engine.takeover ``Takeover.note``: how the journal's fills of earlier-run orders give the entry (size-weighted
price, first fill time) of the position to take over, and that the take-over is queued once per symbol."""

from __future__ import annotations

from decimal import Decimal

from kraken_tui.domain import Fill, FillType, Side
from kraken_tui.engine.takeover import Takeover

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
