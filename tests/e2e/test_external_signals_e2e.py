"""End to end: a headless replay with ``[strategy] name = "external"`` trades on signals appended to a file
and POSTed to the loopback webhook; bad lines and refused requests are journaled as rejected and never stop
the reader.

Data: the first 400 rows of ``kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv`` replayed as PF_ETHUSD at
3000x (a 5-minute bar every 0.1 s), so signals written while it runs arrive between bar closes; the run
is stopped once both trades happened.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx

from kraken_tui.config import Config
from kraken_tui.engine.facade import EventKind
from kraken_tui.runtime import RunOptions, build_runtime

ROWS = 400
SECRET = "s3cret-for-tests"


def _config(external: dict[str, str]) -> Config:
    return Config.model_validate({
        "strategy": {"name": "external", "symbols": ["PF_ETHUSD"], "timeframe": "5m"},
        "external": external,
        "risk": {"cost_atr_multiple": 0},
        "operator": {"stale_data_s": 600},
    })


def _window(shared_data, tmp_path: Path) -> Path:
    src = shared_data("kraken/kraken_spot_ethusd_5m_2024H2.ohlcvt.csv")
    csv = tmp_path / "eth.csv"
    with src.open() as f:
        csv.write_text("".join(next(f) for _ in range(ROWS)))
    return csv


async def _until(pred, wait_s: float = 20.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + wait_s
    while loop.time() < end:
        if pred():
            return True
        await asyncio.sleep(0.05)
    return False


def _position(rt) -> float:
    p = rt.paper_server.exchange.positions.get("PF_ETHUSD")
    return float(p.size) if p is not None else 0.0


async def _drive(cfg: Config, csv: Path, journal: Path, send) -> tuple[list[float], list[tuple]]:
    rt = await build_runtime(cfg, RunOptions(replay=[f"{csv}@PF_ETHUSD"], speed=3000, exit_at_end=True,
                                              journal=journal))
    await rt.start()
    seen: list[float] = []
    try:
        readers = [e for e in rt.engine.events.recent if e.kind is EventKind.INFO and e.data.get("readers")]
        assert readers, "the reader announced itself"
        await asyncio.sleep(0.5)  # a few bars in
        await send(rt, readers[0].data["readers"], "long")
        assert await _until(lambda: _position(rt) > 0), "entered long on the external signal"
        seen.append(_position(rt))
        await send(rt, readers[0].data["readers"], "short")
        assert await _until(lambda: _position(rt) < 0), "reversed to short on the next signal"
        seen.append(_position(rt))
        await asyncio.sleep(0.3)  # the signal records are written after the orders
    finally:
        await rt.aclose()
    conn = sqlite3.connect(journal)
    rows = conn.execute("SELECT side, strategy, reason, action, rejection_reason FROM signals ORDER BY id").fetchall()
    conn.close()
    return seen, rows


def test_replay_trades_on_lines_appended_to_a_file(shared_data, tmp_path):
    csv = _window(shared_data, tmp_path)
    sig = tmp_path / "signals.jsonl"
    sig.write_text("")

    async def send(rt, readers, side):
        with sig.open("a") as f:
            f.write("this is not json\n")  # journaled as rejected; the reader goes on
            f.write(json.dumps({"symbol": "PF_ETHUSD", "side": side, "confidence": 0.9, "reason": "model"}) + "\n")

    seen, rows = asyncio.run(_drive(_config({"path": str(sig)}), csv, tmp_path / "j.sqlite", send))
    assert seen[0] > 0 and seen[1] < 0
    traded = [r for r in rows if r[3] != "rejected"]
    assert [r[0] for r in traded][:2] == ["long", "short"]
    assert all(r[1] == "external" and f"[via {sig}]" in r[2] for r in traded)
    bad = [r for r in rows if r[3] == "rejected"]
    assert len(bad) == 2 and all("not valid JSON" in r[4] for r in bad)


def test_replay_trades_on_webhook_posts(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("KRAKEN_TUI_WEBHOOK_SECRET", SECRET)
    csv = _window(shared_data, tmp_path)

    async def send(rt, readers, side):
        url = next(r for r in readers if r.startswith("webhook")).split(" ", 1)[1]
        async with httpx.AsyncClient() as c:
            bad = await c.post(url, json={"ticker": "ETHUSD", "action": "buy", "secret": "wrong"})
            assert bad.status_code == 401
            ok = await c.post(url, json={"ticker": "ETHUSD", "action": "buy" if side == "long" else "sell",
                                         "confidence": 0.95, "secret": SECRET})
            assert ok.status_code == 200

    journal = tmp_path / "j.sqlite"
    seen, rows = asyncio.run(_drive(_config({"webhook": "127.0.0.1:0"}), csv, journal, send))
    assert seen[0] > 0 and seen[1] < 0
    traded = [r for r in rows if r[3] != "rejected"]
    assert [r[0] for r in traded][:2] == ["long", "short"]
    assert all("[via webhook 127.0.0.1:0]" in r[2] for r in traded)
    bad = [r for r in rows if r[3] == "rejected"]
    assert len(bad) == 2 and all(r[4] == "bad or missing webhook secret" for r in bad)
    assert SECRET.encode() not in journal.read_bytes()  # the secret is never journaled
