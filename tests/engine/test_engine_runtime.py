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


def _live_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KRAKEN_TUI_API_KEY", "k")
    monkeypatch.setenv("KRAKEN_TUI_API_SECRET", "czNjcmV0")
    return Config.model_validate({"live": {"enabled": True, "paper_journal": str(tmp_path / "paper.sqlite")}})


def test_live_refused_until_paper_trading_meets_the_thresholds(tmp_path, monkeypatch):
    cfg = _live_env(monkeypatch, tmp_path)
    with pytest.raises(ConfigError, match="live.require_paper") as e:
        asyncio.run(build_runtime(cfg, RunOptions(mode="live", journal=tmp_path / "j.sqlite")))
    msg = str(e.value)
    for key in ("min_paper_days 14", "min_paper_trades 30", "min_paper_profit_factor", "max_paper_drawdown_pct"):
        assert key in msg


def test_paper_record_and_thresholds():
    from kraken_tui.config import LiveConfig
    from kraken_tui.promotion import PaperRecord, promotion_failures

    live = LiveConfig()
    assert promotion_failures(live, PaperRecord(20.0, 40, 1.5, 8.0)) == []
    [f] = promotion_failures(live, PaperRecord(20.0, 40, 1.1, 8.0))
    assert f == "paper profit factor 1.10 < [live] min_paper_profit_factor 1.2"
    [f] = promotion_failures(live, PaperRecord(20.0, 40, 1.5, 16.0))
    assert f == "paper max drawdown 16.0% > [live] max_paper_drawdown_pct 15%"
    assert promotion_failures(LiveConfig(require_paper=False), PaperRecord(0, 0, None, None)) == []


def test_override_is_journaled(tmp_path, monkeypatch):
    import sqlite3

    cfg = _live_env(monkeypatch, tmp_path)
    rt = asyncio.run(build_runtime(cfg, RunOptions(mode="live", journal=tmp_path / "j.sqlite", skip_paper_gate=True)))
    assert rt.paper_gate_override and "min_paper_trades" in " ".join(rt.paper_gate_override)

    async def journal_only():
        await rt._journal.start()
        why = await rt.journal_paper_gate_override()
        await rt._journal.close()
        return why

    assert asyncio.run(journal_only()).startswith("--skip-paper-gate: live started although paper history")
    rows = sqlite3.connect(tmp_path / "j.sqlite").execute("SELECT name, reason FROM events WHERE kind = 'operator'").fetchall()
    assert rows[0][0] == "skip-paper-gate" and "min_paper_trades 30" in rows[0][1]


def test_gate_reads_the_paper_profile_journal_by_default(tmp_path, monkeypatch):
    from kraken_tui.config import profile_dir
    from kraken_tui.promotion import paper_journal_path

    monkeypatch.setenv("KRAKEN_TUI_API_KEY", "k")
    monkeypatch.setenv("KRAKEN_TUI_API_SECRET", "czNjcmV0")
    cfg = Config.model_validate({"live": {"enabled": True}})
    paper = profile_dir("paper") / "journal.sqlite"
    assert paper_journal_path(cfg) == paper
    # the live run's own profile and journal do not move the gate off the paper profile's journal
    with pytest.raises(ConfigError, match="live.require_paper") as e:
        asyncio.run(build_runtime(cfg, RunOptions(mode="live", profile="live-x", journal=tmp_path / "j.sqlite")))
    assert str(paper) in str(e.value)
    named = Config.model_validate({"general": {"profile": "btc"}, "live": {"enabled": True}})
    assert paper_journal_path(named) == profile_dir("btc") / "journal.sqlite"
    chosen = Config.model_validate({"live": {"enabled": True, "paper_journal": str(tmp_path / "p.sqlite")}})
    assert paper_journal_path(chosen) == tmp_path / "p.sqlite"
