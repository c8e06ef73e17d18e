"""Results that know how they were fitted: ``FitSpec``, ``subset`` and ``refit``."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta._refit import REFIT_OPTIONS, FitSpec
from msc_meta.moderators import _is_missing
from msc_meta.pooling import TESTS
from msc_meta.tau2 import TAU2_METHODS

BCG = mm.datasets.load_bcg()
ARMS = {"events_t": "tpos", "n_t": "n_t", "events_c": "cpos", "n_c": "n_c"}

# 2x2 tables with a zero cell, a double-zero study and a missing count
ZERO_CELLS = {
    "events_t": [0, 3, 0, 7, 2, np.nan],
    "n_t": [20, 25, 18, 30, 22, 20],
    "events_c": [2, 6, 0, 9, 5, 4],
    "n_c": [21, 24, 19, 31, 20, 20],
    "labels": ["A", "B", "C", "D", "E", "F"],
}


def _recorded(fit: Callable[[], Any]) -> tuple[Any, list[tuple[type[Warning], str]]]:
    """``fit()`` and the warnings it gave (category and text)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fit()
    return out, [(w.category, str(w.message)) for w in caught]


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def assert_same_result(a: Any, b: Any) -> None:
    """Every field of two results is equal (NaN equal to NaN), the fit specification too."""
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        if f.name == "spec":
            continue
        assert _same_value(getattr(a, f.name), getattr(b, f.name)), f.name
    sa, sb = a.spec, b.spec
    for f in dataclasses.fields(sa):
        assert _same_value(getattr(sa, f.name), getattr(sb, f.name)), f"spec.{f.name}"


def _bcg_es(measure: str = "RR") -> mm.EffectSizes:
    return mm.effect_sizes(measure, data=BCG, labels="study", **ARMS)


# --------------------------------------------------------------------------- refit, no change


@pytest.mark.parametrize("test", list(TESTS))
@pytest.mark.parametrize("method", list(TAU2_METHODS))
def test_refit_without_changes_equals_the_original(method: str, test: str) -> None:
    es = _bcg_es()
    res, w0 = _recorded(
        lambda: mm.meta_analysis(es, method=method, test=test, level=0.9, tol=1e-8, max_iter=300)
    )
    again, w1 = _recorded(res.refit)
    assert_same_result(res, again)
    assert w0 == w1
    assert res.spec.tol == 1e-8 and res.spec.max_iter == 300 and res.spec.level == 0.9


@pytest.mark.parametrize("measure", ["OR", "RR", "RD"])
def test_mantel_haenszel_refit_without_changes_equals_the_original(measure: str) -> None:
    res, w0 = _recorded(
        lambda: mm.mantel_haenszel(
            measure, add=0.25, to="all", drop00=False, correct=False, level=0.9, **ZERO_CELLS
        )
    )
    again, w1 = _recorded(res.refit)
    assert_same_result(res, again)
    assert w0 == w1 and w0  # the dropped study and the zero cells warn again
    assert res.not_estimable == ("F",)
    assert res.spec.options() == {
        "measure": measure,
        "level": 0.9,
        "add": 0.25,
        "to": "all",
        "drop00": False,
        "correct": False,
    }


def test_peto_refit_without_changes_equals_the_original() -> None:
    res, w0 = _recorded(lambda: mm.peto(add=0.1, to="if0all", drop00=True, **ZERO_CELLS))
    again, w1 = _recorded(res.refit)
    assert_same_result(res, again)
    assert w0 == w1
    assert res.spec.kind == "peto" and res.spec.correct is None
    assert res.spec.options() == {"level": 0.95, "add": 0.1, "to": "if0all", "drop00": True}


def test_refit_keeps_studies_left_out_for_missing_values() -> None:
    y = [0.1, np.nan, 0.4, -0.2, 0.3]
    v = [0.04, 0.05, 0.06, 0.05, 0.02]
    res, w0 = _recorded(lambda: mm.meta_analysis(y, v, method="DL"))
    again, w1 = _recorded(res.refit)
    assert_same_result(res, again)
    assert res.not_estimable == ("Study 2",) and w0 == w1
    assert list(res.spec.kept) == [0, 2, 3, 4]


