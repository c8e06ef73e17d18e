"""Result objects: frozen, typed, with text/HTML summaries and tidy frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import msc_meta as mm


@pytest.fixture(scope="module")
def res() -> mm.MetaAnalysisResult:
    bcg = mm.datasets.load_bcg()
    es = mm.effect_sizes(
        "RR", data=bcg, events_t="tpos", n_t="n_t", events_c="cpos", n_c="n_c", labels="study"
    )
    return mm.meta_analysis(es, method="REML")


def test_result_is_frozen(res: mm.MetaAnalysisResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 0.0  # type: ignore[misc]


def test_to_frame_study_rows_weights_and_pooled_rows(res: mm.MetaAnalysisResult) -> None:
    frame = res.to_frame()
    assert list(frame.columns) == ["study", "effect", "se", "ci_low", "ci_high", "weight", "kind"]
    studies = frame[frame["kind"] == "study"]
    assert len(studies) == 13
    assert studies["weight"].sum() == pytest.approx(100.0, rel=1e-12)
    # weights are 1/(v + tau2), normalised
    w = 1 / (res.variance + res.tau2)
    assert studies["weight"].to_numpy() == pytest.approx(100 * w / w.sum(), rel=1e-12)
    pooled = frame[frame["kind"] == "pooled"].iloc[0]
    assert (pooled["effect"], pooled["ci_low"], pooled["ci_high"]) == pytest.approx(
        (res.estimate, res.ci_low, res.ci_high)
    )
    pi = frame[frame["kind"] == "prediction"].iloc[0]
    assert (pi["ci_low"], pi["ci_high"]) == pytest.approx((res.pi_low, res.pi_high))
    # full precision: no rounding in the frame
    assert studies["effect"].iloc[0] == res.effect[0]


def test_summary_text_and_html(res: mm.MetaAnalysisResult) -> None:
    text = str(res.summary())
    assert "Random-effects model (tau^2 estimator: REML)" in text
    assert "-0.7145" in text and "[-1.0669, -0.3622]" in text
    assert "92.22% [81.92%, 97.68%]" in text
    assert "Back-transformed (risk ratio)" in text and "0.4894" in text
    assert "Q" in text and "df = 12" in text and "p < 0.0001" in text
    html = res._repr_html_()
    assert html.startswith("<div") and "<table" in html and "Aronson 1948" in html
    assert "-0.71" in repr(res) and "k=13" in repr(res)
    assert str(res.summary(digits=2)).count("-0.71") >= 1


def test_common_effect_summary_has_no_prediction_interval_line(res: mm.MetaAnalysisResult) -> None:
    ee = mm.meta_analysis(res.effect, res.variance, method="EE")
    assert "PI" not in str(ee.summary())
    assert "common-effect" in repr(ee)
    assert list(ee.to_frame()["kind"]).count("prediction") == 0


def test_tau_properties(res: mm.MetaAnalysisResult) -> None:
    assert res.tau == pytest.approx(np.sqrt(res.tau2))
    assert res.tau_ci == pytest.approx(tuple(np.sqrt(res.tau2_ci)))


def test_random_effects_result_carries_common_effect_estimate(res: mm.MetaAnalysisResult) -> None:
    ee = mm.meta_analysis(res.effect, res.variance, method="EE")
    assert res.ce_estimate == pytest.approx(ee.estimate, rel=1e-12)
    assert (res.ce_ci_low, res.ce_ci_high) == pytest.approx((ee.ci_low, ee.ci_high), rel=1e-12)


def test_pft_back_transform_uses_harmonic_mean_of_study_sizes() -> None:
    es = mm.effect_sizes("PFT", events=[3, 10, 25], n=[10, 30, 50])
    res = mm.meta_analysis(es, method="DL")
    nhm = 1 / np.mean(1 / np.array([10.0, 30.0, 50.0]))
    x = res.estimate
    s = np.sin(2 * x)
    expected = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(1 - (s + (s - 1 / s) / nhm) ** 2))
    assert res.transform(res.estimate) == pytest.approx(expected, rel=1e-12)
    assert 0.0 < res.transform(res.estimate) < 1.0
