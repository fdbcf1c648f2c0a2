"""Soak: SIGKILLs of a live-mode engine, a fault matrix, and fuzzed exchange messages. Prints the figures.

Three parts, each runnable alone (``--kills 0``, ``--faults-s 0``, ``--fuzz 0`` skip one):

1. **Kills.** A paper exchange runs in its own process (``kraken-tui sim --json --source synthetic``, fast
   market) so it outlives the engine. A live-mode headless engine (``kraken-tui --no-ui --mode live``, the
   paper key pair, ``ema_cross`` on 1m candles so it trades within seconds) is started on one journal and
   SIGKILLed at a random instant, N times; ``--flatten-kills`` of those kills land inside a ``ctl flatten``
   (the request is sent, the journal is read every 1 ms until it shows FLATTENING - durable before the
   flatten's first request - and the kill follows a random 0 to ``FLATTEN_WINDOW_S`` later, inside the
   flatten's first requests; each flatten that ends before its kill halves that window for the next one, each
   kill inside one widens it again up to ``FLATTEN_WINDOW_S``, so a fast flatten on a quiet machine is still
   caught). A flatten kill that lands after the flatten ended (HALTED already journaled) is not counted as
   inside one; the planned flatten kills all fall in the first ``kills - reserve`` kills (``reserve``: a third
   of ``--flatten-kills``, at least 2) and every later kill is a flatten kill while flatten kills are owed or
   no more kills remain than are still needed to reach ``--flatten-kills``. A poller reads the exchange every
   100 ms the whole time. Checked after every kill and restart: the journal's ``PRAGMA integrity_check``; no fill id twice
   in the journal; on the exchange no cliOrdId naming two orders (a re-sent order); every open position has a
   reduce-only stop on its symbol within ``--grace-s`` (else it counts as a position left without a stop);
   after a kill inside a flatten, the restart ends HALTED (the flatten resumed or completed). At the end the
   engine stops in order and every exchange fill must be in the journal exactly once (lost fills).
2. **Fault matrix.** The same engine against a paper exchange with ``KRAKEN_TUI_PAPER_FAULTS`` (5xx, 429,
   40 ms latency, lost responses, dropped and duplicated WebSocket messages) and frozen now and then (SIGSTOP
   of the exchange process for 3 s, longer than the engine's 1 s REST timeout: its requests time out and the
   exchange serves them late, so orders fill after the engine gave up waiting) for
   ``--faults-s`` seconds (no freeze in the last ``QUIET_S``); then ``ctl flatten`` must end flat and stay flat,
   with the same checks.
3. **Fuzz.** ``--fuzz`` messages from a seeded generator (valid Kraken Futures WS v1 and REST v3 samples with
   fields deleted, replaced by values of other types, or nested, plus random JSON) through
   ``parse_ws_message`` and the REST parsers: a ``ProtocolError`` / ``ExchangeError`` is a typed refusal (fine);
   any other exception is a crash.

Usage: ``python bench/soak.py [--kills 100] [--flatten-kills 30] [--faults-s 600] [--fuzz 100000] [--seed 1]
[--json]``. Exit 0 when every figure is clean (no crash, no duplicate, no lost fill, no position left without
a stop, every kill survived, at least ``--flatten-kills`` kills inside a flatten, every restart after one
HALTED), 1 otherwise. Sources: Kraken Futures docs, REST v3 "Get open positions",
"Get open orders", "Get fills"; WS v1 feeds (the fuzz samples follow them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

STOP_TYPES = {"stp", "stop", "trailing_stop", "take_profit"}
QUIET_S = 5.0
FLATTEN_WINDOW_S = 0.05
"""Longest random delay, in seconds, between FLATTENING read from the journal and the kill."""
"""Seconds without a freeze before the fault matrix's closing flatten (> the client's 1 s timeout)."""


# ----------------------------------------------------------------------------------------------- fuzz

_ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1e308, -1e308, float("nan"), float("inf"), 2**70, "", "x",
                          "nan", "1e999", "-0", [], {}, [1, 2], {"a": 1}, "2024-13-45T99:99:99Z", "\x00", 1.5]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(rng: random.Random, sample: Any) -> Any:
    msg = copy.deepcopy(sample)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(msg) if p]
        if not paths:
            return copy.deepcopy(rng.choice(_ODD_VALUES))
        path = rng.choice(paths)
        parent = msg
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        roll = rng.random()
        if roll < 0.25 and isinstance(parent, dict):
            del parent[key]
        elif roll < 0.35:
            parent[key] = [parent[key]] if rng.random() < 0.5 else {"v": parent[key]}
        elif roll < 0.45 and isinstance(parent[key], str):
            parent[key] = parent[key][: rng.randint(0, len(parent[key]))] + rng.choice(["", "\u00e9", "9", "-"])
        else:
            parent[key] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return msg


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return copy.deepcopy(rng.choice(_ODD_VALUES))
    if roll < 0.7:
        return {rng.choice(["feed", "event", "product_id", "fills", "orders", "x", "result", "error"]):
                _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _raw_frame(rng: random.Random, sample: Any) -> bytes:
    """A frame as it comes off the wire: deep nesting, bad UTF-8, truncation, huge numbers, noise."""
    roll = rng.random()
    if roll < 0.2:
        depth = rng.choice([100, 999, 1100, 5000, 10_000])
        return (b"[" * depth + b"]" * depth) if rng.random() < 0.5 else (b'{"a":' * depth + b"1" + b"}" * depth)
    text = json.dumps(sample, default=str).encode()
    if roll < 0.4:
        return text[: rng.randint(0, len(text))]
    if roll < 0.55:
        i = rng.randint(0, len(text))
        return text[:i] + bytes([rng.choice([0x80, 0xC3, 0xFF, 0xED])]) + text[i:]
    if roll < 0.7:
        return b'{"feed": "ticker", "product_id": "PF_XBTUSD", "bid": ' + b"9" * rng.choice([20, 400, 5000]) + b"}"
    if roll < 0.85:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
    return rng.choice([b"NaN", b"Infinity", b"-0", b"null", b"[]", b"{}", b'"x"', b"", b" ", b"\x00"])


async def fuzz(n: int, seed: int = 1) -> dict[str, Any]:
    """Run ``n`` generated messages through the exchange parsers: decoded messages through
    ``parse_ws_message`` and the REST parsers (45 % each), raw frames through the WS client's frame handler
    and raw bodies through ``rest_errors.check_response`` (10 %).

    Returns:
        ``{"messages": int, "crashes": int, "typed_errors": int, "examples": [str]}`` (up to 5 crash examples:
        parser, exception, message).
    """
    from kraken_tui.config import ClientConfig
    from kraken_tui.errors import ExchangeError, ProtocolError
    from kraken_tui.kraken.rest_errors import check_response
    from kraken_tui.kraken.ws import KrakenWsClient
    from kraken_tui.kraken.ws_parse import parse_ws_message
    from tests.kraken.test_rest_parse_fuzz import SAMPLES
    from tests.kraken.test_ws_parse_fuzz import VALID

    rng = random.Random(seed)
    rest = sorted(SAMPLES)
    ws = KrakenWsClient("ws://127.0.0.1:9/ws/v1", None, config=ClientConfig())
    crashes, typed = 0, 0
    examples: list[str] = []
    for i in range(n):
        kind = i % 20
        msg: Any
        if kind == 0:  # a raw WS frame through the client's own decode-parse-dispatch step
            name, msg = "ws frame", _raw_frame(rng, rng.choice(VALID))
            frame: str | bytes = msg.decode("utf-8", "replace") if rng.random() < 0.9 else msg

            def parse(_m: Any, frame: str | bytes = frame) -> None:
                ws._handle_frame(None, frame)  # type: ignore[arg-type]
                while not ws._queue.empty():
                    ws._queue.get_nowait()
        elif kind == 1:  # a raw REST body through the response check
            name, msg = "rest body", _raw_frame(rng, SAMPLES[rng.choice(rest)][1])
            status = rng.choice([200, 200, 400, 429, 500, 503])

            def parse(m: Any, status: int = status) -> None:
                check_response("/derivatives/api/v3/fuzz", status, {}, m)
        elif kind % 2 == 0:
            msg = _mutate(rng, rng.choice(VALID)) if rng.random() < 0.85 else _random_json(rng)
            name, parse = "ws", parse_ws_message
        else:
            name = rng.choice(rest)
            parse, sample = SAMPLES[name]
            msg = _mutate(rng, sample) if rng.random() < 0.85 else _random_json(rng)
        try:
            parse(msg)
        except (ProtocolError, ExchangeError):
            typed += 1
        except Exception as exc:  # noqa: BLE001 - any other exception is what this counts
            crashes += 1
            if len(examples) < 5:
                shown = msg[:120] if isinstance(msg, bytes) else json.dumps(msg, default=str)[:300]
                examples.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]} <- {shown!r}")
        if i % 1000 == 999:
            await asyncio.sleep(0)
    return {"messages": n, "crashes": crashes, "typed_errors": typed, "examples": examples}


# ------------------------------------------------------------------------------------- processes


@dataclass
class Figures:
    """What the kill and fault parts measured (the module docstring says how)."""

    kills: int = 0
    kills_survived: int = 0
    flatten_requests: int = 0
    kills_in_flatten: int = 0
    flatten_kills_wanted: int = 0
    flatten_done_at_kill: int = 0
    flatten_resumed_halted: int = 0
    position_polls: int = 0
    unprotected_positions: int = 0
    longest_unprotected_s: float = 0.0
    duplicate_sends: int = 0
    journal_duplicate_fills: int = 0
    lost_fills: int = 0
    exchange_fills: int = 0
    integrity_failures: int = 0
    final_flat: bool | None = None
    notes: list[str] = field(default_factory=list)


class Sim:
    """``kraken-tui sim --json`` in its own process (fast synthetic market)."""

    def __init__(self, env: dict[str, str], speed: str = "600", faults: str = "") -> None:
        e = dict(env)
        if faults:
            e["KRAKEN_TUI_PAPER_FAULTS"] = faults
        self.proc = subprocess.Popen([sys.executable, "-m", "kraken_tui", "sim", "--json", "--source", "synthetic",
                                      "--speed", speed], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=e, cwd=REPO)
        assert self.proc.stdout is not None
        self.info: dict[str, str] = json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _config(path: Path, info: dict[str, str], timeout_s: float = 10.0) -> Path:
    path.write_text(f"""[general]
