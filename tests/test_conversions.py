"""Tests of msc_meta.conversions: published examples, round trips, bad input, properties.

Reference numbers come from the published sources named in each test, or were computed
independently (by hand in the comments, or in R 4.2.2 with ``qnorm``/``qt``, transcribing
metafor 4.x ``R/conv.fivenum.r``; the Debian metafor 3.8-1 here predates conv.fivenum).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msc_meta._errors import MetaAnalysisError
from msc_meta.conversions import (
    CombinedGroup,
    CountFromPercent,
    MeanSD,
    change_sd,
    combine_events,
    combine_groups,
    combine_groups_many,
    correlation_from_change,
    counts_from_percent,
    mean_sd_from_median,
    sd_from_change,
    sd_from_ci,
    sd_from_se,
    se_from_ci,
    se_from_pvalue,
    se_from_sd,
    se_from_t,
)

# Closed-form results: only floating-point rounding separates us from the reference.
CLOSED_FORM = 1e-12
# A published number printed to k decimals can be off by half a unit in the last place.
HALF_UNIT_3DP = 5e-4 + 1e-12
HALF_UNIT_2DP = 5e-3 + 1e-12
# Altman & Bland (2011) replace the inverse normal by z = -0.862 + sqrt(0.743 - 2.404 log P),
# which is within 0.2% of the exact quantile over the P values of their examples.
ALTMAN_BLAND_Z_APPROX = 2e-3
# Property tests on raw samples: the two-pass np.std and the summary formula differ only by
# floating-point cancellation, bounded well below this for values in [-100, 100].
RAW_DATA = 1e-8

#: The conversion properties are cheap: 2.5 times the profile's examples (150 in ci, as before).
MANY_EXAMPLES = settings(max_examples=settings.default.max_examples * 5 // 2)


def _match(text: str) -> str:
    return re.escape(text)


# --------------------------------------------------------------------------- SE <-> SD


def test_se_from_sd_by_hand() -> None:
    # 10 / sqrt(25) = 2; 6 / sqrt(16) = 1.5
    assert se_from_sd(10.0, 25) == 2.0
    np.testing.assert_allclose(se_from_sd([10.0, 6.0], [25, 16]), [2.0, 1.5], rtol=CLOSED_FORM)


def test_scalar_in_float_out_array_in_array_out() -> None:
    assert isinstance(se_from_sd(10.0, 25), float)
    out = se_from_sd([10.0], [25])
    assert isinstance(out, np.ndarray)
    assert out.shape == (1,)
    # a scalar broadcasts against an array
    np.testing.assert_allclose(se_from_sd([10.0, 20.0], 25), [2.0, 4.0], rtol=CLOSED_FORM)


def test_sd_se_round_trip() -> None:
    sd = np.array([0.5, 7.2, 13.0, 120.0])
    n = np.array([2, 36, 101, 5000])
    np.testing.assert_allclose(sd_from_se(se_from_sd(sd, n), n), sd, rtol=CLOSED_FORM)


def test_nan_marks_missing_and_propagates() -> None:
    out = se_from_sd([4.0, float("nan")], [16, 16])
    assert isinstance(out, np.ndarray)
    assert out[0] == 1.0
    assert math.isnan(out[1])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: se_from_sd([1.0, -2.0], [10, 10]), "sd[1] = -2 is not allowed"),
        (lambda: se_from_sd(1.0, -5), "n[0] = -5 is not allowed"),
        (lambda: se_from_sd(1.0, 2.5), "n[0] = 2.5 is not allowed; counts must be whole"),
        (lambda: sd_from_se([1.0, 1.0], [10, 0]), "n[1] = 0 is not allowed"),
        (lambda: sd_from_se(-0.1, 10), "se[0] = -0.1 is not allowed"),
        (lambda: se_from_sd([1.0, 2.0, 3.0], [10, 20]), "n has 2 values but 3 are needed"),
        (lambda: se_from_sd(float("inf"), 10), "sd[0] = inf is not allowed"),
    ],
)
def test_se_sd_bad_input(call: object, message: str) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- SE from a CI


def test_cochrane_6_3_1_divisor_3_92_for_95_percent() -> None:
    # Handbook 6.3.1 / 6.5.2.2: a 95% CI is 3.92 SEs wide (90%: 3.29, 99%: 5.15).
    assert se_from_ci(0.0, 3.92) == pytest.approx(1.0, abs=HALF_UNIT_2DP / 3.92)
    assert se_from_ci(0.0, 3.29, level=0.90) == pytest.approx(1.0, abs=HALF_UNIT_2DP / 3.29)
    assert se_from_ci(0.0, 5.15, level=0.99) == pytest.approx(1.0, abs=HALF_UNIT_2DP / 5.15)


def test_se_from_ci_round_trip_normal_and_t() -> None:
    est, se, df = np.array([0.3, -1.2, 5.0]), np.array([0.1, 0.45, 2.0]), np.array([5, 30, 45])
    z = 1.959963984540054  # Phi^-1(0.975)
    np.testing.assert_allclose(se_from_ci(est - z * se, est + z * se), se, rtol=CLOSED_FORM)
    t = np.array([2.570581835636314, 2.042272456301238, 2.014103388880846])  # qt(.975, df) in R
    np.testing.assert_allclose(se_from_ci(est - t * se, est + t * se, df=df), se, rtol=1e-9)


def test_se_from_ci_ratio_is_on_log_scale() -> None:
    # HR 0.69 (0.52 to 0.91): (ln 0.91 - ln 0.52) / 3.919928 = 0.559616 / 3.919928 = 0.142761
    expected = (math.log(0.91) - math.log(0.52)) / (2 * 1.959963984540054)
    assert se_from_ci(0.52, 0.91, ratio=True) == pytest.approx(expected, rel=CLOSED_FORM)
    # a CI built on the log scale from a known SE comes back exactly
    log_or, se = math.log(2.5), 0.31
    lo, hi = math.exp(log_or - 1.959963984540054 * se), math.exp(log_or + 1.959963984540054 * se)
    assert se_from_ci(lo, hi, ratio=True) == pytest.approx(se, rel=CLOSED_FORM)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: se_from_ci([1.0, 5.0], [2.0, 3.0]), "lower[1] = 5 is not below upper[1] = 3"),
        (lambda: se_from_ci(2.0, 2.0), "lower[0] = 2 is not below upper[0] = 2"),
        (
            lambda: se_from_ci([0.5, -0.2], [2.0, 0.3], ratio=True),
            "lower[1] = -0.2 is not allowed with ratio=True",
        ),
        (lambda: se_from_ci(1.0, 2.0, level=95), "level=95 is outside (0, 1)"),
        (lambda: se_from_ci(1.0, 2.0, df=-3), "df[0] = -3 is not allowed"),
    ],
)
def test_se_from_ci_bad_input(call: object, message: str) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- SD from a CI


def test_cochrane_6_5_2_2_t_divisor_4_128_for_n_25() -> None:
    # Handbook 6.5.2.2: for n = 25 the t value is tinv(0.05, 24) = 2.0639 and the divisor
    # 3.92 becomes 2 x 2.0639 = 4.128, so a 95% CI 4.128 wide with n = 25 has SD 5.
    assert sd_from_ci(0.0, 4.128, 25) == pytest.approx(5.0, abs=5 * HALF_UNIT_3DP / 4.128)
    # and with the normal distribution: SD = sqrt(n) x width / 3.92
    assert sd_from_ci(0.0, 3.92, 25, use_t=False) == pytest.approx(
        5.0, abs=5 * HALF_UNIT_2DP / 3.92
    )


def test_sd_from_ci_exact_t_value_from_r() -> None:
    # qt(0.975, 24) = 2.06389856162803 (R 4.2.2); SD = 5 x 4.2 / (2 x 2.06389856162803)
    expected = 5 * 4.2 / (2 * 2.06389856162803)
    assert sd_from_ci(30.0, 34.2, 25) == pytest.approx(expected, rel=1e-12)


def test_sd_from_ci_round_trip() -> None:
    sd, n = np.array([3.0, 12.5]), np.array([8, 400])
    from scipy import stats

    half = stats.t.ppf(0.95, n - 1) * sd / np.sqrt(n)  # a 90% CI around mean 10
    np.testing.assert_allclose(
        sd_from_ci(10 - half, 10 + half, n, level=0.90), sd, rtol=CLOSED_FORM
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sd_from_ci(3.0, 1.0, 20), "lower[0] = 3 is not below upper[0] = 1"),
        (lambda: sd_from_ci([1.0, 1.0], [2.0, 2.0], [20, 1]), "n[1] = 1 is not allowed"),
        (lambda: sd_from_ci(1.0, 2.0, -4, use_t=False), "n[0] = -4 is not allowed"),
        (lambda: sd_from_ci(1.0, 2.0, 20, level=1.0), "level=1.0 is outside (0, 1)"),
    ],
)
def test_sd_from_ci_bad_input(call: object, message: str) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- SE from P / t


def test_cochrane_6_3_2_p_0_008_gives_z_2_652() -> None:
    # Handbook 6.3.2: "the Z value that corresponds to a P value of 0.008 is Z = 2.652",
    # SE = estimate / Z. An estimate of 2.652 therefore has SE 1 (to the rounding of Z).
    assert se_from_pvalue(2.652, 0.008) == pytest.approx(1.0, abs=HALF_UNIT_3DP / 2.652)


def test_cochrane_6_5_2_3_t_test_example() -> None:
    # Handbook 6.5.2.3: MD 3.8, P = 0.008 from a t test with 25 + 22 - 2 = 45 df:
    # t = tinv(0.008, 45) = 2.78, SE = 3.8 / 2.78 = 1.37.
    assert se_from_pvalue(3.8, 0.008, df=45) == pytest.approx(1.37, abs=HALF_UNIT_2DP)
    assert se_from_t(3.8, 2.78) == pytest.approx(1.37, abs=HALF_UNIT_2DP)
    # exact: qt(1 - 0.004, 45) = 2.77554536949735 (R 4.2.2)
    assert se_from_pvalue(3.8, 0.008, df=45) == pytest.approx(3.8 / 2.77554536949735, rel=1e-12)


def test_altman_bland_2011_difference_example() -> None:
    # BMJ 2011;343:d2090, zinc trial: 49% v 32% recovered, Est = 17, P = 0.032.
    # Published (with their z approximation): z = 2.141, SE = 7.940, 95% CI 1.4 to 32.6.
    se = se_from_pvalue(17.0, 0.032)
    assert isinstance(se, float)
    assert se == pytest.approx(7.940, rel=ALTMAN_BLAND_Z_APPROX)
    assert 17.0 - 1.96 * se == pytest.approx(1.4, abs=0.1)
    assert 17.0 + 1.96 * se == pytest.approx(32.6, abs=0.1)
    # exact quantile: qnorm(1 - 0.016) = 2.14441062091184 (R 4.2.2)
    assert se == pytest.approx(17.0 / 2.14441062091184, rel=1e-12)


def test_altman_bland_2011_ratio_example() -> None:
    # BMJ 2011;343:d2090: relative risk 0.30 with P = 0.034. Their z = -0.862 +
    # sqrt(0.743 - 2.404 log 0.034) = 2.1166, SE of log RR = |log 0.30| / 2.1166 = 0.5688.
    se = se_from_pvalue(0.30, 0.034, ratio=True)
    assert se == pytest.approx(0.5688, rel=ALTMAN_BLAND_Z_APPROX)
    assert se == pytest.approx(abs(math.log(0.30)) / 2.12007168974215, rel=1e-12)


def test_se_from_pvalue_one_sided_and_sign() -> None:
    # one-sided P = 0.025 is the two-sided P = 0.05: z = 1.96 either way; the sign is ignored
    assert se_from_pvalue(-1.96, 0.025, two_sided=False) == pytest.approx(
        se_from_pvalue(1.96, 0.05), rel=CLOSED_FORM
    )


def test_se_from_t_ratio() -> None:
    # log(2) / 2 = 0.34657
    assert se_from_t(2.0, -2.0, ratio=True) == pytest.approx(math.log(2) / 2, rel=CLOSED_FORM)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: se_from_pvalue([1.0, 1.0], [0.05, 1.0]), "p[1] = 1 is not allowed"),
        (lambda: se_from_pvalue(1.0, 0.0), "p[0] = 0 is not allowed"),
        (lambda: se_from_pvalue(1.0, 5.0), "p[0] = 5 is not allowed"),
        (lambda: se_from_pvalue(1.0, -0.01), "p[0] = -0.01 is not allowed"),
        (lambda: se_from_pvalue(0.0, 0.2), "estimate[0] = 0 is the null value"),
        (lambda: se_from_pvalue([2.0, 1.0], 0.2, ratio=True), "estimate[1] = 1 is the null"),
        (lambda: se_from_pvalue(-0.5, 0.2, ratio=True), "estimate[0] = -0.5 is not allowed"),
        (lambda: se_from_pvalue(1.0, 0.2, df=0), "df[0] = 0 is not allowed"),
        (lambda: se_from_t([1.0, 2.0], [2.0, 0.0]), "statistic[1] = 0 is not allowed"),
    ],
)
def test_se_from_pvalue_and_t_bad_input(call: object, message: str) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- median -> mean, SD

# metafor ?conv.fivenum help-page data (n = 20): min 2, q1 4, median 6, q3 10, max 14.
# Reference values: R 4.2.2, metafor 4.x conv.fivenum formulas transcribed with qnorm.
#   xi(20) = 3.73648330972786, eta(20) = 1.25337470005501
#   S1: w = 4 / (4 + 20^0.75) = 0.297233; mean = 0.297233 x 8 + 0.702767 x 6 = 6.59447
CONV_FIVENUM_HELP = {
    "S1": (6.59446776011673, 3.2115759673697),
    "S2": (6.7195, 4.78707604337047),
    "S3-shi": (6.93884124993977, 3.67943504464321),
    "S3-wan": (6.93884124993977, 3.99932600537008),
}


def test_conv_fivenum_help_example_s1() -> None:
    r = mean_sd_from_median(median=6, n=20, minimum=2, maximum=14)
    assert isinstance(r, MeanSD)
    assert r.mean == pytest.approx(CONV_FIVENUM_HELP["S1"][0], rel=CLOSED_FORM)
    assert r.sd == pytest.approx(CONV_FIVENUM_HELP["S1"][1], rel=CLOSED_FORM)
    assert isinstance(r.method, str)
    assert r.method.startswith("S1")


def test_conv_fivenum_help_example_s2() -> None:
    # S2 mean by hand: w = 0.7 + 0.39 / 20 = 0.7195; 0.7195 x 7 + 0.2805 x 6 = 6.7195
    r = mean_sd_from_median(median=6, n=20, q1=4, q3=10)
    assert r.mean == pytest.approx(CONV_FIVENUM_HELP["S2"][0], rel=CLOSED_FORM)
    assert r.sd == pytest.approx(CONV_FIVENUM_HELP["S2"][1], rel=CLOSED_FORM)
    assert isinstance(r.method, str)
    assert r.method.startswith("S2")


@pytest.mark.parametrize("sd_method", ["shi", "wan"])
def test_conv_fivenum_help_example_s3(sd_method: str) -> None:
    r = mean_sd_from_median(
        median=6,
        n=20,
        q1=4,
        q3=10,
        minimum=2,
        maximum=14,
        sd_method=sd_method,  # type: ignore[arg-type]
    )
    mean, sd = CONV_FIVENUM_HELP[f"S3-{sd_method}"]
    assert r.mean == pytest.approx(mean, rel=CLOSED_FORM)
    assert r.sd == pytest.approx(sd, rel=CLOSED_FORM)
    assert sd_method.capitalize() in str(r.method)


def test_conv_fivenum_help_example_vectorised_rows() -> None:
    # the help page's data frame: rows 1-3 report S1, S2, S3; NaN marks what a row lacks
    nan = float("nan")
    r = mean_sd_from_median(
        median=[6, 6, 6],
        n=[20, 20, 20],
        minimum=[2, nan, 2],
        q1=[nan, 4, 4],
        q3=[nan, 10, 10],
        maximum=[14, nan, 14],
    )
    np.testing.assert_allclose(
        r.mean, [CONV_FIVENUM_HELP[k][0] for k in ("S1", "S2", "S3-shi")], rtol=CLOSED_FORM
    )
    np.testing.assert_allclose(
        r.sd, [CONV_FIVENUM_HELP[k][1] for k in ("S1", "S2", "S3-shi")], rtol=CLOSED_FORM
    )
    assert [m[:2] for m in r.method] == ["S1", "S2", "S3"]
    frame = r.to_frame()
    assert list(frame.columns) == ["mean", "sd", "method"]
    assert len(frame) == 3


# Wan et al. (2014) Table 1: exact xi(n) = expected range of n standard normals.
WAN_2014_TABLE_1 = {5: 2.326, 10: 3.078, 20: 3.735, 30: 4.086, 40: 4.322, 50: 4.498}


@pytest.mark.parametrize(("n", "xi_exact"), sorted(WAN_2014_TABLE_1.items()))
def test_wan_2014_table_1_xi_matches_blom_approximation(n: int, xi_exact: float) -> None:
    # SD = range / xi(n), so a range of 1 gives 1 / xi(n). Blom's approximation (eq. 9, as in
    # metafor) is within 0.5% of the exact table for n >= 10 and 1.5% at n = 5.
    r = mean_sd_from_median(median=0.5, n=n, minimum=0.0, maximum=1.0)
    assert isinstance(r.sd, float)
    tolerance = 0.015 if n < 10 else 0.005
    assert 1.0 / r.sd == pytest.approx(xi_exact, rel=tolerance)


@given(n=st.integers(min_value=2, max_value=100_000))
@MANY_EXAMPLES
def test_shi_2020_eq10_equals_shortcut_eq11(n: int) -> None:
    # Shi et al. (2020) eq. 11 (the R package meta's form):
    # S = (b - a) / ((2 + 0.14 n^0.6) Phi^-1(.)) + (q3 - q1) / ((2 + 2 / (0.07 n^0.6)) Phi^-1(.))
    from scipy import stats

    a, q1, m, q3, b = 1.0, 3.0, 4.0, 6.5, 11.0
    theta1 = (2 + 0.14 * n**0.6) * stats.norm.ppf((n - 0.375) / (n + 0.25))
    theta2 = (2 + 2 / (0.07 * n**0.6)) * stats.norm.ppf((0.75 * n - 0.125) / (n + 0.25))
    shortcut = (b - a) / theta1 + (q3 - q1) / theta2
    r = mean_sd_from_median(median=m, n=n, minimum=a, q1=q1, q3=q3, maximum=b)
    assert r.sd == pytest.approx(shortcut, rel=1e-10)


@given(
    centre=st.floats(-1e3, 1e3),
    half_iqr=st.floats(0.01, 50),
    extra=st.floats(0.0, 50),
    n=st.integers(2, 5000),
)
@MANY_EXAMPLES
def test_symmetric_summary_gives_mean_equal_to_median(
    centre: float, half_iqr: float, extra: float, n: int
) -> None:
    # with a symmetric summary every Luo et al. estimator returns the median
    half_range = half_iqr + extra
    r = mean_sd_from_median(
        median=centre,
        n=n,
        q1=centre - half_iqr,
        q3=centre + half_iqr,
        minimum=centre - half_range,
        maximum=centre + half_range,
    )
    assert r.mean == pytest.approx(centre, abs=1e-9 * (1 + abs(centre)))
    assert isinstance(r.sd, float)
    assert r.sd >= 0


def test_median_nan_gives_nan_mean_but_sd() -> None:
    r = mean_sd_from_median(median=[float("nan")], n=[20], q1=[4], q3=[10])
    assert math.isnan(r.mean[0])  # type: ignore[index]
    assert r.sd[0] == pytest.approx(CONV_FIVENUM_HELP["S2"][1], rel=CLOSED_FORM)  # type: ignore[index]


def test_row_without_range_or_quartiles_stays_missing() -> None:
    nan = float("nan")
    r = mean_sd_from_median(median=[6, 6], n=[20, 20], q1=[4, nan], q3=[10, nan])
    assert math.isnan(r.mean[1]) and math.isnan(r.sd[1])  # type: ignore[index]
    assert r.method[1].startswith("none")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"median": 6, "n": 20}, "S1 needs minimum and maximum, S2 needs q1 and q3"),
        ({"median": 6, "n": 20, "q1": 4}, "q1 is given but q3 is missing; scenario S2"),
        ({"median": 6, "n": 20, "maximum": 9}, "maximum is given but minimum is missing"),
        (
            {"median": [6, 6], "n": [20, 20], "q1": [4, 4], "q3": [10, float("nan")]},
            "q1[1] = 4 is given but q3[1] is missing",
        ),
        (
            {"median": 6, "n": 20, "q1": 7, "q3": 10},
            "q1[0] = 7 is larger than median[0] = 6; a median summary needs minimum <= q1",
        ),
        (
            {"median": [6, 6], "n": [20, 20], "minimum": [2, 9], "maximum": [14, 8]},
            "minimum[1] = 9 is larger than median[1] = 6",
        ),
        (
            {"median": 6, "n": 20, "minimum": 2, "q1": 4, "q3": 10, "maximum": 9},
            "q3[0] = 10 is larger than maximum[0] = 9",
        ),
        ({"median": 6, "n": 1, "q1": 4, "q3": 10}, "n[0] = 1 is not allowed; it must be >= 2"),
        ({"median": 6, "n": -3, "q1": 4, "q3": 10}, "n[0] = -3 is not allowed"),
        ({"median": 6, "n": 20.5, "q1": 4, "q3": 10}, "n[0] = 20.5 is not allowed"),
        ({"median": 6, "n": float("nan"), "q1": 4, "q3": 10}, "n[0] is missing (NaN)"),
        (
            {"median": 6, "n": 20, "q1": 4, "q3": 10, "sd_method": "bland"},
            "sd_method='bland' is not allowed; valid values are: shi, wan",
        ),
    ],
)
def test_mean_sd_from_median_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        mean_sd_from_median(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- percentages


def test_53_3_percent_of_30_is_16() -> None:
    r = counts_from_percent("53.3", 30)
    assert isinstance(r, CountFromPercent)
    assert r.count == 16
    assert r.n == 30
    assert r.percent == 53.3
    assert r.exact is True
    assert r.decimals == 1
    assert r.reproduced_percent == pytest.approx(100 * 16 / 30, rel=CLOSED_FORM)
    assert r.derivation == "53.3% × 30 = 15.99 → 16 (16/30 = 53.33%)"
    # the number 53.3 (not text) is checked at the default 1 decimal
    assert counts_from_percent(53.3, 30).count == 16


def test_percentage_that_no_count_reproduces_raises() -> None:
    # 53.5% of 30 = 16.05, but 16/30 = 53.33% and 17/30 = 56.67%
    with pytest.raises(
        MetaAnalysisError,
        match=_match(
            "percent[0] = 53.5% of n[0] = 30 cannot be reproduced by any whole count: "
            "16/30 = 53.33% and 17/30 = 56.67%"
        ),
    ):
        counts_from_percent("53.5", 30)


def test_decimals_are_read_from_text() -> None:
    # "53.30" claims two decimals: 16/30 = 53.33% does not round to 53.30%
    with pytest.raises(MetaAnalysisError, match=_match("(reported to 2 decimals)")):
        counts_from_percent("53.30", 30)
    # "53" claims none: 16/30 = 53.3% rounds to 53%
    r = counts_from_percent("53%", 30)
    assert r.count == 16
    assert r.decimals == 0


def test_explicit_decimals() -> None:
    # 53 printed with 0 decimals is 16 of 30; checked at 1 decimal (53.0%) it is impossible
    assert counts_from_percent(53, 30, decimals=0).count == 16
    with pytest.raises(MetaAnalysisError, match=_match("percent[0] = 53% of n[0] = 30")):
        counts_from_percent(53, 30, decimals=1)


def test_ambiguous_percentage_is_flagged_not_hidden() -> None:
    # 50% (no decimals) of 200: 99/200 = 49.5%, 100/200 = 50%, 101/200 = 50.5% all print as 50%
    r = counts_from_percent("50", 200)
    assert r.count == 100
    assert r.exact is False
    assert isinstance(r.derivation, str)
    assert "not unique: 99, 101 also give 50%" in r.derivation
    # a long run of candidates is summarised, not listed
    big = counts_from_percent("50", 100_000)
    assert big.count == 50_000
    assert big.derivation == (
        "50% × 100000 = 50000 → 50000 (50000/100000 = 50%); "
        "not unique: every count from 49500 to 50500 gives 50%"
    )


def test_counts_from_percent_vectorised() -> None:
    r = counts_from_percent(["53.3", "25", 12.5, "0"], [30, 8, 8, 17])
    np.testing.assert_array_equal(r.count, [16, 2, 1, 0])
    np.testing.assert_array_equal(r.decimals, [1, 0, 1, 0])
    np.testing.assert_array_equal(r.exact, [True, True, True, True])
    assert isinstance(r.derivation, tuple)
    assert r.derivation[1] == "25% × 8 = 2 → 2 (2/8 = 25%)"
    assert len(r.to_frame()) == 4
    # one percentage against several denominators, and the reverse
    np.testing.assert_array_equal(counts_from_percent(50, [2, 4]).count, [1, 2])
    np.testing.assert_array_equal(counts_from_percent([25, 50], 4).count, [1, 2])


@pytest.mark.parametrize(
    ("percent", "n", "kwargs", "message"),
    [
        ("101", 10, {}, "percent[0] = 101 is not allowed; it must lie in [0, 100]"),
        (["10", "-1"], [10, 10], {}, "percent[1] = -1 is not allowed"),
        ("abc", 10, {}, "percent[0] = 'abc' could not be read as a number"),
        ([10, None], [10, 10], {}, "percent[1] = None is not a number"),
        (None, 10, {}, "percent could not be read (got NoneType)"),
        ("10", 0, {}, "n[0] = 0 is not allowed"),
        (["10", "20"], [10, 12.5], {}, "n[1] = 12.5 is not allowed"),
        (["10", "20"], [10, 20, 30], {}, "n has 3 values but percent has 2"),
        ("10", 10, {"decimals": -1}, "decimals=-1 is not allowed"),
        (["50", "50"], [4, 3], {}, "percent[1] = 50% of n[1] = 3 cannot be reproduced"),
    ],
)
def test_counts_from_percent_bad_input(
    percent: object, n: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        counts_from_percent(percent, n, **kwargs)  # type: ignore[arg-type]


@given(data=st.data(), n=st.integers(1, 3000))
@MANY_EXAMPLES
def test_count_printed_to_one_decimal_is_recovered(data: st.DataObject, n: int) -> None:
    k = data.draw(st.integers(0, n))
    printed = f"{100 * k / n:.1f}"
    r = counts_from_percent(printed, n)
    count = int(r.count)
    target = float(printed) * n / 100
    # the count returned reproduces the printed percentage ...
    assert abs(100 * count / n - float(printed)) <= 0.05 + 1e-9
    # ... and is at least as close to percent x n / 100 as the true count
    assert abs(count - target) <= abs(k - target) + 1e-9
    if r.exact:
        assert count == k
    else:
        assert isinstance(r.derivation, str)
        assert "not unique" in r.derivation


# --------------------------------------------------------------------------- combining arms


def test_combine_groups_by_hand() -> None:
    # M = (10 x 5 + 20 x 8) / 30 = 7; SS = 9 x 1 + 19 x 4 + (200/30) x 9 = 9 + 76 + 60 = 145;
    # SD = sqrt(145 / 29) = sqrt(5)
    g = combine_groups(10, 5.0, 1.0, 20, 8.0, 2.0)
    assert isinstance(g, CombinedGroup)
    assert g.n == 30.0
    assert g.mean == pytest.approx(7.0, rel=CLOSED_FORM)
    assert g.sd == pytest.approx(math.sqrt(5.0), rel=CLOSED_FORM)


def test_combine_groups_many_by_hand_and_against_pairwise_fold() -> None:
    # N = 45, M = 300 / 45; SS = 116.5 (within) + 70 (between) = 186.5; SD = sqrt(186.5 / 44)
    n, mean, sd = [10, 20, 15], [5.0, 8.0, 6.0], [1.0, 2.0, 1.5]
    g = combine_groups_many(n, mean, sd)
    assert g.n == 45.0
    assert g.mean == pytest.approx(300 / 45, rel=CLOSED_FORM)
    assert g.sd == pytest.approx(math.sqrt(186.5 / 44), rel=CLOSED_FORM)
    ab = combine_groups(n[0], mean[0], sd[0], n[1], mean[1], sd[1])
    abc = combine_groups(ab.n, ab.mean, ab.sd, n[2], mean[2], sd[2])
    assert g.sd == pytest.approx(abc.sd, rel=CLOSED_FORM)
    assert g.mean == pytest.approx(abc.mean, rel=CLOSED_FORM)


def test_combine_groups_vectorised_over_studies() -> None:
    g = combine_groups([10, 1], [5.0, 0.0], [1.0, 0.0], [20, 1], [8.0, 2.0], [2.0, 0.0])
    # second study: two single observations 0 and 2 -> mean 1, SD sqrt(2)
    np.testing.assert_allclose(g.mean, [7.0, 1.0], rtol=CLOSED_FORM)
    np.testing.assert_allclose(g.sd, [math.sqrt(5.0), math.sqrt(2.0)], rtol=CLOSED_FORM)


def test_combine_events() -> None:
    e = combine_events([3, 0], [25, 10], [5, 2], [27, 12])
    np.testing.assert_array_equal(e.events, [8, 2])
    np.testing.assert_array_equal(e.n, [52, 22])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: combine_groups(0, 1.0, 1.0, 10, 2.0, 1.0), "n1[0] = 0 is not allowed"),
        (lambda: combine_groups(10, 1.0, 1.0, -2, 2.0, 1.0), "n2[0] = -2 is not allowed"),
        (
            lambda: combine_groups([10, 10], 1.0, [1.0, -1.0], 10, 2.0, 1.0),
            "sd1[1] = -1 is not allowed",
        ),
        (lambda: combine_groups_many([10, 0], [1.0, 2.0], [1.0, 1.0]), "n[1] = 0 is not"),
        (lambda: combine_groups_many([10, 5], [1.0, 2.0], [1.0]), "sd has 1 values but 2"),
        (lambda: combine_groups_many([], [], []), "n is empty"),
        (
            lambda: combine_groups_many([10, 5], [1.0, float("nan")], [1.0, 1.0]),
            "mean[1] = nan is not allowed",
        ),
        (lambda: combine_events(11, 10, 1, 5), "events1[0] = 11 is larger than n1[0] = 10"),
        (lambda: combine_events(1, 10, [1, 7], [5, 6]), "events2[1] = 7 is larger than n2[1]"),
        (lambda: combine_events(-1, 10, 1, 5), "events1[0] = -1 is not allowed"),
        (lambda: combine_events(1, 10, 1.5, 5), "events2[0] = 1.5 is not allowed"),
    ],
)
def test_combine_bad_input(call: object, message: str) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        call()  # type: ignore[operator]


_sample = st.lists(
    st.floats(-100, 100, allow_nan=False, allow_subnormal=False), min_size=1, max_size=30
)


@pytest.mark.slow
@given(x=_sample, y=_sample)
@MANY_EXAMPLES
def test_combine_groups_equals_pooled_raw_data(x: list[float], y: list[float]) -> None:
    if len(x) + len(y) < 2:
        return
    a, b = np.asarray(x), np.asarray(y)
    sd_a = float(np.std(a, ddof=1)) if a.size > 1 else 0.0
    sd_b = float(np.std(b, ddof=1)) if b.size > 1 else 0.0
    g = combine_groups(a.size, a.mean(), sd_a, b.size, b.mean(), sd_b)
    pooled = np.concatenate([a, b])
    assert g.n == pooled.size
    assert g.mean == pytest.approx(pooled.mean(), rel=RAW_DATA, abs=RAW_DATA)
    assert g.sd == pytest.approx(np.std(pooled, ddof=1), rel=RAW_DATA, abs=RAW_DATA)


@pytest.mark.slow
@given(groups=st.lists(_sample, min_size=1, max_size=6), data=st.data())
@MANY_EXAMPLES
def test_combine_groups_many_equals_pooled_raw_data_in_any_order(
    groups: list[list[float]], data: st.DataObject
) -> None:
    pooled = np.concatenate([np.asarray(g) for g in groups])
    if pooled.size < 2:
        return
    n = [len(g) for g in groups]
    mean = [float(np.mean(g)) for g in groups]
    sd = [float(np.std(g, ddof=1)) if len(g) > 1 else 0.0 for g in groups]
    res = combine_groups_many(n, mean, sd)
    assert res.mean == pytest.approx(pooled.mean(), rel=RAW_DATA, abs=RAW_DATA)
    assert res.sd == pytest.approx(np.std(pooled, ddof=1), rel=RAW_DATA, abs=RAW_DATA)
    order = data.draw(st.permutations(range(len(groups))))
    shuffled = combine_groups_many(
        [n[i] for i in order], [mean[i] for i in order], [sd[i] for i in order]
    )
    assert shuffled.sd == pytest.approx(res.sd, rel=RAW_DATA, abs=RAW_DATA)


# --------------------------------------------------------------------------- change scores


def test_cochrane_5_1_16_4_6_4_crossover_example() -> None:
    # Handbook 5.1.0 section 16.4.6.4: SDs 2.38 and 2.21, imputed Corr 0.68, n = 10:
    # "The numbers 0.5 and 0.583 may be entered into RevMan" (SE of the MD).
    sd_diff = change_sd(2.38, 2.21, 0.68)
    assert isinstance(sd_diff, float)
    assert sd_diff / math.sqrt(10) == pytest.approx(0.583, abs=HALF_UNIT_3DP)
    # by hand: sqrt(5.6644 + 4.8841 - 7.153328) = sqrt(3.395172) = 1.842599
    assert sd_diff == pytest.approx(math.sqrt(3.395172), rel=CLOSED_FORM)


def test_correlation_from_change_by_hand() -> None:
    # (6.4^2 + 7.1^2 - 4.5^2) / (2 x 6.4 x 7.1) = 71.12 / 90.88 = 0.782570...
    assert correlation_from_change(6.4, 7.1, 4.5) == pytest.approx(71.12 / 90.88, rel=1e-12)
    # (7.0^2 + 6.9^2 - 4.2^2) / (2 x 7.0 x 6.9) = 78.97 / 96.6 = 0.817494...
    assert correlation_from_change(7.0, 6.9, 4.2) == pytest.approx(78.97 / 96.6, rel=1e-12)


def test_change_sd_edges_and_alias() -> None:
    # r = 1 and equal SDs: no spread in the change; r = -1: SDs add; r = 0: Pythagoras
    assert change_sd(3.0, 3.0, 1.0) == 0.0
    assert change_sd(3.0, 4.0, -1.0) == pytest.approx(7.0, rel=CLOSED_FORM)
    assert change_sd(3.0, 4.0, 0.0) == pytest.approx(5.0, rel=CLOSED_FORM)
    assert sd_from_change is change_sd


@given(
    pre=st.floats(0.01, 100),
    post=st.floats(0.01, 100),
    r=st.floats(-0.999, 0.999),
)
@MANY_EXAMPLES
def test_change_sd_correlation_round_trip(pre: float, post: float, r: float) -> None:
    chg = change_sd(pre, post, r)
    assert correlation_from_change(pre, post, chg) == pytest.approx(r, abs=1e-8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: change_sd(1.0, 2.0, 1.5), "r[0] = 1.5 is not allowed; it must lie in [-1, 1]"),
        (lambda: change_sd([1.0, 1.0], 2.0, [0.5, -1.2]), "r[1] = -1.2 is not allowed"),
        (lambda: change_sd(-1.0, 2.0, 0.5), "sd_pre[0] = -1 is not allowed"),
        (lambda: change_sd(1.0, [2.0, -2.0], 0.5), "sd_post[1] = -2 is not allowed"),
        (
            lambda: correlation_from_change(1.0, 2.0, 3.5),
            "sd_change[0] = 3.5 is impossible with sd_pre[0] = 1 and sd_post[0] = 2",
        ),
        (lambda: correlation_from_change(1.0, 2.0, 0.5), "it must lie in [1, 3]"),
        (lambda: correlation_from_change(0.0, 2.0, 1.0), "sd_pre[0] = 0 is not allowed"),
        (lambda: correlation_from_change(1.0, 2.0, -1.0), "sd_change[0] = -1 is not allowed"),
    ],
)
def test_change_bad_input(call: object, message: str) -> None:
    with pytest.raises(MetaAnalysisError, match=_match(message)):
        call()  # type: ignore[operator]


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="sd"):
        se_from_sd(-1.0, 10)
