"""Leave-one-out, cumulative, influence and the permutation test: before and after the batch engine.

Part 1 times ``result.leave_one_out()``, ``result.cumulative()`` and ``result.influence()``
of one random-effects meta-analysis of k studies two ways in one run: through the batch
engine (the library's path) and through ``result.subset`` one refit at a time (the path
before, taken here by making ``meta_analysis_many`` refuse), and prints the largest
difference between the two tables.

Part 2 times ``MetaRegressionResult.permutation_test(n=1000)`` at k = 30 with one moderator,
against the code it replaced, rebuilt here: ``_metareg.fit_design`` on each arrangement, with
the likelihood scan evaluating one grid point at a time. It checks that both give the same
p-values.

Usage: ``python benchmarks/bench_refits.py [--repeats 3] [--n 1000] [--only refits|permutations]``.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

import msc_meta as mm
from msc_meta import _metareg, sensitivity, tau2


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@contextmanager
def _subset_path() -> Iterator[None]:
    """The refits one at a time through result.subset (the batch engine refuses)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise mm.MetaAnalysisError("refused (benchmark)")

    real = sensitivity.meta_analysis_many
    sensitivity.meta_analysis_many = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        sensitivity.meta_analysis_many = real  # type: ignore[assignment]


def _refits(repeats: int) -> None:
    print("Part 1: refits of one meta-analysis of k studies; seconds (best of", repeats, "runs)")
    print(f"{'analysis':<14}{'method':<7}{'k':>6}{'subset loop':>13}{'batch':>9}{'ratio':>8}"
          f"{'max |diff|':>12}")  # fmt: skip
    rng = np.random.default_rng(20261130)
    for k in (10, 30, 100, 300, 1000):
        v = 10 ** rng.uniform(-2, -0.5, k)
        y = rng.normal(0.3, np.sqrt(v + 0.05))
        for method in ("DL", "REML"):
            res = mm.meta_analysis(y, v, method=method, test="knha")
            for name, run in (
                ("leave_one_out", res.leave_one_out),
                ("cumulative", res.cumulative),
                ("influence", lambda res=res: res.influence().to_frame()),
            ):
                reps = repeats if k <= 300 else 1
                fast = _best(run, reps)
                new = run()
                with _subset_path():
                    slow = _best(run, reps)
                    old = run()
                diff = float(np.nanmax(np.abs(new.to_numpy(float) - old.to_numpy(float))))
                print(f"{name:<14}{method:<7}{k:>6}{slow:>13.4f}{fast:>9.4f}"
                      f"{slow / fast:>7.0f}x{diff:>12.1e}")  # fmt: skip


def _score_grid_one_point_at_a_time(
    ts: np.ndarray, y: np.ndarray, v: np.ndarray, X: np.ndarray, reml: bool
) -> np.ndarray:
    """The likelihood scan with moderators as it was: one _score_slope per grid point."""
    return np.array([tau2._score_slope(float(t), y, v, X, reml)[0] for t in ts])


def _old_permutation_test(res: Any, n: int, rng: int) -> tuple[pd.Series, float]:
    """permutation_test as it was: fit_design on each arrangement, one at a time."""
    design = res.design.to_numpy(dtype=float)
    gen = np.random.default_rng(rng)
    stats = np.full((n, len(res.coef)), np.nan)
    qms = np.full(n, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n):
            rows = np.arange(res.k) if i == 0 else gen.permutation(res.k)
            try:
                fit = _metareg.fit_design(
                    res.effect, res.variance, design[rows], res.intercept, res.method,
                    res.test, res.level, res.control, with_r2=False,
                )  # fmt: skip
            except (mm.MetaAnalysisError, np.linalg.LinAlgError):
                continue
            stats[i], qms[i] = fit.statistic, fit.qm
    tol = math.sqrt(np.finfo(float).eps)
    ok = ~np.isnan(stats)
    pvals = ((np.abs(stats) >= np.abs(res.statistic.to_numpy()) - tol) & ok).sum(0) / ok.sum(0)
    qm_ok = ~np.isnan(qms)
    qm_p = float(((qms >= res.qm - tol) & qm_ok).sum() / qm_ok.sum())
    return pd.Series(np.minimum(pvals, 1.0), index=list(res.terms), name="pvalue"), qm_p


def _permutations(n: int, repeats: int) -> None:
    k = 30
    print(f"\nPart 2: permutation_test(n={n}) of a meta-regression, k = {k}, one moderator; "
          f"seconds (best of {repeats} runs)")  # fmt: skip
    print(f"{'method':<8}{'test':<6}{'before':>9}{'after':>9}{'ratio':>8}  same p-values")
    rng = np.random.default_rng(7)
    x = rng.normal(size=k)
    v = rng.uniform(0.01, 0.2, k)
    y = 0.2 + 0.1 * x + rng.normal(0.0, np.sqrt(v + 0.03))
    for method, test in (("REML", "z"), ("ML", "z"), ("DL", "z"), ("PM", "knha"), ("EE", "z")):
        res = mm.meta_regression(y, v, x, method=method, test=test)
        after = _best(lambda res=res: res.permutation_test(n=n, rng=1), repeats)
        new = res.permutation_test(n=n, rng=1)
        real = tau2._score_grid_mods
        tau2._score_grid_mods = _score_grid_one_point_at_a_time  # type: ignore[assignment]
        try:
            before = _best(lambda res=res: _old_permutation_test(res, n, 1), repeats)
            old_p, old_qm = _old_permutation_test(res, n, 1)
        finally:
            tau2._score_grid_mods = real  # type: ignore[assignment]
        same = new.pvalue.equals(old_p) and new.qm_pvalue == old_qm
        print(f"{method:<8}{test:<6}{before:>9.3f}{after:>9.3f}{before / after:>7.1f}x  {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=1000, help="arrangements of the permutation test")
    parser.add_argument("--only", choices=("refits", "permutations"), help="run one part")
    args = parser.parse_args()
    if args.only != "permutations":
        _refits(args.repeats)
    if args.only != "refits":
        _permutations(args.n, args.repeats)


if __name__ == "__main__":
    main()
