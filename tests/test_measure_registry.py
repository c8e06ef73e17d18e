"""The measure registry (``effects.MEASURES``) is the one place for every fact about a measure.

Every registered measure has every fact, of the right type; ``MeasureCode`` lists the
registry's codes; every measure has reference cases in the metafor grid; the tables the
registry replaced (in ``plots``, ``results``, ``report``, ``analyses``) are reproduced
value for value (their literal values below are the specification); and each
back-transform inverts its measure's transform.
"""

from __future__ import annotations

import json
import math
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import special

import msc_meta as mm
from msc_meta import pooling
from msc_meta._errors import MetaAnalysisError
from msc_meta._inference import TEST_ALIASES, TESTS, TestCode, canonical_test
from msc_meta.binary import MH_MEASURES, MHMeasure
from msc_meta.effects import (
    MEASURES,
    RATIO_MEASURES,
    Measure,
    MeasureCode,
    back_transform,
    measure_info,
)

REFERENCE = Path(__file__).parent / "reference" / "metafor_reference.json"

SCALES = {"raw", "log", "logit", "arcsine square-root", "Freeman-Tukey double-arcsine", "Fisher z"}
POOLINGS = {"inverse-variance", "mantel-haenszel", "peto"}
FAMILIES = {"binary2", "means2", "binary1", "means1", "cor", "change"}
CODES = list(MEASURES)

# --------------------------------------------------------------------------- the old tables
# Literal values of the tables the registry replaced (issue 8): the specification.

