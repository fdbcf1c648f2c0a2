"""``kraken-tui backtest --candles PATH [...]``: flags -> settings, run, report (cli-contract.md).

Owns: the backtest subcommand's flag handling and defaults, the journal file of a run, the trades CSV
written as trades close, and the choice between the text report and ``--json``.
Defaults: config file as everywhere (``[strategy]``, ``[risk]``, ``[exits]``, ``[operator]``, ``[paper]``
starting balance, fees and liquidation fee); ``--symbol`` defaults to the first ``[strategy] symbols``;
``--strategy`` to ``[strategy] name`` (its ``[strategy.params]`` apply only when the name is the
configured one); ``--param`` overrides one parameter; ``--fees`` defaults to ``[paper]`` maker/taker;
``--slippage-bps`` to 1; funding to ``--funding PATH``, else ``--funding-rate R``, else the constant
``DEFAULT_FUNDING_RATE`` (stated in the report).
``--lookahead-check`` first recomputes every signal on the bars truncated at its own bar
(``research.lookahead.check_lookahead``); a difference stops the command before the run, naming the bar,
strategy and field; a pass is a note of the report (``lookahead_check`` in ``--json``).
``--portfolio``: several ``--candles PATH@SYMBOL`` as one account (``research.portfolio_cli``).
Exit codes: 0 done; 1 look-ahead found (``LookaheadError``); 2 bad flag, config or data file
(``ConfigError``/``DataFileError`` name the flag, key or file:line); 4 journal unusable (``JournalError``).
Must not import: textual.
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import json
import math
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kraken_tui import __version__
from kraken_tui.config import Config, load_config
from kraken_tui.domain.money import settlement_currency
from kraken_tui.errors import ConfigError, DataFileError
from kraken_tui.journal.trades import Trade
from kraken_tui.paper.instruments import default_instrument

from .columns import CandleRow
from .data import FundingSchedule, open_candles, parse_time_flag
from .flags import DEFAULT_FUNDING_RATE, DEFAULT_SLIPPAGE_BPS, candles_arg, fees_of, parse_param
from .report import json_report, text_report
from .runner import Backtest, BacktestResult, BacktestSettings

if TYPE_CHECKING:
    from _csv import Writer as _CsvWriter

__all__ = ["DEFAULT_FUNDING_RATE", "DEFAULT_SLIPPAGE_BPS", "fees_of", "index_path", "parse_param", "run"]

_CHUNK = 20_000


def _funding(args: argparse.Namespace, symbol: str) -> FundingSchedule:
    if args.funding is not None and args.funding_rate is not None:
        raise ConfigError("--funding-rate", args.funding_rate, "no --funding-rate when --funding PATH is given")
    if args.funding is not None:
        return FundingSchedule.from_csv(args.funding, symbol)
    if args.funding_rate is not None:
        r = args.funding_rate
        if not math.isfinite(r) or abs(r) >= 1:
            raise ConfigError("--funding-rate", r, "a relative rate per hour, a fraction with |R| < 1 (e.g. 1e-5)")
        return FundingSchedule.constant_rate(r, "--funding-rate")
    return FundingSchedule.constant_rate(DEFAULT_FUNDING_RATE, "default; set --funding PATH or --funding-rate R")


def index_path(text: str, symbol: str) -> str:
    """The file of ``--index``: ``PATH`` or the replay grammar ``PATH@SYMBOL:index`` with ``SYMBOL`` the backtest's
    symbol (README "Commands", ``--replay``).

    Raises:
        ConfigError: key ``--index``, for ``@`` followed by anything but ``<symbol>:index``.
    """
    path, at, spec = text.rpartition("@")
    if not at:
        return text
    name, colon, kind = spec.partition(":")
    if not path or not colon or kind.strip().lower() != "index" or name.strip().upper() != symbol:
        raise ConfigError("--index", text, f"PATH or PATH@{symbol}:index (the index series of the backtest's symbol)")
    return path


def _index_closes(text: str, symbol: str, ws_timeframe: str, from_ms: int | None, to_ms: int | None,
                  timeframe: str) -> dict[int, float]:
    """Bar open time (UTC ms) -> index close (USD) of ``--index`` (``index_path``), for the basis guard before
    and after entry (``[risk] max_basis_bps``, ``basis_action``); its bars must be of ``timeframe``, the
    candle file's.

    Raises:
        ConfigError: a bad ``--index`` (``index_path``). DataFileError: the file cannot be read, its bars are
            not of ``timeframe``, or it has no bar in the backtest's range (``open_candles``).
    """
    path = index_path(text, symbol)
    stream = open_candles(Path(path), symbol=symbol, ws_timeframe=ws_timeframe, from_ms=from_ms, to_ms=to_ms)
    if stream.timeframe != timeframe:
        raise DataFileError(path, f"index bars of {stream.timeframe}, the candles are {timeframe} (--index)")
    return {row[0]: row[4] for row in stream.rows}


def _settings(args: argparse.Namespace, cfg: Config) -> tuple[BacktestSettings, Any, dict[str, Any]]:
    symbol = (args.symbol or cfg.strategy.symbols[0]).strip().upper()
    try:
        inst = default_instrument(symbol)
    except ConfigError:
        raise ConfigError("--symbol", symbol, "a perpetual symbol PF_<BASE>USD or PI_<BASE>USD") from None
    strategy = args.strategy or cfg.strategy.name
    params: dict[str, Any] = dict(cfg.strategy.params) if strategy == cfg.strategy.name else {}
    for item in args.param:
        k, v = parse_param(item)
        params[k] = v
    if cfg.external.signal_file:  # [external] signal_file: the external source's history in a backtest
        if strategy == "external":
            params.setdefault("path", cfg.external.signal_file)
        elif strategy == "ensemble":
            params["external"] = {**dict(params.get("external", {})), "path": cfg.external.signal_file}
    maker, taker = fees_of(args.fees, cfg)
    slip = DEFAULT_SLIPPAGE_BPS if args.slippage_bps is None else args.slippage_bps
    if not math.isfinite(slip) or not 0 <= slip <= 1000:
        raise ConfigError("--slippage-bps", slip, "basis points in 0..1000")
    from_ms = parse_time_flag("--from", args.from_) if args.from_ else None
    to_ms = parse_time_flag("--to", args.to) if args.to else None
    if from_ms is not None and to_ms is not None and to_ms <= from_ms:
        raise ConfigError("--to", args.to, f"a time after --from {args.from_}")
    funding = _funding(args, symbol)
    stream = open_candles(args.candles, symbol=symbol, ws_timeframe=cfg.strategy.timeframe,
                          from_ms=from_ms, to_ms=to_ms)
    index_closes = _index_closes(args.index, symbol, cfg.strategy.timeframe, from_ms, to_ms,
                                 stream.timeframe) if getattr(args, "index", None) else None
    run_id = uuid.uuid4().hex
    settings = BacktestSettings(
        instrument=inst, strategy=strategy, strategy_params=params, timeframe=stream.timeframe,
        bar_ms=stream.bar_ms, funding=funding, maker_fee_bps=maker, taker_fee_bps=taker, slippage_bps=slip,
        starting_balance_usd=cfg.paper.starting_balance_usd,
        starting_balance_coin=cfg.paper.starting_coin_balances.get(settlement_currency(inst), 0.0),
        liquidation_fee_pct=cfg.paper.liquidation_fee_pct,
        risk=cfg.risk, exits=cfg.exits, operator=cfg.operator, run_id=run_id, index_closes=index_closes,
    )
    context = {
        "symbol": symbol, "strategy": strategy, "timeframe": stream.timeframe, "candles_file": str(args.candles),
        "format": stream.fmt, "maker_fee_bps": maker, "taker_fee_bps": taker, "slippage_bps": slip,
        "funding": funding.describe, "params": params,
    }
    if index_closes is not None:
        context["index_file"] = index_path(args.index, symbol)
        context["index_bars"] = len(index_closes)
    return settings, stream, context


def _config_hash(settings: BacktestSettings) -> str:
    doc = {"strategy": settings.strategy, "params": settings.strategy_params, "symbol": settings.instrument.symbol,
           "fees": [settings.maker_fee_bps, settings.taker_fee_bps], "slippage": settings.slippage_bps,
           "funding": settings.funding.describe, "risk": settings.risk.model_dump(mode="json"),
           "exits": settings.exits.model_dump(mode="json"), "operator": settings.operator.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


async def _run_journaled(bt: Backtest, rows: Iterable[CandleRow], path: Path, settings: BacktestSettings, first_ms: int) -> None:
    """Run in chunks, handing each chunk's records to the journal writer in between (memory stays flat)."""
    from kraken_tui.journal.records import EquitySnapshot, RunStarted, RunStopped
    from kraken_tui.journal.writer import JournalWriter

    writer = JournalWriter(path, synchronous="NORMAL")
    await writer.start()
    try:
        await writer.write(RunStarted(settings.run_id, first_ms, "backtest", _config_hash(settings), __version__,
                                      Decimal(repr(settings.starting_balance_usd))))
        buf: list[Any] = []
        bt.sink = buf.append
        it = rows if hasattr(rows, "take") else iter(rows)
        while True:
            before = bt.result.candles
            bt.run(it, limit=_CHUNK)
            for rec in buf:
                await writer.write(rec)
            buf.clear()
            if bt.result.candles == before:
                break
        res = bt.finish()
        for ts, eq in res.curve:
            await writer.write(EquitySnapshot(ts, Decimal(repr(round(eq, 8)))))
        await writer.write(RunStopped(max(res.curve[-1][0] if res.curve else first_ms, first_ms), "end of data"))
    finally:
        await writer.close()


