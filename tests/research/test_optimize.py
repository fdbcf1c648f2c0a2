"""``kraken-tui optimize`` end to end on the shared PF_XBTUSD candles: the --json contract, the TOML block,
resuming a study, refusing a resumed study with other settings, the same best parameters with --jobs 2,
several candle files, and the exit codes of bad input and of a missing optuna."""

from __future__ import annotations

import importlib.util
import json
import tomllib

import pytest

from kraken_tui.cli import main
from tests.backtest._util import PF_1M, PF_5M

BASE = ["optimize", "--symbol", "PF_XBTUSD", "--strategy", "sma_cross", "--folds", "2", "--json"]


def _run(capsys, *extra):
    code = main([*BASE, *extra])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    return json.loads(cap.out)


@pytest.fixture
def one_minute(shared_data):
    return str(shared_data(PF_1M))


def test_json_contract_and_toml_block(one_minute, tmp_path, capsys):
    doc = _run(capsys, "--candles", one_minute, "--trials", "16", "--storage", str(tmp_path / "s.sqlite3"))
    for key in ("best", "in_sample", "out_of_sample", "trials", "overfitting", "folds", "best_toml"):
        assert key in doc
    assert doc["trials"] == 32 and doc["trials_per_fold"] == 16 and len(doc["folds"]) == 2
    best = doc["best"]["strategy"]
    assert 2 <= best["fast"] < best["slow"] <= 80  # the default space: a quarter to 4x the defaults 10 and 20
    assert doc["best"] == doc["folds"][doc["best_fold"] - 1]["best"]
    toml = tomllib.loads(doc["best_toml"])
    assert toml["strategy"]["name"] == "sma_cross" and toml["strategy"]["params"] == best
    oos = doc["out_of_sample"]
    assert oos["trades"] >= 1 and {"net_pnl_usd", "sharpe", "sortino", "calmar", "profit_factor"} <= set(oos)
    # the stitched out-of-sample net P&L is the sum of the folds' test windows
    assert oos["net_pnl_usd"] == pytest.approx(sum(f["out_of_sample"]["net_pnl_usd"] for f in doc["folds"]))
    of = doc["overfitting"]
    assert of["gap"] == pytest.approx(of["objective_in_sample"] - of["objective_out_of_sample"])
    assert 0.0 <= of["deflated_sharpe"] <= 1.0
    for f in doc["folds"]:  # test windows follow each other, train windows end where their test starts
        assert f["train"][1] == f["test"][0]
    assert doc["folds"][0]["test"][1] == doc["folds"][1]["test"][0]


def test_resume_continues_to_the_same_result(one_minute, tmp_path, capsys):
    store = str(tmp_path / "s.sqlite3")
    first = _run(capsys, "--candles", one_minute, "--trials", "8", "--storage", store, "--study", "S")
    assert first["resumed_trials"] == 0
    resumed = _run(capsys, "--candles", one_minute, "--trials", "16", "--storage", store, "--study", "S")
    assert resumed["resumed_trials"] == 16
    straight = _run(capsys, "--candles", one_minute, "--trials", "16", "--storage", store, "--study", "T")
    assert resumed["best"] == straight["best"]
    assert [f["objective_in_sample"] for f in resumed["folds"]] == [f["objective_in_sample"] for f in straight["folds"]]
    again = _run(capsys, "--candles", one_minute, "--trials", "16", "--storage", store, "--study", "S")
    assert again["resumed_trials"] == 32 and again["best"] == straight["best"]


def test_resuming_with_other_settings_is_refused(one_minute, tmp_path, capsys):
    store = str(tmp_path / "s.sqlite3")
    _run(capsys, "--candles", one_minute, "--trials", "8", "--storage", store, "--study", "S")
    code = main([*BASE, "--candles", one_minute, "--trials", "8", "--storage", store, "--study", "S", "--seed", "7"])
    assert code == 2
    assert "--study" in capsys.readouterr().err


def test_jobs_2_gives_the_serial_result(one_minute, tmp_path, capsys):
    serial = _run(capsys, "--candles", one_minute, "--trials", "16", "--storage", str(tmp_path / "a.sqlite3"))
    par = _run(capsys, "--candles", one_minute, "--trials", "16", "--storage", str(tmp_path / "b.sqlite3"),
               "--jobs", "2")
    assert par["executor"] == "2 local processes"
    assert par["best"] == serial["best"]
    assert par["folds"] == serial["folds"]
    assert par["out_of_sample"] == serial["out_of_sample"]


