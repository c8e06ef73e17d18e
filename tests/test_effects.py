"""Effect sizes checked against hand calculations (one study per measure).

Each expected value is written out from the textbook formula with plain
``math`` so the test does not share code with the implementation. The full
metafor comparison is in ``test_metafor_reference.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.effects import MEASURES, back_transform, hedges_correction, inverse_pft

#: Closed-form arithmetic: agreement to rounding error.
EXACT = 1e-12


def _one(es: mm.EffectSizes) -> tuple[float, float]:
    return float(es["effect"].iloc[0]), float(es["variance"].iloc[0])


def test_registry_holds_every_measure_of_the_issue() -> None:
    wanted = [
        "MN",
        "OR",
        "RR",
        "RD",
        "PETO",
        "AS",
        "MD",
        "SMD",
        "ROM",
        "PR",
        "PLO",
        "PLN",
        "PAS",
        "PFT",
        "COR",
        "ZCOR",
        "MC",
        "SMCR",
        "SMCC",
    ]
    assert sorted(MEASURES) == sorted(wanted)


def test_two_group_binary_hand_calculation() -> None:
    a, n1, c, n2 = 4.0, 123.0, 11.0, 139.0  # Aronson 1948 (BCG)
    b, d = n1 - a, n2 - c
    args = dict(events_t=[a], n_t=[n1], events_c=[c], n_c=[n2])
    y, v = _one(mm.effect_sizes("OR", **args))
    assert y == pytest.approx(math.log(a * d / (b * c)), rel=EXACT)
    assert v == pytest.approx(1 / a + 1 / b + 1 / c + 1 / d, rel=EXACT)
    y, v = _one(mm.effect_sizes("RR", **args))
    assert y == pytest.approx(math.log((a / n1) / (c / n2)), rel=EXACT)
    assert v == pytest.approx(1 / a - 1 / n1 + 1 / c - 1 / n2, rel=EXACT)
    y, v = _one(mm.effect_sizes("RD", **args))
    p1, p2 = a / n1, c / n2
    assert y == pytest.approx(p1 - p2, rel=EXACT)
    assert v == pytest.approx(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2, rel=EXACT)
    y, v = _one(mm.effect_sizes("AS", **args))
    assert y == pytest.approx(math.asin(math.sqrt(p1)) - math.asin(math.sqrt(p2)), rel=EXACT)
    assert v == pytest.approx(1 / (4 * n1) + 1 / (4 * n2), rel=EXACT)
    # Peto: (O - E)/V with hypergeometric E and V (Yusuf et al. 1985)
    n = n1 + n2
    e = (a + c) * n1 / n
    var = (a + c) * (b + d) * n1 * n2 / (n * n * (n - 1))
    y, v = _one(mm.effect_sizes("PETO", **args))
    assert y == pytest.approx((a - e) / var, rel=EXACT)
    assert v == pytest.approx(1 / var, rel=EXACT)


def test_two_group_means_hand_calculation() -> None:
    m1, s1, n1, m2, s2, n2 = 5.2, 1.1, 20.0, 4.1, 1.4, 25.0
    args = dict(mean_t=[m1], sd_t=[s1], n_t=[n1], mean_c=[m2], sd_c=[s2], n_c=[n2])
    y, v = _one(mm.effect_sizes("MD", **args))
    assert y == pytest.approx(m1 - m2, rel=EXACT)
    assert v == pytest.approx(s1**2 / n1 + s2**2 / n2, rel=EXACT)
    m = n1 + n2 - 2
    sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / m)
    j = math.gamma(m / 2) / (math.sqrt(m / 2) * math.gamma((m - 1) / 2))
    g = j * (m1 - m2) / sp
    y, v = _one(mm.effect_sizes("SMD", **args))
    assert y == pytest.approx(g, rel=1e-10)
    assert v == pytest.approx(1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)), rel=1e-10)
    y, v = _one(mm.effect_sizes("ROM", **args))
    assert y == pytest.approx(math.log(m1 / m2), rel=EXACT)
    assert v == pytest.approx(s1**2 / (n1 * m1**2) + s2**2 / (n2 * m2**2), rel=EXACT)


def test_one_group_proportions_hand_calculation() -> None:
    x, n = 16.0, 30.0
    p = x / n
    cases = {
        "PR": (p, p * (1 - p) / n),
        "PLO": (math.log(p / (1 - p)), 1 / x + 1 / (n - x)),
        "PLN": (math.log(p), 1 / x - 1 / n),
        "PAS": (math.asin(math.sqrt(p)), 1 / (4 * n)),
        "PFT": (
            0.5 * (math.asin(math.sqrt(x / (n + 1))) + math.asin(math.sqrt((x + 1) / (n + 1)))),
            1 / (4 * n + 2),
        ),
    }
    for code, (ey, ev) in cases.items():
        y, v = _one(mm.effect_sizes(code, events=[x], n=[n]))
        assert (y, v) == pytest.approx((ey, ev), rel=EXACT), code


def test_correlations_hand_calculation() -> None:
    r, n = 0.42, 50.0
    y, v = _one(mm.effect_sizes("COR", r=[r], n=[n]))
    assert (y, v) == pytest.approx((r, (1 - r * r) ** 2 / (n - 1)), rel=EXACT)
    y, v = _one(mm.effect_sizes("ZCOR", r=[r], n=[n]))
    assert (y, v) == pytest.approx((0.5 * math.log((1 + r) / (1 - r)), 1 / (n - 3)), rel=EXACT)


def test_mean_change_hand_calculation_park2018_style() -> None:
    """Before-after within one group (the form in which single-arm trials report DAS28)."""
    pre, post, sd_pre, sd_post, n, r = 6.1, 4.9, 0.8, 1.1, 9.0, 0.5
    args = dict(mean_pre=[pre], mean_post=[post], sd_pre=[sd_pre], sd_post=[sd_post], n=[n], r=[r])
    sd_change = math.sqrt(sd_pre**2 + sd_post**2 - 2 * r * sd_pre * sd_post)
    y, v = _one(mm.effect_sizes("MC", **args))
    assert (y, v) == pytest.approx((post - pre, sd_change**2 / n), rel=EXACT)
    j = math.gamma((n - 1) / 2) / (math.sqrt((n - 1) / 2) * math.gamma((n - 2) / 2))
    g = j * (post - pre) / sd_change
    y, v = _one(mm.effect_sizes("SMCC", **args))
    assert (y, v) == pytest.approx((g, 1 / n + g * g / (2 * n)), rel=1e-10)
    g = j * (post - pre) / sd_pre
    y, v = _one(mm.effect_sizes("SMCR", **args))
    assert (y, v) == pytest.approx((g, 2 * (1 - r) / n + g * g / (2 * n)), rel=1e-10)
    # SMCR needs no sd_post
    del args["sd_post"]
    assert _one(mm.effect_sizes("SMCR", **args)) == pytest.approx((y, v), rel=EXACT)


def test_single_group_mean_hand_calculation_metafor_mn() -> None:
    """MN: a reported mean (here a mean change) with its SD: variance sd^2 / n."""
    y, v = _one(mm.effect_sizes("MN", mean=[-1.60], sd=[1.57], n=[9]))
    assert (y, v) == pytest.approx((-1.60, 1.57**2 / 9), rel=EXACT)


def test_hedges_correction_exact_and_without_overflow() -> None:
    # m = 10: Gamma(5) / (sqrt(5) Gamma(4.5)) = 24 / (sqrt(5) * 11.6317283966...)
    assert float(hedges_correction(10)) == pytest.approx(
        24 / (math.sqrt(5) * math.gamma(4.5)), rel=1e-13
    )
    big = hedges_correction(np.array([400.0, 1e6, 1e12]))
    assert np.all(np.isfinite(big))
    # the approximation 1 - 3/(4m - 1) has error O(1/m^2): 2e-7 at m = 400
    assert big == pytest.approx(1 - 3 / (4 * np.array([400.0, 1e6, 1e12]) - 1), rel=1e-6)
    assert np.isnan(hedges_correction(1.0))
    es = mm.effect_sizes(
        "SMD", mean_t=[1.0], sd_t=[2.0], n_t=[5e6], mean_c=[0.0], sd_c=[2.0], n_c=[5e6]
    )
    assert np.isfinite(es["effect"]).all()


def test_data_frame_columns_and_labels() -> None:
    df = pd.DataFrame(
        {"a": [4, 6], "n1": [123, 306], "c": [11, 29], "n2": [139, 303], "who": ["x", "y"]}
    )
    before = df.copy()
    es = mm.effect_sizes(
        "RR", data=df, events_t="a", n_t="n1", events_c="c", n_c="n2", labels="who"
    )
    assert list(es.columns) == ["study", "effect", "variance", "se"]
    assert es["study"].tolist() == ["x", "y"]
    assert es.measure == "RR"
    assert np.allclose(es["se"] ** 2, es["variance"])
    pd.testing.assert_frame_equal(df, before)  # the input is not modified
    arrays = mm.effect_sizes(
        "RR", events_t=[4, 6], n_t=[123, 306], events_c=[11, 29], n_c=[139, 303]
    )
    assert np.allclose(arrays["effect"], es["effect"])
    assert "study" not in arrays.columns


def test_scalar_arguments_broadcast() -> None:
    es = mm.effect_sizes(
        "MC",
        mean_pre=[6.0, 5.5],
        mean_post=[5.0, 4.0],
        sd_pre=[1.0, 1.2],
        sd_post=[1.1, 1.0],
        n=[9, 12],
        r=0.5,
    )
    assert len(es) == 2


def test_zero_cells_default_only0_adds_half_and_warns() -> None:
    with pytest.warns(mm.ZeroCellWarning, match=r"added 0.5 .* 1 study .*'B'"):
        es = mm.effect_sizes(
            "OR", events_t=[4, 0], n_t=[10, 10], events_c=[3, 2], n_c=[10, 10], labels=["A", "B"]
        )
    a, b, c, d = 0.5, 10.5, 2.5, 8.5
    assert es["effect"].iloc[1] == pytest.approx(math.log(a * d / (b * c)), rel=EXACT)
    assert es["variance"].iloc[1] == pytest.approx(1 / a + 1 / b + 1 / c + 1 / d, rel=EXACT)
    assert es.zero_cell_studies == (1,)


@pytest.mark.parametrize(
    ("to", "expected_added"),
    [("all", [True, True]), ("if0all", [True, True]), ("only0", [False, True])],
)
def test_zero_cells_to_options(to: str, expected_added: list[bool]) -> None:
    with pytest.warns(mm.ZeroCellWarning):
        es = mm.effect_sizes(
            "RR", events_t=[4, 0], n_t=[10, 10], events_c=[3, 2], n_c=[10, 10], to=to
        )
    plain = math.log((4 / 10) / (3 / 10))
    added = math.log((4.5 / 11) / (3.5 / 11))
    assert es["effect"].iloc[0] == pytest.approx(added if expected_added[0] else plain, rel=EXACT)


def test_zero_cells_none_and_add_zero_leave_rd_estimable() -> None:
    es = mm.effect_sizes("RD", events_t=[0], n_t=[10], events_c=[2], n_c=[10], to="none")
    assert _one(es) == pytest.approx((-0.2, 0.2 * 0.8 / 10), rel=EXACT)


def test_double_zero_kept_by_default_dropped_with_drop00() -> None:
    args = dict(events_t=[0, 3], n_t=[10, 10], events_c=[0, 5], n_c=[12, 10], labels=["Z", "Q"])
    with pytest.warns(mm.ZeroCellWarning, match="added 0.5"):
        kept = mm.effect_sizes("OR", **args)
    assert np.isfinite(kept["effect"].iloc[0])
    with pytest.warns(mm.ZeroCellWarning, match=r"dropped 1 double-zero study .*'Z'"):
        dropped = mm.effect_sizes("OR", drop00=True, **args)
    assert np.isnan(dropped["effect"].iloc[0]) and np.isfinite(dropped["effect"].iloc[1])


def test_arcsine_measures_default_to_no_correction() -> None:
    es = mm.effect_sizes("PFT", events=[0], n=[20])  # no warning: add = 0 for PFT
    assert _one(es) == pytest.approx((0.5 * (0 + math.asin(math.sqrt(1 / 21))), 1 / 82), rel=EXACT)


def test_back_transforms() -> None:
    assert back_transform("OR", 0.0) == 1.0
    assert back_transform("PLO", 0.0) == pytest.approx(0.5)
    assert back_transform("PAS", math.asin(math.sqrt(0.3))) == pytest.approx(0.3)
    assert back_transform("ZCOR", math.atanh(0.4)) == pytest.approx(0.4)
    assert back_transform("MD", 1.5) == 1.5
    x, n = 3.0, 10.0
    t = 0.5 * (math.asin(math.sqrt(x / (n + 1))) + math.asin(math.sqrt((x + 1) / (n + 1))))
    assert float(inverse_pft(t, [n])) == pytest.approx(x / n, abs=1e-12)
    with pytest.raises(mm.MetaAnalysisError, match="study sizes"):
        back_transform("PFT", t)