@contextmanager
def _gc_frozen() -> Iterator[None]:
    """The objects alive before the run (modules, config, the strategy...) moved to the garbage collector's
    permanent generation for the run (``gc.freeze``), so its collections scan only what the run allocates;
    moved back afterwards (``gc.unfreeze``). Results are unchanged: nothing in the run depends on collection."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Handler of ``kraken-tui backtest`` (``cli.HANDLERS["backtest"]``). Returns the exit code (0).

    Raises:
        ConfigError: a bad flag or config value (exit 2), naming the flag or key.
        DataFileError: a malformed candle or funding file (exit 2), naming file, line and field.
        JournalError: the journal file cannot be written (exit 4).
    """
    out = out or sys.stdout
    cfg = load_config(getattr(args, "config", None))
    if getattr(args, "portfolio", False):  # several files, one account (research.portfolio_cli)
        from kraken_tui.research.portfolio_cli import run_portfolio

        return run_portfolio(args, cfg, out)
    if isinstance(args.candles, list):  # --candles given once per file
        if len(args.candles) != 1:
            raise ConfigError("--candles", " ".join(map(str, args.candles)), "one file (several with --portfolio)")
        args.candles = args.candles[0]
    args.candles, file_symbol = candles_arg(args.candles)
    if file_symbol is not None:  # PATH@SYMBOL: the file's symbol, which --symbol may only repeat
        if args.symbol and args.symbol.strip().upper() != file_symbol:
            raise ConfigError("--symbol", args.symbol, f"{file_symbol}, the symbol given by --candles PATH@SYMBOL")
        args.symbol = file_symbol
    settings, stream, context = _settings(args, cfg)
    rows: Iterable[CandleRow] = stream.rows
    lookahead_note = None
    if getattr(args, "lookahead_check", False):
        from kraken_tui.research.lookahead import check_lookahead

        rows = list(stream.rows)  # read three times: the check's runs, then the backtest itself
        report = check_lookahead(settings, rows)  # raises LookaheadError (exit 1) on a difference
        context["lookahead_check"] = report.to_json()
        lookahead_note = report.describe()
    if args.journal is not None and Path(args.journal).exists():
        raise ConfigError("--journal", str(args.journal), "a new file (a backtest journal holds one run)")
    csv_fh = None
    on_trade: Callable[[Trade], None] | None = None
    if args.trades_csv is not None:
        from kraken_tui.journal.export import TRADES_CSV_HEADER, trade_csv_row

        try:
            csv_fh = open(args.trades_csv, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ConfigError("--trades-csv", str(args.trades_csv), f"a writable file path ({exc.strerror})") from None
        writer = csv.writer(csv_fh, lineterminator="\n")
        writer.writerow(TRADES_CSV_HEADER)

        def on_trade(t: Trade, w: _CsvWriter = writer) -> None:
            w.writerow(trade_csv_row(t))

    try:
        bt = Backtest(settings, on_trade=on_trade)
        with _gc_frozen():
            if args.journal is not None:
                import asyncio

                asyncio.run(_run_journaled(bt, rows, Path(args.journal), settings, stream.first_ms or 0))
            else:
                bt.run(rows)
                bt.finish()
    finally:
        if csv_fh is not None:
            csv_fh.close()
    res = bt.result
    res.notes.extend(stream.notes)
    if lookahead_note is not None:
        res.notes.append(lookahead_note)
    params_text = ", ".join(f"{k}={v}" for k, v in sorted(bt.strategy.p.items())) or "-"
    context["params_text"] = params_text
    context["params"] = dict(bt.strategy.p)
    if args.journal is not None:
        context["journal"] = str(args.journal)
    try:
        _print(args, out, res, context)
    except BrokenPipeError:  # `kraken-tui backtest ... | head`: the reader left; the run itself is done
        return 0
    return 0


def _print(args: argparse.Namespace, out: TextIO, res: BacktestResult, context: dict[str, Any]) -> None:
    if args.json:
        out.write(json.dumps(json_report(res, context), default=str) + "\n")
    else:
        out.write(text_report(res, context, color=out.isatty() if hasattr(out, "isatty") else False))
        if args.journal is not None:
            out.write(f"journal   {args.journal} (kraken-tui journal --journal {args.journal} summary)\n")
        if args.trades_csv is not None:
            out.write(f"trades    {args.trades_csv}\n")