def test_several_candle_files_and_a_space_file(shared_data, tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text('[study]\nobjective = "net_pnl"\n[constraints]\nmin_trades = 2\n'
                     '[strategy.fast]\ntype = "int"\nlow = 3\nhigh = 12\n'
                     '[strategy.slow]\ntype = "int"\nlow = 14\nhigh = 40\n'
                     '[risk.fixed_fraction_pct]\ntype = "float"\nlow = 2.0\nhigh = 20.0\nlog = true\n')
    doc = _run(capsys, "--candles", f"{shared_data(PF_1M)}@PF_XBTUSD", f"{shared_data(PF_5M)}@PF_XBTUSD",
               "--space", str(space), "--trials", "12", "--storage", str(tmp_path / "s.sqlite3"))
    assert doc["objective"] == "net_pnl" and len(doc["files"]) == 2
    assert set(doc["best"]["risk"]) == {"fixed_fraction_pct"}
    assert 2.0 <= doc["best"]["risk"]["fixed_fraction_pct"] <= 20.0
    for f in doc["folds"]:
        if f["in_sample"] is not None:
            assert f["in_sample"]["trades"] >= 2  # the constraint holds for the chosen trial


@pytest.mark.parametrize(("flags", "named"), [
    (["--objective", "sharp"], "--objective"),
    (["--trials", "0"], "--trials"),
    (["--jobs", "0"], "--jobs"),
    (["--symbol", "PI_XBTUSD"], "--symbol"),
])
def test_bad_flags_exit_2_naming_the_flag(one_minute, tmp_path, capsys, flags, named):
    code = main([*BASE, "--candles", one_minute, "--storage", str(tmp_path / "s.sqlite3"), *flags])
    assert code == 2
    assert named in capsys.readouterr().err


def test_missing_optuna_exits_2_with_the_install_hint(one_minute, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a))
    assert main([*BASE, "--candles", one_minute]) == 2
    assert "pip install 'kraken-tui[research]'" in capsys.readouterr().err


def test_text_report_has_tables_chart_and_toml(one_minute, tmp_path, capsys):
    code = main([*BASE[:-1], "--candles", one_minute, "--trials", "12", "--storage", str(tmp_path / "s.sqlite3")])
    out = capsys.readouterr().out
    assert code == 0
    assert "walk-forward folds" in out and "out of sample" in out and "deflated Sharpe ratio" in out
    assert "[strategy.params]" in out and "equity" in out


def test_every_trial_state_is_counted_with_its_reason(one_minute, tmp_path, capsys):
    """fast may exceed slow (failed: bad parameters), min_trades 3 (infeasible), median pruning (pruned): the
    summary counts every trial once, by state and reason, in --json and in the text report."""
    space = tmp_path / "space.toml"
    space.write_text('[constraints]\nmin_trades = 3\n[strategy.fast]\ntype = "int"\nlow = 2\nhigh = 40\n'
                     '[strategy.slow]\ntype = "int"\nlow = 5\nhigh = 60\n')
    store = str(tmp_path / "s.sqlite3")
    doc = _run(capsys, "--candles", one_minute, "--space", str(space), "--trials", "24", "--storage", store,
               "--study", "S")
    ts = doc["trial_states"]
    assert ts["total"] == doc["trials"] == 48
    assert sum(ts[k]["count"] for k in ("feasible", "infeasible", "pruned", "failed")) == 48
    for k in ("feasible", "infeasible", "pruned", "failed"):
        assert sum(ts[k]["reasons"].values()) == ts[k]["count"]
    counts = [f["trials"] for f in doc["folds"]]
    assert ts["feasible"]["count"] + ts["infeasible"]["count"] == sum(c["complete"] for c in counts)
    assert ts["infeasible"]["count"] == sum(c["infeasible"] for c in counts) > 0
    assert ts["pruned"]["count"] == sum(c["pruned"] for c in counts) > 0
    assert ts["failed"]["count"] == sum(c["failed"] for c in counts) > 0
    assert set(ts["infeasible"]["reasons"]) == {"fewer than 3 trades"}
    assert all("median" in r for r in ts["pruned"]["reasons"])
    assert "bad parameters: strategy.params.fast (expected fewer bars than slow)" in ts["failed"]["reasons"]
    code = main([*BASE[:-1], "--candles", one_minute, "--space", str(space), "--trials", "24", "--storage", store,
                 "--study", "S"])  # resumed: the reasons come back from the storage
    text = capsys.readouterr().out
    assert code == 0
    assert (f"48 trials: {ts['feasible']['count']} feasible + {ts['infeasible']['count']} infeasible (fewer than 3 "
            "trades: ") in text