#: plots/_common.LOG_MEASURES, effects.RATIO_MEASURES, analyses._RATIO_MEASURES
OLD_RATIO = {"OR", "RR", "PETO", "ROM"}
#: plots/_common.SINGLE_GROUP: no natural value of "no effect"
OLD_SINGLE_GROUP = {"PR", "PLO", "PLN", "PAS", "PFT", "MN"}
#: plots/_forest_rows.PROPORTIONS: no test for an overall effect in a forest plot
OLD_PROPORTIONS = {"PR", "PLO", "PLN", "PAS", "PFT"}
#: plots/diagnostics._LABBE_MEASURES: two-group event measures
OLD_LABBE = {"RR", "OR", "PETO", "RD", "AS"}
#: plots/_common.display_kind: back-transformed, not drawn on a log axis
OLD_TRANSFORM = {"PLO", "PLN", "PAS", "PFT", "ZCOR"}
#: plots/_common.MEASURE_NAMES
OLD_MEASURE_NAMES = {
    "OR": "Odds ratio",
    "PETO": "Odds ratio (Peto)",
    "RR": "Risk ratio",
    "RD": "Risk difference",
    "AS": "Arcsine risk difference",
    "ROM": "Ratio of means",
    "MD": "Mean difference",
    "SMD": "Standardised mean difference",
    "PR": "Proportion",
    "PLO": "Proportion",
    "PLN": "Proportion",
    "PAS": "Proportion",
    "PFT": "Proportion",
    "MN": "Mean",
    "COR": "Correlation",
    "ZCOR": "Correlation",
    "MC": "Mean change",
    "SMCR": "Standardised mean change",
    "SMCC": "Standardised mean change",
}
#: plots/_common.MEASURE_SHORT
OLD_MEASURE_SHORT = {
    "OR": "OR",
    "PETO": "OR",
    "RR": "RR",
    "RD": "RD",
    "AS": "ASD",
    "ROM": "ROM",
    "MD": "MD",
    "SMD": "SMD",
    "PR": "Proportion",
    "PLO": "Proportion",
    "PLN": "Proportion",
    "PAS": "Proportion",
    "PFT": "Proportion",
    "MN": "Mean",
    "COR": "r",
    "ZCOR": "r",
    "MC": "MC",
    "SMCR": "SMC",
    "SMCC": "SMC",
}
#: plots/_common.ANALYSIS_NAMES (other measures fell back to MEASURE_NAMES)
OLD_ANALYSIS_NAMES = {
    "OR": "Log odds ratio",
    "PETO": "Log odds ratio (Peto)",
    "RR": "Log risk ratio",
    "ROM": "Log ratio of means",
    "PLO": "Logit proportion",
    "PLN": "Log proportion",
    "PAS": "Arcsine square-root proportion",
    "PFT": "Freeman-Tukey double-arcsine proportion",
    "ZCOR": "Fisher's z",
}
#: results._DISPLAY_NAMES (other measures: heterogeneity.display_scale's fallback, the
#: description up to " (")
OLD_DISPLAY_NAMES = {
    "OR": "odds ratio",
    "PETO": "odds ratio",
    "RR": "risk ratio",
    "ROM": "ratio of means",
    "PLO": "proportion",
    "PLN": "proportion",
    "PAS": "proportion",
    "PFT": "proportion",
    "PR": "proportion",
    "ZCOR": "correlation",
    "COR": "correlation",
}
#: heterogeneity.display_scale's fallback cut SMCR's description inside a phrase
#: ("standardised mean change, raw-score"); the registry names it in full.
DISPLAY_NAME_FIXED = {"SMCR": "standardised mean change, raw-score standardisation"}
#: report._ANALYSIS_SCALES (other measures are shown as pooled: "raw")
OLD_ANALYSIS_SCALES = {
    "OR": "log",
    "RR": "log",
    "PETO": "log",
    "ROM": "log",
    "PLN": "log",
    "PLO": "logit",
    "PAS": "arcsine square-root",
    "PFT": "Freeman-Tukey double-arcsine",
    "ZCOR": "Fisher z",
}
#: plots/_forest_rows.axis_limits: bounds of the display scale
OLD_BOUNDS = {
    "PLO": (0.0, 1.0),
    "PLN": (0.0, 1.0),
    "PAS": (0.0, 1.0),
    "PFT": (0.0, 1.0),
    "PR": (0.0, 1.0),
    "ZCOR": (-1.0, 1.0),
    "COR": (-1.0, 1.0),
}
#: effects._BACK (PFT: inverse_pft with the study sizes)
OLD_BACK = {
    "OR": np.exp,
    "RR": np.exp,
    "PETO": np.exp,
    "ROM": np.exp,
    "PLN": np.exp,
    "PLO": special.expit,
    "PAS": lambda x: np.sin(np.clip(x, 0.0, np.pi / 2)) ** 2,
    "ZCOR": np.tanh,
}
#: report._TESTS and the Test line of MetaAnalysisResult.summary()
OLD_TEST_LABELS = {
    "z": "z (normal)",
    "t": "t",
    "knha": "Hartung-Knapp",
    "adhoc": "Hartung-Knapp (ad hoc)",
}


# --------------------------------------------------------------------------- every fact


@pytest.mark.parametrize("code", CODES)
def test_every_measure_has_every_fact(code: str) -> None:
    m = MEASURES[code]
    assert isinstance(m, Measure) and m.code == code
    for text in (m.description, m.reference, m.display_name, m.short_name, m.axis_name):
        assert isinstance(text, str) and text.strip() == text and text
    assert isinstance(m.analysis_name, str) and m.analysis_name
    assert m.arguments and all(isinstance(a, str) for a in (*m.arguments, *m.optional))
    assert m.family in FAMILIES
    assert isinstance(m.default_add, float) and m.default_add >= 0
    assert callable(m.compute)
    assert m.scale in SCALES
    assert m.null is None or isinstance(m.null, float)
    assert m.back is None or callable(m.back)
    # a back-transform exactly when the analysis scale is not the display scale
    assert (m.back is None) == (m.scale == "raw")
    assert m.groups in (1, 2)
    assert m.groups == (2 if m.family in ("binary2", "means2") else 1)
    assert isinstance(m.pooled_by, frozenset) and "inverse-variance" in m.pooled_by
    assert m.pooled_by <= POOLINGS
    lo, hi = m.display_range
    assert isinstance(lo, float) and isinstance(hi, float) and lo < hi
    assert isinstance(m.is_ratio, bool)
    assert m.display_null is None or isinstance(m.display_null, float)
    # a two-group measure always has a null; a one-group one has none only as a proportion
    # or a plain mean
    if m.groups == 2:
        assert m.null == 0.0
    # names are capitalised for axes, lower case for text
    assert m.axis_name[0].isupper() and m.analysis_name[0].isupper()
    assert m.display_name[0].islower()