def test_pft_refit_keeps_study_sizes_and_arm_data() -> None:
    es = mm.effect_sizes("PFT", events=[3, 5, 8, 2, 9], n=[20, 30, 40, 25, 50])
    res = mm.meta_analysis(es)
    again = res.refit(method="PM")
    assert_same_result(again, mm.meta_analysis(es, method="PM"))
    assert np.array_equal(again.n_total, [20, 30, 40, 25, 50])
    assert again.study_data is not None and again.study_data.equals(es.study_data)


# --------------------------------------------------------------------------- refit, changes


def test_refit_with_changes_equals_a_fresh_fit() -> None:
    es = _bcg_es()
    res = mm.meta_analysis(es, method="REML", tol=1e-6, max_iter=50)
    assert_same_result(
        res.refit(method="DL", test="knha"),
        mm.meta_analysis(es, method="DL", test="knha", tol=1e-6, max_iter=50),
    )
    mh = mm.mantel_haenszel("OR", data=BCG, labels="study", **ARMS)
    assert_same_result(
        mh.refit(measure="RD", level=0.8),
        mm.mantel_haenszel("RD", data=BCG, labels="study", level=0.8, **ARMS),
    )


@pytest.mark.parametrize(
    ("fit", "option", "message"),
    [
        (lambda: mm.meta_analysis([0.1, 0.2], [0.1, 0.1]), "add", "does not apply"),
        (lambda: mm.meta_analysis([0.1, 0.2], [0.1, 0.1]), "methd", "unknown option"),
        (lambda: mm.peto(**{k: v[:3] for k, v in ZERO_CELLS.items()}), "correct", "does not"),
        (lambda: mm.peto(**{k: v[:3] for k, v in ZERO_CELLS.items()}), "method", "does not"),
        (lambda: mm.mantel_haenszel("OR", data=BCG, **ARMS), "tol", "does not apply"),
    ],
)
def test_refit_refuses_options_it_cannot_use(
    fit: Callable[[], Any], option: str, message: str
) -> None:
    res, _ = _recorded(fit)
    with pytest.raises(mm.MetaAnalysisError, match=message) as info:
        res.refit(**{option: 1})
    for name in REFIT_OPTIONS[res.spec.kind]:
        assert name in str(info.value)


def test_refit_errors_are_those_of_a_fresh_fit() -> None:
    res = mm.meta_analysis([0.1, 0.2], [0.1, 0.1])
    with pytest.raises(mm.MetaAnalysisError, match="level"):
        res.refit(level=1.5)


def test_a_result_without_specification_cannot_refit() -> None:
    res = dataclasses.replace(mm.meta_analysis([0.1, 0.2], [0.1, 0.1]), spec=None)
    with pytest.raises(mm.MetaAnalysisError, match="no fit specification"):
        res.subset([0])


def test_spec_does_not_change_printing_or_comparison() -> None:
    res = mm.meta_analysis([0.1, 0.2, 0.4], [0.1, 0.1, 0.2])
    assert isinstance(res.spec, FitSpec)
    assert "spec" not in repr(res) and "FitSpec" not in str(res.summary())


# --------------------------------------------------------------------------- subset


def test_subset_equals_a_fresh_fit_of_those_studies() -> None:
    es = mm.effect_sizes("PFT", events=[3, 5, 8, 2, 9, 4], n=[20, 30, 40, 25, 50, 22])
    res = mm.meta_analysis(es, method="PM", test="t", tol=1e-7, max_iter=40)
    rows = [0, 2, 5]
    fresh = mm.meta_analysis(
        mm.effect_sizes(
            "PFT",
            events=[3, 8, 4],
            n=[20, 40, 22],
            labels=["Study 1", "Study 3", "Study 6"],
        ),
        method="PM",
        test="t",
        tol=1e-7,
        max_iter=40,
    )
    by_mask = res.subset(np.isin(np.arange(6), rows))
    assert_same_result(by_mask, res.subset(rows))
    # the same numbers as a fresh fit of those rows (whose study_data also has the labels)
    for name in ("estimate", "se", "tau2", "q", "pi_low", "i2", "labels"):
        assert _same_value(getattr(by_mask, name), getattr(fresh, name)), name
    assert np.array_equal(by_mask.n_total, [20, 40, 22])
    assert by_mask.study_data is not None
    assert by_mask.study_data["events"].tolist() == [3, 8, 4]


