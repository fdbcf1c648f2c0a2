"""Shared fixtures: isolation from the user's real config/journal/keys, and the shared data directory.

Every test runs with HOME, XDG dirs and the working directory pointed at a temporary folder and with
the credential variables removed, so nothing reads or writes the user's files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

try:  # tqdm (installed with optuna) starts a monitor thread with its first progress bar (backtesting.py's, in the
    # peer tests); a second thread alive makes the backtest's candle reader refuse to fork (backtest.prefetch.claim)
    import tqdm

    tqdm.tqdm.monitor_interval = 0
except ImportError:  # pragma: no cover - tqdm comes with the test extra's optuna
    pass


def data_dir() -> Path:
    """The shared data directory: $KRAKEN_TUI_DATA, else ../shared/data next to the repository."""
    env = os.environ.get("KRAKEN_TUI_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def require_data(relpath: str) -> Path:
    """Path of a shared dataset; skip when missing, but fail under CI=true."""
    path = data_dir() / relpath
    if not path.exists():
        msg = f"dataset missing: {path} (set KRAKEN_TUI_DATA or place ../shared/data beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def shared_data():
    """Callable fixture: ``shared_data("kraken/pf_xbtusd_1m_2025-08.csv")`` -> Path."""
    return require_data


@pytest.fixture(autouse=True)
def _isolate_user_files(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.delenv("KRAKEN_TUI_API_KEY", raising=False)
    monkeypatch.delenv("KRAKEN_TUI_API_SECRET", raising=False)
    monkeypatch.chdir(home)
    yield
