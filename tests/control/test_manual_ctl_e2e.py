"""``kraken-tui ctl order|close|cancel|stop|edit|tpcancel|reprotect`` end to end: a headless instance in live mode
against a local ``kraken-tui sim`` (the paper exchange on loopback, synthetic market), driven by ``ctl`` from other
processes; after every action the exchange's own positions and open orders are read over its REST API (Kraken
Futures docs, REST v3 "Get open positions" / "Get open orders"). Every refusal leaves the exchange unchanged and
exits 2 with a sentence saying why; the risk gate's refusal is overridden only with the typed symbol."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.ui.test_tmux_ctl_flatten import EXE, START_S, SYMBOL, Sim, _env

pytestmark = pytest.mark.slow
D = Decimal


class Headless:
    """``kraken-tui --no-ui`` in live mode against ``sim`` (1h strategy timeframe: no signal in a test)."""

    def __init__(self, sim: Sim, tmp_path: Path) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        cfg = tmp_path / "config.toml"
        cfg.write_text(f'[general]\nmode = "live"\n[live]\nenabled = true\nrequire_paper = false\n'
                       f'rest_url = "{sim.info["rest_url"]}"\nws_url = "{sim.info["ws_url"]}"\n'
                       f'[strategy]\nname = "ema_cross"\nsymbols = ["{SYMBOL}"]\ntimeframe = "1h"\n')
        self.env = _env(tmp_path, keys=sim.keys)
        self.journal = tmp_path / "journal.sqlite"
        self.proc = subprocess.Popen([str(EXE), "--no-ui", "--config", str(cfg), "--journal", str(self.journal)],
                                     env={**self.env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.ready.wait(START_S), "\n".join(self.lines[-30:])
        self.sock = next(x for x in self.lines if x.startswith("ctl socket: ")).split(": ", 1)[1]

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ctl socket: "):
                self.ready.set()

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(EXE), "ctl", "--socket", self.sock, *args], env=self.env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _state(sim: Sim) -> tuple[Decimal, list[tuple]]:
    """The exchange's signed PF_XBTUSD size and its open orders (type, side, size, stop, limit, reduce-only, id)."""
    positions, orders = sim.account()
    size = sum((p.signed_size for p in positions if p.symbol == SYMBOL), D(0))
    return size, sorted((("stp" if o.order_type in ("stp", "stop") else o.order_type, o.side.value, o.size, o.stop_price, o.limit_price, o.reduce_only, o.order_id)
                         for o in orders if o.symbol == SYMBOL), key=str)


