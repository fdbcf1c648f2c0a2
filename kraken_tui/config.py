"""Typed configuration: ``config.toml`` -> pydantic models, plus API credentials.

Owns: the config schema (one model per TOML section, every field documented with unit and default),
the lookup order (``--config``, ``./config.toml``, the platform config directory), and credential
loading (environment or a mode-0600 key file). ``load_config`` is called once in ``main()`` and the
result is passed down; there are no globals.
Must not import: textual, the engine, the client.

The shipped ``config.toml`` at the repository root mirrors these defaults key by key.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from kraken_tui.errors import ConfigError, SecretsError

__all__ = [
    "ClientConfig",
    "Config",
    "Credentials",
    "ExitsConfig",
    "ExternalConfig",
    "GeneralConfig",
    "LiveConfig",
    "NotifyConfig",
    "OperatorConfig",
    "PaperConfig",
    "RiskConfig",
    "StrategyConfig",
    "UIConfig",
    "config_search_paths",
    "default_config",
    "default_data_dir",
    "load_config",
    "load_credentials",
    "profile_dir",
    "validate_profile_name",
]

APP_NAME = "kraken-tui"
ENV_API_KEY = "KRAKEN_TUI_API_KEY"
ENV_API_SECRET = "KRAKEN_TUI_API_SECRET"


class _Section(BaseModel):
    # Each key is documented by the string under it (read by people and editors). pydantic is not asked to copy
    # these into ``FieldInfo.description`` (``use_attribute_docstrings``): nothing reads that, and extracting them
    # re-parses every class's source at import, a sixth of this module's import time.
    # ``defer_build``: a model's validator is built the first time it validates (a config file, a test building
    # one), not at import; a run without a config file takes ``default_config()`` and never builds one.
    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)


class GeneralConfig(_Section):
    """[general]: what runs and where it keeps its files."""

    mode: Literal["paper", "live"] = "paper"
    """Trading mode. "paper" uses the built-in paper exchange; "live" needs keys and [live] enabled."""
    source: Literal["synthetic", "live", "auto"] = "synthetic"
    """Market data for paper runs: synthetic (offline), live (Kraken public feed), auto (live, else synthetic)."""
    profile: str = ""
    """Profile (separate journal, operator state and paper account); empty = by mode: "paper", "live", or
    "replay-<file stem>" for a replay. Letters, digits, ".", "_", "-", "+"; at most 64 characters."""
    journal_path: Path | None = None
    """SQLite journal file shared by every profile; empty = <platform data dir>/profiles/<profile>/journal.sqlite."""
    log_file: Path | None = None
    """Log file used under the console; empty = <platform log dir>/kraken-tui.log."""
    log_format: Literal["text", "json"] = "text"
    """Line format of --no-ui output."""

    @field_validator("profile")
    @classmethod
    def _profile_name(cls, v: str) -> str:
        if v and (not _PROFILE_NAME.fullmatch(v) or v in (".", "..")):
            raise ValueError("letters, digits, '.', '_', '-', '+' (1-64 characters), or empty")
        return v


class LiveConfig(_Section):
    """[live]: the explicit opt-in for real-money trading."""

    enabled: bool = False
    """Must be true (and keys present) before --mode live starts. The console also asks to type a confirmation."""
    rest_url: str = "https://futures.kraken.com"
    """Kraken Futures REST host (spec §1)."""
    ws_url: str = "wss://futures.kraken.com/ws/v1"
    """Kraken Futures WebSocket URL (spec §1)."""
    require_paper: bool = True
    """Promotion gate: --mode live refuses to start until the paper journal meets the four thresholds below
    (``kraken-tui run --mode live --skip-paper-gate`` overrides it, and the override is journaled)."""
    min_paper_days: float = Field(default=14.0, ge=0)
    """Promotion gate: paper trading history needed, days (first to last paper trade)."""
    min_paper_trades: int = Field(default=30, ge=0)
    """Promotion gate: closed paper trades needed."""
    min_paper_profit_factor: float = Field(default=1.2, ge=0)
    """Promotion gate: gross profit / gross loss of the paper trades, at least."""
    max_paper_drawdown_pct: float = Field(default=15.0, gt=0, le=100)
    """Promotion gate: largest peak-to-trough drawdown of the paper trades' cumulative net P&L, percent of
    the paper starting balance, at most."""
    paper_journal: Path | None = None
    """The paper journal the promotion gate reads; empty = the paper profile's journal (where a plain paper run
    journals: ``[general] journal_path``, else the journal of profile ``[general] profile``, else ``paper``)."""


class CredentialsConfig(_Section):
    """[credentials]: where API keys come from when not in the environment."""

    key_file: Path | None = None
    """TOML file with api_key and api_secret; must be mode 0600. Env KRAKEN_TUI_API_KEY/SECRET win."""


class ClientConfig(_Section):
    """[client]: REST and WebSocket behaviour of the Kraken client."""

    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Per-request REST timeout, seconds. An order that times out has an unknown outcome, resolved later."""
    read_retries: int = Field(default=3, ge=0, le=10)
    """Retries of read-only requests on 5xx/429/timeouts, with exponential backoff. Orders are never re-sent."""
    retry_backoff_s: float = Field(default=0.5, gt=0, le=30)
    """First backoff delay for read retries, seconds; doubles each retry, with jitter."""
    rate_limit_budget: int = Field(default=500, ge=10)
    """Kraken's /derivatives cost budget per window (spec §5.1: 500 per 10 s)."""
    rate_limit_window_s: float = Field(default=10.0, gt=0)
    """Length of the rate-limit window, seconds."""
    rate_limit_reserve: int = Field(default=100, ge=0)
    """Cost points kept back for cancel and flatten calls only."""
    ws_ping_interval_s: float = Field(default=30.0, gt=0, le=55)
    """WebSocket protocol ping interval, seconds (spec §7.1: at least every 60 s)."""
    ws_stale_after_s: float = Field(default=15.0, gt=0)
    """A subscribed feed silent this long is reported stale, seconds."""
    reconnect_max_backoff_s: float = Field(default=30.0, gt=0)
    """Upper bound of the WebSocket reconnect backoff, seconds (with jitter)."""
    ws_read_batch_ms: float = Field(default=3.0, ge=0, le=50)
    """After the WebSocket client reads, it leaves the socket unread this long, milliseconds, so that the frames
    arriving meanwhile are read and decoded in one wake-up of the process; a message waits at most this long.
    At thousands of messages a second this saves about half of the receive path's CPU. 0 = read every frame as
    it arrives."""


