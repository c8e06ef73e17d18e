"""Bad input: named errors that say what is wrong, named warnings with usable results.

Every error for bad user input is a :class:`mm.MetaAnalysisError` (a ``ValueError``)
whose message names the argument, the 0-based row and what is allowed (STYLE 7-8).
Where a meta-analyst would carry on (a missing value, a zero cell, a single study,
an iteration limit), a named warning is raised and the result is still usable
(STYLE 9); those tests check the numbers of the result, not only the warning.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.effects import MEASURES
from msc_meta.pooling import TESTS

#: Closed-form results recomputed from the same numbers agree to rounding error.
EXACT = 1e-12

Y = [0.1, 0.3, -0.2, 0.5]
V = [0.1, 0.2, 0.3, 0.15]
LABELS = ["a", "b", "c", "d"]

BIN = {"events_t": [4, 6, 3], "n_t": [20, 30, 10], "events_c": [5, 7, 2], "n_c": [20, 30, 10]}
MEANS = {
    "mean_t": [1.0, 2.0, 3.0],
    "sd_t": [1.0, 1.5, 2.0],
    "n_t": [10, 12, 14],
    "mean_c": [0.5, 1.0, 1.5],
    "sd_c": [1.0, 1.2, 1.4],
    "n_c": [10, 11, 12],
}
ONE = {"events": [3, 5, 7], "n": [10, 20, 30]}
COR = {"r": [0.1, 0.2, 0.3], "n": [10, 20, 30]}
CHANGE = {
    "mean_pre": [1.0, 2.0, 3.0],
    "mean_post": [1.5, 2.5, 4.0],
    "sd_pre": [1.0, 1.0, 1.0],
    "sd_post": [1.1, 1.2, 1.3],
    "n": [10, 20, 30],
    "r": [0.5, 0.6, 0.7],
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def _assert_same_fit(a: mm.MetaAnalysisResult, b: mm.MetaAnalysisResult) -> None:
    for name in ("estimate", "se", "ci_low", "ci_high", "pvalue", "tau2", "q", "i2", "h2"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=EXACT, abs=EXACT), name
    assert a.k == b.k
    assert a.tau2_ci == pytest.approx(b.tau2_ci, rel=EXACT, abs=EXACT)
    np.testing.assert_allclose(a.weights, b.weights, rtol=EXACT)


def test_error_is_a_value_error() -> None:
    assert issubclass(mm.MetaAnalysisError, ValueError)
    for warning in (
        mm.ZeroCellWarning,
        mm.ConvergenceWarning,
        mm.FewStudiesWarning,
        mm.BoundaryWarning,
        mm.DroppedStudiesWarning,
    ):
        assert issubclass(warning, mm.MetaAnalysisWarning)
        assert issubclass(warning, UserWarning)


# --------------------------------------------------------------------------- meta_analysis


@pytest.mark.parametrize("bad", [-0.3, 0.0])
def test_non_positive_variance_is_an_error(bad: float) -> None:
    v = [*V[:2], bad, V[3]]
    with pytest.raises(
        mm.MetaAnalysisError, match=r"variance\[2\] \(study 'c'\) = .* must be > 0"
    ):
        mm.meta_analysis(Y, v, labels=LABELS)


@pytest.mark.parametrize("bad", [-0.3, 0.0])
def test_non_positive_se_is_an_error(bad: float) -> None:
    se = [*np.sqrt(V[:2]), bad, math.sqrt(V[3])]
    with pytest.raises(mm.MetaAnalysisError, match=r"se\[2\] = .* must be > 0"):
        mm.meta_analysis(Y, se=se)


@pytest.mark.parametrize("where", ["effect", "variance", "se"])
def test_nan_row_is_dropped_with_a_warning_naming_the_study(where: str) -> None:
    y, v = list(Y), list(V)
    (y if where == "effect" else v)[2] = math.nan
    # with se=, sqrt(nan) is nan: the same row is missing
    kwargs: dict[str, Any] = {"se": np.sqrt(v)} if where == "se" else {"variance": v}
    with pytest.warns(mm.DroppedStudiesWarning, match=r"dropped 1 study .*'c'"):
        res = mm.meta_analysis(y, labels=LABELS, **kwargs)
    keep = [0, 1, 3]
    ref = mm.meta_analysis([Y[i] for i in keep], [V[i] for i in keep])
    _assert_same_fit(res, ref)
    assert res.labels == ("a", "b", "d")


def test_dropping_to_a_single_study_warns_twice() -> None:
    with (
        pytest.warns(mm.DroppedStudiesWarning, match="'Study 2'"),
        pytest.warns(mm.FewStudiesWarning, match="k = 1"),
    ):
        res = mm.meta_analysis([0.4, math.nan], [0.09, 0.1])
    assert (res.k, res.estimate, res.se) == (1, 0.4, pytest.approx(0.3, rel=EXACT))


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
@pytest.mark.parametrize("where", ["effect", "variance", "se"])
def test_infinite_value_is_an_error(where: str, bad: float) -> None:
    y, v = list(Y), list(V)
    (y if where == "effect" else v)[2] = bad
    kwargs: dict[str, Any] = {"se": v} if where == "se" else {"variance": v}
    with pytest.raises(mm.MetaAnalysisError, match=rf"{where}\[2\].* = -?inf .*finite"):
        mm.meta_analysis(y, **kwargs)


def test_all_nan_is_an_error() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"every study has a missing \(NaN\)"):
        mm.meta_analysis([math.nan] * 3, [0.1, 0.2, 0.3])


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"variance has 3 values but 4 are needed"):
        mm.meta_analysis(Y, V[:3])
    with pytest.raises(mm.MetaAnalysisError, match=r"se has 5 values but 4 are needed"):
        mm.meta_analysis(Y, se=[*V, 0.1])
    with pytest.raises(mm.MetaAnalysisError, match=r"labels has 2 values but there are 4"):
        mm.meta_analysis(Y, V, labels=["a", "b"])


def test_empty_input_is_an_error() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"effect is empty; at least one study"):
        mm.meta_analysis([], [])


def test_missing_variance_and_both_variance_and_se_are_errors() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"variance is missing"):
        mm.meta_analysis(Y)
    with pytest.raises(mm.MetaAnalysisError, match=r"either variance= or se=, not both"):
        mm.meta_analysis(Y, V, se=np.sqrt(V))


def test_dataframe_without_effect_columns_is_an_error() -> None:
    frame = pd.DataFrame({"yi": Y, "vi": V})
    with pytest.raises(
        mm.MetaAnalysisError, match=r"'effect' and 'variance'.*columns are: yi, vi"
    ):
        mm.meta_analysis(frame)


@pytest.mark.parametrize("method", sorted(mm.TAU2_METHODS))
@pytest.mark.parametrize("test", sorted(TESTS))
def test_single_study_warns_and_returns_the_study(method: str, test: str) -> None:
    y, v = 0.3, 0.04
    with pytest.warns(mm.FewStudiesWarning, match=r"k = 1: a single study") as record:
        res = mm.meta_analysis([y], [v], method=method, test=test)
    if test != "z":
        assert "falls back to 'z'" in str(record[0].message)
    z = 1.959963984540054
    assert (res.k, res.estimate, res.se) == (1, y, pytest.approx(0.2, rel=EXACT))
    assert (res.ci_low, res.ci_high) == pytest.approx((y - z * 0.2, y + z * 0.2), rel=1e-12)
    assert (res.tau2, res.q, res.i2, res.h2) == (0.0, 0.0, 0.0, 1.0)
    assert res.test == "z" and res.df is None
    assert res.weights.tolist() == [100.0]


@pytest.mark.parametrize(
    ("kwargs", "valid"),
    [
        ({"method": "XX"}, [*mm.TAU2_METHODS, "FE"]),
        ({"method": "REM L"}, list(mm.TAU2_METHODS)),
        ({"test": "hk"}, [*TESTS, "hksj"]),
    ],
)
def test_unknown_method_or_test_lists_the_valid_ones(
    kwargs: dict[str, str], valid: list[str]
) -> None:
    arg, value = next(iter(kwargs.items()))
    with pytest.raises(mm.MetaAnalysisError, match=rf"{arg}='{value}'") as info:
        mm.meta_analysis(Y, V, **kwargs)
    message = str(info.value)
    assert "valid" in message
    for code in valid:
        assert code in message


@pytest.mark.parametrize("level", [0, 1, 95, -0.1, math.nan, 1.5])
def test_level_outside_unit_interval_is_an_error(level: float) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"level=.* is outside \(0, 1\)"):
        mm.meta_analysis(Y, V, level=level)


def test_level_that_is_not_a_number_is_an_error() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"level='high' is not a number"):
        mm.meta_analysis(Y, V, level="high")  # type: ignore[arg-type]


@pytest.mark.parametrize("tol", [0, -1e-6, math.nan, "small", None])
def test_bad_tol_is_an_error(tol: Any) -> None:
    with pytest.raises(
        mm.MetaAnalysisError, match=r"tol=.* is not allowed; it must be a finite number > 0"
    ):
        mm.meta_analysis(Y, V, tol=tol)


@pytest.mark.parametrize("max_iter", [0, -5, 1.5, "many", None])
def test_bad_max_iter_is_an_error(max_iter: Any) -> None:
    with pytest.raises(
        mm.MetaAnalysisError, match=r"max_iter=.* is not allowed; it must be an integer >= 1"
    ):
        mm.meta_analysis(Y, V, max_iter=max_iter)


def test_infinite_tol_is_an_error() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"tol=inf"):
        mm.meta_analysis(Y, V, tol=math.inf)


@pytest.mark.parametrize("kwargs", [{"max_iter": True}, {"tol": True}])
def test_boolean_tol_or_max_iter_is_an_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=next(iter(kwargs))):
        mm.meta_analysis(Y, V, **kwargs)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ({"method": "reml"}, ("REML", "z")),
        ({"method": "Pm", "test": "KNHA"}, ("PM", "knha")),
        ({"method": "fe", "test": "hksj"}, ("EE", "knha")),
        ({"method": "hsk", "test": "Adhoc"}, ("HSk", "adhoc")),
        ({"method": "ce", "test": "T"}, ("EE", "t")),
    ],
)
def test_method_and_test_codes_in_any_case_and_aliases(
    given: dict[str, str], canonical: tuple[str, str]
) -> None:
    # metafor's codes in any case, and its aliases (FE, CE for EE; hksj for knha); the
    # result keeps the canonical code
    res = mm.meta_analysis(Y, V, **given)
    assert (res.method, res.test) == canonical
    ref = mm.meta_analysis(Y, V, method=canonical[0], test=canonical[1])
    assert (res.estimate, res.se, res.tau2) == (ref.estimate, ref.se, ref.tau2)


@pytest.mark.parametrize("kwargs", [{"max_iter": np.int64(100)}, {"tol": np.float32(1e-8)}])
def test_numpy_scalar_tol_and_max_iter_are_accepted(kwargs: dict[str, Any]) -> None:
    res = mm.meta_analysis(Y, V, **kwargs)
    assert res.converged


def test_max_iter_one_for_reml_warns_and_returns_the_last_iterate(bcg_rr: mm.EffectSizes) -> None:
    es = bcg_rr
    full = mm.meta_analysis(es, method="REML")
    # REML and both Q-profile bounds each stop after one iteration
    with pytest.warns(mm.ConvergenceWarning, match=r"did not converge in 1 iteration") as rec:
        res = mm.meta_analysis(es, method="REML", max_iter=1)
    assert any("REML" in str(w.message) for w in rec)
    assert not res.converged and res.iterations == 1
    # usable: finite, and one step from the Hedges start is already near the REML estimate
    assert math.isfinite(res.estimate) and math.isfinite(res.se) and res.tau2 > 0
    assert res.tau2 == pytest.approx(full.tau2, rel=0.05)
    assert res.estimate == pytest.approx(full.estimate, rel=0.05)


def test_max_iter_one_for_paule_mandel_warns(bcg: pd.DataFrame) -> None:
    es = mm.effect_sizes("OR", data=bcg, events_t="tpos", n_t="n_t", events_c="cpos", n_c="n_c")
    # PM and both Q-profile bounds each stop after one Newton step
    with pytest.warns(mm.ConvergenceWarning, match=r"did not converge in 1 iteration") as rec:
        res = mm.meta_analysis(es, method="PM", max_iter=1)
    assert any(str(w.message).startswith("PM: the iteration did not converge") for w in rec)
    assert not res.converged and math.isfinite(res.estimate) and res.tau2 > 0


@pytest.mark.parametrize(
    ("effect", "variance", "name"),
    [
        (["a", "b", "c"], [0.1, 0.2, 0.3], r"effect\[0\] = 'a' is not a number"),
        ([0.1, 0.2, 0.3], ["0.1", "n/a", "0.3"], r"variance\[1\] = 'n/a' is not a number"),
        ("abc", [0.1], r"effect = 'abc' is not a number"),
    ],
)
def test_strings_that_are_not_numbers_are_an_error(effect: Any, variance: Any, name: str) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=name):
        mm.meta_analysis(effect, variance)


def test_unreadable_string_error_names_the_row_and_value() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"effect\[1\].*'n/a'"):
        mm.meta_analysis([0.1, "n/a", 0.3], [0.1, 0.2, 0.3])


def test_meta_analysis_does_not_modify_its_inputs() -> None:
    y = np.array([0.1, np.nan, -0.2, 0.5])
    v = np.array([0.1, 0.2, 0.3, 0.15])
    frame = pd.DataFrame({"study": LABELS, "effect": y, "variance": v})
    y0, v0, frame0 = y.copy(), v.copy(), frame.copy()
    with pytest.warns(mm.DroppedStudiesWarning):
        mm.meta_analysis(y, v, method="REML")
    with pytest.warns(mm.DroppedStudiesWarning):
        mm.meta_analysis(y, se=v, method="PM", test="knha")
    with pytest.warns(mm.DroppedStudiesWarning, match="'b'"):
        mm.meta_analysis(frame, method="DL")
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(v, v0)
    pd.testing.assert_frame_equal(frame, frame0)


# --------------------------------------------------------------------------- effect_sizes


@pytest.mark.parametrize(
    ("measure", "kwargs", "pattern"),
    [
        # events larger than n
        ("OR", _with(BIN, events_c=[5, 7, 12]), r"events_c\[2\] = 12 is larger than n_c\[2\] = 10"),
        ("RR", _with(BIN, events_t=[4, 31, 3]), r"events_t\[1\] = 31 is larger than n_t\[1\] = 30"),
        ("PLO", _with(ONE, events=[3, 5, 31]), r"events\[2\] = 31 is larger than n\[2\] = 30"),
        # negative counts
        ("OR", _with(BIN, events_t=[4, 6, -1]), r"events_t\[2\] = -1 is not allowed; counts must be >= 0"),
        ("PR", _with(ONE, events=[3, -5, 7]), r"events\[1\] = -5 is not allowed; counts must be >= 0"),
        # zero (or negative) group sizes
        ("RD", _with(BIN, n_t=[20, 30, 0]), r"n_t\[2\] = 0 is not allowed; a group size must be at least 1"),
        ("PR", _with(ONE, n=[10, 0, 30]), r"n\[1\] = 0 is not allowed; a group size must be at least 1"),
        ("MD", _with(MEANS, n_c=[10, -11, 12]), r"n_c\[1\] = -11 is not allowed"),
        # non-integer counts
        ("OR", _with(BIN, events_t=[4, 6, 2.5]), r"events_t\[2\] = 2.5 is not allowed; counts must be whole numbers"),
        ("RR", _with(BIN, n_c=[20, 30, 10.5]), r"n_c\[2\] = 10.5 is not allowed; counts must be whole numbers"),
        ("SMD", _with(MEANS, n_t=[10, 12.5, 14]), r"n_t\[1\] = 12.5 is not allowed; counts must be whole numbers"),
        # negative SDs
        ("SMD", _with(MEANS, sd_c=[1.0, 1.2, -1.0]), r"sd_c\[2\] = -1 is not allowed; it must be >= 0"),
        ("MD", _with(MEANS, sd_t=[-0.5, 1.5, 2.0]), r"sd_t\[0\] = -0.5 is not allowed; it must be >= 0"),
        ("SMCC", _with(CHANGE, sd_post=[1.1, -1.2, 1.3]), r"sd_post\[1\] = -1.2 is not allowed"),
        # n = 1 where a standardised difference needs two observations per group
        ("SMD", _with(MEANS, n_t=[10, 12, 1]), r"n_t\[2\] = 1 is not allowed for SMD: it needs n_t >= 2"),
        ("SMCR", _with(CHANGE, n=[10, 1, 30]), r"n\[1\] = 1 is not allowed for SMCR: it needs n >= 2"),
        ("ZCOR", _with(COR, n=[10, 3, 30]), r"n\[1\] = 3 is not allowed for ZCOR: it needs n >= 4"),
        # correlations outside [-1, 1]
        ("COR", _with(COR, r=[0.1, 0.2, 1.2]), r"r\[2\] = 1.2 is not allowed; it must lie in \[-1, 1\]"),
        ("ZCOR", _with(COR, r=[0.1, -1.5, 0.3]), r"r\[1\] = -1.5 is not allowed; it must lie in \[-1, 1\]"),
        ("SMCC", _with(CHANGE, r=[0.5, 0.6, 2.0]), r"r\[2\] = 2 is not allowed; it must lie in \[-1, 1\]"),
        ("ZCOR", _with(COR, r=[0.1, 0.2, 1.0]), r"r\[2\] = 1 has no Fisher z .*-1 < r < 1"),
        # ratio of means needs positive means; infinite values
        ("ROM", _with(MEANS, mean_c=[0.5, 1.0, -1.5]), r"mean_c\[2\] = -1.5 is not allowed; it must be > 0"),
        ("MD", _with(MEANS, mean_t=[1.0, 2.0, math.inf]), r"mean_t\[2\] = inf is not allowed; values must be finite"),
        ("OR", _with(BIN, n_c=[20, math.inf, 10]), r"n_c\[1\] = inf is not allowed; values must be finite"),
    ],
)  # fmt: skip
def test_impossible_values_name_argument_row_and_rule(
    measure: str, kwargs: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=pattern):
        mm.effect_sizes(measure, **kwargs)


def test_impossible_value_message_names_the_study_label() -> None:
    kwargs = _with(BIN, events_c=[5, 7, 12])
    with pytest.raises(
        mm.MetaAnalysisError, match=r"events_c\[2\] \(study 'Smith'\) = 12 is larger than n_c"
    ):
        mm.effect_sizes("OR", labels=["Jones", "Lee", "Smith"], **kwargs)


def test_unknown_measure_lists_the_valid_ones() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"measure='LOR' is not allowed") as info:
        mm.effect_sizes("LOR", **BIN)
    for code in MEASURES:
        assert code in str(info.value)
    with pytest.raises(mm.MetaAnalysisError, match=r"measure=None"):
        mm.effect_sizes(None, **BIN)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("measure", "kwargs", "pattern"),
    [
        ("SMD", {k: v for k, v in MEANS.items() if k != "sd_c"}, r"needs mean_t, .*; missing: sd_c$"),
        ("OR", {"events_t": [1], "n_t": [10]}, r"needs .*; missing: events_c, n_c$"),
        ("COR", {"r": [0.3]}, r"needs r, n; missing: n$"),
        ("MC", {k: v for k, v in CHANGE.items() if k != "r"}, r"needs .*; missing: r$"),
    ],
)  # fmt: skip
def test_missing_arguments_are_named(measure: str, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=rf"measure '{measure}' {pattern}"):
        mm.effect_sizes(measure, **kwargs)


@pytest.mark.parametrize(
    ("measure", "kwargs", "pattern"),
    [
        ("SMD", _with(MEANS, sd_pooled=[1, 1, 1]), r"sd_pooled= is not an argument of measure 'SMD'; SMD takes: mean_t, sd_t, n_t, mean_c, sd_c, n_c"),
        ("OR", {**BIN, "event_t": BIN["events_t"]}, r"event_t= is not an argument of measure 'OR'; OR takes: events_t, n_t, events_c, n_c"),
        ("PR", _with(ONE, events_t=[1, 2, 3]), r"events_t= is not an argument of measure 'PR'; PR takes: events, n"),
    ],
)  # fmt: skip
def test_unknown_keyword_for_a_measure_lists_its_arguments(
    measure: str, kwargs: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=pattern):
        mm.effect_sizes(measure, **kwargs)


def test_mismatched_lengths_and_empty_input_in_effect_sizes() -> None:
    with pytest.raises(
        mm.MetaAnalysisError, match=r"n_c has 2 values but 3 are needed like events_t"
    ):
        mm.effect_sizes("OR", **_with(BIN, n_c=[20, 30]))
    with pytest.raises(mm.MetaAnalysisError, match=r"events_t is empty; at least one study"):
        mm.effect_sizes("OR", events_t=[], n_t=[], events_c=[], n_c=[])
    with pytest.raises(mm.MetaAnalysisError, match=r"labels has 2 values but there are 3 studies"):
        mm.effect_sizes("OR", labels=["a", "b"], **BIN)


def test_data_column_that_does_not_exist_names_it_and_lists_the_columns() -> None:
    frame = pd.DataFrame({**BIN, "trial": ["a", "b", "c"]})
    cols = {"events_t": "events_t", "n_t": "n_t", "n_c": "n_c"}
    with pytest.raises(
        mm.MetaAnalysisError,
        match=r"events_c='ev_c': data= has no column 'ev_c'; "
        r"its columns are: events_t, n_t, events_c, n_c, trial",
    ):
        mm.effect_sizes("OR", data=frame, events_c="ev_c", **cols)
    with pytest.raises(mm.MetaAnalysisError, match=r"labels='study': data= has no column 'study'"):
        mm.effect_sizes("OR", data=frame, events_c="events_c", labels="study", **cols)


def test_strings_in_counts_are_an_error() -> None:
    frame = pd.DataFrame({**BIN, "events_t": ["4", "n/a", "3"]})
    with pytest.raises(mm.MetaAnalysisError, match=r"events_t\[1\] = 'n/a' is not a number"):
        mm.effect_sizes(
            "OR", data=frame, events_t="events_t", n_t="n_t", events_c="events_c", n_c="n_c"
        )


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"to": "some"}, r"to='some' is not allowed; valid values are: only0, all, if0all, none"),
        ({"add": -0.5}, r"add=-0.5 is not allowed; it must be a finite number >= 0"),
        ({"add": math.nan}, r"add=nan is not allowed"),
    ],
)
def test_bad_zero_cell_options(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(mm.MetaAnalysisError, match=pattern):
        mm.effect_sizes("OR", **BIN, **kwargs)


def test_add_that_is_not_a_number_is_a_meta_analysis_error() -> None:
    with pytest.raises(mm.MetaAnalysisError, match=r"add='half'"):
        mm.effect_sizes("OR", **BIN, add="half")  # type: ignore[arg-type]


def test_double_zero_studies_dropped_then_pooling_drops_them() -> None:
    counts = {"events_t": [4, 0, 3, 9], "n_t": [20, 30, 10, 9],
              "events_c": [5, 0, 2, 12], "n_c": [20, 30, 10, 12]}  # fmt: skip
    labels = ["a", "b", "c", "d"]  # b: no events in either arm; d: only events in both
    with pytest.warns(mm.ZeroCellWarning, match=r"dropped 2 double-zero studies .*'b', 'd'"):
        es = mm.effect_sizes("OR", labels=labels, drop00=True, **counts)
    assert es["effect"].isna().tolist() == [False, True, False, True]
    assert es["variance"].isna().tolist() == [False, True, False, True]
    assert es.zero_cell_studies == (1, 3)
    with pytest.warns(mm.DroppedStudiesWarning, match=r"dropped 2 studies .*'b', 'd'"):
        res = mm.meta_analysis(es, method="DL")
    ref = mm.effect_sizes("OR", **{key: [val[0], val[2]] for key, val in counts.items()})
    _assert_same_fit(res, mm.meta_analysis(ref, method="DL"))
    assert res.labels == ("a", "c")


def test_zero_cells_are_corrected_with_a_warning_naming_the_studies() -> None:
    counts = {"events_t": [4, 0, 3], "n_t": [20, 30, 10],
              "events_c": [5, 7, 10], "n_c": [20, 30, 10]}  # fmt: skip
    with pytest.warns(
        mm.ZeroCellWarning, match=r"added 0.5 to every cell of 2 studies .*'Lee', 'Smith'"
    ):
        es = mm.effect_sizes("OR", labels=["Jones", "Lee", "Smith"], **counts)
    # Lee: a=0, b=30, c=7, d=23 -> each + 0.5 (metafor's escalc default)
    a, b, c, d = 0.5, 30.5, 7.5, 23.5
    assert es["effect"][1] == pytest.approx(math.log(a * d / (b * c)), rel=EXACT)
    assert es["variance"][1] == pytest.approx(1 / a + 1 / b + 1 / c + 1 / d, rel=EXACT)
    # Jones has no zero cell and is left alone
    assert es["effect"][0] == pytest.approx(math.log(4 * 15 / (16 * 5)), rel=EXACT)
    assert es.zero_cell_studies == (1, 2)
    with pytest.warns(mm.ZeroCellWarning, match=r"\[1\], \[2\]"):  # without labels: rows
        mm.effect_sizes("OR", **counts)


def test_uncorrected_zero_cell_gives_nan_with_a_warning() -> None:
    counts = _with(BIN, events_t=[4, 0, 3])
    with pytest.warns(mm.ZeroCellWarning, match=r"OR is not estimable .* \[1\]; set to NaN"):
        es = mm.effect_sizes("OR", to="none", **counts)
    assert es["effect"].isna().tolist() == [False, True, False]


def test_missing_count_in_a_nullable_column_gives_a_nan_row() -> None:
    frame = pd.DataFrame(BIN).convert_dtypes()
    frame.loc[1, "events_t"] = pd.NA
    es = mm.effect_sizes(
        "OR", data=frame, events_t="events_t", n_t="n_t", events_c="events_c", n_c="n_c"
    )
    assert es["effect"].isna().tolist() == [False, True, False]
    with pytest.warns(mm.DroppedStudiesWarning, match="'Study 2'"):
        res = mm.meta_analysis(es)
    assert res.k == 2


def test_effect_sizes_does_not_modify_its_inputs() -> None:
    ev_t = np.array([4.0, 0.0, 3.0, np.nan])
    n_t = np.array([20.0, 30.0, 10.0, 12.0])
    ev_c = np.array([5.0, 0.0, 2.0, 1.0])
    n_c = np.array([20.0, 30.0, 10.0, 12.0])
    arrays = [ev_t, n_t, ev_c, n_c]
    before = [a.copy() for a in arrays]
    frame = pd.DataFrame({"et": ev_t, "nt": n_t, "ec": ev_c, "nc": n_c, "s": list("wxyz")})
    frame_before = frame.copy()
    for measure in ("OR", "RR", "RD", "PETO", "AS"):
        with pytest.warns(mm.ZeroCellWarning):
            mm.effect_sizes(measure, events_t=ev_t, n_t=n_t, events_c=ev_c, n_c=n_c, drop00=True)
        with pytest.warns(mm.ZeroCellWarning):
            mm.effect_sizes(
                measure, data=frame, events_t="et", n_t="nt", events_c="ec", n_c="nc",
                labels="s", to="all", add=1.0, drop00=True,
            )  # fmt: skip
    r = np.array([0.1, 0.5, -0.3])
    sd = np.array([1.0, 2.0, 3.0])
    r0, sd0 = r.copy(), sd.copy()
    mm.effect_sizes("COR", r=r, n=[10, 20, 30])
    mm.effect_sizes("SMD", mean_t=r, sd_t=sd, n_t=[10, 20, 30], mean_c=0.0, sd_c=sd, n_c=12)
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r, r0)
    np.testing.assert_array_equal(sd, sd0)
    pd.testing.assert_frame_equal(frame, frame_before)
