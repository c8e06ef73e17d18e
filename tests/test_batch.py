"""The batch engine: every row of ``meta_analysis_many`` equals ``meta_analysis`` on that row.

Agreement is to 1e-8 relative, with an absolute floor per row: the row's working unit (the
square root of its median variance) for locations and spreads, the median variance for τ²
and its SE and interval, and 1 for p-values, Q, I² and H². Rows the core refuses are
flagged ``NOT_REPRESENTABLE`` with NaN results.
"""

from __future__ import annotations

import dataclasses
import tracemalloc
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import special

import msc_meta as mm
from msc_meta import _batch_scan, batch
from msc_meta._batch_scan import column_dot, column_sum
from msc_meta._batch_tau2 import BATCH_TAU2_METHODS, trace_p_pp_columns
from msc_meta._inference import chi2_sf_rows
from msc_meta.batch import (
    FEW_STUDIES,
    MULTIMODAL,
    NOT_REPRESENTABLE,
    ZERO_HK_FACTOR,
    BatchResult,
    meta_analysis_many,
)
from msc_meta.tau2 import TAU2_METHODS, _trace_pp, trace_p

CLOSED_FORMS = ("EE", "DL", "HE", "HS", "HSk", "SJ")
TESTS = ("z", "t", "knha", "adhoc")
RTOL = 1e-8
LOCATION = ("estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "ce_estimate", "ce_se")
VARIANCE = ("tau2", "tau2_se", "tau2_ci")
UNIT = ("statistic", "pvalue", "i2", "h2", "q", "q_pvalue", "i2_ci", "h2_ci")


def _random_rows(m: int, k_max: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows with k from 1 to k_max, effects on many scales, variances over many decades."""
    rng = np.random.default_rng(seed)
    offset = rng.choice([0.0, 1.0, -3.0, 1e6], size=(m, 1))
    vscale = 10.0 ** rng.integers(-8, 9, size=(m, 1))
    spread = rng.choice([0.1, 1.0, 4.0], size=(m, 1))
    V = vscale * np.exp(spread * rng.normal(size=(m, k_max)))
    tau = rng.choice([0.0, 0.1, 1.0, 10.0], size=(m, 1)) * np.sqrt(vscale)
    Y = offset + tau * rng.normal(size=(m, k_max)) + np.sqrt(V) * rng.normal(size=(m, k_max))
    Y = np.where(rng.random((m, 1)) < 0.1, offset, Y)  # identical effects: tau2 on the boundary
    k = rng.integers(1, k_max + 1, size=m)
    k[:4] = [1, 2, 2, k_max]
    absent = np.arange(k_max)[None, :] >= k[:, None]
    # absent studies anywhere in the row, not only at its end
    perm = rng.permuted(np.broadcast_to(np.arange(k_max), (m, k_max)), axis=1)
    absent = np.take_along_axis(absent, np.argsort(perm, axis=1), axis=1)
    Y[absent] = np.nan
    V[absent] = np.nan
    return Y, V


def _one(res: BatchResult, i: int) -> mm.MetaAnalysisResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return res[i]


def _compare(res: BatchResult, V: np.ndarray, rows: range | np.ndarray, q_profile: bool) -> None:
    for i in rows:
        one = _one(res, int(i))
        vmed = float(np.nanmedian(V[i]))
        floors = {**dict.fromkeys(LOCATION, np.sqrt(vmed)), **dict.fromkeys(VARIANCE, vmed)}
        fields = LOCATION + VARIANCE + UNIT if q_profile else LOCATION + VARIANCE[:2] + UNIT[:6]
        for name in fields:
            got = np.atleast_1d(np.asarray(getattr(res, name)[i], dtype=float))
            want = getattr(one, name)
            want = np.atleast_1d(np.asarray(np.nan if want is None else want, dtype=float))
            assert np.array_equal(np.isnan(got), np.isnan(want)), (name, i, got, want)
            ok = ~np.isnan(want)
            floor = floors.get(name, 1.0)
            same = got[ok] == want[ok]  # also +-inf statistics at a zero standard error
            with np.errstate(invalid="ignore"):
                err = np.abs(got[ok] - want[ok]) / np.maximum(np.abs(want[ok]), floor)
            assert (same | (err <= RTOL)).all(), (name, i, got, want)
        assert res.k[i] == one.k and res.q_df[i] == one.q_df
        assert np.isnan(res.df[i]) if one.df is None else res.df[i] == one.df


def test_registry_has_every_method_of_the_core_under_its_code() -> None:
    assert set(CLOSED_FORMS) < set(BATCH_TAU2_METHODS) == set(TAU2_METHODS)


def test_thousands_of_random_rows_equal_meta_analysis_dl_with_q_profile() -> None:
    Y, V = _random_rows(2000, 60, seed=1)
    res = meta_analysis_many(Y, V, method="DL", q_profile=True)
    assert res.converged.all()
    _compare(res, V, range(len(res)), q_profile=True)


@pytest.mark.parametrize("method", sorted(TAU2_METHODS))
@pytest.mark.parametrize("test", TESTS)
def test_random_rows_equal_meta_analysis_every_method_and_test(method: str, test: str) -> None:
    seed = 10 * sorted(TAU2_METHODS).index(method) + TESTS.index(test)
    Y, V = _random_rows(150, 30, seed=seed)
    res = meta_analysis_many(Y, V, method=method, test=test)
    _compare(res, V, range(len(res)), q_profile=False)


def test_k1_boundary_and_zero_hartung_knapp_factor_are_flagged() -> None:
    Y = np.array([[0.5, np.nan, np.nan], [0.2, 0.2, 0.2], [0.1, 0.9, np.nan]])
    V = np.array([[0.1, np.nan, np.nan], [0.1, 0.2, 0.3], [0.1, 0.1, np.nan]])
    res = meta_analysis_many(Y, V, method="DL", test="knha")
    assert res.codes[0] & FEW_STUDIES and np.isnan(res.df[0])
    assert res.tau2[1] == 0.0 and res.codes[1] & ZERO_HK_FACTOR
    assert res.codes[2] == 0 and res.df[2] == 1.0
    _compare(res, V, range(3), q_profile=False)


def test_rows_the_core_refuses_are_flagged_and_nan() -> None:
    Y = np.array([[0.0, 1.0], [0.0, 1.0]])
    V = np.array([[1e-300, 1e300], [0.1, 0.2]])
    with pytest.raises(mm.MetaAnalysisError):
        mm.meta_analysis(Y[0], V[0], method="DL")
    res = meta_analysis_many(Y, V, method="DL")
    assert res.codes[0] & NOT_REPRESENTABLE and np.isnan(res.estimate[0])
    assert res.codes[1] == 0 and np.isfinite(res.estimate[1])


def test_extreme_rows_match_or_are_refused_like_the_core() -> None:
    Y = np.array([[1e-200, 2e-200, 3e-200], [1e150, 3e150, -2e150], [1e300, -1e300, 0.0]])
    V = np.array([[1e-300, 1e-300, 2e-300], [1e300, 2e300, 1e299], [1e290, 1e290, 1e290]])
    res = meta_analysis_many(Y, V, method="DL", q_profile=True)
    _compare(res, V, range(2), q_profile=True)
    with pytest.raises(mm.MetaAnalysisError, match="Q cannot be represented"):
        mm.meta_analysis(Y[2], V[2], method="DL")
    assert res.codes[2] & NOT_REPRESENTABLE and np.isnan(res.tau2[2])


@pytest.mark.parametrize("method", list(TAU2_METHODS))
def test_rows_the_core_refuses_are_flagged_alike_by_every_method(method: str) -> None:
    # no fit: only the NOT_REPRESENTABLE bit, not converged, no iterations, whatever the
    # vectorized path had made of the row (REML and PM had also set NOT_CONVERGED)
    Y = np.array([[1e300, -1e300, 0.0], [1.0, 2.0, 3.0]])
    V = np.array([[1e290, 1e290, 1e290], [1.0, 1.0, 2.0]])
    res = meta_analysis_many(Y, V, method=method)
    assert res.codes[0] == NOT_REPRESENTABLE
    assert not res.converged[0] and res.iterations[0] == 0
    assert np.isnan(res.estimate[0]) and np.isnan(res.tau2[0])
    assert res.converged[1] and res.codes[1] == 0
    assert "not converged: 0" in res.summary() and "not representable: 1" in res.summary()


def test_chunks_long_form_and_se_give_the_same_numbers() -> None:
    Y, V = _random_rows(300, 8, seed=3)
    whole = meta_analysis_many(Y, V, method="HE").to_frame()
    chunked = meta_analysis_many(Y, V, method="HE", chunk_size=7, progress=False).to_frame()
    pd.testing.assert_frame_equal(whole, chunked)
    by_se = meta_analysis_many(Y, se=np.sqrt(V), method="HE").to_frame()
    pd.testing.assert_frame_equal(whole, by_se, rtol=1e-12)
    rows, cols = np.nonzero(~np.isnan(Y))
    long = pd.DataFrame({"g": rows, "y": Y[rows, cols], "v": V[rows, cols]})
    res = meta_analysis_many("y", "v", data=long, group="g", method="HE")
    frame = res.to_frame()
    assert list(frame.index) == list(range(300)) and frame.index.name == "g"
    np.testing.assert_allclose(frame["estimate"], whole["estimate"], rtol=1e-12)


@pytest.mark.parametrize("method", sorted(TAU2_METHODS))
def test_rows_with_every_study_present_equal_meta_analysis(method: str) -> None:
    """The path without masks (every study present, values in the safe bounds) and the
    masked path give each row the numbers of the core, and the same numbers as each other
    whatever the chunk a row lands in."""
    Y, V = _random_rows(400, 12, seed=40 + sorted(TAU2_METHODS).index(method))
    Y, V = Y[:, :5], V[:, :5]
    full = ~np.isnan(Y).any(axis=1) & ~np.isnan(V).any(axis=1)
    Y, V = Y[full], V[full]
    assert len(Y) > 30
    res = meta_analysis_many(Y, V, method=method, test="knha")
    _compare(res, V, range(len(res)), q_profile=False)
    # the same rows in chunks that also hold a row with an absent study (the masked path)
    Yx = np.vstack([Y[:1], Y])
    Vx = np.vstack([V[:1], V])
    Yx[0, 1] = np.nan
    mixed = meta_analysis_many(Yx, Vx, method=method, test="knha", chunk_size=len(Yx))
    pd.testing.assert_frame_equal(
        mixed.to_frame().iloc[1:].reset_index(drop=True), res.to_frame(), check_exact=True
    )


@pytest.mark.parametrize("df", [1, 2, 3, 9, 10, 63, 64, 65, 200])
def test_q_pvalues_by_the_closed_form_equal_chdtrc(df: int) -> None:
    rng = np.random.default_rng(df)
    x = np.concatenate(
        [rng.exponential(df, 5000), [0.0, 1e-300, 1e-12, 1199.0, 1201.0, 1e4, 1e300, np.nan]]
    )
    got, want = chi2_sf_rows(x, df), special.chdtrc(df, x)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.all(np.abs(got[ok] - want[ok]) <= 1e-12 * want[ok] + 1e-300)


def test_result_object() -> None:
    Y, V = _random_rows(50, 6, seed=4)
    res = meta_analysis_many(Y, V, method="SJ", q_profile=True)
    assert len(res) == 50
    frame = res.to_frame()
    assert {"estimate", "tau2_ci_low", "i2_ci_high", "codes", "converged"} <= set(frame.columns)
    assert "50 meta-analyses" in res.summary() and "<pre>" in res._repr_html_()
    assert res[-1].estimate == pytest.approx(res.estimate[-1], rel=1e-8)
    with pytest.raises(IndexError):
        res[50]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"effect": np.zeros((2, 3)), "variance": np.ones((2, 2))}, "shape"),
        ({"effect": [[0.0, np.inf]], "variance": [[1.0, 1.0]]}, r"effect\[0, 1\]"),
        ({"effect": [[0.0, 1.0]], "variance": [[1.0, 0.0]]}, r"variance\[0, 1\]"),
        ({"effect": [[0.0, 1.0], [np.nan, np.nan]], "variance": np.ones((2, 2))}, "row 1"),
        ({"effect": [[0.0, 1.0]], "variance": [[1.0, 1.0]], "method": "XX"}, "method"),
        ({"effect": [[0.0, 1.0]], "variance": [[1.0, 1.0]], "test": "w"}, "test"),
        ({"effect": [[0.0, 1.0]]}, "variance"),
        ({"effect": "y", "variance": "v", "data": pd.DataFrame({"y": [1]}), "group": "g"}, "g"),
    ],
)
def test_bad_input_names_argument_and_cell(kwargs: dict[str, object], message: str) -> None:
    kwargs.setdefault("method", "DL")
    with pytest.raises(mm.MetaAnalysisError, match=message):
        meta_analysis_many(**kwargs)  # type: ignore[arg-type]


def test_peak_memory_is_a_small_multiple_of_the_input() -> None:
    rng = np.random.default_rng(5)
    Y, V = rng.normal(size=(50_000, 10)), rng.uniform(0.01, 1.0, size=(50_000, 10))
    tracemalloc.start()
    try:
        meta_analysis_many(Y, V, method="DL", progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * (Y.nbytes + V.nbytes)  # the result alone is about 1.4 times the input


def test_rows_sent_to_the_core_get_the_same_numbers_and_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Y = np.array([[0.5, np.nan, np.nan], [0.2, 0.2, 0.2], [0.1, 0.9, 0.4], [0.3, -0.2, 1.0]])
    V = np.array([[0.1, np.nan, np.nan], [0.1, 0.2, 0.3], [0.1, 0.1, 0.2], [0.01, 0.02, 0.03]])
    fast = meta_analysis_many(Y, V, method="SJ", test="knha", q_profile=True)
    real = batch.batch_working_units

    def refuse_every_row(*args: np.ndarray) -> tuple[np.ndarray, ...]:
        *units, ok = real(*args)  # type: ignore[arg-type]
        return (*units, np.zeros_like(ok))

    monkeypatch.setattr(batch, "batch_working_units", refuse_every_row)
    slow = meta_analysis_many(Y, V, method="SJ", test="knha", q_profile=True)
    np.testing.assert_array_equal(slow.codes, fast.codes)
    assert fast.codes[0] == FEW_STUDIES and fast.codes[1] == ZERO_HK_FACTOR
    pd.testing.assert_frame_equal(slow.to_frame(), fast.to_frame(), rtol=1e-8)


def test_indexing_takes_one_row_number() -> None:
    res = meta_analysis_many([[0.1, 0.2]], [[0.1, 0.1]], method="DL")
    with pytest.raises(TypeError, match="one row number"):
        res[0:1]  # type: ignore[index]


def test_rows_an_estimator_marks_ambiguous_are_fitted_by_the_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def marks_row_1(Y: np.ndarray, V: np.ndarray, mask: np.ndarray, control: object) -> object:
        fit = BATCH_TAU2_METHODS["DL"](Y, V, mask, control)  # type: ignore[arg-type]
        return dataclasses.replace(fit, tau2=fit.tau2 * 7.0, ambiguous=np.arange(len(Y)) == 1)

    monkeypatch.setitem(BATCH_TAU2_METHODS, "REML", marks_row_1)
    Y = np.array([[0.1, 0.9, 0.4, -0.3], [0.3, -0.2, 1.0, 0.6]])
    V = np.array([[0.1, 0.1, 0.2, 0.05], [0.01, 0.02, 0.03, 0.02]])
    res = meta_analysis_many(Y, V, method="REML")
    assert res.tau2[1] == pytest.approx(mm.meta_analysis(Y[1], V[1]).tau2, rel=1e-12)
    assert res.tau2[0] != pytest.approx(mm.meta_analysis(Y[0], V[0]).tau2, rel=1e-3)


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_multimodal_rows_equal_the_core_without_a_refit(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows with several local maxima: the batch takes the core's global maximum itself."""
    from msc_meta import batch
    from tests.test_hardening import _bimodal_candidates

    rows = _bimodal_candidates(np.random.default_rng(20261201), 300)
    width = max(y.shape[0] for y, _ in rows)
    Y = np.full((len(rows), width), np.nan)
    V = np.full((len(rows), width), np.nan)
    for i, (y, v) in enumerate(rows):
        Y[i, : y.shape[0]], V[i, : y.shape[0]] = y, v
    refitted: list[int] = []
    real = batch._fit_one
    monkeypatch.setattr(
        batch, "_fit_one", lambda out, i, *a: (refitted.append(i), real(out, i, *a))[1]
    )
    res = meta_analysis_many(Y, V, method=method)
    multimodal = np.flatnonzero(res.codes & MULTIMODAL)
    assert multimodal.size >= 10  # not vacuous
    assert not set(refitted) & set(multimodal.tolist())
    for i in multimodal:
        present = ~np.isnan(Y[i])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = mm.meta_analysis(Y[i][present], V[i][present], method=method)
        assert res.tau2[i] == pytest.approx(ref.tau2, rel=1e-8, abs=1e-300)
        assert res.estimate[i] == pytest.approx(ref.estimate, rel=1e-8, abs=1e-12)
        assert res.se[i] == pytest.approx(ref.se, rel=1e-8)


#: An ML row with two local maxima (τ² = 0 and 6.87) whose log-likelihoods are equal to
#: rounding: which one the core takes, rounding decides, so the batch refits it by the core.
TIED_ML = (np.array([0.5, -5.390185649856394, 3.0]), np.array([0.0462, 3.8295, 4.3455]))


def test_rows_with_maxima_tied_to_rounding_are_refitted_by_the_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from msc_meta import batch

    y, v = TIED_ML
    refitted: list[int] = []
    real = batch._fit_one
    monkeypatch.setattr(
        batch, "_fit_one", lambda out, i, *a: (refitted.append(i), real(out, i, *a))[1]
    )
    Y = np.vstack([y, y + 1.0, y * 2.0])  # a shift and a scale keep the tie
    V = np.vstack([v, v, v * 4.0])
    res = meta_analysis_many(Y, V, method="ML")
    assert refitted == [0, 1, 2]
    for i in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = mm.meta_analysis(Y[i], V[i], method="ML")
        assert res.tau2[i] == ref.tau2 and res.estimate[i] == ref.estimate
        assert res.codes[i] & MULTIMODAL


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_one_row_chunks_give_the_bits_of_the_default_chunks(method: str) -> None:
    """The refinement of a bracket starts from scores computed row by row (the scan's sums
    depend on the block in their last bits), so every row has the same bits in any chunk."""
    Y, V = _random_rows(2400, 6, seed=74)
    whole = meta_analysis_many(Y, V, method=method, n_jobs=1)
    single = meta_analysis_many(Y, V, method=method, n_jobs=1, chunk_size=1)
    for name in ("tau2", "estimate", "se", "iterations"):
        np.testing.assert_array_equal(getattr(single, name), getattr(whole, name), err_msg=name)


def _frames_identical(a: BatchResult, b: BatchResult) -> None:
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_exact=True)


@pytest.mark.parametrize(("method", "q_profile"), [("DL", True), ("REML", False), ("PM", False)])
def test_threads_and_chunks_give_the_same_numbers_bit_for_bit(
    method: str, q_profile: bool
) -> None:
    """Any n_jobs and chunk size: the same bits, including the rows refitted by the core."""
    Y, V = _random_rows(600, 7, seed=71)
    # rows the core refuses (NOT_REPRESENTABLE) and extreme rows, spread over the chunks
    Y[[5, 250, 590], :2] = [[0.0, 1.0], [1e150, -2e150], [0.0, 1.0]]
    V[[5, 250, 590], :2] = [[1e-300, 1e300], [1e300, 2e300], [1e-300, 1e300]]
    serial = meta_analysis_many(Y, V, method=method, q_profile=q_profile, n_jobs=1)
    assert serial.codes[5] & NOT_REPRESENTABLE and serial.codes[590] & NOT_REPRESENTABLE
    _compare(serial, V, range(0, 600, 37), q_profile=q_profile)
    for n_jobs, chunk in ((2, None), (2, 7), (3, 50), (8, 1), (1, 13)):
        threaded = meta_analysis_many(
            Y, V, method=method, q_profile=q_profile, n_jobs=n_jobs, chunk_size=chunk
        )
        _frames_identical(serial, threaded)


def test_threads_keep_the_input_checks_in_order_and_the_callers_errstate() -> None:
    Y, V = _random_rows(200, 5, seed=72)
    V[150, 0], V[40, 2] = -1.0, 0.0  # the first bad cell in row order is reported
    with pytest.raises(mm.MetaAnalysisError, match=r"variance\[40, 2\]"):
        meta_analysis_many(Y, V, method="DL", n_jobs=2, chunk_size=3)
    V[150, 0] = V[40, 2] = 0.5
    serial = meta_analysis_many(Y, V, method="REML", n_jobs=1)
    with np.errstate(all="raise"):  # the caller's settings reach the threads, as in serial
        threaded = meta_analysis_many(Y, V, method="REML", n_jobs=2, chunk_size=9)
    _frames_identical(serial, threaded)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning escapes from a thread or a refit
        meta_analysis_many(Y, V, method="SJ", q_profile=True, n_jobs=2, chunk_size=5)


def test_threads_advance_the_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    Y, V = _random_rows(100, 4, seed=73)
    meta_analysis_many(Y, V, method="DL", n_jobs=2, chunk_size=10, progress=True)
    assert "10/10" in capsys.readouterr().err


@pytest.mark.parametrize("n_jobs", [0, -1, 1.5, True, "2"])
def test_n_jobs_must_be_a_positive_whole_number(n_jobs: object) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"n_jobs=.*positive whole number"):
        meta_analysis_many([[0.1, 0.2]], [[0.1, 0.1]], method="DL", n_jobs=n_jobs)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_no_rows_give_an_empty_result_of_the_usual_fields(method: str) -> None:
    # an empty input (e.g. an empty Dask block) is not an error: every field has 0 rows
    full = meta_analysis_many(np.ones((2, 3)), np.ones((2, 3)), method=method, q_profile=True)
    empty = meta_analysis_many(np.empty((0, 3)), np.empty((0, 3)), method=method, q_profile=True)
    assert list(empty.to_frame().columns) == list(full.to_frame().columns)
    assert len(empty.to_frame()) == 0 and empty.estimate.shape == (0,)
    assert empty.tau2_ci.shape[1:] == full.tau2_ci.shape[1:]
    assert empty.estimate.dtype == full.estimate.dtype and empty.k.dtype == full.k.dtype