class PaperConfig(_Section):
    """[paper]: the built-in paper exchange."""

    host: str = "127.0.0.1"
    """Loopback address the paper exchange listens on."""
    port: int = Field(default=0, ge=0, le=65535)
    """TCP port; 0 = an ephemeral port chosen at start."""
    starting_balance_usd: float = Field(default=10_000.0, gt=0)
    """Starting USD collateral of the paper account (the flex account that margins PF_ positions)."""
    starting_coin_balances: dict[str, float] = Field(default_factory=lambda: {"xbt": 0.1, "eth": 1.0})
    """Starting coin balance of each inverse margin account, by lower-case coin (``xbt`` = ``fi_xbtusd``, which
    margins PI_XBTUSD), in the coin; PI_ positions are margined, and their P&L, fees and funding settled, in
    that coin (docs/kraken-futures-api.md §4.6). A coin left out starts at 0 (its PI_ orders are then rejected
    with insufficientAvailableFunds)."""
    maker_fee_bps: float = Field(default=2.0, ge=-10, le=100)
    """Maker fee in basis points (Kraken base tier 0.02%, spec §8.6); negative = rebate."""
    taker_fee_bps: float = Field(default=5.0, ge=0, le=100)
    """Taker fee in basis points (Kraken base tier 0.05%, spec §8.6)."""
    symbols: list[str] = Field(default_factory=lambda: ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PI_XBTUSD", "PI_ETHUSD"])
    """Instruments the paper exchange lists."""
    synthetic_seed: int = 42
    """Seed of the synthetic market model (same seed, same prices)."""
    synthetic_backfill_h: float = Field(default=48.0, ge=0, le=720)
    """Hours of candle history the synthetic market backfills before its start (same model, same seed), so
    a strategy's indicators are warm at start; 0 = none (history builds up from the start)."""
    fresh: bool = False
    """Start the paper account over at every start (starting balance, nothing open) instead of resuming the
    one saved in the profile's paper-account file. ``kraken-tui sim --fresh`` does it once."""
    liquidation_fee_pct: float = Field(default=0.25, ge=0, le=5)
    """Fee charged on liquidated notional, percent. [GAP] Kraken publishes no fee in the spec; the default is
    kept below the lowest maintenance margin rate of the instrument table (0.5%, PF_XBTUSD first tier) so a
    partial liquidation can restore margin (a larger fee than 1.25 x the MM rate makes every liquidation full)."""


    @field_validator("starting_coin_balances")
    @classmethod
    def _coin_balances(cls, v: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for coin, qty in v.items():
            c = coin.strip().lower()
            if not c.isalnum() or c == "usd":
                raise ValueError(f"{coin!r} is not a coin (lower-case base asset such as xbt; USD is "
                                 "starting_balance_usd)")
            if not qty >= 0:
                raise ValueError(f"{coin} = {qty}: a starting coin balance must be >= 0")
            out[c] = float(qty)
        return out

class StrategyConfig(_Section):
    """[strategy]: which signal source trades and on what."""

    name: Literal["ema_cross", "mean_reversion", "sma_cross", "smc", "patterns", "breakout", "ml", "external",
                  "ensemble"] = "ensemble"
    """Strategy name."""
    symbols: list[str] = Field(default_factory=lambda: ["PF_XBTUSD", "PF_ETHUSD"])
    """Perpetuals the engine trades."""
    timeframe: Literal["1m", "5m", "15m", "1h", "4h"] = "5m"
    """Candle timeframe that signals are computed on."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Strategy parameters by name (e.g. fast = 10, slow = 30 for sma_cross)."""


class RiskConfig(_Section):
    """[risk]: the risk gate every order passes."""

    leverage_cap: float = Field(default=2.0, gt=0)
    """Maximum effective leverage of the account (x)."""
    leverage_ceiling: float = Field(default=5.0, gt=0)
    """Hard ceiling: leverage_cap above this is a config error (x)."""
    risk_per_trade_pct: float = Field(default=1.0, gt=0, le=10)
    """Equity risked per trade at the stop, percent."""
    max_position_notional_usd: float = Field(default=5_000.0, gt=0)
    """Largest notional of one position, USD."""
    max_capital_deployed_pct: float = Field(default=60.0, gt=0, le=100)
    """Largest share of equity used as initial margin across positions, percent."""
    max_open_positions: int = Field(default=3, ge=1)
    """Most positions open at once."""
    allow_pyramiding: bool = False
    """Allow adding to an open position in the same direction."""
    liquidation_buffer_pct: float = Field(default=30.0, ge=0, le=100)
    """Reject an entry when the estimated distance to liquidation after it is below this, percent."""
    max_basis_bps: float = Field(default=50.0, ge=0)
    """Block entries when |mark - index| / index exceeds this, basis points."""
    sizing: Literal["risk", "fixed"] = "risk"
    """Position sizing: "risk" = equity x risk_per_trade_pct / stop distance; "fixed" = fixed_fraction_pct of equity."""
    fixed_fraction_pct: float = Field(default=10.0, gt=0, le=100)
    """Notional of each entry as a share of equity when sizing = "fixed", percent."""
    vol_band_atr_pct: list[float] = Field(default_factory=lambda: [1.0, 2.5])
    """ATR (as % of price) band edges for volatility-scaled leverage, ascending, percent."""
    vol_band_leverage: list[float] = Field(default_factory=lambda: [3.0, 2.0, 1.0])
    """Leverage for each ATR band (one more than the edges), x; always capped by leverage_cap."""
    loss_streak_cut: int = Field(default=3, ge=1)
    """After this many consecutive losing trades, leverage is cut to 1x."""
    drawdown_deleverage_pct: float = Field(default=10.0, gt=0, le=100)
    """When drawdown from peak equity exceeds this, leverage is cut to 1x, percent."""
    expected_taker_fee_bps: float = Field(default=5.0, ge=0)
    """Taker fee assumed by the cost check (entry and exit), basis points."""
    expected_hold_h: float = Field(default=4.0, gt=0)
    """Expected holding time used to estimate funding cost, hours."""
    expected_slippage_bps: float = Field(default=2.0, ge=0)
    """Slippage assumed by the cost check on each of entry and exit, basis points."""
    cost_atr_multiple: float = Field(default=1.0, ge=0)
    """Cost check: the expected move is this many ATRs of the signal timeframe (when ATR is known), unless the
    strategy names its own target; 0 = use the first take-profit level instead."""
    cost_edge_multiple: float = Field(default=1.5, ge=1)
    """Cost check: the expected move must be at least this many times the round-trip costs."""
    basis_action: Literal["close", "pause", "alert"] = "pause"
    """What happens when the basis of a symbol with an open position exceeds max_basis_bps: "close" the
    position, "pause" entries (the position keeps its stops) or only "alert"."""
    win_rate_floor_pct: float = Field(default=40.0, ge=0, le=100)
    """Win-rate leverage cap: below this win rate of the closed trades, leverage is capped at
    win_rate_leverage_cap, percent; 0 = off."""
    win_rate_leverage_cap: float = Field(default=2.0, gt=0)
    """Leverage allowed while the win rate is below win_rate_floor_pct, x."""
    win_rate_min_trades: int = Field(default=10, ge=1)
    """Closed trades needed before the win-rate cap applies."""
    confidence_sizing: bool = True
    """Scale the size of signals from confidence-weighing strategies (ensemble, external) by their
    confidence: size x max(min_confidence_size_pct / 100, confidence)."""
    min_confidence_size_pct: float = Field(default=50.0, gt=0, le=100)
    """Smallest share of the full size a confidence-scaled entry gets, percent."""

    @field_validator("vol_band_leverage")
    @classmethod
    def _one_leverage_per_band(cls, v: list[float], info: Any) -> list[float]:
        edges = info.data.get("vol_band_atr_pct", [])
        if len(v) != len(edges) + 1 or any(x <= 0 for x in v):
            raise ValueError(f"needs {len(edges) + 1} positive leverages (one more than vol_band_atr_pct)")
        return v

    @model_validator(mode="after")
    def _cap_below_ceiling(self) -> RiskConfig:
        # an "after" validator: both fields are parsed, whatever their order in the model or the file
        if self.leverage_cap > self.leverage_ceiling:
            raise ValueError(f"leverage_cap {self.leverage_cap:g} must not exceed leverage_ceiling "
                             f"({self.leverage_ceiling:g})")
        return self


class ExitsConfig(_Section):
    """[exits]: protective orders placed after an entry fills."""

    stop_loss_pct: float = Field(default=2.0, gt=0, le=50)
    """Reduce-only stop-loss distance from entry, percent (triggerSignal mark)."""
    take_profit_pct: list[float] = Field(default_factory=lambda: [2.0, 5.0, 8.0, 12.0])
    """Take-profit ladder levels from entry, percent."""
    take_profit_fraction_pct: float = Field(default=25.0, gt=0, le=100)
    """Share of the entry size closed at each take-profit level, percent."""
    trailing_activate_pct: float = Field(default=3.0, ge=0)
    """Profit at which the trailing stop starts, percent."""
    trailing_distance_pct: float = Field(default=2.0, gt=0)
    """Trailing stop distance behind the best price, percent."""
    time_exit_h: float = Field(default=4.0, ge=0)
    """Close after this many hours if profit exceeds time_exit_min_profit_pct; 0 = off."""
    time_exit_min_profit_pct: float = Field(default=0.5, ge=0)
    """Profit needed for the time exit, percent."""

    @field_validator("take_profit_pct")
    @classmethod
    def _ladder_of_one_to_four(cls, v: list[float]) -> list[float]:
        if not 1 <= len(v) <= 4 or any(x <= 0 for x in v) or any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("needs 1 to 4 positive levels in ascending order (tp1..tp4), percent")
        return v


class OperatorConfig(_Section):
    """[operator]: automatic safety transitions and the dead man's switch."""

    daily_loss_limit_pct: float = Field(default=5.0, ge=0, le=100)
    """Pause entries until 00:00 UTC after losing this share of the day's starting equity, percent; 0 = off
    (announced as a WARNING at start)."""
    equity_floor_pct: float = Field(default=80.0, ge=0, le=100)
    """Flatten and halt when equity falls below this share of starting equity, percent; 0 = off (announced as
    a WARNING at start)."""
    stale_data_s: float = Field(default=30.0, gt=0)
    """Block entries while market data is older than this, seconds."""
    cancel_after_s: int = Field(default=0, ge=0, le=86_400)
    """Dead man's switch timeout, seconds; 0 = off. When on, Kraken cancels ALL orders (protective stops
    too) if the console stops refreshing it; off by default so a crashed console keeps its stops."""
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    """Reconciliation timer, seconds."""


class ExternalConfig(_Section):
    """[external]: where the external signal source (``[strategy] name = "external"`` or the ensemble's ML
    slot) reads its JSON lines from (engine.strategies.external for the line format)."""

    path: str = ""
    """A JSON-lines file to tail (new lines only); empty = none."""
    pipe: str = ""
    """A named pipe (FIFO) to read lines from; reopened when the writer closes it; empty = none."""
    socket: str = ""
    """``unix:/path`` or ``tcp:127.0.0.1:PORT`` to listen on for lines; empty = none."""
    webhook: str = ""
    """``127.0.0.1:PORT`` (loopback only) to accept TradingView-style alert JSON by HTTP POST; empty = none."""
    webhook_secret_env: str = "KRAKEN_TUI_WEBHOOK_SECRET"
    """Environment variable holding the webhook's shared secret (wins over webhook_secret_file)."""
    webhook_secret_file: Path | None = None
    """File holding the webhook's shared secret; must be mode 0600."""
    signal_file: str = ""
    """Backtests: a timestamped JSON-lines signal file merged by time (each line delivered at the first bar
    close at or after its ts_ms; never earlier)."""


#: The console dashboard's panel ids (``[ui] zoom`` and ``hidden_panels``).
PANEL_IDS = ("positions", "market", "pnl", "liquidation", "funding", "orders", "signals", "events")


class UIConfig(_Section):
    """[ui]: the console."""

    theme: str = "dark"
    """Theme name: a file themes/<name>.toml (dark, light, high-contrast)."""
    refresh_hz: float = Field(default=5.0, ge=1, le=10)
    """How often panels sample engine state, per second."""
    bell: bool = True
    """Ring the terminal bell on fills, rejections and HIGH-or-worse liquidation alerts."""
    mouse: bool = True
    """Use the mouse (scrolling, selecting, clicking panels). False: the console never asks the terminal for
    mouse events. Whatever it says, no click flattens, resets or quits: those need keys."""
    destructive_keys: Literal["plain", "ctrl"] = "plain"
    """The keys of the destructive actions. ``plain``: flatten F F (or ctrl+f twice, which also works inside
    text boxes), reset R, quit q. ``ctrl``: only Ctrl-chords: flatten ctrl+f twice, reset ctrl+r, quit ctrl+q."""
    zoom: str = ""
    """Dashboard panel drawn alone over the whole dashboard at start (panel id: positions, market, pnl,
    liquidation, funding, orders, signals, events); empty = none. The zoom key (z) cycles it."""
    hidden_panels: list[str] = Field(default_factory=list)
    """Dashboard panels left out of the layout at start (panel ids as for ``zoom``). The hide key (v) hides
    or shows the zoomed panel."""

    @field_validator("zoom")
    @classmethod
    def _check_zoom(cls, v: str) -> str:
        if v and v not in PANEL_IDS:
            raise ValueError(f"unknown panel {v!r}; expected one of {', '.join(PANEL_IDS)} or empty")
        return v

    @field_validator("hidden_panels")
    @classmethod
    def _check_hidden(cls, v: list[str]) -> list[str]:
        bad = [p for p in v if p not in PANEL_IDS]
        if bad:
            raise ValueError(f"unknown panel(s) {', '.join(map(repr, bad))}; expected from {', '.join(PANEL_IDS)}")
        return v


class NotifyConfig(_Section):
    """[notify]: alerts sent to phone/chat/e-mail channels through apprise (https://github.com/caronc/apprise).

    The channel URLs carry tokens, so they never sit in this file: they come from an environment variable
    or a mode-0600 file (one URL per line, ``#`` comments)."""

    urls_env: str = "KRAKEN_TUI_NOTIFY_URLS"
    """Environment variable holding apprise URLs, separated by whitespace or commas; empty = not read."""
    urls_file: Path | None = None
    """File with apprise URLs, one per line; must be mode 0600 (like the key file) or kraken-tui refuses it."""
    dedupe_s: float = Field(default=300.0, ge=0)
    """The same alert text is sent once within this many seconds."""
    max_per_minute: int = Field(default=6, ge=1, le=600)
    """At most this many notifications a minute (the rest are dropped and counted)."""
    daily_summary: bool = False
    """Also send one summary a day (equity, day P&L, open positions, state) at summary_hour_utc."""
    summary_hour_utc: int = Field(default=0, ge=0, le=23)
    """Hour (UTC) of the daily summary."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Per-attempt send timeout, seconds."""
    retries: int = Field(default=3, ge=0, le=10)
    """Retries of a failed send, with backoff doubling from 2 s."""
    queue_size: int = Field(default=100, ge=1, le=10_000)
    """Notifications waiting to be sent at most; further ones are dropped and counted."""


class Config(_Section):
    """The whole configuration (one attribute per TOML section)."""

    general: GeneralConfig = Field(default_factory=GeneralConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    credentials: CredentialsConfig = Field(default_factory=CredentialsConfig)
    client: ClientConfig = Field(default_factory=ClientConfig)
    paper: PaperConfig = Field(default_factory=PaperConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    exits: ExitsConfig = Field(default_factory=ExitsConfig)
    operator: OperatorConfig = Field(default_factory=OperatorConfig)
    external: ExternalConfig = Field(default_factory=ExternalConfig)
    ui: UIConfig = Field(default_factory=UIConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    keymap: dict[str, str] = Field(default_factory=dict)
    """Key remapping: binding id -> key (e.g. pause = "p")."""
    source_path: Path | None = Field(default=None, exclude=True)
    """The file this config was read from (None = built-in defaults)."""


def config_search_paths(explicit: Path | None = None) -> list[Path]:
    """The files ``load_config`` tries, in order: ``--config``, ``./config.toml``, platform config dir."""
    if explicit is not None:
        return [explicit]
    return [Path.cwd() / "config.toml", Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"]


def default_data_dir() -> Path:
    """Platform data directory for the journal (``~/.local/share/kraken-tui`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


_PROFILE_NAME = re.compile(r"[A-Za-z0-9._+-]{1,64}")


def validate_profile_name(name: str, key: str = "--profile") -> str:
    """``name`` if it is a usable profile name (letters, digits, ``.``, ``_``, ``-``, ``+``; 1-64 characters;
    not ``.``/``..``).

    Raises:
        ConfigError: naming ``key`` (the flag or config key the name came from).
    """
    if not _PROFILE_NAME.fullmatch(name) or name in (".", ".."):
        raise ConfigError(key, name, "a profile name of letters, digits, '.', '_', '-', '+' (1-64 characters)")
    return name


def profile_dir(name: str) -> Path:
    """Directory of profile ``name``: ``<platform data dir>/profiles/<name>`` (journal.sqlite and
    paper-account.sqlite live there). The name must have passed ``validate_profile_name``."""
    return default_data_dir() / "profiles" / name


def _format_validation_error(err: ValidationError, source: str) -> ConfigError:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "<root>"
    value = first.get("input")
    if first["type"] == "extra_forbidden":
        expected = "a known key (see the commented config.toml)"
    else:
        expected = first["msg"]
    return ConfigError(key, value, expected, source=source)


MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read, bytes (the commented config.toml is ~20 KB)."""


def _read_config_text(path: Path) -> str:
    """The config file as text, read at most ``MAX_CONFIG_BYTES`` (+1 to detect a larger one).

    Raises:
        ConfigError: the file is larger than ``MAX_CONFIG_BYTES``.
        UnicodeDecodeError: not UTF-8; OSError: unreadable.
    """
    with path.open("rb") as fh:
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("<file>", str(path), f"a config file under {MAX_CONFIG_BYTES} bytes", source=str(path))
    return raw.decode("utf-8")


def load_config(explicit: Path | None = None) -> Config:
    """Find, read and validate the configuration.

    Args:
        explicit: the ``--config`` path; when given it must exist.

    Returns:
        A validated ``Config``; built-in defaults when no file is found and none was named.

    Raises:
        ConfigError: the named file is missing, is not TOML, or a value is wrong. The message names
            ``section.key``, the value and what was expected.
    """
    for path in config_search_paths(explicit):
        if not path.exists():
            if explicit is not None:
                raise ConfigError("--config", str(path), "an existing TOML file")
            continue
        import tomllib  # here: a run without a config file never needs the TOML parser

        try:
            data = tomllib.loads(_read_config_text(path))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("<file>", str(path), f"valid TOML ({exc})", source=str(path)) from None
        except RecursionError:
            raise ConfigError("<file>", str(path), "TOML nested less deeply (arrays or tables nested hundreds "
                              "of levels)", source=str(path)) from None
        except UnicodeDecodeError as exc:
            line = exc.object[:exc.start].count(b"\n") + 1
            raise ConfigError("<file>", f"{path}:{line}", "UTF-8 text", source=str(path)) from None
        except OSError as exc:
            raise ConfigError("<file>", str(path), f"a readable file ({exc.strerror})") from None
        try:
            cfg = Config.model_validate(data)
        except ValidationError as exc:
            raise _format_validation_error(exc, str(path)) from None
        cfg.source_path = path
        return cfg
    return default_config()


def default_config() -> Config:
    """The built-in defaults, equal to ``Config()`` (same values, same types, no field set) without building
    pydantic's validators: every default is a literal of its field's type that passes its field's checks
    (``tests/test_config.py`` compares the two field by field), so validating them again would only cost the
    build (about a fifth of a short command's start-up).
    """
    sections: dict[str, Any] = {}
    for name, field in Config.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, _Section):
            sections[name] = kind.model_construct(_fields_set=set())
        else:
            sections[name] = field.get_default(call_default_factory=True)
    return Config.model_construct(_fields_set=set(), **sections)


class Credentials(BaseModel):
    """API key pair. Both are ``SecretStr``: their repr and str print ``**********``."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built when credentials are first loaded

    api_key: SecretStr
    api_secret: SecretStr
    source: str
    """Where they came from: "environment" or the key file path (never the values)."""


def load_credentials(cfg: Config, env: Mapping[str, str] | None = None) -> Credentials | None:
    """Load API credentials from the environment, else from ``[credentials] key_file``.

    The key file is TOML with ``api_key`` and ``api_secret`` and must not be readable by group or
    others (mode 0600 or stricter).

    Returns:
        ``Credentials`` or None when none are configured (paper mode needs none).

    Raises:
        SecretsError: only one of the two variables is set, the key file is missing, unreadable,
            not mode 0600, or lacks a field. The message never contains a secret.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    key, secret = environ.get(ENV_API_KEY), environ.get(ENV_API_SECRET)
    if key or secret:
        if not (key and secret):
            missing = ENV_API_SECRET if key else ENV_API_KEY
            raise SecretsError("environment", f"{missing} is not set (both variables are needed)")
        return Credentials(api_key=SecretStr(key), api_secret=SecretStr(secret), source="environment")
    path = cfg.credentials.key_file
    if path is None:
        return None
    path = path.expanduser()
    try:
        st = path.stat()
    except OSError as exc:
        raise SecretsError(str(path), f"cannot read the key file ({exc.strerror})") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            str(path), f"mode is {stat.S_IMODE(st.st_mode):04o}; refusing a key file others can read (chmod 600)"
        )
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        raise SecretsError(str(path), "not a readable TOML file with api_key and api_secret") from None
    k, s = data.get("api_key"), data.get("api_secret")
    if not isinstance(k, str) or not isinstance(s, str) or not k or not s:
        raise SecretsError(str(path), "needs non-empty string fields api_key and api_secret")
    return Credentials(api_key=SecretStr(k), api_secret=SecretStr(s), source=str(path))
