"""Over-fitting statistics (research.overfit): the deflated Sharpe ratio against the worked example of Bailey and
López de Prado (2014), and PBO by CSCV on hand-made return matrices whose answer is computed by hand."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from kraken_tui.research.overfit import deflated_sharpe, expected_max_sharpe, pbo_cscv


def _sharpes_with_variance(var: float, n: int) -> list[float]:
    """n values (n even) with sample variance exactly ``var``: +-a alternating."""
    a = math.sqrt(var * (n - 1) / n)
    return [a if i % 2 else -a for i in range(n)]


def test_expected_max_sharpe_paper_example():
    # N = 100 trials, V[SR_n] = 1/2 annualised = 0.5 / 250 per day:
    # SR0 = sqrt(0.002) x (0.42278 x Z^-1(0.99) + 0.57722 x Z^-1(1 - 1/(100e)))
    #     = 0.044721 x (0.42278 x 2.32635 + 0.57722 x 2.67900) = 0.044721 x 2.52989 = 0.11314
    assert expected_max_sharpe(0.5 / 250, 100) == pytest.approx(0.11314, abs=5e-5)
    assert expected_max_sharpe(0.002, 1) == 0.0


def test_deflated_sharpe_paper_example():
    # SR = 2.5 / sqrt(250) = 0.158114 per day over T = 1250 days, skew -3, kurtosis 10:
    # z = (0.158114 - 0.113172) x sqrt(1249) / sqrt(1 + 3 x 0.158114 + 9/4 x 0.025) = 1.58828 / 1.23635 = 1.28466
    # DSR = Z(1.28466) = 0.9004 (the paper's figure)
    trials = _sharpes_with_variance(0.5 / 250, 100)
    assert statistics.variance(trials) == pytest.approx(0.002)
    dsr = deflated_sharpe(2.5 / math.sqrt(250), 1250, -3.0, 10.0, trials)
    assert dsr == pytest.approx(0.9004, abs=2e-4)


def test_deflated_sharpe_falls_with_more_trials_and_is_none_when_undefined():
    one = deflated_sharpe(0.1, 500, 0.0, 3.0, [0.1])  # one trial: no deflation (PSR against 0)
    many = deflated_sharpe(0.1, 500, 0.0, 3.0, _sharpes_with_variance(0.004, 1000))
    assert one is not None and many is not None and many < one
    assert deflated_sharpe(0.1, 1, 0.0, 3.0, [0.1, 0.2]) is None
    assert deflated_sharpe(1.0, 100, 5.0, 3.0, [0.1, 0.2]) is None  # 1 - 5 x 1 + 0.5 < 0


def test_pbo_hand_made_overfit_and_consistent():
    # two trials, S = 2 blocks of 2 returns. A: blocks [1, 3] (SR 2) and [-1, 1] (SR 0); B: [0, 2] (SR 1), [1, 3] (SR 2).
    # IS = block 0 -> A best, OOS SRs A 0 < B 2: rank 1 of 2, w = 1/3, logit < 0. IS = block 1 -> B best, OOS
    # SRs A 2 > B 1: w = 1/3 again. PBO = 2/2.
    assert pbo_cscv([[1, 3, -1, 1], [0, 2, 1, 3]], blocks=2) == 1.0
    # A better in both blocks: the in-sample winner is the out-of-sample winner, w = 2/3, PBO 0.
    assert pbo_cscv([[1, 3, 1, 3], [0, 2, 0, 2]], blocks=2) == 0.0


def test_pbo_noise_is_about_half_and_skill_is_zero():
    rnd = random.Random(7)
    noise = [[rnd.gauss(0, 1) for _ in range(400)] for _ in range(40)]
    assert 0.3 <= pbo_cscv(noise) <= 0.7
    skill = [[rnd.gauss(0.3 if i == 0 else 0.0, 1) for _ in range(400)] for i in range(40)]
    assert pbo_cscv(skill) == 0.0


def test_pbo_rejects_bad_input():
    assert pbo_cscv([[0.1] * 40]) is None
    assert pbo_cscv([[0.1] * 10, [0.2] * 10], blocks=8) is None
    with pytest.raises(ValueError, match="even"):
        pbo_cscv([[0.1] * 40, [0.2] * 40], blocks=3)
    with pytest.raises(ValueError, match="same number"):
        pbo_cscv([[0.1] * 40, [0.2] * 41])