@pytest.mark.parametrize("k", [2, 8, 9, 10, 33])
@pytest.mark.parametrize("c", [1, 2, 3, 17, 4096])
def test_column_sum_adds_each_rows_studies_in_order_whatever_the_chunk(k: int, c: int) -> None:
    # the property that makes a row's bits independent of its chunk (c = 1 included, which
    # NumPy alone would sum pairwise)
    rng = np.random.default_rng(k * 1000 + c)
    A = rng.standard_normal((k, c)) * 10.0 ** rng.integers(-8, 9, size=(k, c))
    want = A[0].copy()
    for j in range(1, k):
        want += A[j]
    assert np.array_equal(column_sum(A), want)


@pytest.mark.parametrize("k", [2, 9, 10, 33])
@pytest.mark.parametrize("c", [1, 2, 3, 17, 4096])
@pytest.mark.parametrize("n_factors", [2, 3])
def test_column_dot_has_the_bits_of_column_sum_of_the_product(
    k: int, c: int, n_factors: int
) -> None:
    # einsum's fused products add the studies in order too, for every c (c = 1 included,
    # which einsum alone would reduce in another order), also from a transposed view
    rng = np.random.default_rng(k * 1000 + c + n_factors)
    factors = [
        rng.standard_normal((k, c)) * 10.0 ** rng.integers(-8, 9, size=(k, c))
        for _ in range(n_factors)
    ]
    special_values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, 1e300])
    cells = rng.random((k, c)) < 0.05  # a few zeros of both signs, infinities, NaN, extremes
    factors[0][cells] = rng.choice(special_values, size=int(cells.sum()))
    with np.errstate(invalid="ignore", over="ignore"):
        product = factors[0] * factors[1]
        for f in factors[2:]:
            product = product * f
        want = _bits(column_sum(product))
        assert np.array_equal(_bits(column_dot(*factors)), want)
        view = np.asfortranarray(factors[0]).T.T  # the same numbers, not C-contiguous
        assert not view.flags.c_contiguous or c == 1 or k == 1
        assert np.array_equal(_bits(column_dot(view, *factors[1:])), want)
        # where einsum would fuse multiply and add, the products are formed and added up
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_batch_scan, "_EINSUM_ROUNDS", False)
            assert np.array_equal(_bits(column_dot(*factors)), want)