def test_subset_of_mantel_haenszel_keeps_zero_cell_options() -> None:
    res, _ = _recorded(
        lambda: mm.mantel_haenszel("OR", add=0.25, to="all", drop00=False, **ZERO_CELLS)
    )
    sub, _ = _recorded(lambda: res.subset([1, 2, 3]))
    fresh, _ = _recorded(
        lambda: mm.mantel_haenszel(
            "OR", add=0.25, to="all", drop00=False, **{k: v[1:4] for k, v in ZERO_CELLS.items()}
        )
    )
    assert_same_result(sub, fresh)


def test_subset_positions_are_those_of_the_pooled_studies() -> None:
    res, _ = _recorded(
        lambda: mm.meta_analysis([0.1, np.nan, 0.4, -0.2], [0.04, 0.05, 0.06, 0.05])
    )
    sub = res.subset([True, False, True])
    assert sub.labels == ("Study 1", "Study 4") and sub.not_estimable == ()


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ([True, False], r"mask has 2 values but the result has k = 3"),
        ([0, 3], r"mask\[1\] = 3 is not a position"),
        ([-1], r"mask\[0\] = -1 is not a position"),
        ([False, False, False], "selects no study"),
        ([], "selects no study"),
        ([0, 0], "repeats a position"),
        ([0.5], "dtype"),
        ([[0, 1]], "one-dimensional"),
    ],
)
def test_subset_refuses_bad_masks(mask: Any, message: str) -> None:
    res = mm.meta_analysis([0.1, 0.2, 0.4], [0.1, 0.1, 0.2])
    with pytest.raises(mm.MetaAnalysisError, match=message):
        res.subset(mask)


def _printable_results() -> list[tuple[str, Callable[[], Any]]]:
    cases: list[tuple[str, Callable[[], Any]]] = []
    one_group = {"events": [3, 5, 8, 2, 9, 4], "n": [20, 30, 40, 25, 50, 22]}
    for measure in ("PFT", "PLO"):
        cases.append(
            (measure, lambda m=measure: mm.meta_analysis(mm.effect_sizes(m, **one_group)))
        )
    cases.append(("OR", lambda: mm.meta_analysis(_bcg_es("OR"), method="DL")))
    cases.append(
        (
            "SMD",
            lambda: mm.meta_analysis(
                mm.effect_sizes(
                    "SMD",
                    mean_t=[5.1, 4.2, 6.0, 5.5],
                    sd_t=[1.0, 1.2, 0.9, 1.1],
                    n_t=[20, 25, 30, 22],
                    mean_c=[4.5, 4.0, 5.1, 5.4],
                    sd_c=[1.1, 1.0, 1.0, 1.2],
                    n_c=[21, 24, 28, 20],
                ),
                test="knha",
            ),
        )
    )
    cases.append(
        ("none", lambda: mm.meta_analysis([0.1, 0.3, -0.2, 0.5], [0.04, 0.09, 0.05, 0.02]))
    )
    for measure in ("OR", "RR", "RD"):
        cases.append((f"MH-{measure}", lambda m=measure: mm.mantel_haenszel(m, data=BCG, **ARMS)))
    cases.append(("Peto", lambda: mm.peto(data=BCG, labels="study", **ARMS)))
    cases.append(
        (
            "subgroup-PFT",
            lambda: mm.subgroup_analysis(
                mm.effect_sizes("PFT", **one_group), groups=list("aabbab")
            ).groups["b"],
        )
    )
    return cases


@pytest.mark.parametrize(("name", "fit"), _printable_results(), ids=lambda c: str(c))
def test_every_result_prints_after_subset(name: str, fit: Callable[[], Any]) -> None:
    res, _ = _recorded(fit)
    for mask in ([True] * (res.k - 1) + [False], [0]):
        sub, _ = _recorded(lambda mask=mask: res.subset(mask))
        assert sub.measure == res.measure
        text = str(sub.summary())
        assert "Meta-analysis" in text or "meta-analysis" in text
        assert "<table" in sub._repr_html_()
        frame = sub.to_frame()
        assert (frame["kind"] == "study").sum() == sub.k
        assert repr(sub).startswith("<")
        if res.measure in ("PFT", "PLO", "OR", "RR"):
            assert "Back-transformed" in text


