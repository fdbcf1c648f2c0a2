"""Console test fixtures: a FakeEngine and a KrakenApp on it with a frozen clock."""

from __future__ import annotations

import pytest

from kraken_tui.config import Config
from kraken_tui.ui.app import KrakenApp
from tests.ui.fake_engine import T0_S, FakeEngine


class Clock:
    """A settable frozen clock (UTC epoch seconds)."""

    def __init__(self, t: float = T0_S) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def make_app(clock, tmp_path):
    """``make_app(engine=None, cfg=None)`` -> KrakenApp on a FakeEngine with the frozen clock."""

    def make(engine: FakeEngine | None = None, cfg: Config | None = None, **kw) -> KrakenApp:
        return KrakenApp(engine or FakeEngine(), cfg or Config(), clock=clock, log_file=tmp_path / "console.log",
                         export_dir=tmp_path, **kw)

    return make
