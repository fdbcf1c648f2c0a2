"""WCAG 2.1 contrast of every shipped theme, computed from the theme files: text colours (foreground, the
muted secondary text, and the meaning colours drawn as text: long/short, warning, accent, primary) at
least 4.5:1 and panel borders at least 3:1 against the theme's background (WCAG 2.1 SC 1.4.3 and 1.4.11;
relative luminance and contrast ratio as defined in WCAG 2.1, "relative luminance")."""

from __future__ import annotations

import pytest
from textual.color import Color

from kraken_tui.ui import themes

TEXT_KEYS = ("foreground", "primary", "accent", "warning", "error", "success")


def relative_luminance(c: Color) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour (0 black .. 1 white)."""

    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio (1..21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_formula_matches_known_ratios():
    assert contrast(Color.parse("#000000"), Color.parse("#FFFFFF")) == pytest.approx(21.0)
    assert contrast(Color.parse("#FFFFFF"), Color.parse("#EEEEEE")) == pytest.approx(1.16, abs=0.01)
    assert contrast(Color.parse("#767676"), Color.parse("#FFFFFF")) == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("name", themes.SHIPPED)
def test_theme_text_and_borders_meet_wcag_contrast(name):
    loaded = themes.load_theme(name, themes.theme_dirs(None))
    assert loaded.problem is None, loaded.problem
    theme = loaded.theme
    variables = {**themes.VARIABLE_DEFAULTS, **theme.to_color_system().generate(), **theme.variables}
    bg = Color.parse(variables["background"])
    low = {}
    for key in (*TEXT_KEYS, "kt-muted"):
        ratio = contrast(Color.parse(variables[key]), bg)
        if ratio < 4.5:
            low[key] = round(ratio, 2)
    border = contrast(Color.parse(variables["kt-border"]), bg)
    if border < 3.0:
        low["kt-border"] = round(border, 2)
    assert not low, f"{name}: below WCAG AA against {variables['background']}: {low}"
    # each theme file sets its own border and muted colours (the defaults are for foreign themes)
    assert {"kt-border", "kt-muted"} <= set(theme.variables)
