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
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from kraken_tui.errors import ConfigError, SecretsError

__all__ = [
    "ClientConfig",
    "Config",
    "Credentials",
    "ExitsConfig",
    "GeneralConfig",
    "LiveConfig",
    "OperatorConfig",
    "PaperConfig",
    "RiskConfig",
    "StrategyConfig",
    "UIConfig",
    "config_search_paths",
    "default_data_dir",
    "load_config",
    "load_credentials",
]

APP_NAME = "kraken-tui"
ENV_API_KEY = "KRAKEN_TUI_API_KEY"
ENV_API_SECRET = "KRAKEN_TUI_API_SECRET"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


class GeneralConfig(_Section):
    """[general]: what runs and where it keeps its files."""

    mode: Literal["paper", "live"] = "paper"
    """Trading mode. "paper" uses the built-in paper exchange; "live" needs keys and [live] enabled."""
    source: Literal["synthetic", "live", "auto"] = "synthetic"
    """Market data for paper runs: synthetic (offline), live (Kraken public feed), auto (live, else synthetic)."""
    journal_path: Path | None = None
    """SQLite journal file; empty = <platform data dir>/journal.sqlite."""
    log_file: Path | None = None
    """Log file used under the console; empty = <platform log dir>/kraken-tui.log."""
    log_format: Literal["text", "json"] = "text"
    """Line format of --no-ui output."""


class LiveConfig(_Section):
    """[live]: the explicit opt-in for real-money trading."""

    enabled: bool = False
    """Must be true (and keys present) before --mode live starts. The console also asks to type a confirmation."""
    rest_url: str = "https://futures.kraken.com"
    """Kraken Futures REST host (spec §1)."""
    ws_url: str = "wss://futures.kraken.com/ws/v1"
    """Kraken Futures WebSocket URL (spec §1)."""


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


class PaperConfig(_Section):
    """[paper]: the built-in paper exchange."""

    host: str = "127.0.0.1"
    """Loopback address the paper exchange listens on."""
    port: int = Field(default=0, ge=0, le=65535)
    """TCP port; 0 = an ephemeral port chosen at start."""
    starting_balance_usd: float = Field(default=10_000.0, gt=0)
    """Starting USD collateral of the paper account."""
    maker_fee_bps: float = Field(default=2.0, ge=-10, le=100)
    """Maker fee in basis points (Kraken base tier 0.02%, spec §8.6); negative = rebate."""
    taker_fee_bps: float = Field(default=5.0, ge=0, le=100)
    """Taker fee in basis points (Kraken base tier 0.05%, spec §8.6)."""
    symbols: list[str] = Field(default_factory=lambda: ["PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD", "PI_XBTUSD", "PI_ETHUSD"])
    """Instruments the paper exchange lists."""
    synthetic_seed: int = 42
    """Seed of the synthetic market model (same seed, same prices)."""
    liquidation_fee_pct: float = Field(default=0.25, ge=0, le=5)
    """Fee charged on liquidated notional, percent. [GAP] Kraken publishes no fee in the spec; the default is
    kept below the lowest maintenance margin rate of the instrument table (0.5%, PF_XBTUSD first tier) so a
    partial liquidation can restore margin (a larger fee than 1.25 x the MM rate makes every liquidation full)."""


class StrategyConfig(_Section):
    """[strategy]: which signal source trades and on what."""

    name: Literal["ema_cross", "mean_reversion", "sma_cross", "smc", "external", "ensemble"] = "ensemble"
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

    @field_validator("vol_band_leverage")
    @classmethod
    def _one_leverage_per_band(cls, v: list[float], info: Any) -> list[float]:
        edges = info.data.get("vol_band_atr_pct", [])
        if len(v) != len(edges) + 1 or any(x <= 0 for x in v):
            raise ValueError(f"needs {len(edges) + 1} positive leverages (one more than vol_band_atr_pct)")
        return v

    @field_validator("leverage_cap")
    @classmethod
    def _cap_below_ceiling(cls, v: float, info: Any) -> float:
        ceiling = info.data.get("leverage_ceiling", 5.0)
        if v > ceiling:
            raise ValueError(f"must not exceed leverage_ceiling ({ceiling})")
        return v


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

    daily_loss_limit_pct: float = Field(default=5.0, gt=0, le=100)
    """Pause entries until 00:00 UTC after losing this share of the day's starting equity, percent."""
    equity_floor_pct: float = Field(default=80.0, gt=0, le=100)
    """Flatten and halt when equity falls below this share of starting equity, percent."""
    stale_data_s: float = Field(default=30.0, gt=0)
    """Block entries while market data is older than this, seconds."""
    cancel_after_s: int = Field(default=0, ge=0, le=86_400)
    """Dead man's switch timeout, seconds; 0 = off. When on, Kraken cancels ALL orders (protective stops
    too) if the console stops refreshing it; off by default so a crashed console keeps its stops."""
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    """Reconciliation timer, seconds."""


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
    ui: UIConfig = Field(default_factory=UIConfig)
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
    return Config()


class Credentials(BaseModel):
    """API key pair. Both are ``SecretStr``: their repr and str print ``**********``."""

    model_config = ConfigDict(frozen=True)

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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        raise SecretsError(str(path), "not a readable TOML file with api_key and api_secret") from None
    k, s = data.get("api_key"), data.get("api_secret")
    if not isinstance(k, str) or not isinstance(s, str) or not k or not s:
        raise SecretsError(str(path), "needs non-empty string fields api_key and api_secret")
    return Credentials(api_key=SecretStr(k), api_secret=SecretStr(s), source=str(path))
