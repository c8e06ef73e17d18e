"""Leave-one-out, cumulative and influence refits through the batch engine (issue 10).

The refits of an inverse-variance result go through ``meta_analysis_many``; the path they
replace (``result.subset`` one refit at a time) is still there, and is taken when the batch
engine refuses (here forced by making it raise). Both paths must give the same tables, notes
and warnings.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta import sensitivity
from msc_meta.batch import NOT_REPRESENTABLE, BatchResult
from msc_meta.results import MetaAnalysisResult

#: Each batch row equals meta_analysis on that row to rounding (the issue's target is 1e-8);
#: the absolute part covers numbers that are 0 on one path and ~1e-17 on the other.
RTOL = 1e-8
ATOL = 1e-12

#: (method, test, k): every test, closed-form and iterative methods, small and large k.
CASES = [
    ("EE", "z", 2),
    ("DL", "knha", 3),
    ("REML", "z", 5),
    ("REML", "t", 17),
    ("ML", "adhoc", 30),
    ("PM", "knha", 60),
    ("SJ", "t", 80),
    ("EB", "z", 12),
    ("PMM", "adhoc", 9),
    ("HS", "z", 25),
    ("HSk", "t", 11),
    ("HE", "knha", 40),
    ("REML", "knha", 200),
]


def _data(k: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.005, 0.2, k) * rng.choice([1.0, 1e-3, 1e3], k, p=[0.9, 0.05, 0.05])
    y = rng.normal(0.3, rng.uniform(0.0, 0.5), k) + rng.normal(0.0, np.sqrt(v))
    if k > 4:
        y[: k // 4] = y[0]  # ties: Hartung-Knapp factors near 0, τ² on the boundary
    return y, v


def _core_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the batch engine refuse, so the refits take result.subset one at a time."""

    def refuse(*args: Any, **kwargs: Any) -> BatchResult:
        raise mm.MetaAnalysisError("refused (test)")

    monkeypatch.setattr(sensitivity, "meta_analysis_many", refuse)


def _tables(res: MetaAnalysisResult) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.FewStudiesWarning)
        out: dict[str, Any] = {
            "loo": res.leave_one_out(),
            "cumulative": res.cumulative(),
            "precision": res.cumulative("precision"),
            "baujat": sensitivity.baujat(res),
        }
        if res.k >= 2:
            out["influence"] = res.influence()
    return out


def _assert_same(batch: dict[str, Any], core: dict[str, Any]) -> None:
    assert batch.keys() == core.keys()
    for name in ("loo", "cumulative", "precision"):
        pd.testing.assert_frame_equal(batch[name], core[name], rtol=RTOL, atol=ATOL)
        assert batch[name].attrs["notes"] == core[name].attrs["notes"]
    pd.testing.assert_frame_equal(batch["baujat"], core["baujat"], rtol=RTOL, atol=ATOL)
    if "influence" in core:
        a, b = batch["influence"], core["influence"]
        pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), rtol=RTOL, atol=ATOL)
        assert a.notes == b.notes


