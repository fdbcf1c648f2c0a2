"""Config loading, validation messages, lookup order and secrets handling."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from kraken_tui.config import Config, load_config, load_credentials
from kraken_tui.errors import ConfigError, SecretsError

from .conftest import REPO


def test_shipped_config_equals_the_built_in_defaults():
    cfg = load_config(REPO / "config.toml")
    assert cfg.model_dump() == Config().model_dump()


def test_every_shipped_key_is_commented():
    lines = (REPO / "config.toml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+\s*=", line):
            prev = lines[i - 1].strip()
            assert prev.startswith("#"), f"config.toml line {i + 1} ({line!r}) has no comment above it"


def test_every_model_field_appears_in_the_shipped_config():
    text = (REPO / "config.toml").read_text()
    data = tomllib.loads(text)
    for section, model in Config.model_fields.items():
        if section in ("source_path", "keymap"):
            continue
        sub = model.annotation.model_fields  # type: ignore[union-attr]
        for key in sub:
            assert key in data.get(section, {}) or f"# {key} =" in text, f"{section}.{key} missing from config.toml"


def test_bad_value_names_section_key_value_and_expectation(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[risk]\nleverage_cap = "lots"\n')
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert "risk.leverage_cap" in msg and "'lots'" in msg and str(p) in msg


def test_unknown_key_is_rejected_by_name(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[paper]\nstarting_balanse_usd = 5\n")
    with pytest.raises(ConfigError, match=r"paper\.starting_balanse_usd"):
        load_config(p)


def test_leverage_cap_above_ceiling_is_an_error(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[risk]\nleverage_cap = 9\nleverage_ceiling = 5\n")
    with pytest.raises(ConfigError, match="leverage_ceiling"):
        load_config(p)


def test_broken_toml_names_the_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[risk\n")
    with pytest.raises(ConfigError, match="valid TOML"):
        load_config(p)


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="--config"):
        load_config(tmp_path / "nope.toml")


def test_lookup_order_prefers_cwd_then_platform_dir(tmp_path):
    platform = Path(os.environ["XDG_CONFIG_HOME"]) / "kraken-tui"
    platform.mkdir(parents=True)
    (platform / "config.toml").write_text("[paper]\nstarting_balance_usd = 111\n")
    assert load_config().paper.starting_balance_usd == 111
    (Path.cwd() / "config.toml").write_text("[paper]\nstarting_balance_usd = 222\n")
    assert load_config().paper.starting_balance_usd == 222
    assert load_config(None).source_path == Path.cwd() / "config.toml"


def test_defaults_when_no_file_anywhere():
    cfg = load_config()
    assert cfg.general.mode == "paper" and cfg.source_path is None and cfg.live.enabled is False


SECRET = "c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1uZXZlci1sZWFr"


def test_credentials_from_environment_are_hidden_in_repr():
    creds = load_credentials(Config(), env={"KRAKEN_TUI_API_KEY": "pubkey", "KRAKEN_TUI_API_SECRET": SECRET})
    assert creds is not None and creds.api_secret.get_secret_value() == SECRET
    assert SECRET not in repr(creds) and SECRET not in str(creds)


def test_half_set_environment_is_refused():
    with pytest.raises(SecretsError, match="KRAKEN_TUI_API_SECRET"):
        load_credentials(Config(), env={"KRAKEN_TUI_API_KEY": "pubkey"})


def test_key_file_must_be_0600(tmp_path):
    f = tmp_path / "keys.toml"
    f.write_text(f'api_key = "pub"\napi_secret = "{SECRET}"\n')
    f.chmod(0o644)
    cfg = Config.model_validate({"credentials": {"key_file": str(f)}})
    with pytest.raises(SecretsError) as info:
        load_credentials(cfg, env={})
    assert "0644" in str(info.value) and "chmod 600" in str(info.value)
    assert SECRET not in str(info.value)
    f.chmod(0o600)
    creds = load_credentials(cfg, env={})
    assert creds is not None and creds.source == str(f)


def test_key_file_missing_fields(tmp_path):
    f = tmp_path / "keys.toml"
    f.write_text('api_key = "pub"\n')
    f.chmod(0o600)
    cfg = Config.model_validate({"credentials": {"key_file": str(f)}})
    with pytest.raises(SecretsError, match="api_secret"):
        load_credentials(cfg, env={})


def test_no_credentials_configured_is_fine_for_paper():
    assert load_credentials(Config(), env={}) is None


@pytest.mark.parametrize("ladder", ["[]", "[2.0, 1.0]", "[1, 2, 3, 4, 5]", "[0.0, 2.0]"])
def test_take_profit_ladder_must_be_one_to_four_ascending_levels(tmp_path, ladder):
    path = tmp_path / "c.toml"
    path.write_text(f"[exits]\ntake_profit_pct = {ladder}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "exits.take_profit_pct" in str(exc.value)


def _typed(value: object) -> object:
    """``value`` with the type of every leaf spelled out (``1`` and ``1.0`` differ; so do a list and a tuple)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, value)


def test_default_config_equals_the_validated_defaults_value_and_type():
    from kraken_tui.config import default_config

    built, validated = default_config(), Config.model_validate({})
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set == set()
    for name in Config.model_fields:
        mine, theirs = getattr(built, name), getattr(validated, name)
        assert type(mine) is type(theirs), name
        if isinstance(mine, BaseModel):
            assert mine.model_fields_set == set(), name
            for key in type(mine).model_fields:
                assert _typed(getattr(mine, key)) == _typed(getattr(theirs, key)), f"{name}.{key}"
        else:
            assert _typed(mine) == _typed(theirs), name


def test_default_config_sections_are_fresh_objects():
    from kraken_tui.config import default_config

    one, two = default_config(), default_config()
    one.strategy.symbols.append("PF_TESTUSD")
    one.keymap["pause"] = "p"
    assert "PF_TESTUSD" not in two.strategy.symbols and two.keymap == {}