# --------------------------------------------------------------------------- subgroups


def test_subgroups_of_pft_effects_print_and_keep_study_sizes() -> None:
    # before the refit through subset, group results had no n and could not print
    es = mm.effect_sizes("PFT", events=[3, 5, 8, 2, 9, 4], n=[20, 30, 40, 25, 50, 22])
    sub = mm.subgroup_analysis(es, groups=["a", "a", "b", "b", "a", "b"])
    group = sub.groups["a"]
    assert "Back-transformed (proportion)" in str(group.summary())
    assert np.array_equal(group.n_total, [20, 30, 50])
    assert group.spec is not None and group.spec.measure == "PFT"
    assert group.study_data is not None and group.study_data["n"].tolist() == [20, 30, 50]


def test_subgroups_keep_the_options_of_the_overall_fit() -> None:
    es = _bcg_es()
    sub = mm.subgroup_analysis(es, groups=BCG["alloc"], method="PM", test="adhoc", level=0.9)
    for name, group in sub.groups.items():
        rows = np.flatnonzero(BCG["alloc"].to_numpy() == name)
        assert_same_result(group, sub.overall.subset(rows))
        assert (group.method, group.test, group.level) == ("PM", "adhoc", 0.9)


def test_q_between_is_cochran_q_of_the_subgroup_estimates() -> None:
    sub = mm.subgroup_analysis(_bcg_es(), groups=BCG["alloc"])
    est = np.array([g.estimate for g in sub.groups.values()])
    w = 1 / np.array([g.se for g in sub.groups.values()]) ** 2
    q = float(w @ (est - (w @ est) / w.sum()) ** 2)
    assert sub.q_between == pytest.approx(q, rel=1e-12)
    assert sub.q_between_pvalue == pytest.approx(float(np.exp(-q / 2)), rel=1e-12)  # df = 2


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA, np.nan, "<NA>", "nan"])
def test_missing_subgroups_are_refused(missing: Any) -> None:
    assert _is_missing(missing)
    with pytest.raises(mm.MetaAnalysisError, match=r"groups\[1\] is missing"):
        mm.subgroup_analysis([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], groups=["a", missing, "b"])


@pytest.mark.parametrize("present", ["a", "NaN ", "none", 0, 1.5, "NA"])
def test_subgroup_names_that_are_not_missing(present: Any) -> None:
    assert not _is_missing(present)


# --------------------------------------------------------------------------- names


def test_old_names_still_read_with_a_deprecation_warning() -> None:
    es = mm.effect_sizes("PFT", events=[3, 5], n=[20, 30])
    res = mm.meta_analysis(es)
    with pytest.warns(DeprecationWarning, match="use n_total"):
        assert np.array_equal(res.n_per_study, res.n_total)
    with pytest.warns(DeprecationWarning, match="use study_data"):
        assert es.inputs.equals(es.study_data)


def test_the_same_names_for_the_same_things() -> None:
    es = _bcg_es()
    res = mm.meta_analysis(es)
    mh = mm.mantel_haenszel("RR", data=BCG, labels="study", **ARMS)
    for obj in (es, res, mh):
        assert np.array_equal(obj.n_total, BCG["n_t"] + BCG["n_c"])
        assert obj.study_data is not None
        assert obj.study_data[["events_t", "n_t"]].to_numpy().tolist() == (
            BCG[["tpos", "n_t"]].to_numpy().tolist()
        )


def test_warnings_of_a_refit_point_at_the_line_that_asked_for_it() -> None:
    # the warning of a fresh fit, attributed to the user's line (not to msc_meta/_refit.py)
    with pytest.warns(mm.ZeroCellWarning) as fresh:
        mh = mm.mantel_haenszel(
            "OR",
            events_t=[0, 3, 4],
            n_t=[10, 20, 30],
            events_c=[1, 5, 0],
            n_c=[12, 18, 30],
            add=0.25,
            to="all",
        )
    with pytest.warns(mm.ZeroCellWarning) as refitted:
        mh.refit(add=0.5)
    with pytest.warns(mm.ZeroCellWarning) as subset:
        mh.subset([0, 1])
    for record in (fresh, refitted, subset):
        assert [w.filename for w in record] == [__file__] * len(record)
    assert "add=0.5" in str(refitted[0].message)
