"""Over-fitting made visible: the deflated Sharpe ratio and the probability of backtest over-fitting.

Owns: ``expected_max_sharpe``, ``deflated_sharpe`` and ``pbo_cscv``.

Deflated Sharpe ratio (Bailey, D. H. and López de Prado, M., "The Deflated Sharpe Ratio: Correcting for
Selection Bias, Backtest Overfitting, and Non-Normality", Journal of Portfolio Management 40(5), 2014,
pp. 94-107, eqs. for SR0 and DSR): the probability that the true Sharpe ratio of the selected trial is above
the Sharpe ratio the best of ``N`` unskilled trials would show by luck,

    SR0 = sqrt(V[SR_n]) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))      (g = Euler-Mascheroni)
    DSR = Z( (SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2) )

with every Sharpe ratio per period (not annualised), ``V[SR_n]`` the variance of the trials' Sharpe ratios,
``T`` the number of returns of the selected trial, ``skew`` and ``kurt`` (not in excess) their moments, ``Z``
the standard normal CDF. The paper's worked example (N = 100, V = 1/2 / 250, SR = 2.5 / sqrt(250), T = 1250,
skew -3, kurt 10) gives SR0 = 0.1132 and DSR = 0.9004 (tests/research/test_overfit.py). Trials of one TPE
study are correlated, so counting each as independent overstates N and deflates conservatively. A DSR below
0.95 means the best in-sample Sharpe is not significant once the number of trials is accounted for.

Probability of backtest over-fitting (Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J., "The
Probability of Backtest Overfitting", Journal of Computational Finance 20(4), 2017 (SSRN 2326253, 2015),
combinatorially symmetric cross-validation, CSCV): the T x N matrix of the trials' returns is cut into S
row blocks; for each of the C(S, S/2) ways to pick half the blocks as in-sample, the trial with the best
in-sample Sharpe is ranked among all trials on the other half (relative rank w in (0, 1)), logit l =
ln(w / (1 - w)); PBO = the share of combinations with l <= 0 (the in-sample winner below the out-of-sample
median).
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

__all__ = ["EULER_GAMMA", "deflated_sharpe", "expected_max_sharpe", "pbo_cscv"]

#: The Euler-Mascheroni constant.
EULER_GAMMA = 0.5772156649015329
_Z = NormalDist()


def expected_max_sharpe(sharpe_variance: float, n_trials: int) -> float:
    """SR0: the expected maximum per-period Sharpe ratio of ``n_trials`` unskilled trials whose Sharpe ratios
    have variance ``sharpe_variance`` (module docstring; 0 for fewer than 2 trials or no variance).

    Raises:
        ValueError: a negative variance.
    """
    if sharpe_variance < 0:
        raise ValueError(f"sharpe_variance must be >= 0, got {sharpe_variance}")
    if n_trials < 2 or sharpe_variance == 0:
        return 0.0
    g = EULER_GAMMA
    return math.sqrt(sharpe_variance) * ((1 - g) * _Z.inv_cdf(1 - 1 / n_trials)
                                         + g * _Z.inv_cdf(1 - 1 / (n_trials * math.e)))


def deflated_sharpe(sharpe: float, n_returns: int, skew: float, kurtosis: float, trial_sharpes: Sequence[float]
                    ) -> float | None:
    """DSR of a selected trial (module docstring): ``sharpe`` its per-period Sharpe ratio over ``n_returns``
    returns with ``skew`` and ``kurtosis`` (not in excess), ``trial_sharpes`` the per-period Sharpe ratios of
    every trial of the study (N = their count, V = their sample variance). Returns a probability in [0, 1], or
    None with fewer than 2 returns or a non-positive variance term (extreme skew)."""
    if n_returns < 2:
        return None
    n = len(trial_sharpes)
    var = statistics.variance(trial_sharpes) if n >= 2 else 0.0
    sr0 = expected_max_sharpe(var, n)
    denom = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe ** 2
    if denom <= 0:
        return None
    return _Z.cdf((sharpe - sr0) * math.sqrt(n_returns - 1) / math.sqrt(denom))


def pbo_cscv(returns: Sequence[Sequence[float]], blocks: int = 8) -> float | None:
    """PBO by CSCV (module docstring) of ``returns``: one sequence of per-period returns per trial, all of the
    same length T (the same bars). ``blocks`` S (even, >= 2). Sharpe ratios per period with the population
    standard deviation (0 where it is 0); the in-sample best is the lowest-numbered trial among equals, its
    out-of-sample rank counts ties as half. None with fewer than 2 trials or fewer than ``2 * blocks`` returns.

    Raises:
        ValueError: ``blocks`` odd or below 2, or trials of different lengths.
    """
    import numpy as np

    if blocks < 2 or blocks % 2:
        raise ValueError(f"blocks must be even and >= 2, got {blocks}")
    n = len(returns)
    if n < 2:
        return None
    t = len(returns[0])
    if any(len(r) != t for r in returns):
        raise ValueError("every trial needs the same number of returns")
    if t < 2 * blocks:
        return None
    r = np.asarray(returns, dtype=np.float64)
    edges = [t * j // blocks for j in range(blocks + 1)]
    cnt = np.array([edges[j + 1] - edges[j] for j in range(blocks)], dtype=np.float64)
    s1 = np.stack([r[:, edges[j]:edges[j + 1]].sum(axis=1) for j in range(blocks)], axis=1)  # (n, S)
    s2 = np.stack([(r[:, edges[j]:edges[j + 1]] ** 2).sum(axis=1) for j in range(blocks)], axis=1)

    def sharpe(sel: list[int]) -> Any:
        k = cnt[sel].sum()
        mean = s1[:, sel].sum(axis=1) / k
        var = np.maximum(s2[:, sel].sum(axis=1) / k - mean ** 2, 0.0)
        sd = np.sqrt(var)
        return np.divide(mean, sd, out=np.zeros_like(mean), where=sd > 1e-300)

    below = total = 0
    for is_blocks in itertools.combinations(range(blocks), blocks // 2):
        oos_blocks = [j for j in range(blocks) if j not in is_blocks]
        is_sr, oos_sr = sharpe(list(is_blocks)), sharpe(oos_blocks)
        best = int(np.argmax(is_sr))  # the first of the maxima
        v = oos_sr[best]
        rank = float(np.sum(oos_sr < v)) + 0.5 * (float(np.sum(oos_sr == v)) + 1.0)
        w = rank / (n + 1)
        total += 1
        if math.log(w / (1 - w)) <= 0:
            below += 1
    return below / total
