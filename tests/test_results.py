"""Result objects: frozen, typed, with text/HTML summaries and tidy frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import msc_meta as mm


@pytest.fixture(scope="module")
def res(bcg_reml: mm.MetaAnalysisResult) -> mm.MetaAnalysisResult:
    return bcg_reml


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


# --------------------------------------------------------------------------- large results


@pytest.fixture(scope="module")
def big() -> mm.MetaAnalysisResult:
    rng = np.random.default_rng(20261130)
    k = 5000
    return mm.meta_analysis(
        rng.normal(0.0, 0.3, k),
        rng.uniform(0.01, 0.1, k),
        method="DL",
        labels=[f"Study {i + 1}" for i in range(k)],
    )


def _study_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Study ")]


def test_summary_of_a_large_result_shows_first_and_last_studies(
    big: mm.MetaAnalysisResult,
) -> None:
    text = str(big.summary())
    shown = _study_lines(text)
    limit = mm.results.DISPLAY_MAX_ROWS
    assert len(shown) == limit
    assert shown[0].startswith("Study 1 ") and shown[-1].startswith("Study 5000 ")
    assert f"… {5000 - limit:,} more studies" in text
    assert "RE model" in text and "Prediction interval" in text  # pooled rows always shown
    html = big._repr_html_()
    assert html.count("<tr") < 2 * limit + 40 and len(html) < 20_000
    assert f"… {5000 - limit:,} more studies" in html
    assert ">Study 1<" in html and ">Study 5000<" in html and ">Study 2500<" not in html
    # everything on request, and to_frame stays complete
    assert len(_study_lines(str(big.summary(max_rows=None)))) == 5000
    assert len(big.to_frame()) == 5002
    assert len(_study_lines(str(big.summary(max_rows=10)))) == 10
    # a result at the limit is shown whole
    small = mm.meta_analysis(big.effect[:limit], big.variance[:limit], labels=big.labels[:limit])
    assert len(_study_lines(str(small.summary()))) == limit
    assert "more studies" not in str(small.summary())


def test_binary_and_subgroup_summaries_truncate_too() -> None:
    rng = np.random.default_rng(3)
    k = 400
    n = rng.integers(20, 200, size=(2, k))
    ev_t, ev_c = rng.binomial(n[0], 0.3), rng.binomial(n[1], 0.4)
    labels = [f"Study {i + 1}" for i in range(k)]
    mh = mm.mantel_haenszel("OR", events_t=ev_t, n_t=n[0], events_c=ev_c, n_c=n[1], labels=labels)
    text = str(mh.summary())
    assert len(_study_lines(text)) == mm.results.DISPLAY_MAX_ROWS
    assert f"… {k - mm.results.DISPLAY_MAX_ROWS:,} more studies" in text
    assert "MH model" in text
    assert len(_study_lines(str(mh.summary(max_rows=None)))) == k
    assert "more studies" in mh._repr_html_()
    es = mm.effect_sizes("OR", events_t=ev_t, n_t=n[0], events_c=ev_c, n_c=n[1], labels=labels)
    groups = [f"G{i % 100:03d}" for i in range(k)]
    sub = mm.subgroup_analysis(es, groups=groups, method="DL")
    text = str(sub.summary())
    assert f"… {100 - mm.results.DISPLAY_MAX_ROWS:,} more subgroups" in text
    assert "Overall" in text and "G000" in text and "G099" in text and "G050" not in text
    assert "G050" in str(sub.summary(max_rows=None))
    assert "more subgroups" in sub._repr_html_()


def test_one_study_is_described_one_way() -> None:
    with pytest.warns(mm.FewStudiesWarning):
        one = mm.meta_analysis([0.3], [0.04], labels=["Solo 2020"], method="REML")
    text = str(one.summary())
    assert "Single study (nothing pooled)" in text
    assert "RE model" not in text and "Prediction interval" not in text
    assert "95% PI      : not applicable (k = 1)" in text
    assert "I^2         : not applicable (k = 1)" in text
    frame = one.to_frame()
    assert frame["kind"].tolist() == ["study", "pooled"]
    assert frame["study"].tolist() == ["Solo 2020", mm.results.SINGLE_STUDY]
    with pytest.warns(mm.FewStudiesWarning):
        mh = mm.mantel_haenszel("RR", events_t=[5], n_t=[20], events_c=[3], n_c=[21])
    assert mh.to_frame()["study"].tolist()[-1] == mm.results.SINGLE_STUDY
    assert "Single study (nothing pooled)" in str(mh.summary())


def test_summary_lists_studies_not_estimable() -> None:
    with pytest.warns(mm.DroppedStudiesWarning):
        r = mm.meta_analysis(
            [0.1, np.nan, 0.3, 0.2], [0.04, 0.05, np.nan, 0.02], labels=list("ABCD")
        )
    assert r.not_estimable == ("B", "C")
    assert "Not estimable (missing values) : 2: B, C" in str(r.summary())


def test_max_rows_must_be_positive(res: mm.MetaAnalysisResult) -> None:
    with pytest.raises(mm.MetaAnalysisError, match="max_rows=0"):
        res.summary(max_rows=0)
