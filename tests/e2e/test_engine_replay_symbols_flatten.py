"""A replay trades the replayed symbols; an engine flatten costs 4 REST calls and waits for order work
(cancelling the resting orders at once, before the wait).

Data: the first 300 rows of ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` as PF_ETHUSD, ``ema_cross``
fast 5 / slow 13 (a position with protective orders is open at the end of the window).
"""

from __future__ import annotations

import asyncio
import time

import kraken_tui.engine.flatten as flatten_mod
from kraken_tui.config import Config
from kraken_tui.engine.facade import EventKind
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.kraken.rest_transport import RestTransport
from kraken_tui.runtime import RunOptions, build_runtime, replay_symbols

PARAMS = {"fast": 5, "slow": 13, "min_confidence": 0.4}


def _cfg(symbols: list[str] | None) -> Config:
    strat: dict = {"name": "ema_cross", "timeframe": "5m", "params": PARAMS}
    if symbols is not None:
        strat["symbols"] = symbols
    return Config.model_validate({"strategy": strat, "risk": {"cost_atr_multiple": 0}, "operator": {"stale_data_s": 60}})


def _csv(shared_data, tmp_path):
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(300)))
    return csv


def test_replay_symbols_rules():
    # default [strategy] symbols (PF_XBTUSD, PF_ETHUSD not set in the file): the replayed ones
    syms, note = replay_symbols(_cfg(None), ("PF_ETHUSD",))
    assert syms == ("PF_ETHUSD",) and "PF_ETHUSD" in note
    # explicit and intersecting: the intersection
    syms, note = replay_symbols(_cfg(["PF_XBTUSD", "PF_ETHUSD"]), ("PF_ETHUSD", "PF_SOLUSD"))
    assert syms == ("PF_ETHUSD",) and "not replayed: PF_XBTUSD" in note and "PF_SOLUSD" in note
    # explicit but disjoint: the replayed ones
    syms, _ = replay_symbols(_cfg(["PF_XBTUSD"]), ("PF_ETHUSD", "PF_SOLUSD"))
    assert syms == ("PF_ETHUSD", "PF_SOLUSD")
    # nothing replayed (no symbols known): the config's
    assert replay_symbols(_cfg(None), ())[0] == ("PF_XBTUSD", "PF_ETHUSD")


class CountingSends:
    """Counts the HTTP requests (by path tail) the REST client sends (``RestTransport.send_http``)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._real = RestTransport.send_http

    def __enter__(self) -> CountingSends:
        real = self._real
        paths = self.paths

        async def send_http(transport, method, url, body, headers, endpoint):
            paths.append(endpoint.rsplit("/", 1)[-1])
            return await real(transport, method, url, body, headers, endpoint)

        RestTransport.send_http = send_http  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        RestTransport.send_http = self._real  # type: ignore[method-assign]


async def _run(csv, journal, slow_job: bool):
    rt = await build_runtime(_cfg(None), RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=None, journal=journal))
    await rt.start()
    out: dict = {}
    try:
        eng = rt.engine
        out["symbols"] = eng.symbols
        out["info"] = [e.message for e in eng.snapshot().events if e.kind is EventKind.INFO]
        await asyncio.wait_for(rt.paper_server.source_done.wait(), timeout=60)
        await eng.wait_idle()
        await asyncio.sleep(0.05)
        out["markets"] = [m.symbol for m in eng.snapshot().markets]
        out["feed"] = eng.snapshot().feed.detail
        ex = rt.paper_server.exchange
        out["had"] = (sum(1 for p in ex.positions.values() if p.size != 0), len(ex.open_orders))
        with CountingSends() as counting:
            marks: dict[str, float] = {}
            if slow_job:
                async def slow() -> None:  # stands for an entry being sent when the operator flattens
                    await asyncio.sleep(0.3)
                    marks["job_done"] = time.monotonic()

                real = flatten_mod.flatten_account

                async def spy(*a, **kw):
                    marks["flatten_started"] = time.monotonic()
                    marks["state"] = eng.sm.state
                    return await real(*a, **kw)

                flatten_mod.flatten_account = spy
                try:
                    eng.submit("entry (test)", slow)
                    await asyncio.sleep(0.01)  # the worker picked it up
                    report = await eng.flatten("test flatten", TransitionSource.CTL)
                finally:
                    flatten_mod.flatten_account = real
            else:
                report = await eng.flatten("test flatten", TransitionSource.CTL)
        out.update(report=report, paths=list(counting.paths), marks=marks, state=eng.snapshot().state,
                   after=(sum(1 for p in ex.positions.values() if p.size != 0), len(ex.open_orders)))
    finally:
        await rt.aclose()
    return out


def test_replay_trades_replayed_symbols_and_flatten_costs_four_calls(shared_data, tmp_path):
    out = asyncio.run(_run(_csv(shared_data, tmp_path), tmp_path / "j.sqlite", slow_job=False))
    assert out["symbols"] == ("PF_ETHUSD",)  # not the default PF_XBTUSD, PF_ETHUSD
    assert any("replay trades PF_ETHUSD" in m for m in out["info"])
    assert "PF_XBTUSD" not in out["markets"] and "silent" not in out["feed"]
    assert out["had"][0] == 1 and out["had"][1] > 0
    r = out["report"]
    assert r.flat and out["after"] == (0, 0) and out["state"] is OperatorState.HALTED
    assert sorted(out["paths"]) == ["batchorder", "cancelallorders", "openorders", "openpositions"]
    assert r.requests == 4


def test_flatten_waits_for_order_work_in_flight(shared_data, tmp_path):
    out = asyncio.run(_run(_csv(shared_data, tmp_path), tmp_path / "j.sqlite", slow_job=True))
    m = out["marks"]
    assert m["state"] is OperatorState.FLATTENING
    assert m["flatten_started"] >= m["job_done"]
    # the position was closed at once, while the job was still running (its stop still resting); the orders were
    # cancelled once, after the closes
    assert out["paths"][0] == "batchorder" and out["paths"].count("cancelallorders") == 1
    assert out["paths"].index("batchorder") < out["paths"].index("cancelallorders")
    assert out["report"].flat and out["after"] == (0, 0)