mode = "live"
[live]
enabled = true
# the soak's own paper exchange plays Kraken: the promotion gate (paper record first) does not apply to it
require_paper = false
rest_url = "{info['rest_url']}"
ws_url = "{info['ws_url']}"
[client]
timeout_s = {timeout_s}
[strategy]
name = "ema_cross"
symbols = ["PF_XBTUSD"]
timeframe = "1m"
[strategy.params]
fast = 2
slow = 5
min_confidence = 0.0
""")
    return path


class Engine:
    """One headless live-mode engine process on ``journal``; ``socket`` once it serves ctl."""

    def __init__(self, cfg: Path, journal: Path, env: dict[str, str], log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "kraken_tui", "--no-ui", "--mode", "live", "--config",
                                      str(cfg), "--journal", str(journal)], stdout=subprocess.PIPE,
                                     stderr=self.log, env=env, cwd=REPO)
        self.socket: Path | None = None

    async def wait_socket(self, timeout_s: float = 60.0) -> Path:
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            line = await asyncio.wait_for(loop.run_in_executor(None, self.proc.stdout.readline),
                                          max(0.1, deadline - loop.time()))
            if not line:
                break
            text = line.decode(errors="replace")
            if text.startswith("ctl socket: "):
                self.socket = Path(text.split(": ", 1)[1].strip())
                loop.run_in_executor(None, self._drain)
                return self.socket
        raise RuntimeError(f"engine did not start (exit {self.proc.poll()}); see {self.log.name}")

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def terminate(self) -> int:
        self.proc.terminate()
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        self.log.close()
        return rc


class Watch:
    """Polls the exchange every ``period_s``: positions without a reduce-only stop on their symbol for longer
    than ``grace_s`` (each such episode counted once), and cliOrdIds naming two order ids."""

    def __init__(self, client: Any, grace_s: float, period_s: float = 0.1) -> None:
        self.client, self.grace_s, self.period_s = client, grace_s, period_s
        self.since: dict[str, float] = {}
        self.counted: set[str] = set()
        self.episodes = 0
        self.longest = 0.0
        self.by_cli: dict[str, set[str]] = {}
        self.errors = 0
        self.position_polls = 0
        self.phase = "start"
        """What the driver is doing (engine up / down after kill N), recorded with each episode."""
        self.where: list[str] = []
        self.running = True

    async def run(self) -> None:
        while self.running:
            try:
                positions = await self.client.open_positions()
                orders = await self.client.open_orders()
            except Exception:  # noqa: BLE001 - a frozen or faulty exchange: try again
                self.errors += 1
                await asyncio.sleep(self.period_s)
                continue
            now = time.monotonic()
            for o in orders:
                if o.cli_ord_id:
                    self.by_cli.setdefault(o.cli_ord_id, set()).add(o.order_id)
            stops = {o.symbol for o in orders if o.reduce_only and o.order_type in STOP_TYPES}
            open_syms = {p.symbol for p in positions if p.size != 0}
            self.position_polls += bool(open_syms)
            for sym in open_syms:
                key = sym
                if sym in stops:
                    self.since.pop(key, None)
                    self.counted.discard(key)
                    continue
                start = self.since.setdefault(key, now)
                self.longest = max(self.longest, now - start)
                if now - start > self.grace_s and key not in self.counted:
                    self.counted.add(key)
                    self.episodes += 1
                    self.where.append(f"{sym} without a stop for > {self.grace_s:g} s ({self.phase})")
            for key in list(self.since):
                if key not in open_syms:
                    self.since.pop(key)
                    self.counted.discard(key)
            await asyncio.sleep(self.period_s)


def _journal_check(journal: Path) -> tuple[bool, int, set[str]]:
    """(integrity ok, duplicate fill ids, fill ids) of the journal, read-only."""
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r[0] for r in conn.execute("SELECT fill_id FROM fills")]
    finally:
        conn.close()
    return ok, len(ids) - len(set(ids)), set(ids)


def _journaled_state(journal: Path) -> str | None:
    """The operator state last journaled (``journal.queries.last_state_change``)."""
    from kraken_tui.journal.queries import last_state_change

    row = last_state_change(journal)
    return None if row is None else str(row[0])


async def _state(sock: Path, timeout_s: float = 10.0) -> str | None:
    from kraken_tui.control.client import request

    try:
        ans = await request(sock, "status", timeout_s=timeout_s)
    except (OSError, TimeoutError, ValueError):
        return None
    st = ans.get("status") or {}
    return st.get("state")


async def _wait_state(sock: Path, want: set[str], timeout_s: float) -> str | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    state = None
    while loop.time() < deadline:
        state = await _state(sock)
        if state in want:
            return state
        await asyncio.sleep(0.2)
    return state


async def _send_flatten(sock: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(b'{"cmd": "flatten", "reason": "soak"}\n')
    await writer.drain()
    return reader, writer


async def _wait_journaled(journal: Path, want: set[str], timeout_s: float) -> str | None:
    """Read the journal's last operator state every 1 ms until it is one of ``want`` (returned) or
    ``timeout_s`` passes (the last state read is returned)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    state = _journaled_state(journal)
    while state not in want and loop.time() < deadline:
        await asyncio.sleep(0.001)
        state = _journaled_state(journal)
    return state


