"""Themes inside the running console: switching at runtime from the command palette redraws in the new
colours; a broken theme file gives exactly one notification and the built-in dark theme."""

from __future__ import annotations

from kraken_tui.config import Config
from kraken_tui.ui.themes import BUILTIN_THEME, load_theme, theme_dirs
from kraken_tui.ui.widgets.positions import PositionsPanel
from kraken_tui.ui.widgets.table import KeyedTable

SIZE = (120, 40)


def long_colour(app) -> str:
    """The style of the ETH long's side cell as drawn now."""
    table = app.dashboard.query_one(PositionsPanel).query_one(KeyedTable)
    return str(table.cells("PF_ETHUSD")[1].style)


async def test_command_palette_switches_theme_and_redraws(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        dark_long = long_colour(app)
        assert load_theme("dark", theme_dirs(None)).theme.success.lower() in dark_long.lower()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme: light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "light"
        app.refresh_now()
        await pilot.pause()
        light_success = load_theme("light", theme_dirs(None)).theme.success
        assert light_success.lower() != BUILTIN_THEME.success.lower()
        assert light_success.lower() in long_colour(app).lower() and long_colour(app) != dark_long


async def test_every_shipped_theme_is_offered_in_the_palette(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Theme: dark", "Theme: light", "Theme: high-contrast"} <= set(titles)
        app._set_theme("high-contrast")  # what the palette command calls
        await pilot.pause()
        app.refresh_now()
        assert "#56b4e9" in long_colour(app).lower()  # Okabe-Ito blue for long


async def test_broken_theme_notifies_once_and_falls_back_to_dark(make_app, tmp_path):
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "broken.toml").write_text('name = "broken"\n[colors]\nprimary = "nope"\n')
    cfg = Config()
    cfg.source_path = tmp_path / "config.toml"
    cfg.ui.theme = "broken"
    app = make_app(cfg=cfg)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.refresh_now()
        await pilot.pause()
        theme_notes = [n for n in app._notifications if "theme" in n.message]
        assert len(theme_notes) == 1
        assert "broken.toml" in theme_notes[0].message and "colors.primary" in theme_notes[0].message
        assert "built-in dark" in theme_notes[0].message and theme_notes[0].severity == "warning"
        assert app.theme == "dark"
        assert BUILTIN_THEME.success.lower() in long_colour(app).lower()
        assert "Theme: broken" not in [c.title for c in app.get_system_commands(app.screen)]
