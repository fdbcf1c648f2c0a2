"""Start-up refuses what it cannot trade or keep private: a traded symbol the exchange does not list ends the
start with ``ConfigError`` (CLI exit 2) naming it and listing the perpetuals the exchange lists (engine.core
``Engine.start``); the console's log file is created 0600 whatever the umask (ui.logfile)."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from kraken_tui.config import Config
from kraken_tui.errors import ConfigError
from kraken_tui.runtime import RunOptions, build_runtime
from kraken_tui.ui.logfile import setup_logging


async def test_an_unknown_symbol_is_refused_at_start_with_the_known_ones(tmp_path):
    cfg = Config.model_validate({"strategy": {"symbols": ["PF_XBTUSD", "PF_NOPEUSD"]}})
    rt = await build_runtime(cfg, RunOptions(journal=tmp_path / "j.sqlite"))
    try:
        with pytest.raises(ConfigError) as err:
            await rt.start()
    finally:
        await rt.aclose()
    text = str(err.value)
    assert err.value.exit_code == 2 and "PF_NOPEUSD" in text and "PF_XBTUSD" in text and "PF_ETHUSD" in text


def test_the_log_file_is_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        restore = setup_logging(tmp_path / "logs" / "kraken-tui.log")
        logging.getLogger("t").warning("hello")
        restore()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "logs" / "kraken-tui.log").stat().st_mode) == 0o600