def _bits(x: np.ndarray) -> np.ndarray:
    """The bits of each number, the sign of a zero included; every NaN one pattern (the sign
    of a NaN made by inf - inf depends on the order of the operands, and means nothing)."""
    return np.where(np.isnan(x), np.nan, x).view(np.uint64)


def test_the_einsum_probe_finds_a_fused_multiply_add() -> None:
    # this NumPy rounds each product (so column_dot may use einsum); an einsum that fuses
    # multiply and add, emulated exactly with fractions, is found out
    assert _batch_scan._einsum_adds_rounded_products()

    def fused(spec: str, *factors: np.ndarray) -> np.ndarray:
        *first, last = factors  # the last factor fused into the add, as npyv_muladd
        head = first[0]
        for f in first[1:]:
            head = head * f
        out = []
        for j in range(head.shape[1]):
            acc = Fraction(0)
            for i in range(head.shape[0]):
                acc = Fraction(float(acc)) + Fraction(head[i, j]) * Fraction(last[i, j])
            out.append(float(acc))
        return np.array(out)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(np, "einsum", fused)
        assert not _batch_scan._einsum_adds_rounded_products()


def test_traces_of_rows_with_a_heavy_weight_equal_the_cores_cancellation_free_forms() -> None:
    rng = np.random.default_rng(81)
    rows = [
        [1e12, 1.0, 2.0, 3.0],  # one weight dominates by 12 orders of magnitude
        [1.0, 0.999, 1e-9, 1e-9],  # a second weight just below half the total
        [5.0, 1.0, 1.0, 1.0],
        [1e-30, 1e-40, 3e-45, 1e-42],
        [1e30, 1e20, 3e25, 1e12],
        [1.0, 1.0, 1.0, 1.0],  # equal weights: no heavy one
        [3.0, 2.0, 0.0, 0.0],  # absent studies carry weight 0
    ]
    rows += list(10.0 ** rng.uniform(-6, 6, size=(200, 4)))
    W = np.array(rows, dtype=float)
    Wt = np.ascontiguousarray(W.T)
    trP, trPP = trace_p_pp_columns(Wt, column_sum(Wt))
    assert trPP is not None
    for i, w in enumerate(W):
        w = w[w > 0]
        assert trP[i] == pytest.approx(trace_p(w), rel=1e-13, abs=0.0), i
        assert trPP[i] == pytest.approx(_trace_pp(w, None), rel=1e-12, abs=0.0), i


