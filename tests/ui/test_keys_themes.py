"""The two-press flatten guard and theme loading (pure parts of the console)."""

from __future__ import annotations

from kraken_tui.ui.keys import KEYS, FlattenGuard, GuardResult, bindings
from kraken_tui.ui.themes import BUILTIN_THEME, SHIPPED, available_themes, load_theme, theme_dirs


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_second_press_within_the_window_fires():
    c = Clock()
    g = FlattenGuard(c, window_s=2.0)
    assert g.press_flatten() is GuardResult.ARMED and g.armed
    c.t += 1.9
    assert g.press_flatten() is GuardResult.FIRE
    assert not g.armed


def test_a_late_second_press_only_arms_again():
    c = Clock()
    g = FlattenGuard(c, window_s=2.0)
    g.press_flatten()
    c.t += 2.5
    assert not g.armed
    assert g.press_flatten() is GuardResult.ARMED


def test_any_other_key_disarms_and_one_press_never_fires():
    c = Clock()
    g = FlattenGuard(c)
    assert g.other_key() is GuardResult.IGNORED
    g.press_flatten()
    assert g.remaining_s() == 2.0
    assert g.other_key() is GuardResult.DISARMED
    assert g.press_flatten() is GuardResult.ARMED  # starts over, does not fire


def test_every_binding_has_an_id_matching_the_config_comment():
    ids = {b.id for b in bindings("app")} | {b.id for b in bindings("dashboard")}
    assert {"pause", "resume", "flatten", "reset", "journal", "help", "quit", "page", "events", "zoom",
            "hide"} == ids
    assert {k.id: k.key for k in KEYS}["flatten"] == "F"


def test_shipped_themes_load_and_high_contrast_is_not_red_green():
    dirs = theme_dirs(None)
    for name in SHIPPED:
        loaded = load_theme(name, dirs)
        assert loaded.problem is None and loaded.theme.name == name
    hc = load_theme("high-contrast", dirs).theme
    assert hc.success == "#56B4E9" and hc.error == "#D55E00"  # Okabe-Ito blue / vermillion
    assert {t.name for t in available_themes(dirs)} >= set(SHIPPED)


def test_broken_or_missing_theme_falls_back_with_one_message(tmp_path):
    (tmp_path / "bad.toml").write_text('name = "bad"\n[colors]\nprimary = "not-a-colour"\n')
    loaded = load_theme("bad", [tmp_path])
    assert loaded.theme is BUILTIN_THEME
    assert "colors.primary" in loaded.problem and "bad.toml" in loaded.problem
    (tmp_path / "syntax.toml").write_text("name = \n")
    assert "not valid TOML" in load_theme("syntax", [tmp_path]).problem
    missing = load_theme("nope", [tmp_path])
    assert missing.theme is BUILTIN_THEME and "not found" in missing.problem
