"""Equity at mark in a real terminal: ``kraken-tui`` replaying ETH in tmux (120x40) with a fast SMA cross, the P&L panel read with
``capture-pane`` while a position is open. As the position's mark moves, Unrealized moves and Equity moves
with it by the same amount (fees, realized and funding unchanged between two samples). Skips without tmux or
the shared data."""

from __future__ import annotations

import re
import shutil
import time
from decimal import Decimal

import pytest

from tests.ui.test_tmux_console import _wait_for
from tests.ui.test_tmux_layouts import DATA, Term

pytestmark = pytest.mark.slow

_EQUITY = re.compile(r"Equity\s+(-?[\d,]+\.\d\d) USD")
_UNREALIZED = re.compile(r"Unrealized\s+([+-]?[\d,]+\.\d\d) USD at mark")
_REALIZED = re.compile(r"Realized\s+([+-]?[\d,]+\.\d\d) USD gross")
_FEES = re.compile(r"Fees\s+([+-]?[\d,]+\.\d\d) USD\s+funding ([+-]?[\d,]+\.\d\d)")


#: A fast SMA cross that holds a position for a few bars at a time in this replay.
STRATEGY = """[strategy]
name = "sma_cross"
symbols = ["PF_ETHUSD"]
timeframe = "5m"
[strategy.params]
fast = 2
slow = 6
"""


def _num(s: str) -> Decimal:
    return Decimal(s.replace(",", ""))


def _sample(screen: str) -> tuple[Decimal, Decimal, str] | None:
    """(equity USD, unrealized USD, realized/fees/funding text) from the P&L panel, or None when not all shown
    or no position is open."""
    if " open ─" not in screen:  # the Positions panel's subtitle while a position is open
        return None
    eq, un = _EQUITY.search(screen), _UNREALIZED.search(screen)
    re_, fees = _REALIZED.search(screen), _FEES.search(screen)
    if not (eq and un and re_ and fees):
        return None
    return _num(eq.group(1)), _num(un.group(1)), f"{re_.group(1)} {fees.group(1)} {fees.group(2)}"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_equity_on_screen_moves_with_the_mark(shared_data, tmp_path):
    (tmp_path / "config.toml").write_text(STRATEGY)  # read from the console's working directory
    tm = Term(shared_data(DATA), tmp_path, 120, 40, speed=600)
    try:
        _wait_for(tm.capture, "REPLAY")
        assert tm.size() == "120x40"
        samples: list[tuple[Decimal, Decimal, str]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            s = _sample(tm.capture())
            if s is None:
                if len(samples) >= 4:
                    break
                samples.clear()  # the position closed: sample the next one afresh
            elif not samples or s != samples[-1]:
                samples.append(s)
                if len(samples) >= 12:
                    break
            time.sleep(0.2)
        assert len(samples) >= 4, f"no position held long enough to sample; last screen:\n{tm.capture()}"
        pairs = [(a, b) for a, b in zip(samples, samples[1:], strict=False) if a[2] == b[2] and a[1] != b[1]]
        assert pairs, samples  # the mark moved while realized, fees and funding stayed put
        for (eq0, un0, _), (eq1, un1, _) in pairs:
            # Equity moves by what Unrealized moves (each figure rounded to the cent on screen)
            assert abs((eq1 - eq0) - (un1 - un0)) <= Decimal("0.01"), samples
        print(f"{len(samples)} samples; Equity moved {len(pairs)} times with Unrealized, e.g. "
              f"{pairs[0][0][0]} -> {pairs[0][1][0]} USD")
    finally:
        tm.close()