@pytest.mark.parametrize(("method", "test", "k"), CASES)
def test_batch_refits_equal_the_subset_refits(
    method: str, test: str, k: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for seed in range(2 if k <= 60 else 1):
        y, v = _data(k, seed)
        res = mm.meta_analysis(y, v, method=method, test=test)
        batch = _tables(res)
        with monkeypatch.context() as m:
            _core_only(m)
            core = _tables(res)
        _assert_same(batch, core)


def test_rows_that_do_not_converge_are_refitted_by_the_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # max_iter=2 stops REML and PM before convergence on most refits: the batch engine flags
    # those rows and result.subset refits them (the core's last iterate, silently)
    seen: list[int] = []
    real = sensitivity.meta_analysis_many

    def spy(*args: Any, **kwargs: Any) -> BatchResult:
        out = real(*args, **kwargs)
        seen.append(int((~out.converged).sum()))
        return out

    for method in ("REML", "PM"):
        y, v = _data(40, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.ConvergenceWarning)
            res = mm.meta_analysis(y, v, method=method, max_iter=2)
        with monkeypatch.context() as m:
            m.setattr(sensitivity, "meta_analysis_many", spy)
            batch = _tables(res)
        with monkeypatch.context() as m:
            _core_only(m)
            core = _tables(res)
        _assert_same(batch, core)
    assert sum(seen) > 0  # the case exercises non-converged rows


def test_a_refit_that_fails_gives_a_nan_row_and_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    # the batch engine marks the refit without study 3 as not representable, and the core
    # refuses it: a NaN row named in the notes, exactly as on the one-at-a-time path
    y, v = _data(12, 5)
    res = mm.meta_analysis(y, v, method="REML", test="knha")
    # study 3 is not the least precise: no cumulative prefix is "all but study 3"
    assert int(np.argmax(v)) != 2
    real_many = sensitivity.meta_analysis_many
    real_subset = MetaAnalysisResult.subset

    def many(*args: Any, **kwargs: Any) -> BatchResult:
        out = real_many(*args, **kwargs)
        without_3 = np.flatnonzero(np.isnan(np.asarray(args[0])[:, 2]) & (out.k == 11))
        out.codes[without_3] |= NOT_REPRESENTABLE
        out.estimate[without_3] = 123.0  # must not leak into the table
        return out

    def subset(self: MetaAnalysisResult, mask: Any) -> Any:
        pos = np.asarray(mask)
        if pos.size == self.k - 1 and 2 not in pos:
            raise mm.MetaAnalysisError("cannot be represented (test)")
        return real_subset(self, mask)

    monkeypatch.setattr(MetaAnalysisResult, "subset", subset)
    with monkeypatch.context() as m:
        m.setattr(sensitivity, "meta_analysis_many", many)
        batch = _tables(res)
    with monkeypatch.context() as m:
        _core_only(m)
        core = _tables(res)
    _assert_same(batch, core)
    loo = batch["loo"]
    assert loo.loc["Study 3"].isna().all() and not loo.drop(index="Study 3").isna().any().any()
    assert loo.attrs["notes"] == (
        "without 'Study 3': the refit is not possible (nothing or no estimate left); NaN row",
    )
    assert not (loo["estimate"] == 123.0).any()


def test_large_k_is_fitted_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # blocks of 4 x k cells: leave-one-out of k = 30 in 8 meta_analysis_many calls
    calls: list[int] = []
    real = sensitivity.meta_analysis_many

    def count(*args: Any, **kwargs: Any) -> BatchResult:
        calls.append(np.asarray(args[0]).shape[0])
        return real(*args, **kwargs)

    y, v = _data(30, 7)
    res = mm.meta_analysis(y, v, method="REML", test="t")
    whole = _tables(res)
    monkeypatch.setattr(sensitivity, "REFIT_BLOCK_CELLS", 4 * 30)
    monkeypatch.setattr(sensitivity, "meta_analysis_many", count)
    blocks = _tables(res)
    assert calls[:8] == [4] * 7 + [2]
    _assert_same(blocks, whole)


def test_results_without_a_spec_and_binary_results_keep_the_subset_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    called: list[bool] = []

    def record(*args: Any, **kwargs: Any) -> BatchResult:
        called.append(True)
        raise AssertionError("the batch engine must not be used here")

    monkeypatch.setattr(sensitivity, "meta_analysis_many", record)
    cells = {"events_t": [1, 4, 3, 6], "n_t": [20] * 4, "events_c": [3, 5, 6, 9], "n_c": [20] * 4}
    tables: list[Callable[[], Any]] = [
        mm.mantel_haenszel("OR", **cells).leave_one_out,
        mm.peto(**cells).cumulative,
    ]
    for table in tables:
        assert not table().isna().any().any()
    assert not called