def test_measure_code_literal_lists_the_registry() -> None:
    assert sorted(typing.get_args(MeasureCode)) == sorted(MEASURES)
    assert len(typing.get_args(MeasureCode)) == len(MEASURES)


def test_measure_info_resolves_codes_and_lists_them_on_error() -> None:
    assert measure_info("PLO") is MEASURES["PLO"]
    with pytest.raises(
        MetaAnalysisError, match=r"measure='rr' is not allowed; valid values are: OR, RR"
    ):
        measure_info("rr")
    with pytest.raises(MetaAnalysisError, match="measure=None is not allowed"):
        measure_info(None)


def test_pooling_functions_accept_the_measures_the_registry_names() -> None:
    mh = {c for c, m in MEASURES.items() if "mantel-haenszel" in m.pooled_by}
    assert mh == set(MH_MEASURES) == set(typing.get_args(MHMeasure))
    peto = {c for c, m in MEASURES.items() if "peto" in m.pooled_by}
    res = mm.peto(events_t=[4, 6], n_t=[123, 306], events_c=[11, 29], n_c=[139, 303])
    assert peto == {res.measure}


def _escalc_measures() -> set[str]:
    data = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return {c["measure"] for c in data["cases"] if c["kind"] == "escalc"}


def test_every_measure_has_metafor_reference_cases() -> None:
    # tests/test_metafor_reference.py checks each case; here: none of the registry lacks one
    assert set(MEASURES) <= _escalc_measures()


# --------------------------------------------------------------------------- old tables


@pytest.mark.parametrize("code", CODES)
def test_registry_reproduces_the_tables_it_replaced(code: str) -> None:
    m = MEASURES[code]
    assert m.is_ratio == (code in OLD_RATIO)
    assert (m.null is None) == (code in OLD_SINGLE_GROUP)
    assert (m.family == "binary1") == (code in OLD_PROPORTIONS)
    assert (m.family == "binary2") == (code in OLD_LABBE)
    assert (m.back is not None and not m.is_ratio) == (code in OLD_TRANSFORM)
    assert m.axis_name == OLD_MEASURE_NAMES[code]
    assert m.short_name == OLD_MEASURE_SHORT[code]
    assert m.analysis_name == OLD_ANALYSIS_NAMES.get(code, OLD_MEASURE_NAMES[code])
    fallback = m.description.split(" (")[0]
    assert m.display_name == OLD_DISPLAY_NAMES.get(code, DISPLAY_NAME_FIXED.get(code, fallback))
    assert m.scale == OLD_ANALYSIS_SCALES.get(code, "raw")
    assert m.display_range == OLD_BOUNDS.get(code, (-math.inf, math.inf))
    # 1 on the display scale of ratios, 0 for other measures with a null
    if m.null is not None:
        assert m.display_null == (1.0 if code in OLD_RATIO else 0.0)


def test_ratio_measures_derived_from_the_registry() -> None:
    assert RATIO_MEASURES == OLD_RATIO


@pytest.mark.parametrize("code", CODES)
def test_back_transform_as_before(code: str) -> None:
    x = np.array([-1.3, -0.2, 0.0, 0.4, 1.1])
    if code == "PFT":
        assert np.allclose(
            back_transform(code, x, n=[10, 20]), mm.effects.inverse_pft(x, [10, 20])
        )
        with pytest.raises(MetaAnalysisError, match="needs the study sizes n"):
            back_transform(code, 0.3)
        return
    old = OLD_BACK.get(code)
    expected = x if old is None else old(x)
    assert np.array_equal(back_transform(code, x), expected)
    assert back_transform(code, 0.4) == (0.4 if old is None else float(old(np.float64(0.4))))


