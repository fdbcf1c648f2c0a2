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


def test_a_closed_pipe_is_not_an_internal_error(tmp_path):
    """`kraken-tui journal trades | head -1`: the reader leaving early ends the command quietly, exit 0."""
    import subprocess
    import sys

    script = (
        "import sys; from kraken_tui import cli\n"
        "def h(args):\n"
        "    for i in range(100000): print('row', i)\n"
        "cli.HANDLERS['journal'] = 'x:h'\n"
        "cli._resolve = lambda c: h\n"
        "sys.exit(cli.main(['journal', 'trades']))\n"
    )
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode() if p.stderr else ""
    assert p.wait(timeout=30) == 0, err
    assert "internal error" not in err


@pytest.mark.parametrize(("given", "seen"), [(None, "__all__"), ("", ""), ("logfire", "logfire")])
def test_pydantic_plugin_scan_off_unless_the_user_set_it(given, seen):
    """``main`` switches pydantic's plugin scan off for its own process; a value the user set is kept."""
    import os

    script = (
        "import os, sys\nfrom kraken_tui.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(repr(os.environ.get('PYDANTIC_DISABLE_PLUGINS')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if given is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = given
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.stderr.strip().endswith(repr(seen)), proc.stderr


def test_an_internal_error_is_logged_and_reported(tmp_path):
    """A bug in a handler: exit 1, the report line on stderr, the traceback through the ``kraken_tui`` logger."""
    script = (
        "import logging, sys\nfrom kraken_tui import cli\n"
        "logging.basicConfig(stream=sys.stderr, format='LOG %(name)s %(message)s')\n"
        "def h(args):\n    raise RuntimeError('boom')\n"
        "cli._resolve = lambda c: h\n"
        "sys.exit(cli.main(['journal', 'trades']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "kraken-tui journal: internal error: RuntimeError: boom" in proc.stderr
    assert "LOG kraken_tui internal error in journal" in proc.stderr and "Traceback" in proc.stderr


def test_the_collector_is_paused_while_a_command_module_loads(tmp_path, monkeypatch):
    """``_resolve`` imports the handler's module with the cyclic garbage collector off and switches it back on."""
    import gc

    from kraken_tui import cli

    (tmp_path / "kt_gc_probe.py").write_text("import gc\nSEEN = gc.isenabled()\ndef h(args):\n    return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.HANDLERS, "journal", "kt_gc_probe:h")
    assert gc.isenabled()
    handler = cli._resolve("journal")
    assert handler.__module__ == "kt_gc_probe"
    assert sys.modules["kt_gc_probe"].SEEN is False
    assert gc.isenabled()
