"""End to end: `kraken-tui --no-ui` replaying Kraken OHLCVT candles (XBTUSD mapped to PF_XBTUSD) on the
in-process paper exchange (loopback), paused, resumed and flattened with `kraken-tui ctl` while it runs,
ending HALTED and flat; SIGTERM then stops it in order with exit code 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

DATA = "kraken/kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv"


def _ctl(sock: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_tui", "ctl", "--socket", sock, *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_headless_replay_driven_by_ctl(tmp_path, shared_data):
    csv = shared_data(DATA)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[strategy]\nsymbols = ["PF_XBTUSD"]\n')
    journal = tmp_path / "journal.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kraken_tui", "--no-ui", "--config", str(cfg), "--replay", str(csv),
         "--symbol-map", "XBTUSD=PF_XBTUSD", "--speed", "max", "--journal", str(journal)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    sock_ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ctl socket: "):
                sock_ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert sock_ready.wait(60), f"no socket line; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
        sock = next(x for x in lines if x.startswith("ctl socket: ")).split(": ", 1)[1]
        assert sock.startswith(os.environ["XDG_RUNTIME_DIR"])
        assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
        # wait until the engine holds a position with its protective orders
        deadline = time.monotonic() + 90
        status = {}
        while time.monotonic() < deadline:
            r = _ctl(sock, "status", "--json")
            assert r.returncode == 0, r.stderr
            status = json.loads(r.stdout)
            if status["positions"] and status["open_orders"]:
                break
            time.sleep(0.2)
        assert status["positions"], "no position opened within 90 s"
        assert status["mode"] == "replay" and status["state"] == "RUNNING"
        p = status["positions"][0]
        assert p["symbol"] == "PF_XBTUSD" and p["side"] in ("long", "short") and p["size"] > 0

        r = _ctl(sock, "pause", "--reason", "e2e pause")
        assert r.returncode == 0 and "PAUSED (e2e pause)" in r.stdout, (r.stdout, r.stderr)
        r = _ctl(sock, "resume")
        assert r.returncode == 0 and "state      RUNNING" in r.stdout, (r.stdout, r.stderr)
        r = _ctl(sock, "flatten", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        ans = json.loads(r.stdout)
        assert ans["report"]["flat"] is True  # verified by the exchange's own openpositions/openorders
        # at max speed an exit may have closed the position just before the flatten arrived
        assert {c["symbol"] for c in ans["report"]["closed"]} <= {"PF_XBTUSD"}
        r = _ctl(sock, "status", "--json")
        st = json.loads(r.stdout)
        assert st["state"] == "HALTED" and st["positions"] == [] and st["open_orders"] == 0, (st, ans)
        r = _ctl(sock, "resume")
        assert r.returncode == 2 and "reset it first" in r.stderr
        time.sleep(0.5)  # the replay goes on; a HALTED engine opens nothing
        st = json.loads(_ctl(sock, "status", "--json").stdout)
        assert st["state"] == "HALTED" and st["positions"] == [] and st["open_orders"] == 0, (st, lines[-30:])

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = "\n".join(lines)
    assert "RUNNING -> PAUSED" in text or "PAUSED" in text
    assert "flatten done: account flat" in text
    assert lines[-1].startswith("stopped HALTED") and "no open positions, no open orders" in lines[-1], lines[-30:]
    assert not os.path.exists(sock)
