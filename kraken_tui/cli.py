"""Command line: argument parsing, config loading, logging set-up and dispatch to subcommands.

Owns: the names, flags and exit codes of the command line (docs/cli-contract.md, README.md "Commands"). Each subcommand's work
lives in its own module, named in ``HANDLERS`` as ``"module:function"``; the function takes
``(args: argparse.Namespace) -> int``. A subcommand whose handler is None says it is not yet
available and exits 2.
Must not import at module level: textual, the engine, the paper exchange (so ``--help`` is instant
and the no-UI paths never load textual).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kraken_tui import __version__
from kraken_tui.errors import KrakenTuiError, exit_code_for

__all__ = ["HANDLERS", "SUBCOMMANDS", "build_parser", "main"]

ISSUES_URL = "https://github.com/kraken-tui/kraken-tui/issues"

#: subcommand -> "module:function" that implements it (imported lazily: the headless path never loads textual).
HANDLERS: dict[str, str] = {
    "run": "kraken_tui.headless:run_command",
    "sim": "kraken_tui.paper.sim:run",
    "backtest": "kraken_tui.backtest.cli:run",
    "optimize": "kraken_tui.research.cli:run",
    "train": "kraken_tui.research.train_cli:run",
    "journal": "kraken_tui.journal.cli:run",
    "ctl": "kraken_tui.control:run",
    "flatten": "kraken_tui.control:run_flatten",
    "record": "kraken_tui.paper.sources.record:run",
}
SUBCOMMANDS = tuple(HANDLERS)


def _add_market_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--funding", metavar="PATH", type=Path, help="hourly funding-rate CSV for replays")
    p.add_argument("--funding-rate", metavar="R", type=float,
                   help="constant relative funding rate per hour for candle replays without --funding (default 1e-5)")
    p.add_argument(
        "--symbol-map",
        metavar="SRC=DST",
        action="append",
        default=[],
        help="map a recording's symbol onto a perpetual (repeatable), e.g. XBTUSD=PF_XBTUSD",
    )
    p.add_argument("--speed", metavar="X|max", default=None, help="replay speed multiple (1, 10, 300) or max")


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (every subcommand of README.md "Commands")."""
    parser = argparse.ArgumentParser(
        prog="kraken-tui",
        description="Terminal trading console for Kraken Futures perpetuals. Paper trading is the default.",
        epilog="With no subcommand, 'kraken-tui' is 'kraken-tui run'. Exit codes: 0 done, 1 internal error, "
        "2 usage or config error, 3 exchange or authentication error, 4 journal error, "
        "5 halted by a kill condition (--no-ui).",
    )
    parser.add_argument("--version", action="version", version=f"kraken-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="the trading console (default), or the headless engine with --no-ui")
    run.add_argument("--config", type=Path, help="config file (default: ./config.toml, then the platform config dir)")
    run.add_argument("--mode", choices=["paper", "live"], help="paper (default) or live (needs keys and [live] enabled)")
    run.add_argument("--no-ui", action="store_true", help="run the same engine headless, one line per event")
    run.add_argument("--source", choices=["synthetic", "live", "auto"], help="paper market data source")
    run.add_argument("--replay", metavar="PATH", action="append", default=[], type=str,
                     help="replay a recording or candle file (repeatable; PATH@SYMBOL for candles)")
    _add_market_flags(run)
    run.add_argument("--exit-at-end", action="store_true", help="stop when the recording ends")
    run.add_argument("--journal", type=Path, help="SQLite journal file")
    run.add_argument("--skip-paper-gate", action="store_true",
                     help="start live although the paper record misses a [live] threshold (journaled)")
    run.add_argument("--profile", metavar="NAME",
                     help="profile: its own journal, operator state and paper account (default: paper, live, "
                          "or replay-<file stem>)")
    run.add_argument("--fresh", action="store_true", help="start the paper account over (balance, nothing open)")
    run.add_argument("--log-format", choices=["text", "json"], help="--no-ui line format")

    sim = sub.add_parser("sim", help="serve the paper exchange alone on loopback")
    sim.add_argument("--config", type=Path, help="config file")
    sim.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=None, help="TCP port (default: ephemeral)")
    sim.add_argument("--source", default=None, help="auto|live|synthetic|replay:PATH")
    _add_market_flags(sim)
    sim.add_argument("--json", action="store_true", help="print the connection details as one JSON line")
    sim.add_argument("--profile", metavar="NAME", default=None,
                     help="profile whose paper account is served (default: sim)")
    sim.add_argument("--fresh", action="store_true", help="start the paper account over")

    bt = sub.add_parser("backtest", help="run the engine over historical candles")
    bt.add_argument("--config", type=Path, help="config file")
    bt.add_argument("--candles", required=True, action="append", metavar="PATH[@SYMBOL]",
                    help="candle file (charts CSV/JSON or OHLCVT CSV); once per file with --portfolio")
    bt.add_argument("--funding", type=Path, help="hourly funding-rate CSV")
    bt.add_argument("--index", metavar="PATH[@SYMBOL:index]",
                    help="index (spot) candle file: the basis guard before and after entry")
    bt.add_argument("--funding-rate", type=float, help="constant relative funding rate per hour when no CSV")
    bt.add_argument("--symbol", help="perpetual to trade, e.g. PF_XBTUSD")
    bt.add_argument("--strategy", help="strategy name")
    bt.add_argument("--param", metavar="NAME=VALUE", action="append", default=[], help="strategy parameter")
    bt.add_argument("--fees", metavar="MAKER_BPS,TAKER_BPS", help="fees in basis points")
    bt.add_argument("--slippage-bps", type=float, help="market-order slippage, basis points")
    bt.add_argument("--from", dest="from_", metavar="ISO", help="start (UTC, ISO-8601)")
    bt.add_argument("--to", metavar="ISO", help="end (UTC, ISO-8601)")
    bt.add_argument("--journal", type=Path, help="write the run's journal here")
    bt.add_argument("--trades-csv", type=Path, help="write the trade list here")
    bt.add_argument("--json", action="store_true", help="print statistics as JSON")
    bt.add_argument("--lookahead-check", action="store_true",
                    help="first recompute every signal on the data truncated at its bar; exit 1 on a difference")
    bt.add_argument("--portfolio", action="store_true",
                    help="run the --candles files (one per symbol, PATH@SYMBOL) as one account")

    op = sub.add_parser("optimize", help="walk-forward optimisation of a strategy's parameters (optuna)")
    op.add_argument("--config", type=Path, help="config file")
    op.add_argument("--candles", required=True, nargs="+", metavar="PATH[@SYMBOL]",
                    help="candle files (several: one account each, scored together)")
    op.add_argument("--symbol", help="perpetual for files without @SYMBOL, e.g. PF_XBTUSD")
    op.add_argument("--strategy", help="strategy name")
    op.add_argument("--space", type=Path, metavar="TOML", help="search space and study settings (optimize.example.toml)")
    op.add_argument("--objective", help="net_pnl, sharpe, sortino, calmar or profit_factor (default sharpe)")
    op.add_argument("--trials", type=int, help="trials per walk-forward fold (default 100)")
    op.add_argument("--folds", type=int, help="walk-forward folds (default 3)")
    op.add_argument("--walk-forward", dest="walk_forward", choices=["anchored", "rolling"],
                    help="train windows from the start (anchored, default) or of fixed length (rolling)")
    op.add_argument("--study", metavar="NAME", help="study name in the storage; an existing one is resumed")
    op.add_argument("--storage", type=Path, metavar="PATH", help="optuna SQLite file (default: platform data dir)")
    op.add_argument("--jobs", type=int, default=None, metavar="N", help="run trials in N local processes")
    op.add_argument("--ray", metavar="ADDRESS|auto|local", help="run trials on Ray (pip install 'kraken-tui[distributed]')")
    op.add_argument("--seed", type=int, help="sampler seed (default 42)")
    op.add_argument("--batch", type=int, help="trials asked before results are told (default 8; fixes the sequence)")
    op.add_argument("--param", metavar="NAME=VALUE", action="append", default=[], help="fixed strategy parameter")
    op.add_argument("--funding", type=Path, help="hourly funding-rate CSV")
    op.add_argument("--funding-rate", type=float, help="constant relative funding rate per hour")
    op.add_argument("--slippage-bps", type=float, help="market-order slippage, basis points (default 1)")
    op.add_argument("--from", dest="from_", metavar="ISO", help="start (UTC, ISO-8601)")
    op.add_argument("--to", metavar="ISO", help="end (UTC, ISO-8601)")
    op.add_argument("--portfolio", action="store_true",
                    help="score several files (one per symbol) as one account sharing equity, margin and limits")
    op.add_argument("--json", action="store_true", help="print the study as one JSON object")

    tr = sub.add_parser("train", help="fit the ml signal source's model walk-forward (scikit-learn)")
    tr.add_argument("--candles", required=True, type=Path, help="candle file (charts CSV/JSON or OHLCVT CSV)")
    tr.add_argument("--symbol", default="PF_XBTUSD", help="perpetual the model is for (default PF_XBTUSD)")
    tr.add_argument("--out", required=True, type=Path, metavar="PATH", help="model file to write")
    tr.add_argument("--horizon", type=int, default=12, help="label horizon, bars (default 12)")
    tr.add_argument("--folds", type=int, default=3, help="walk-forward test windows (default 3)")
    tr.add_argument("--embargo", type=int, default=12, help="bars dropped after the purge (default 12)")
    tr.add_argument("--max-iter", dest="max_iter", type=int, default=100, help="boosting rounds (default 100)")
    tr.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    tr.add_argument("--funding", type=Path, help="hourly funding-rate CSV of the funding features")
    tr.add_argument("--from", dest="from_", metavar="ISO", help="start (UTC, ISO-8601)")
    tr.add_argument("--to", metavar="ISO", help="end (UTC, ISO-8601)")
    tr.add_argument("--json", action="store_true", help="print the model document (no estimators) as JSON")

    jr = sub.add_parser("journal", help="read the trade journal")
    jr.add_argument("--config", type=Path, help="config file")
    jr.add_argument("--journal", type=Path, help="SQLite journal file")
    jr.add_argument("--profile", metavar="NAME", default=None,
                    help="read this profile's journal (default: [general] profile, else paper)")
    jr.add_argument("view", choices=["summary", "trades", "events"], help="what to show")
    jr.add_argument("--since", metavar="ISO", help="only rows at or after this UTC time")
    jr.add_argument("--json", action="store_true", help="JSON output")
    jr.add_argument("--csv", metavar="PATH", type=Path, help="write CSV here")
    acct = jr.add_mutually_exclusive_group()
    acct.add_argument("--account", metavar="NAME", default=None,
                      help="trades and summary of this account (default: the account of the journal's last run)")
    acct.add_argument("--all-accounts", action="store_true",
                      help="every account's trades (each row names its account) and one summary per account")

    ctl = sub.add_parser("ctl", help="control a running instance")
    ctl.add_argument("--socket", type=Path, help="control socket path (default: the only running instance)")
    ctl.add_argument("action", choices=["status", "pause", "resume", "flatten", "reset", "list", "health", "order",
                                        "close", "cancel", "stop", "edit", "tpcancel", "reprotect"],
                     help="list: every running instance; health: exit 0 healthy, 1 degraded, 2 halted or unreachable; "
                          "order|close|cancel|stop|edit|tpcancel|reprotect: a manual action (the console's ':' words)")
    ctl.add_argument("words", nargs="*", metavar="WORD",
                     help="the manual action's words: order buy|sell SYMBOL SIZE[usd] [mkt | lmt PRICE | stp PRICE | "
                          "tp PRICE]; close SYMBOL; cancel ORDER_ID; stop SYMBOL [PRICE|be]; edit ORDER_ID; "
                          "tpcancel SYMBOL; reprotect SYMBOL")
    ctl.add_argument("--reduce-only", action="store_true", help="order: reduce-only")
    ctl.add_argument("--post-only", action="store_true", help="order: post-only limit")
    ctl.add_argument("--no-exits", action="store_true", help="order: no engine stop and take-profits after the fill")
    ctl.add_argument("--fraction", metavar="F", help="close: this fraction of the position (0.5 = half)")
    ctl.add_argument("--size", metavar="N", help="close / edit: size in contracts")
    ctl.add_argument("--limit", metavar="PRICE", help="close: a reduce-only limit at PRICE instead of market")
    ctl.add_argument("--price", metavar="P", help="stop / edit: the new price")
    ctl.add_argument("--breakeven", action="store_true", help="stop: move it to the position's entry price")
    ctl.add_argument("--preview", action="store_true", help="manual action: show what would be sent; send nothing")
    ctl.add_argument("--override", action="store_true",
                     help="order: send it although the risk gate refused (live mode: type the symbol to confirm)")
    ctl.add_argument("--yes-i-mean-it", metavar="SYMBOL", default=None,
                     help="order --override in live mode without a terminal: the symbol, as the typed confirmation")
    ctl.add_argument("--json", action="store_true", help="JSON output")
    ctl.add_argument("--reason", default=None, help="reason recorded with the action")
    ctl.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="seconds to wait for the answer (default 10; flatten 120; manual actions 60); no answer: exit 2 "
                          "(flatten and manual actions 3)")

    fl = sub.add_parser("flatten", help="cancel every order and close every position, straight through the API")
    fl.add_argument("--config", type=Path, help="config file")
    fl.add_argument("--yes", action="store_true", help="do not ask for a typed confirmation")
    fl.add_argument("--url", help="exchange REST URL to flatten directly (e.g. a 'kraken-tui sim' paper exchange)")
    fl.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="seconds to wait for a running instance's answer (default 120)")

    rec = sub.add_parser("record", help="record Kraken's public feed to a JSON-lines file")
    rec.add_argument("--symbols", required=True, help="comma-separated symbols, e.g. PF_XBTUSD,PF_ETHUSD")
    rec.add_argument("--out", required=True, type=Path, help="output .jsonl file")
    rec.add_argument("--duration", type=float, help="seconds to record (default: until Ctrl-C)")
    return parser


