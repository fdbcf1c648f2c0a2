"""Theme files (``themes/<name>.toml``) -> textual ``Theme`` objects, validated, with a built-in fallback.

Owns: where theme files are looked up, the file format, validation, and the fallback. A theme file is
TOML with ``name`` (text), ``dark`` (bool) and a ``[colors]`` table of textual theme colours
(primary, secondary, accent, warning, error, success, foreground, background, surface, panel) as
colour strings (``#RRGGBB``). ``success`` is drawn for long / profit and ``error`` for short / loss
(the ``$long``/``$short`` aliases in ``app.tcss``). A missing or broken file never stops the console:
``load_theme`` returns the built-in dark theme plus one message saying what was wrong.
Lookup order: ``<config file dir>/themes``, ``./themes``, the platform config dir ``themes``, and the
``themes/`` folder next to the package (the repository's shipped themes).
Must not import: the engine, the journal.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from textual.color import Color, ColorParseError
from textual.theme import Theme

__all__ = ["BUILTIN_THEME", "COLOR_KEYS", "EXTRA_KEYS", "SHIPPED", "VARIABLE_DEFAULTS", "ThemeLoad", "available_themes", "load_theme", "theme_dirs"]

#: The colour keys a theme file may set (textual ``Theme`` fields).
COLOR_KEYS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground", "background",
              "surface", "panel")
#: Colour keys of the console's own (not textual ``Theme`` fields): [colors] key -> the CSS variable it sets.
#: ``border``: panel borders (>= 3:1 against the background); ``muted``: secondary text such as panel
#: titles, counts and table headers (>= 4.5:1). Themes without them get ``VARIABLE_DEFAULTS``.
EXTRA_KEYS = {"border": "kt-border", "muted": "kt-muted"}
#: The extra variables' values for themes that do not set them (textual's own themes, for one).
VARIABLE_DEFAULTS = {"kt-border": "#7A808A", "kt-muted": "#8A8F98"}
#: Theme names shipped in the repository's ``themes/`` folder.
SHIPPED = ("dark", "light", "high-contrast")

#: Used when no theme file can be read: the same colours as ``themes/dark.toml``.
BUILTIN_THEME = Theme(
    name="dark",
    dark=True,
    primary="#4C9AFF",
    secondary="#5E81AC",
    accent="#E5C07B",
    warning="#E5A84B",
    error="#E06C75",
    success="#5FBF7F",
    foreground="#D8DEE9",
    background="#14171C",
    surface="#1B1F26",
    panel="#242A33",
    variables={"kt-border": "#6B7280", "kt-muted": "#8B919B"},
)


@dataclass(frozen=True, slots=True)
class ThemeLoad:
    """Result of ``load_theme``: the theme to use and, when the requested one could not be used, one
    sentence saying why (shown once as a notification)."""

    theme: Theme
    problem: str | None = None


def theme_dirs(config_path: Path | None = None) -> list[Path]:
    """Folders searched for ``<name>.toml``, in order (see the module docstring)."""
    dirs: list[Path] = []
    if config_path is not None:
        dirs.append(config_path.parent / "themes")
    dirs.append(Path.cwd() / "themes")
    dirs.append(Path(platformdirs.user_config_dir("kraken-tui")) / "themes")
    dirs.append(Path(__file__).resolve().parents[2] / "themes")
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _parse(path: Path, name: str) -> Theme:
    """Read and validate one theme file. Raises ValueError naming the key and what was expected."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML ({exc})") from None
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror})") from None
    unknown = set(data) - {"name", "dark", "colors"}
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r} (expected name, dark, [colors])")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ValueError(f"dark = {dark!r}: expected true or false")
    colors = data.get("colors")
    if not isinstance(colors, dict) or "primary" not in colors:
        raise ValueError("needs a [colors] table with at least primary")
    given: dict[str, str] = {}
    for key, value in colors.items():
        if key not in COLOR_KEYS and key not in EXTRA_KEYS:
            raise ValueError(f"colors.{key}: unknown colour (expected one of "
                             f"{', '.join((*COLOR_KEYS, *EXTRA_KEYS))})")
        try:
            Color.parse(value)
        except (ColorParseError, TypeError, ValueError):
            raise ValueError(f"colors.{key} = {value!r}: expected a colour such as \"#4C9AFF\"") from None
        given[key] = value
    return Theme(name=name, primary=given["primary"], secondary=given.get("secondary"), accent=given.get("accent"),
                 warning=given.get("warning"), error=given.get("error"), success=given.get("success"),
                 foreground=given.get("foreground"), background=given.get("background"),
                 surface=given.get("surface"), panel=given.get("panel"), dark=dark,
                 variables={var: given[key] for key, var in EXTRA_KEYS.items() if key in given})


def load_theme(name: str, dirs: Iterable[Path]) -> ThemeLoad:
    """Load theme ``name`` from the first folder in ``dirs`` holding ``<name>.toml``.

    Returns:
        ``ThemeLoad(theme)`` on success; ``ThemeLoad(BUILTIN_THEME, problem)`` when the file is missing
        or invalid (the problem names the file, the key and what was expected). Never raises.
    """
    for d in dirs:
        path = d / f"{name}.toml"
        if path.is_file():
            try:
                return ThemeLoad(_parse(path, name))
            except ValueError as exc:
                return ThemeLoad(BUILTIN_THEME, f"theme file {path}: {exc}; using the built-in dark theme")
    if name == BUILTIN_THEME.name:
        return ThemeLoad(BUILTIN_THEME)
    return ThemeLoad(BUILTIN_THEME, f"theme {name!r} not found (looked for {name}.toml in the themes folders); "
                                    "using the built-in dark theme")


def available_themes(dirs: Iterable[Path]) -> list[Theme]:
    """Every valid theme file in ``dirs`` (first folder wins per name), for runtime switching."""
    seen: dict[str, Theme] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            if path.stem in seen:
                continue
            try:
                seen[path.stem] = _parse(path, path.stem)
            except ValueError:
                continue
    return list(seen.values())
