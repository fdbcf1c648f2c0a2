"""``kraken-tui train`` and the ``ml`` signal source: a deterministic walk-forward model with an embargo, a
model file that says what it was built from, clear errors for missing, corrupt or mismatched model files,
signals in the backtest."""

from __future__ import annotations

import json
import pickle

import pytest

pytest.importorskip("sklearn")
from threadpoolctl import threadpool_limits  # noqa: E402 - comes with scikit-learn

from kraken_tui.cli import main  # noqa: E402
from kraken_tui.engine.strategies import build_strategy  # noqa: E402
from kraken_tui.engine.strategies.ml_features import FEATURES  # noqa: E402
from kraken_tui.errors import ConfigError  # noqa: E402
from kraken_tui.research.lookahead import check_lookahead  # noqa: E402
from tests.backtest._util import PF_5M, settings_for  # noqa: E402

BAR_MS = 300_000


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):  # OpenMP on a shared 2-core machine: one thread is faster and as exact
        yield


def _train(path, out, capsys, *extra):
    code = main(["train", "--candles", str(path), "--symbol", "PF_XBTUSD", "--out", str(out), "--horizon", "6",
                 "--embargo", "6", "--max-iter", "20", "--json", *extra])
    doc = json.loads(capsys.readouterr().out)
    return code, doc


@pytest.fixture
def model(shared_data, tmp_path, capsys):
    path = shared_data(PF_5M)
    code, doc = _train(path, tmp_path / "m.pkl", capsys)
    assert code == 0
    return path, tmp_path / "m.pkl", doc


def test_model_file_says_what_it_was_built_from(model):
    path, out, doc = model
    assert doc["features"] == list(FEATURES) and doc["timeframe"] == "5m" and doc["symbol"] == "PF_XBTUSD"
    assert doc["data"]["candles"] == path.name and len(doc["data"]["candles_sha256"]) == 64
    assert len(doc["windows"]) == 3 and 0 <= doc["oos"]["accuracy"] <= 1 and doc["oos"]["rows"] > 0
    for w in doc["windows"]:  # purge (horizon 6) + embargo (6): no training label reaches the test window
        assert w["test_from_ms"] - w["train_to_ms"] >= (6 + 6 + 1) * BAR_MS
    with open(out, "rb") as fh:
        saved = pickle.load(fh)
    assert {k: v for k, v in saved.items() if k not in ("classifier", "regressor")} == {
        k: v for k, v in doc.items() if k != "model"}


def test_same_seed_same_model_other_seed_other_model(model, tmp_path, capsys):
    path, out, doc = model
    _, again = _train(path, tmp_path / "again.pkl", capsys)
    assert {k: v for k, v in again.items() if k != "model"} == {k: v for k, v in doc.items() if k != "model"}
    a = build_strategy("ml", {"model_path": str(out), "min_confidence": 0.0}, timeframe="5m")
    b = build_strategy("ml", {"model_path": str(tmp_path / "again.pkl"), "min_confidence": 0.0}, timeframe="5m")
    row = [0.001, 0.002, -0.003, 0.55, 1.0, 0.6, 80.0, 20.0, 5.0, 1.2, 0.7, 0.1, 0.01, 30.0]
    assert a.model["classifier"].predict_proba([row]).tolist() == b.model["classifier"].predict_proba([row]).tolist()
    _, other = _train(path, tmp_path / "other.pkl", capsys, "--seed", "7")
    c = build_strategy("ml", {"model_path": str(tmp_path / "other.pkl")}, timeframe="5m")
    assert other["seed"] == 7 and c.model["seed"] == 7


def test_ml_signals_in_the_backtest_pass_the_lookahead_check(model):
    path, out, _ = model
    settings, rows = settings_for(path, "ml", {"model_path": str(out), "min_confidence": 0.05})
    report = check_lookahead(settings, list(rows))
    assert report.signals > 5


def test_bad_model_files_are_named_at_start(model, tmp_path):
    _, out, _ = model
    with pytest.raises(ConfigError, match="strategy.params.model_path.*existing model file"):
        build_strategy("ml", {"model_path": str(tmp_path / "nope.pkl")}, timeframe="5m")
    with pytest.raises(ConfigError, match="strategy.params.model_path"):
        build_strategy("ml", {}, timeframe="5m")
    bad = tmp_path / "corrupt.pkl"
    bad.write_bytes(out.read_bytes()[:200])
    with pytest.raises(ConfigError, match="corrupt"):
        build_strategy("ml", {"model_path": str(bad)}, timeframe="5m")
    with open(out, "rb") as fh:
        doc = pickle.load(fh)
    doc["features"] = [*doc["features"], "funding_bps"]
    other = tmp_path / "other_features.pkl"
    other.write_bytes(pickle.dumps(doc))
    with pytest.raises(ConfigError, match="retrain"):
        build_strategy("ml", {"model_path": str(other)}, timeframe="5m")
    with pytest.raises(ConfigError, match="timeframe 1h"):
        build_strategy("ml", {"model_path": str(out)}, timeframe="1h")
    not_model = tmp_path / "dict.pkl"
    not_model.write_bytes(pickle.dumps({"format": "something else"}))
    with pytest.raises(ConfigError, match="kraken-tui-ml/1"):
        build_strategy("ml", {"model_path": str(not_model)}, timeframe="5m")


@pytest.mark.parametrize("flags,named", [(["--folds", "0"], "--folds"), (["--horizon", "0"], "--horizon"),
                                         (["--folds", "60"], "--folds")])
def test_bad_flags_exit_2(shared_data, tmp_path, capsys, flags, named):
    code = main(["train", "--candles", str(shared_data(PF_5M)), "--out", str(tmp_path / "m.pkl"), *flags])
    assert code == 2 and named in capsys.readouterr().err


