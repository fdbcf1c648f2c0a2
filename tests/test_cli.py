"""The command-line skeleton follows cli-contract.md: every subcommand exists with --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kraken_tui import __version__
from kraken_tui.cli import HANDLERS, SUBCOMMANDS, build_parser


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kraken_tui", *args], capture_output=True, text=True, timeout=60)


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"kraken-tui {__version__}"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    assert f"kraken-tui {command}" in proc.stdout


def test_contract_flags_exist():
    parser = build_parser()
    text = parser.format_help()
    assert "--version" in text
    sub = {a.dest: a for a in parser._subparsers._group_actions}["command"].choices  # noqa: SLF001
    run_help = sub["run"].format_help()
    for flag in ("--config", "--mode", "--no-ui", "--source", "--replay", "--funding", "--symbol-map",
                 "--speed", "--exit-at-end", "--journal", "--log-format"):
        assert flag in run_help, flag
    bt_help = sub["backtest"].format_help()
    for flag in ("--candles", "--funding-rate", "--symbol", "--strategy", "--param", "--fees",
                 "--slippage-bps", "--from", "--to", "--trades-csv", "--json"):
        assert flag in bt_help, flag


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_a_handler(command):
    from kraken_tui.cli import _resolve

    assert callable(_resolve(command)), HANDLERS[command]


def test_no_subcommand_means_run():
    from kraken_tui.cli import _normalise_argv

    assert _normalise_argv([]) == ["run"]
    assert _normalise_argv(["--no-ui", "--speed", "max"]) == ["run", "--no-ui", "--speed", "max"]
    assert _normalise_argv(["sim", "--json"]) == ["sim", "--json"]


def test_bad_flag_is_a_usage_error():
    proc = run_cli("run", "--mode", "yolo")
    assert proc.returncode == 2 and "--mode" in proc.stderr
