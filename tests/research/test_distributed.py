"""``optimize --ray local``: the same study on a local Ray instance gives the serial run's best parameters.
Skipped where Ray (the ``distributed`` extra) is not installed, unless CI=true and KRAKEN_TUI_EXPECT_RAY=1 say
it must be there."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from kraken_tui.cli import main
from tests.backtest._util import PF_1M


def _need_ray() -> None:
    if importlib.util.find_spec("ray") is not None:
        return
    msg = "ray is not installed (pip install 'kraken-tui[distributed]')"
    if os.environ.get("CI", "").lower() == "true" and os.environ.get("KRAKEN_TUI_EXPECT_RAY") == "1":
        pytest.fail(msg + " but KRAKEN_TUI_EXPECT_RAY=1")
    pytest.skip(msg)


@pytest.mark.slow
def test_ray_local_gives_the_serial_best(shared_data, tmp_path, capsys):
    _need_ray()
    path = str(shared_data(PF_1M))
    base = ["optimize", "--candles", path, "--symbol", "PF_XBTUSD", "--strategy", "sma_cross", "--folds", "2",
            "--trials", "16", "--json"]
    assert main([*base, "--storage", str(tmp_path / "a.sqlite3")]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main([*base, "--storage", str(tmp_path / "b.sqlite3"), "--ray", "local"]) == 0
    ray_doc = json.loads(capsys.readouterr().out)
    assert ray_doc["executor"].startswith("Ray (local")
    assert ray_doc["best"] == serial["best"]
    assert ray_doc["folds"] == serial["folds"]