def test_model_with_other_feature_values_is_refused(model, tmp_path):
    """Same feature names, numbers computed differently (a fingerprint other than this code's): refused."""
    _, out, _ = model
    with open(out, "rb") as fh:
        doc = pickle.load(fh)
    doc["features_sha256"] = "0" * 64
    other = tmp_path / "other_values.pkl"
    other.write_bytes(pickle.dumps(doc))
    with pytest.raises(ConfigError, match=r"features_sha256 000000000000 in the model.*retrain"):
        build_strategy("ml", {"model_path": str(other)}, timeframe="5m")
    with pytest.raises(ConfigError, match=r"strategy.params.ml.model_path.*features_sha256"):
        build_strategy("ensemble", {"ml": {"model_path": str(other)}}, timeframe="5m")


def test_ensemble_ml_slot_without_a_model_says_so():
    ens = build_strategy("ensemble", {}, timeframe="5m")
    assert ens.model is None and "no source for ml: weight redistributed" in ens.describe()


def test_ensemble_uses_the_trained_model_end_to_end(model, tmp_path, capsys):
    """train (above) -> a config whose ensemble names the model -> ``kraken-tui backtest --journal``: the report
    shows the ML slot at its seed weight and the journal's ensemble signals carry the model's votes."""
    import sqlite3

    path, out, _ = model
    cfg = tmp_path / "config.toml"
    cfg.write_text('[strategy]\nname = "ensemble"\nsymbols = ["PF_XBTUSD"]\ntimeframe = "5m"\n'
                   "[strategy.params]\nmin_confidence = 0.05\n"
                   f'[strategy.params.ml]\nmodel_path = "{out}"\nmin_confidence = 0.0\n', encoding="utf-8")
    journal = tmp_path / "bt.sqlite3"
    code = main(["backtest", "--config", str(cfg), "--candles", str(path), "--journal", str(journal), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    note = next(n for n in doc["notes"] if n.startswith("ensemble slots:"))
    assert "ml 40%" in note and f"model {out}" in note and "no source" not in note.split(";")[0]
    with sqlite3.connect(journal) as db:
        feats = [json.loads(f) for (f,) in db.execute("SELECT features FROM signals WHERE strategy = 'ensemble'")]
    voted = [f for f in feats if "vote_ml" in f]
    assert voted and all("slot_ml" in f for f in voted)
    assert any(abs(f["slot_ml"]) > 0 for f in voted)


FUNDING = "kraken/funding_pi_xbtusd_1h_2025-08-13_2026-08-13.csv"


def test_funding_features_read_only_hours_ended_at_the_bar(shared_data):
    """Each bar's funding features from the whole funding file equal those from the file truncated at the bar
    (only the hours that ended at or before its close): no look-ahead. The feature rows carry them."""
    import math

    from kraken_tui.backtest.data import FundingSchedule, open_candles
    from kraken_tui.domain import Candle
    from kraken_tui.engine.strategies.ml_features import FeatureBuilder, funding_features

    hour = 3_600_000
    full = FundingSchedule.from_csv(shared_data(FUNDING), "PF_XBTUSD")
    times, rates = full._times, full._rates
    stream = open_candles(shared_data(PF_5M), symbol="PF_XBTUSD")
    fb = FeatureBuilder(stream.bar_ms)
    seen = set()
    rows = 0
    for r in stream.rows:
        c = Candle(int(r[0]), *r[1:])
        close = c.ts_ms + stream.bar_ms
        k = sum(1 for t in times if t + hour <= close)
        cut = FundingSchedule(times[:k], rates[:k], "truncated at the bar")
        want = funding_features(close, full.known_rate)
        got = funding_features(close, cut.known_rate)
        assert got == want or all(math.isnan(a) and math.isnan(b) for a, b in zip(got, want, strict=True))
        row = fb.update(c, full.known_rate)
        if row is not None:
            rows += 1
            assert row[-3:] == list(want)
        seen.add(want[:2])
    assert rows > 400 and len(seen) > 20  # real, changing rates were read
    assert 0 < want[2] <= 60


def test_train_with_funding_and_backtest_reads_it(shared_data, tmp_path, capsys):
    path = shared_data(PF_5M)
    code, doc = _train(path, tmp_path / "f.pkl", capsys, "--funding", str(shared_data(FUNDING)))
    assert code == 0
    fund = doc["data"]["funding"]
    assert fund["file"] == FUNDING.split("/")[1] and len(fund["sha256"]) == 64
    assert "funding_rate_bps" in doc["features"]
    from kraken_tui.backtest.data import FundingSchedule
    from kraken_tui.backtest.runner import Backtest

    sched = FundingSchedule.from_csv(shared_data(FUNDING), "PF_XBTUSD")
    settings, rows = settings_for(path, "ml", {"model_path": str(tmp_path / "f.pkl"), "min_confidence": 0.0},
                                  funding=sched)
    records = []
    bt = Backtest(settings, sink=records.append)
    bt.run(rows)
    bt.finish()
    assert bt.strategy.funding_source == sched.describe
    feats = [r.features for r in records if type(r).__name__ == "SignalRecord"]
    assert feats and all(f["funding_fed"] == 1.0 for f in feats)
    # the ensemble hands the run's funding schedule to its ML slot's model
    settings, rows = settings_for(path, "ensemble", {"ml": {"model_path": str(tmp_path / "f.pkl")}}, funding=sched)
    ens = Backtest(settings)
    assert ens.strategy.model is not None and ens.strategy.model.funding_source == sched.describe