def test_back_transform_leaves_unknown_and_missing_measures() -> None:
    assert back_transform(None, 0.5) == 0.5
    assert back_transform("XYZ", 0.5) == 0.5


# --------------------------------------------------------------------------- inverses


@st.composite
def _events(draw: st.DrawFn) -> tuple[int, int]:
    """Events and total with 0 < events < total: no zero-cell correction."""
    n = draw(st.integers(2, 5000))
    return draw(st.integers(1, n - 1)), n


@given(events=_events(), code=st.sampled_from(["PLO", "PLN", "PAS", "PFT"]))
def test_back_transform_of_a_proportion_is_the_proportion(
    events: tuple[int, int], code: str
) -> None:
    # the transform of x/n, back-transformed (PFT: with that study's n), gives x/n again
    x, n = events
    es = mm.effect_sizes(code, events=[x], n=[n])
    back = back_transform(code, float(es["effect"].iloc[0]), n=[n])
    assert back == pytest.approx(x / n, rel=1e-9, abs=1e-12)


@given(t=_events(), c=_events())
def test_back_transform_of_log_ratios_is_the_ratio(t: tuple[int, int], c: tuple[int, int]) -> None:
    # exp(log OR) and exp(log RR) are the odds ratio and the risk ratio of the table
    (a, n1), (cc, n2) = t, c
    args: dict[str, Any] = {"events_t": [a], "n_t": [n1], "events_c": [cc], "n_c": [n2]}
    odds = back_transform("OR", float(mm.effect_sizes("OR", **args)["effect"].iloc[0]))
    risk = back_transform("RR", float(mm.effect_sizes("RR", **args)["effect"].iloc[0]))
    assert odds == pytest.approx(a * (n2 - cc) / ((n1 - a) * cc), rel=1e-12)
    assert risk == pytest.approx((a / n1) / (cc / n2), rel=1e-12)


@given(
    r=st.floats(-0.999, 0.999, allow_nan=False),
    ratio=st.floats(0.01, 100.0, allow_nan=False),
)
def test_back_transform_of_zcor_and_rom(r: float, ratio: float) -> None:
    # tanh(arctanh r) = r; exp(log(m1 / m2)) = m1 / m2
    z = float(mm.effect_sizes("ZCOR", r=[r], n=[30])["effect"].iloc[0])
    assert back_transform("ZCOR", z) == pytest.approx(r, rel=1e-12, abs=1e-15)
    es = mm.effect_sizes(
        "ROM", mean_t=[ratio], sd_t=[1.0], n_t=[10], mean_c=[1.0], sd_c=[1.0], n_c=[10]
    )
    assert back_transform("ROM", float(es["effect"].iloc[0])) == pytest.approx(ratio, rel=1e-12)


@given(y=st.floats(-6.0, 6.0, allow_nan=False), code=st.sampled_from(CODES))
@example(y=1.28e-200, code="PFT")  # 1/sin(2x) overflowed in inverse_pft (a RuntimeWarning)
def test_back_transform_stays_in_the_display_range_and_keeps_order(y: float, code: str) -> None:
    # every back-transform is non-decreasing and lands in the display range
    m = MEASURES[code]
    n = [25]
    if code == "PLN":  # a log proportion is at most 0
        y = -abs(y) - 0.25
    lo, hi = m.display_range
    a, b = (back_transform(code, v, n=n) for v in (y, y + 0.25))
    if m.scale == "raw":  # shown as pooled: the identity
        assert (a, b) == (y, y + 0.25)
        return
    assert lo <= a <= b <= hi


# --------------------------------------------------------------------------- tests


def test_test_codes_live_in_one_place() -> None:
    assert set(typing.get_args(TestCode)) == set(TESTS)
    assert {code: spec.label for code, spec in TESTS.items()} == OLD_TEST_LABELS
    assert TEST_ALIASES == {"hksj": "knha"}
    assert canonical_test("HKSJ") == "knha"
    # pooling re-exports the same objects
    assert pooling.TESTS is TESTS and pooling.canonical_test is canonical_test
