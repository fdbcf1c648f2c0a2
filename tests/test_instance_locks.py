"""One engine per journal and per exchange account (``kraken_tui.locks``), across real processes.

- two headless paper runs on one journal: the second exits 2 naming the first's pid and mode; after a SIGKILL
  of the first the journal is free again (the kernel released the lock);
- two live-mode engines on one exchange account (one API key, a ``kraken-tui sim`` exchange), each with its own
  journal: the second exits 2 naming the first's pid;
- one paper account file claimed by two processes with two journals: the second is refused;
- read-only journal readers (``kraken-tui journal``) work while an engine holds the journal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kraken_tui.errors import InstanceBusyError
from kraken_tui.locks import InstanceLock, InstanceLocks, api_key_fingerprint, journal_lock_path
from tests.conftest import REPO


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kraken_tui", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_line(proc: subprocess.Popen[str], prefix: str, timeout_s: float = 60.0) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line
    proc.kill()
    raise AssertionError(f"no {prefix!r} line (exit {proc.poll()}): {proc.stderr.read() if proc.stderr else ''}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def test_lock_holder_named_and_fingerprint_hides_the_key(tmp_path):
    lock = InstanceLock(tmp_path / "j.lock", "journal j")
    lock.acquire("paper")
    try:
        body = json.loads((tmp_path / "j.lock").read_text())
        assert body["pid"] == os.getpid() and body["mode"] == "paper"
        assert oct((tmp_path / "j.lock").stat().st_mode & 0o777) == "0o600"
        # a second open file description in another process is refused (flock is per open file)
        code = textwrap.dedent(f"""
            from pathlib import Path
            from kraken_tui.locks import InstanceLock
            from kraken_tui.errors import InstanceBusyError
            try:
                InstanceLock(Path({str(tmp_path / 'j.lock')!r}), "journal j").acquire("live")
            except InstanceBusyError as exc:
                print(exc.holder_pid, exc.holder_mode, exc)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
        assert out.stdout.startswith(f"{os.getpid()} paper "), out
    finally:
        lock.release()
    key = "sEcReTkEy-abcdef"
    fp = api_key_fingerprint(key)
    assert len(fp) == 16 and key not in fp
    locks = InstanceLocks.for_run(journal=tmp_path / "a.sqlite", state_dir=tmp_path / "state", api_key=key)
    locks.acquire("live")
    try:
        files = [p.name for p in (tmp_path / "state" / "locks").iterdir()]
        assert files == [f"account-{fp}.lock"]
        assert key not in (tmp_path / "state" / "locks" / files[0]).read_text()
        # all or none: the journal lock taken first is released when the account is busy
        other = InstanceLocks.for_run(journal=tmp_path / "b.sqlite", state_dir=tmp_path / "state", api_key=key)
        code = textwrap.dedent(f"""
            from pathlib import Path
            from kraken_tui.locks import InstanceLocks
            from kraken_tui.errors import InstanceBusyError
            locks = InstanceLocks.for_run(journal=Path({str(tmp_path / 'b.sqlite')!r}),
                                          state_dir=Path({str(tmp_path / 'state')!r}), api_key={key!r})
            try:
                locks.acquire("live")
            except InstanceBusyError as exc:
                print("busy", exc.holder_pid)
            print("held", [lk.held for lk in locks.locks])
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
        assert out.stdout.split("\n")[:2] == [f"busy {os.getpid()}", "held [False, False]"], out
        assert not other.locks[0].held
    finally:
        locks.release()


def test_paper_account_claimed_by_two_journals_refused(tmp_path):
    account = tmp_path / "prof" / "paper-account.sqlite"
    code = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from kraken_tui.locks import InstanceLocks
        from kraken_tui.errors import InstanceBusyError
        locks = InstanceLocks.for_run(journal=Path(sys.argv[1]), state_dir=Path(sys.argv[2]),
                                      paper_account=Path(sys.argv[3]))
        try:
            locks.acquire("paper")
        except InstanceBusyError as exc:
            print("busy", exc.holder_pid, exc.holder_mode, exc, flush=True)
            raise SystemExit(exc.exit_code)
        print("held", flush=True)
        time.sleep(120)
    """)
    first = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "a.sqlite"), str(tmp_path),
                              str(account)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-c", code, str(tmp_path / "b.sqlite"), str(tmp_path), str(account)],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
        assert second.returncode == 2
        assert second.stdout.startswith(f"busy {first.pid} paper "), second
        assert "paper account" in second.stdout
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        third = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "b.sqlite"), str(tmp_path),
                                  str(account)], stdout=subprocess.PIPE, text=True, cwd=REPO)
        try:
            assert third.stdout is not None and third.stdout.readline().strip() == "held"
        finally:
            _stop(third)  # type: ignore[arg-type]
    finally:
        _stop(first)  # type: ignore[arg-type]