def test_fields_equal_for_every_row_are_read_only_broadcasts_and_refits_keep_them() -> None:
    Y, V = _random_rows(300, 6, seed=82)
    full = ~np.isnan(Y).any(axis=1)
    Yf, Vf = Y[full], V[full]
    res = meta_analysis_many(Yf, Vf, method="DL", chunk_size=16)
    for name in ("df", "k", "q_df", "tau2_ci", "i2_ci", "h2_ci"):
        field = getattr(res, name)
        assert not field.flags.writeable and field.strides[0] == 0, name
    assert np.isnan(res.df).all() and (res.k == 6).all() and (res.q_df == 5).all()
    assert np.isnan(res.tau2_ci).all()
    # with an absent study somewhere, k and q_df are per row (and right in the full chunks)
    mixed = meta_analysis_many(Y, V, method="DL", chunk_size=16)
    assert mixed.k.flags.writeable
    np.testing.assert_array_equal(mixed.k, (~np.isnan(Y)).sum(axis=1))
    np.testing.assert_array_equal(mixed.q_df, mixed.k - 1)
    # a row the core refuses, in an input whose other rows are all full and safe
    Yr, Vr = Yf[:40].copy(), Vf[:40].copy()
    Yr[7, :2], Vr[7, :2] = [0.0, 1.0], [1e-300, 1e300]
    refused = meta_analysis_many(Yr, Vr, method="DL", test="t", chunk_size=8)
    assert refused.codes[7] & NOT_REPRESENTABLE and np.isnan(refused.df[7])
    assert refused.k[7] == 6 and np.isnan(refused.estimate[7])
    _compare(refused, Vr, [i for i in range(40) if i != 7], q_profile=False)