def _wait(cond, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        got = cond()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


@pytest.fixture
def world(tmp_path):
    sim = Sim(tmp_path / "sim")
    inst = None
    try:
        inst = Headless(sim, tmp_path / "inst")
        yield sim, inst
    finally:
        if inst is not None:
            inst.close()
        sim.close()


def test_manual_actions_from_the_command_line(world):
    sim, inst = world
    # the instance has a mark once the preview says what it would send
    r = _wait(lambda: (lambda r: r if r.returncode == 0 else None)(
        inst.ctl("order", "buy", SYMBOL, "0.002", "mkt", "--preview", "--json")), 30)
    assert r, "no mark price within 30 s"
    prev = json.loads(r.stdout)["preview"]
    assert prev["sent"]["size"] == "0.002" and prev["sent"]["order_type"] == "mkt" and _state(sim) == (0, [])

    r = inst.ctl("order", "buy", SYMBOL, "0.002", "mkt", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    ans = json.loads(r.stdout)
    assert ans["ok"] and D(ans["result"]["filled"]) == D("0.002") and ans["result"]["order_id"], ans
    got = _wait(lambda: (lambda s: s if any(o[0] == "stp" for o in s[1]) else None)(_state(sim)))
    assert got, (_state(sim), inst.lines[-20:])
    size, orders = got
    assert size == D("0.002")
    assert [o[2] for o in orders if o[0] == "stp"] == [D("0.002")] and len([o for o in orders if o[0] == "lmt"]) == 4

    # stop to a price below the mark: the exchange's stop trigger moves
    mark = D(str(json.loads(inst.ctl("status", "--json").stdout)["positions"][0]["mark_price"]))
    target = (mark * D("0.97")).quantize(D(1))
    r = inst.ctl("stop", SYMBOL, "--price", str(target))
    assert r.returncode == 0 and "edited" in r.stdout, r.stdout + r.stderr
    assert _wait(lambda: [o[3] for o in _state(sim)[1] if o[0] == "stp"] == [target])

    # half of it closed: reduce-only market, the stop follows the size
    r = inst.ctl("close", SYMBOL, "--fraction", "0.5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _wait(lambda: _state(sim)[0] == D("0.001"))
    assert _wait(lambda: [o[2] for o in _state(sim)[1] if o[0] == "stp"] == [D("0.001")])

    # take-profits cancelled, then the protection re-placed
    r = inst.ctl("tpcancel", SYMBOL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _wait(lambda: [o[0] for o in _state(sim)[1]] == ["stp"])
    r = inst.ctl("reprotect", SYMBOL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _wait(lambda: sorted(o[0] for o in _state(sim)[1]).count("lmt") >= 1)

    # a resting reduce-only limit: edited, then cancelled, by its id
    far = (mark * D("1.5")).quantize(D(1))
    r = inst.ctl("order", "sell", SYMBOL, "0.001", "lmt", str(far), "--reduce-only", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    oid = json.loads(r.stdout)["result"]["order_id"]
    assert _wait(lambda: any(o[6] == oid and o[4] == far for o in _state(sim)[1]))
    r = inst.ctl("edit", oid, "--price", str(far + 7))
    assert r.returncode == 0, r.stdout + r.stderr
    assert _wait(lambda: any(o[6] == oid and o[4] == far + 7 for o in _state(sim)[1]))
    r = inst.ctl("cancel", oid)
    assert r.returncode == 0 and "cancelled" in r.stdout, r.stdout + r.stderr
    assert _wait(lambda: not any(o[6] == oid for o in _state(sim)[1]))

    # refusals: exit 2, a sentence, nothing sent
    before = _state(sim)
    for args, words in [
        (("order", "buy", "PF_NOPEUSD", "1"), "unknown symbol 'PF_NOPEUSD'"),
        (("order", "buy", SYMBOL, "0.00001"), "under the lot"),
        (("close", SYMBOL, "--size", "5"), "above the PF_XBTUSD position"),
        (("order", "buy", SYMBOL, "0.001", "stp", "1"), "triggers above the market"),
        (("stop", SYMBOL, "--price", str(mark * 2)), "must be below the market"),
        (("cancel", "no-such-order"), "is not open"),
        (("order", "buy", SYMBOL, "abc"), "word 4 'abc'"),
        (("order", "buy", "PF_ETHUSD", "0.1"), "no mark price for PF_ETHUSD"),
        (("order", "buy", SYMBOL, "0.001"), "pyramiding is disabled"),
        (("order", "buy", SYMBOL, "0.001", "--override"), "--yes-i-mean-it PF_XBTUSD"),
        (("order", "buy", SYMBOL, "0.001", "--override", "--yes-i-mean-it", "PF_ETHUSD"), "not confirmed"),
    ]:
        r = inst.ctl(*args)
        assert r.returncode == 2 and words in r.stderr, (args, r.stdout, r.stderr)
    time.sleep(0.5)
    assert _state(sim) == before

    # the gate overridden with the typed symbol (live mode): journaled, sent
    r = inst.ctl("order", "buy", SYMBOL, "0.001", "--override", "--yes-i-mean-it", SYMBOL, "--no-exits", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["result"]["overridden"] is True
    assert _wait(lambda: _state(sim)[0] == D("0.002"))

    # the rest closed: flat, and the protective orders cancelled with the position
    r = inst.ctl("close", SYMBOL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _wait(lambda: _state(sim) == (0, []), 15), _state(sim)

    # HALTED refuses every manual action
    assert inst.ctl("flatten").returncode == 0
    r = inst.ctl("order", "buy", SYMBOL, "0.001")
    assert r.returncode == 2 and "HALTED" in r.stderr, r.stderr
    assert _state(sim) == (0, [])
    text = "\n".join(inst.lines)
    assert "operator (ctl):" in text


def test_paused_usd_size_breakeven_close_size_and_a_resting_stop(world):
    """While PAUSED: an order sized in USD, its stop to breakeven, part closed by size, a resting stop order sent
    and cancelled, the rest closed; the exchange's state checked after each."""
    sim, inst = world
    assert inst.ctl("pause").returncode == 0
    assert json.loads(inst.ctl("status", "--json").stdout)["state"] == "PAUSED"
    assert _wait(lambda: inst.ctl("order", "buy", SYMBOL, "200usd", "--preview").returncode == 0, 30), "no mark"

    r = inst.ctl("order", "buy", SYMBOL, "200usd", "mkt", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    ans = json.loads(r.stdout)
    filled = D(ans["result"]["filled"])
    assert filled > 0 and _wait(lambda: _state(sim)[0] == filled), (ans, _state(sim))
    positions, _orders = sim.account()
    entry = next(p.entry_price for p in positions if p.symbol == SYMBOL)
    mark = D(str(json.loads(inst.ctl("status", "--json").stdout)["positions"][0]["mark_price"]))
    assert abs(filled * mark - 200) < mark * D("0.0002"), (filled, mark)  # 200 USD rounded to the lot

    part = (filled / 2).quantize(D("0.0001"), "ROUND_DOWN")
    rest = filled - part
    r = inst.ctl("close", SYMBOL, "--size", str(part))
    assert r.returncode == 0, r.stdout + r.stderr
    assert _wait(lambda: _state(sim)[0] == rest), _state(sim)

    below = (mark * D("0.8")).quantize(D(1))
    r = inst.ctl("order", "sell", SYMBOL, str(rest), "stp", str(below), "--reduce-only", "--no-exits", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    oid = json.loads(r.stdout)["result"]["order_id"]
    assert _wait(lambda: any(o[6] == oid and o[0] == "stp" and o[3] == below for o in _state(sim)[1])), _state(sim)
    r = inst.ctl("cancel", oid)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _wait(lambda: not any(o[6] == oid for o in _state(sim)[1]))

    # breakeven: refused (nothing sent) while the mark is not above the entry; the synthetic market moves
    def breakeven() -> bool:
        r = inst.ctl("stop", SYMBOL, "--breakeven")
        assert r.returncode == 0 or "must be below the market" in r.stderr, r.stdout + r.stderr
        return r.returncode == 0
    assert _wait(breakeven, 60), "the mark never rose above the entry"
    be = entry.quantize(D(1), "ROUND_FLOOR")
    # the stop rests at the entry, or the market came back and it closed the position
    assert _wait(lambda: [o[3] for o in _state(sim)[1] if o[0] == "stp"] == [be] or _state(sim) == (0, [])), \
        (_state(sim), entry)

    r = inst.ctl("close", SYMBOL)
    assert r.returncode == 0 or "closed meanwhile" in r.stderr, r.stdout + r.stderr
    assert _wait(lambda: _state(sim) == (0, []), 15), _state(sim)
    assert json.loads(inst.ctl("status", "--json").stdout)["state"] == "PAUSED"