def _client(info: dict[str, str]) -> tuple[Any, Any]:
    import httpx
    from pydantic import SecretStr

    from kraken_tui.config import ClientConfig, Credentials
    from kraken_tui.kraken.rest import KrakenRestClient

    http = httpx.AsyncClient()
    creds = Credentials(api_key=SecretStr(info["api_key"]), api_secret=SecretStr(info["api_secret"]), source="paper")
    return http, KrakenRestClient(http, info["rest_url"], creds, config=ClientConfig(read_retries=0, timeout_s=3))


async def _journal_catches_up(client: Any, journal: Path, timeout_s: float) -> None:
    """Wait (at least 2 s, at most ``timeout_s``) until every fill the exchange reports is in the journal: under
    dropped WebSocket messages a last fill reaches the engine only at its next REST reconciliation, so stopping the
    engine sooner would count a fill it was about to journal as lost. A fill still missing after the wait is
    counted as lost by ``_final_fills``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    await asyncio.sleep(2.0)
    while loop.time() < deadline:
        with contextlib.suppress(Exception):  # the exchange still answers 5xx/429 now and then
            fills = await client.fills_since(0, max_pages=10_000)
            if {f.fill_id for f in fills} <= _journal_check(journal)[2]:
                return
        await asyncio.sleep(0.5)


async def _exchange_fills(client: Any) -> list[Any]:
    """Every fill the exchange reports. A restarted engine's reconciliation may have spent the key's rate
    budget just before: a 429 waits the ``Retry-After`` it names (up to five times), as any client must."""
    from kraken_tui.errors import RateLimitError

    for _ in range(5):
        try:
            return list(await client.fills_since(0, max_pages=10_000))
        except RateLimitError as exc:
            await asyncio.sleep(min(max(exc.retry_after_s or 1.0, 0.2), 10.0))
    return list(await client.fills_since(0, max_pages=10_000))


async def _final_fills(client: Any, fig: Figures, journal: Path, watch: Watch) -> None:
    fills = await _exchange_fills(client)
    ex_ids = {f.fill_id for f in fills}
    fig.exchange_fills = len(ex_ids)
    ok, dups, ids = _journal_check(journal)
    fig.integrity_failures += 0 if ok else 1
    fig.journal_duplicate_fills = max(fig.journal_duplicate_fills, dups)
    fig.lost_fills = len(ex_ids - ids)
    for f in fills:
        if f.cli_ord_id:
            watch.by_cli.setdefault(f.cli_ord_id, set()).add(f.order_id)


class FlattenPlan:
    """Which kills land inside a flatten, and how long after FLATTENING is journaled each one waits.

    ``kills`` kills in all, ``wanted`` of them inside a flatten. The planned ones are drawn from the first
    ``kills - reserve`` kills (``reserve`` = max(2, wanted // 3), never more than ``kills - wanted``); a kill
    whose flatten had already ended is owed and made up by the next kill; and once no more kills remain than
    flatten kills are still needed, every kill is a flatten kill. The delay is uniform in [0, window] seconds;
    ``window`` starts at ``FLATTEN_WINDOW_S``, halves after a missed flatten (it had ended) and doubles back
    up to ``FLATTEN_WINDOW_S`` after a kill inside one.
    """

    def __init__(self, kills: int, wanted: int, rng: random.Random) -> None:
        self.kills, self.wanted, self.rng = kills, min(wanted, kills), rng
        reserve = min(max(2, self.wanted // 3), kills - self.wanted)
        self.planned = set(rng.sample(range(kills - reserve), self.wanted))
        self.owed = 0
        self.inside = 0
        self.window_s = FLATTEN_WINDOW_S

    def is_flatten(self, i: int) -> bool:
        """Whether kill ``i`` (0-based) is to land inside a flatten; consumes one owed kill if it makes one up."""
        if i in self.planned:
            return True
        if self.owed > 0:
            self.owed -= 1
            return True
        return self.kills - i <= self.wanted - self.inside

    def delay_s(self) -> float:
        """Seconds to wait after FLATTENING is journaled before the kill."""
        return self.rng.uniform(0.0, self.window_s)

    def result(self, inside: bool) -> None:
        """Record whether a flatten kill landed inside its flatten (FLATTENING still the journal's last state)."""
        if inside:
            self.inside += 1
            self.window_s = min(FLATTEN_WINDOW_S, self.window_s * 2)
        else:
            self.owed += 1
            self.window_s /= 2


async def kill_soak(kills: int, flatten_kills: int, seed: int = 1, *, grace_s: float = 2.0,
                    workdir: Path | None = None, say: Any = print) -> Figures:
    """Part 1 of the module docstring. Returns the figures."""
    rng = random.Random(seed)
    work = Path(workdir or tempfile.mkdtemp(prefix="kt-soak-"))
    run = work / "run"
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run), "XDG_DATA_HOME": str(work / "data"), "PYTHONPATH": str(REPO),
           "PYTHONUNBUFFERED": "1"}
    sim = Sim(env)
    env.update(KRAKEN_TUI_API_KEY=sim.info["api_key"], KRAKEN_TUI_API_SECRET=sim.info["api_secret"])
    cfg = _config(work / "config.toml", sim.info)
    journal = work / "journal.sqlite"
    fig = Figures(flatten_kills_wanted=min(flatten_kills, kills))
    plan = FlattenPlan(kills, flatten_kills, rng)
    http, client = _client(sim.info)
    watch = Watch(client, grace_s)
    wtask = asyncio.create_task(watch.run())
    last_was_flatten = False
    try:
        for i in range(kills):
            watch.phase = f"engine starting after kill {i - 1}" if i else "engine starting"
            eng = Engine(cfg, journal, env, work / "engine.log")
            try:
                sock = await eng.wait_socket()
            except (RuntimeError, TimeoutError) as exc:
                fig.notes.append(f"restart {i} failed: {exc}")
                eng.kill()
                last_was_flatten = False
                continue
            if i > 0:
                fig.kills_survived += 1
            state = await _wait_state(sock, {"RUNNING", "PAUSED", "HALTED"}, 20.0)
            watch.phase = f"engine up ({state}) after kill {i - 1}" if i else f"engine up ({state})"
            if last_was_flatten:
                if state == "HALTED":
                    fig.flatten_resumed_halted += 1
                else:
                    fig.notes.append(f"restart {i} after a kill inside a flatten came up {state}")
            if state in ("HALTED", "PAUSED"):
                from kraken_tui.control.client import request

                with contextlib.suppress(OSError, TimeoutError, ValueError):
                    for cmd in (("reset", "resume") if state == "HALTED" else ("resume",)):
                        await request(sock, cmd, "soak: trade again")
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            is_flatten = plan.is_flatten(i)
            last_was_flatten = False
            conn = None
            if is_flatten:
                before = _journaled_state(journal)  # a HALTED journaled before the request is not this flatten's
                conn = await _send_flatten(sock)
                seen = await _wait_journaled(journal, {"FLATTENING"} | ({"HALTED"} if before != "HALTED" else set()),
                                             20.0)
                if seen not in ("FLATTENING", "HALTED"):
                    fig.notes.append(f"kill {i}: the flatten was not journaled within 20 s (last state {seen})")
                if seen == "FLATTENING":
                    await asyncio.sleep(plan.delay_s())
            eng.kill()
            watch.phase = f"engine down after kill {i}" + (" inside a flatten" if is_flatten else "")
            if conn is not None:
                conn[1].close()
            fig.kills += 1
            if is_flatten:
                fig.flatten_requests += 1
                at_kill = _journaled_state(journal)
                last_was_flatten = at_kill in ("FLATTENING", "HALTED")  # the restart must come up HALTED
                fig.kills_in_flatten += int(at_kill == "FLATTENING")
                fig.flatten_done_at_kill += int(at_kill == "HALTED")
                plan.result(at_kill == "FLATTENING")
                if at_kill != "FLATTENING":
                    fig.notes.append(f"kill {i}: after a flatten request, the journal's last state is {at_kill} "
                                     "(not inside the flatten; a later kill is made a flatten kill)")
            ok, dups, _ = _journal_check(journal)
            fig.integrity_failures += 0 if ok else 1
            fig.journal_duplicate_fills = max(fig.journal_duplicate_fills, dups)
            if (i + 1) % 10 == 0:
                say(f"  {i + 1}/{kills} kills ({fig.kills_in_flatten} inside a flatten)", flush=True)
        if fig.kills_in_flatten < fig.flatten_kills_wanted:
            fig.notes.append(f"{fig.flatten_kills_wanted - fig.kills_in_flatten} flatten kill(s) short: "
                             "no kills left")
        eng = Engine(cfg, journal, env, work / "engine.log")
        sock = await eng.wait_socket()
        fig.kills_survived += int(kills > 0)
        state = await _wait_state(sock, {"RUNNING", "PAUSED", "HALTED"}, 20.0)
        if last_was_flatten:
            fig.flatten_resumed_halted += int(state == "HALTED")
        await asyncio.sleep(3.0)  # reconciliation books what filled while it was down
        eng.terminate()
        await _final_fills(client, fig, journal, watch)
    finally:
        await _stop_watching(watch, wtask, http, sim)
    return _with_watch_figures(fig, watch)



async def _stop_watching(watch: Any, wtask: Any, http: Any, sim: Any) -> None:
    """Stop the position watcher, then the HTTP client and the sim process."""
    watch.running = False
    await asyncio.gather(wtask, return_exceptions=True)
    await http.aclose()
    sim.stop()


def _with_watch_figures(fig: Figures, watch: Any) -> Figures:
    """Copy what the position watcher saw into ``fig`` (polls, unprotected episodes, duplicate sends)."""
    fig.position_polls = watch.position_polls
    fig.notes += watch.where
    fig.unprotected_positions = watch.episodes
    fig.longest_unprotected_s = round(watch.longest, 3)
    fig.duplicate_sends = sum(1 for v in watch.by_cli.values() if len(v) > 1)
    return fig

async def fault_matrix(duration_s: float, seed: int = 1, *, grace_s: float = 5.0, workdir: Path | None = None,
                       say: Any = print) -> Figures:
    """Part 2 of the module docstring. Returns the figures (``final_flat``: ctl flatten ended flat)."""
    from kraken_tui.control.client import request

    rng = random.Random(seed)
    work = Path(workdir or tempfile.mkdtemp(prefix="kt-faults-"))
    run = work / "run"
    run.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run), "XDG_DATA_HOME": str(work / "data"), "PYTHONPATH": str(REPO),
           "PYTHONUNBUFFERED": "1"}
    faults = (f"http_5xx_rate=0.05,http_429_rate=0.05,lost_response_rate=0.03,ws_drop_rate=0.02,"
              f"ws_duplicate_rate=0.02,latency_ms=40,seed={seed}")
    sim = Sim(env, faults=faults)
    env.update(KRAKEN_TUI_API_KEY=sim.info["api_key"], KRAKEN_TUI_API_SECRET=sim.info["api_secret"])
    cfg = _config(work / "config.toml", sim.info, timeout_s=1.0)
    journal = work / "journal.sqlite"
    fig = Figures()
    http, client = _client(sim.info)
    watch = Watch(client, grace_s)
    wtask = asyncio.create_task(watch.run())
    try:
        eng = Engine(cfg, journal, env, work / "engine.log")
        sock = await eng.wait_socket()
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_s
        while loop.time() < end:
            await asyncio.sleep(max(0.0, min(end - loop.time(), rng.uniform(5.0, 15.0))))
            # no freeze in the last QUIET_S: requests a frozen exchange buffered are served late, and one that
            # lands after the flatten's verification opens a position no flatten could have seen
            if loop.time() + 3.0 + QUIET_S < end:
                os.kill(sim.proc.pid, signal.SIGSTOP)  # a frozen exchange: no answer, no WS message
                await asyncio.sleep(3.0)
                os.kill(sim.proc.pid, signal.SIGCONT)
        try:
            ans = await request(sock, "flatten", "soak: end of the fault matrix", timeout_s=120)
            fig.final_flat = bool(ans.get("ok"))
            if not ans.get("ok"):
                fig.notes.append(f"flatten: {ans.get('error')}")
        except (OSError, TimeoutError, ValueError) as exc:
            fig.final_flat = False
            fig.notes.append(f"flatten: {type(exc).__name__}: {exc}")
        await _journal_catches_up(client, journal, timeout_s=20.0)
        eng.terminate()
        watch.running = False
        await asyncio.gather(wtask, return_exceptions=True)
        for _ in range(5):  # the exchange still answers 5xx/429 now and then
            try:
                await _final_fills(client, fig, journal, watch)
                break
            except Exception as exc:  # noqa: BLE001 - retried
                fig.notes.append(f"reading fills: {type(exc).__name__}")
                await asyncio.sleep(1.0)
        positions = None
        for _ in range(5):
            with contextlib.suppress(Exception):
                positions = await client.open_positions()
                break
        if positions:
            fig.final_flat = False
            fig.notes.append(f"positions open after the flatten answered flat: "
                             f"{[(p.symbol, str(p.size)) for p in positions]}")
    finally:
        await _stop_watching(watch, wtask, http, sim)
    return _with_watch_figures(fig, watch)


