"""The live gate of build_runtime: no keys -> SecretsError; keys without [live] enabled -> ConfigError."""

from __future__ import annotations

import asyncio

import pytest

from kraken_tui.config import Config
from kraken_tui.errors import ConfigError, SecretsError
from kraken_tui.runtime import RunOptions, build_runtime


def test_live_refused_without_keys(tmp_path):
    cfg = Config.model_validate({"live": {"enabled": True}})
    with pytest.raises(SecretsError, match="live mode needs API keys"):
        asyncio.run(build_runtime(cfg, RunOptions(mode="live", journal=tmp_path / "j.sqlite")))


def test_live_refused_without_enabled(tmp_path, monkeypatch):
    monkeypatch.setenv("KRAKEN_TUI_API_KEY", "k")
    monkeypatch.setenv("KRAKEN_TUI_API_SECRET", "czNjcmV0")
    with pytest.raises(ConfigError, match="live.enabled"):
        asyncio.run(build_runtime(Config(), RunOptions(mode="live", journal=tmp_path / "j.sqlite")))


def test_unknown_mode_refused(tmp_path):
    with pytest.raises(ConfigError, match="--mode"):
        asyncio.run(build_runtime(Config(), RunOptions(mode="demo", journal=tmp_path / "j.sqlite")))