@pytest.mark.slow
def test_two_engines_on_one_journal(tmp_path):
    journal = tmp_path / "journal.sqlite"
    args = ["--no-ui", "--source", "synthetic", "--journal", str(journal)]
    first = _start(args)
    try:
        _wait_line(first, "ctl socket: ")
        second = subprocess.run([sys.executable, "-m", "kraken_tui", *args], capture_output=True, text=True,
                                cwd=REPO, timeout=120)
        assert second.returncode == 2, second
        assert f"pid {first.pid}" in second.stderr and "mode paper" in second.stderr, second.stderr
        assert "journal" in second.stderr
        # a read-only reader does not take the lock
        rd = subprocess.run([sys.executable, "-m", "kraken_tui", "journal", "--journal", str(journal), "summary"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
        assert rd.returncode == 0, rd
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert json.loads(journal_lock_path(journal).read_text())["pid"] == first.pid  # the file stays...
        third = _start(args)  # ...and is locked again: the kernel released the dead holder's lock
        try:
            _wait_line(third, "ctl socket: ")
        finally:
            _stop(third)
    finally:
        _stop(first)


@pytest.mark.slow
def test_two_live_engines_on_one_account(tmp_path):
    sim = subprocess.Popen([sys.executable, "-m", "kraken_tui", "sim", "--json", "--source", "synthetic"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    try:
        assert sim.stdout is not None
        info = json.loads(sim.stdout.readline())
        cfg = tmp_path / "config.toml"
        cfg.write_text(f"""[live]
enabled = true
require_paper = false
rest_url = "{info['rest_url']}"
ws_url = "{info['ws_url']}"
[strategy]
symbols = ["PF_XBTUSD"]
""")
        env = {**os.environ, "KRAKEN_TUI_API_KEY": info["api_key"], "KRAKEN_TUI_API_SECRET": info["api_secret"],
               "PYTHONUNBUFFERED": "1"}
        base = [sys.executable, "-m", "kraken_tui", "--no-ui", "--mode", "live", "--config", str(cfg), "--journal"]
        first = subprocess.Popen([*base, str(tmp_path / "a.sqlite")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=REPO, env=env)
        try:
            _wait_line(first, "ctl socket: ")
            second = subprocess.run([*base, str(tmp_path / "b.sqlite")], capture_output=True, text=True, cwd=REPO,
                                    env=env, timeout=120)
            assert second.returncode == 2, second
            assert f"pid {first.pid}" in second.stderr and "mode live" in second.stderr, second.stderr
            assert "exchange account" in second.stderr and info["api_key"] not in second.stderr
        finally:
            _stop(first)
    finally:
        _stop(sim)


def test_busy_error_exit_code():
    exc = InstanceBusyError("journal j", 12, "live", "pid 12, mode live")
    assert exc.exit_code == 2 and "pid 12, mode live" in str(exc)
    assert isinstance(Path, type)