def clean(kill: Figures | None, faults: Figures | None, fz: dict[str, Any] | None) -> bool:
    """True when every figure is clean (module docstring)."""
    ok = True
    for f in (kill, faults):
        if f is None:
            continue
        ok &= (f.unprotected_positions == 0 and f.duplicate_sends == 0 and f.lost_fills == 0
               and f.journal_duplicate_fills == 0 and f.integrity_failures == 0)
    if kill is not None:
        ok &= (kill.kills_survived == kill.kills
               and kill.kills_in_flatten >= kill.flatten_kills_wanted
               and kill.flatten_resumed_halted == kill.kills_in_flatten + kill.flatten_done_at_kill)
    if faults is not None:
        ok &= bool(faults.final_flat)
    if fz is not None:
        ok &= fz["crashes"] == 0
    return ok


async def _main(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    kill = faults = None
    fz = None
    if args.fuzz:
        print(f"fuzz: {args.fuzz} messages ...", flush=True)
        logging.disable(logging.WARNING)  # the parsers warn about each malformed detail they tolerate
        fz = await fuzz(args.fuzz, args.seed)
        logging.disable(logging.NOTSET)
        print(f"fuzz messages / crashes: {fz['messages']} / {fz['crashes']} "
              f"({fz['typed_errors']} typed refusals)", flush=True)
        for e in fz["examples"]:
            print("  crash:", e)
    if args.kills:
        print(f"kills: {args.kills} ({args.flatten_kills} inside a flatten) ...", flush=True)
        kill = await kill_soak(args.kills, args.flatten_kills, args.seed, grace_s=args.grace_s)
        print(f"kills survived / N: {kill.kills_survived} / {kill.kills}")
        print(f"kills inside a flatten (FLATTENING journaled at the kill): {kill.kills_in_flatten} / "
              f"{kill.flatten_kills_wanted} ({kill.flatten_requests} flatten requests; {kill.flatten_done_at_kill} "
              f"killed after the flatten ended; restarts that came up HALTED after them: "
              f"{kill.flatten_resumed_halted})")
        print(f"positions ever left without a stop (> {args.grace_s} s): {kill.unprotected_positions} "
              f"(longest {kill.longest_unprotected_s} s; {kill.position_polls} polls saw a position)")
        print(f"duplicate sends: {kill.duplicate_sends}; lost fills: {kill.lost_fills} of {kill.exchange_fills}; "
              f"journal duplicate fills: {kill.journal_duplicate_fills}; integrity failures: "
              f"{kill.integrity_failures}")
        for n in kill.notes[:60]:
            print("  note:", n)
    if args.faults_s:
        print(f"fault matrix: {args.faults_s:g} s ...", flush=True)
        faults = await fault_matrix(args.faults_s, args.seed)
        print(f"fault matrix: flat at the end: {faults.final_flat}; positions without a stop: "
              f"{faults.unprotected_positions} (longest {faults.longest_unprotected_s} s, {faults.position_polls} polls "
              f"saw a position); duplicate sends: "
              f"{faults.duplicate_sends}; lost fills: {faults.lost_fills} of {faults.exchange_fills}")
        for n in faults.notes[:20]:
            print("  note:", n)
    ok = clean(kill, faults, fz)
    print(f"soak {'clean' if ok else 'FOUND PROBLEMS'} in {time.monotonic() - t0:.0f} s")
    if args.json:
        print(json.dumps({"kills": asdict(kill) if kill else None, "faults": asdict(faults) if faults else None,
                          "fuzz": fz, "clean": ok}))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Command line (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--flatten-kills", type=int, default=30)
    ap.add_argument("--faults-s", type=float, default=600.0)
    ap.add_argument("--fuzz", type=int, default=100_000)
    ap.add_argument("--grace-s", type=float, default=2.0,
                    help="seconds a position may be seen without its stop before it counts (entry to stop)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