def _normalise_argv(argv: Sequence[str]) -> list[str]:
    """Insert the implicit ``run`` when no subcommand is named (the arguments start with an option). A first
    word that is not an option is left as the subcommand, so a mistyped one is refused with the list of valid
    subcommands (argparse "invalid choice") rather than read as ``run``'s arguments (``run`` takes no
    positional argument)."""
    argv = list(argv)
    if not argv:
        return ["run"]
    first = argv[0]
    if first in SUBCOMMANDS or first in ("-h", "--help", "--version") or not first.startswith("-"):
        return argv
    return ["run", *argv]


def _resolve(command: str):
    """The handler function of ``command`` (``HANDLERS``), its module imported now. The cyclic garbage
    collector is paused while the module and its imports load (they allocate tens of thousands of objects
    that stay alive, so collections during the import find nothing to free; about 5% of a short
    command's start-up) and switched back on afterwards, as it was."""
    module, _, func = HANDLERS[command].partition(":")
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return getattr(importlib.import_module(module), func)
    finally:
        if was_enabled:
            gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kraken-tui`` console script. Returns the process exit code."""
    from kraken_tui import _accel

    # kraken-tui uses no pydantic plugin: without this, building the config models scans the entry points of
    # every installed distribution for one (importlib.metadata; about 10 ms of each command's start-up). An
    # explicit PYDANTIC_DISABLE_PLUGINS (even empty) is left as the user set it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _accel.install()  # the opt-in compiled build (kraken_tui/_accel.py); no-op without one
    parser = build_parser()
    args = parser.parse_args(_normalise_argv(sys.argv[1:] if argv is None else argv))
    command = args.command or "run"
    handler = _resolve(command)
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `kraken-tui journal trades | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KrakenTuiError as exc:
        print(f"kraken-tui {command}: error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except Exception as exc:  # a bug: say where to report it, keep the traceback in the log
        import logging  # here only: importing logging is a measurable part of a short command's start-up

        logging.getLogger("kraken_tui").exception("internal error in %s", command)
        print(
            f"kraken-tui {command}: internal error: {type(exc).__name__}: {exc}\n"
            f"This is a bug; please report it with the log at {ISSUES_URL}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