@pytest.mark.parametrize("method", CLOSED_FORMS)
@pytest.mark.parametrize("test", TESTS)
def test_full_rows_by_the_closed_forms_path_equal_meta_analysis(method: str, test: str) -> None:
    """Every study present, in the safe bounds: the fast path of the closed forms, including
    rows with one heavy weight (variances over many decades) and identical effects."""
    rng = np.random.default_rng(90 + TESTS.index(test))
    m, k = 300, 7
    V = 10.0 ** rng.uniform(-6, 6, size=(m, k))
    V[:50] = 10.0 ** rng.uniform(-1, 1, size=(50, k))  # weights of one order
    Y = rng.normal(0.3, np.sqrt(V + 0.05))
    Y[50:60] = 2.5  # identical effects: τ² = 0, Q = 0
    res = meta_analysis_many(Y, V, method=method, test=test)
    _compare(res, V, range(m), q_profile=False)
    np.testing.assert_array_equal(res.codes & NOT_REPRESENTABLE, 0)


@pytest.mark.parametrize("method", CLOSED_FORMS)
def test_closed_forms_give_the_same_bits_whatever_the_memory_layout(method: str) -> None:
    # docs/batch.md: their sums run over a studies-first copy of each chunk, in a fixed order
    Y, V = _random_rows(400, 9, seed=83)
    for Yx, Vx in ((Y, V), (Y[~np.isnan(Y).any(axis=1)], V[~np.isnan(V).any(axis=1)])):
        c_order = meta_analysis_many(Yx, Vx, method=method, chunk_size=64)
        f_order = meta_analysis_many(np.asfortranarray(Yx), np.asfortranarray(Vx), method=method)
        _frames_identical(c_order, f_order)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"se": [[0.1, 1e-200]]}, r"se\[0, 1\] = 1e-200 .* 0 in double precision"),
        ({"se": [[1e200, 0.1]]}, r"se\[0, 0\] = 1e\+200 .* infinite in double precision"),
        ({"variance": [[0.1, 0.2]], "chunk_size": 0}, r"chunk_size=0 .* >= 1"),
    ],
)
def test_standard_errors_whose_squares_leave_double_precision_and_a_zero_chunk(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=message):
        meta_analysis_many([[0.1, 0.2]], method="DL", **kwargs)  # type: ignore[arg-type]
