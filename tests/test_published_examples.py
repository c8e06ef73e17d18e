"""Published examples reproduced, each named after its source.

The numbers are the printed (rounded) values of the source; the tolerance is
half a unit in the last printed digit. Page numbers of Viechtbauer (2010) are
those of J Stat Softw 36(3), whose text ships with metafor as
``vignettes/metafor.pdf``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm

#: The sources print 4 decimals (2 for I^2 and H^2): half a unit in the last digit.
PRINTED_4DP = 5e-5
PRINTED_2DP = 5e-3
PRINTED_3DP = 5e-4

#: Viechtbauer (2010) fitted REML with metafor's default stopping rule (change in tau^2
#: below 1e-5); msc_meta iterates to convergence. For the model with ablat and year the
#: quantities that depend on the last digits of tau^2 move by up to 3e-4: metafor 3.8-1
#: prints QM = 12.2043 with its default and 12.2045 with ``threshold = 1e-12``, as here.
STOPPING_RULE = 5e-4


def test_colditz1994_bcg_reml_viechtbauer2010_jss(bcg_rr: mm.EffectSizes) -> None:
    """Viechtbauer (2010) J Stat Softw 36(3), section 3.4, random-effects model (p. 14).

    Printed: tau^2 = 0.3132 (SE = 0.1664), I^2 = 92.22%, H^2 = 12.86,
    Q(df = 12) = 152.2330; estimate -0.7145, se 0.1798, z -3.9744,
    CI [-1.0669, -0.3622]; predict(transf=exp): RR 0.4894 [0.3441, 0.6962],
    PI [0.1546, 1.5490] (the PI as printed by metafor 3.8-1).
    """
    res = mm.meta_analysis(bcg_rr, method="REML")
    assert res.k == 13
    assert res.tau2 == pytest.approx(0.3132, abs=PRINTED_4DP)
    assert res.tau2_se == pytest.approx(0.1664, abs=PRINTED_4DP)
    assert res.i2 == pytest.approx(92.22, abs=PRINTED_2DP)
    assert res.h2 == pytest.approx(12.86, abs=PRINTED_2DP)
    assert res.q == pytest.approx(152.2330, abs=PRINTED_4DP)
    assert res.q_df == 12
    assert res.estimate == pytest.approx(-0.7145, abs=PRINTED_4DP)
    assert res.se == pytest.approx(0.1798, abs=PRINTED_4DP)
    assert res.statistic == pytest.approx(-3.9744, abs=PRINTED_4DP)
    assert (res.ci_low, res.ci_high) == pytest.approx((-1.0669, -0.3622), abs=PRINTED_4DP)
    back = res.transform(
        np.array([res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high])
    )
    assert back == pytest.approx([0.4894, 0.3441, 0.6962, 0.1546, 1.5490], abs=PRINTED_4DP)


def test_colditz1994_bcg_confint_viechtbauer2007(bcg_rr: mm.EffectSizes) -> None:
    """Q-profile interval for tau^2 on the BCG data, as metafor's confint() prints it.

    metafor 3.8-1 ``confint(rma(measure="RR", ..., data=dat.bcg))``:
    tau^2 0.3132 [0.1197, 1.1115], I^2 92.22% [81.92, 97.68], H^2 12.86 [5.53, 43.07].
    """
    res = mm.meta_analysis(bcg_rr, method="REML")
    assert res.tau2_ci == pytest.approx((0.1197, 1.1115), abs=PRINTED_4DP)
    assert res.i2_ci == pytest.approx((81.92, 97.68), abs=PRINTED_2DP)
    assert res.h2_ci == pytest.approx((5.53, 43.07), abs=PRINTED_2DP)


def test_colditz1994_bcg_dersimonian_laird_stata_metan(bcg_rr: mm.EffectSizes) -> None:
    """DerSimonian-Laird on the BCG log risk ratios.

    As printed by metafor 3.8-1 (``rma(..., method="DL")`` and
    ``predict(res, transf=exp)``): tau^2 = 0.3088 (SE = 0.2299), estimate
    -0.7141 (se 0.1787), pooled RR 0.4896 [0.3449, 0.6950], PI [0.1560, 1.5371],
    I^2 = 92.12%.
    """
    res = mm.meta_analysis(bcg_rr, method="DL")
    assert res.tau2 == pytest.approx(0.3088, abs=PRINTED_4DP)
    assert res.tau2_se == pytest.approx(0.2299, abs=PRINTED_4DP)
    assert (res.estimate, res.se) == pytest.approx((-0.7141, 0.1787), abs=PRINTED_4DP)
    back = res.transform(
        np.array([res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high])
    )
    assert back == pytest.approx([0.4896, 0.3449, 0.6950, 0.1560, 1.5371], abs=PRINTED_4DP)
    assert res.i2 == pytest.approx(92.12, abs=PRINTED_2DP)


def test_colditz1994_bcg_common_effect(bcg_rr: mm.EffectSizes) -> None:
    """Common-effect (inverse-variance) model on the BCG data.

    metafor ``rma(..., method="EE")``: estimate -0.4303 (se 0.0405),
    CI [-0.5097, -0.3509], I^2 = 92.12%, H^2 = 12.69.
    """
    res = mm.meta_analysis(bcg_rr, method="FE")
    assert res.method == "EE"
    assert res.estimate == pytest.approx(-0.4303, abs=PRINTED_4DP)
    assert res.se == pytest.approx(0.0405, abs=PRINTED_4DP)
    assert (res.ci_low, res.ci_high) == pytest.approx((-0.5097, -0.3509), abs=PRINTED_4DP)
    assert res.i2 == pytest.approx(92.12, abs=PRINTED_2DP)
    assert res.h2 == pytest.approx(12.69, abs=PRINTED_2DP)


# --------------------------------------------------------------------------- issue 9: the second half


def test_colditz1994_bcg_meta_regression_ablat_year_viechtbauer2010_jss(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    """Viechtbauer (2010), section 3.4, "Mixed-effects model" (p. 16), REML, z-tests.

    ``rma(yi, vi, mods = cbind(ablat, year), data = dat)``: tau^2 = 0.1108
    (SE = 0.0845); QE(df = 10) = 28.3251, p = 0.0016; QM(df = 2) = 12.2043,
    p = 0.0022; intercept -3.5455 (29.0959), ablat -0.0280 (0.0102, z -2.7371,
    p 0.0062, CI [-0.0481, -0.0080]), year 0.0019 (0.0147, z 0.1299, p 0.8966,
    CI [-0.0269, 0.0307]). The text: "(0.3132 - 0.1108)/0.3132 = 65% of the total
    amount of heterogeneity can be accounted for" (metafor's pseudo-R^2).
    """
    res = mm.meta_regression(bcg_rr, moderators="~ ablat + year", data=bcg, method="REML")
    assert list(res.terms) == ["intrcpt", "ablat", "year"]
    assert res.tau2 == pytest.approx(0.1108, abs=PRINTED_4DP)
    assert res.tau2_se == pytest.approx(0.0845, abs=PRINTED_4DP)
    assert (res.qe, res.qe_df) == pytest.approx((28.3251, 10), abs=PRINTED_4DP)
    assert res.qe_pvalue == pytest.approx(0.0016, abs=PRINTED_4DP)
    assert res.qm_df == 2
    assert res.qm == pytest.approx(12.2043, abs=STOPPING_RULE)
    assert res.qm_pvalue == pytest.approx(0.0022, abs=PRINTED_4DP)
    assert res.coef["intrcpt"] == pytest.approx(-3.5455, abs=STOPPING_RULE)
    assert res.se["intrcpt"] == pytest.approx(29.0959, abs=STOPPING_RULE)
    printed = {
        "ablat": (-0.0280, 0.0102, -2.7371, 0.0062, -0.0481, -0.0080),
        "year": (0.0019, 0.0147, 0.1299, 0.8966, -0.0269, 0.0307),
    }
    for term, row in printed.items():
        got = (
            res.coef[term],
            res.se[term],
            res.statistic[term],
            res.pvalue[term],
            res.ci_low[term],
            res.ci_high[term],
        )
        assert got == pytest.approx(row, abs=PRINTED_4DP), term
    assert round(res.r2) == 65


def test_colditz1994_bcg_predict_ablat_year_viechtbauer2010_jss(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    """Viechtbauer (2010), section 3.4, "Predicted/fitted values" (p. 17).

    ``predict(res, newmods = cbind(seq(10, 60, 10), 1970), transf = exp)`` for the
    model with ablat and year: relative risks with CI and credibility interval.
    """
    res = mm.meta_regression(bcg_rr, moderators="~ ablat + year", data=bcg)
    pred = res.predict(pd.DataFrame({"ablat": [10, 20, 30, 40, 50, 60], "year": 1970}))
    printed = [
        (0.9345, 0.5833, 1.4973, 0.4179, 2.0899),
        (0.7062, 0.5149, 0.9686, 0.3421, 1.4579),
        (0.5337, 0.4196, 0.6789, 0.2663, 1.0697),
        (0.4033, 0.2956, 0.5502, 0.1958, 0.8306),
        (0.3048, 0.1916, 0.4848, 0.1369, 0.6787),
        (0.2303, 0.1209, 0.4386, 0.0921, 0.5761),
    ]
    got = np.exp(pred[["pred", "ci_low", "ci_high", "pi_low", "pi_high"]].to_numpy())
    assert got == pytest.approx(np.array(printed), abs=PRINTED_4DP)


def test_colditz1994_bcg_categorical_allocation_viechtbauer2010_jss(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    """Viechtbauer (2010), section 3.4, "Categorical moderators" (pp. 18-19).

    ``mods = ~ factor(alloc) - 1``: random -0.9658 (0.2672), alternate -0.5180
    (0.4412), systematic -0.4289 (0.3449). With random allocation as reference
    (``mods = cbind(a.alternate, a.systematic)``): QM(df = 2) = 1.7675,
    p = 0.4132; intercept -0.9658 (0.2672), alternate 0.4478 (0.5158),
    systematic 0.5369 (0.4364).
    """
    sep = mm.meta_regression(bcg_rr, moderators="~ 0 + alloc", data=bcg)
    assert sep.coef[["allocrandom", "allocalternate", "allocsystematic"]].to_numpy() == (
        pytest.approx([-0.9658, -0.5180, -0.4289], abs=PRINTED_4DP)
    )
    assert sep.se[["allocrandom", "allocalternate", "allocsystematic"]].to_numpy() == (
        pytest.approx([0.2672, 0.4412, 0.3449], abs=PRINTED_4DP)
    )
    dummies = pd.DataFrame(
        {
            "a.alternate": (bcg["alloc"] == "alternate").astype(float),
            "a.systematic": (bcg["alloc"] == "systematic").astype(float),
        }
    )
    res = mm.meta_regression(bcg_rr, moderators=dummies)
    assert (res.qm, res.qm_pvalue) == pytest.approx((1.7675, 0.4132), abs=PRINTED_4DP)
    assert res.coef.to_numpy() == pytest.approx([-0.9658, 0.4478, 0.5369], abs=PRINTED_4DP)
    assert res.se.to_numpy() == pytest.approx([0.2672, 0.5158, 0.4364], abs=PRINTED_4DP)


def test_colditz1994_bcg_knapp_hartung_allocation_ablat_viechtbauer2010_jss(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    """Viechtbauer (2010), section 3.4, "Knapp and Hartung adjustment" (p. 20).

    ``rma(yi, vi, mods = ~ factor(alloc) + ablat, knha = TRUE)``: tau^2 = 0.1446
    (SE = 0.1124); QE(df = 9) = 26.2034, p = 0.0019; F(3, 9) = 3.4471,
    p = 0.0650; coefficients with t-tests on 9 df.
    """
    res = mm.meta_regression(bcg_rr, moderators="~ alloc + ablat", data=bcg, test="knha")
    assert (res.tau2, res.tau2_se) == pytest.approx((0.1446, 0.1124), abs=PRINTED_4DP)
    assert (res.qe, res.qe_pvalue) == pytest.approx((26.2034, 0.0019), abs=PRINTED_4DP)
    assert (res.qm_df, res.qm_df2) == (3, 9)
    assert (res.qm, res.qm_pvalue) == pytest.approx((3.4471, 0.0650), abs=PRINTED_4DP)
    printed = {
        "intrcpt": (0.2932, 0.4188, 0.7000, 0.5016, -0.6543, 1.2407),
        "allocrandom": (-0.2675, 0.3624, -0.7381, 0.4793, -1.0873, 0.5523),
        "allocsystematic": (0.0585, 0.3925, 0.1490, 0.8849, -0.8294, 0.9463),
        "ablat": (-0.0273, 0.0095, -2.8669, 0.0186, -0.0488, -0.0058),
    }
    for term, row in printed.items():
        got = (
            res.coef[term],
            res.se[term],
            res.statistic[term],
            res.pvalue[term],
            res.ci_low[term],
            res.ci_high[term],
        )
        assert got == pytest.approx(row, abs=PRINTED_4DP), term


def test_colditz1994_bcg_ablat_ml_likelihood_ratio_viechtbauer2010_jss(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    """Viechtbauer (2010), section 3.5, "Likelihood ratio tests" (p. 34), ML.

    ``anova(rma(yi, vi, mods = cbind(ablat), method = "ML"), rma(yi, vi,
    method = "ML"))``: full model QE = 30.7331, tau^2 = 0.0344; reduced model
    QE = 152.2330, tau^2 = 0.2800; VAF (the pseudo-R^2) = 87.73%.
    """
    full = mm.meta_regression(bcg_rr, moderators="~ ablat", data=bcg, method="ML")
    reduced = mm.meta_analysis(bcg_rr, method="ML")
    assert (full.qe, full.tau2) == pytest.approx((30.7331, 0.0344), abs=PRINTED_4DP)
    assert (reduced.q, reduced.tau2) == pytest.approx((152.2330, 0.2800), abs=PRINTED_4DP)
    assert full.r2 == pytest.approx(87.73, abs=PRINTED_2DP)


def test_colditz1994_bcg_leave1out_viechtbauer2010_jss(
    bcg_reml: mm.MetaAnalysisResult,
) -> None:
    """Viechtbauer (2010), section 3.5, "Case diagnostics" (p. 24).

    ``leave1out(rma(yi, vi, data = dat), transf = exp, digits = 3)``: per omitted
    study (in the order of the data) the relative risk, z, CI, Q, tau^2, I^2, H^2.
    """
    printed = np.array(
        [  # estimate, zval, ci.lb, ci.ub, Q, tau2, I2, H2
            (0.493, -3.722, 0.340, 0.716, 151.583, 0.336, 93.226, 14.762),
            (0.520, -3.620, 0.365, 0.741, 145.318, 0.293, 92.254, 12.910),
            (0.504, -3.692, 0.350, 0.725, 150.197, 0.321, 92.935, 14.155),
            (0.533, -3.558, 0.377, 0.754, 96.563, 0.263, 90.412, 10.430),
            (0.466, -3.984, 0.320, 0.678, 151.320, 0.328, 92.763, 13.819),
            (0.491, -3.550, 0.332, 0.727, 128.187, 0.360, 90.912, 11.003),
            (0.519, -3.631, 0.365, 0.740, 145.830, 0.293, 92.278, 12.950),
            (0.452, -4.418, 0.317, 0.643, 67.986, 0.273, 87.031, 7.711),
            (0.477, -3.769, 0.324, 0.701, 152.205, 0.349, 93.213, 14.735),
            (0.520, -3.544, 0.363, 0.747, 139.827, 0.299, 92.232, 12.874),
            (0.469, -3.871, 0.319, 0.688, 151.466, 0.340, 91.811, 12.211),
            (0.468, -4.173, 0.327, 0.668, 150.787, 0.308, 92.678, 13.658),
            (0.460, -4.191, 0.319, 0.661, 149.788, 0.304, 92.344, 13.062),
        ]
    )
    loo = bcg_reml.leave_one_out()
    got = np.column_stack(
        [
            np.exp(loo["estimate"]),
            loo["statistic"],
            np.exp(loo["ci_low"]),
            np.exp(loo["ci_high"]),
            loo[["q", "tau2", "i2", "h2"]].to_numpy(),
        ]
    )
    assert got == pytest.approx(printed, abs=PRINTED_3DP)


def test_colditz1994_bcg_cumul_by_year_viechtbauer2010_jss(
    bcg_reml: mm.MetaAnalysisResult, bcg: pd.DataFrame
) -> None:
    """Viechtbauer (2010), section 3.5, "Cumulative meta-analysis", Figure 9 (p. 33).

    ``forest(cumul(res, order = order(dat$year)), atransf = exp)``: the cumulative
    relative risk [95% CI] as printed beside each row, oldest trial first.
    """
    printed = [
        (0.41, 0.13, 1.26),
        (0.27, 0.13, 0.53),
        (0.38, 0.23, 0.61),
        (0.37, 0.24, 0.57),
        (0.33, 0.22, 0.49),
        (0.38, 0.26, 0.55),
        (0.41, 0.28, 0.59),
        (0.45, 0.31, 0.67),
        (0.42, 0.29, 0.62),
        (0.46, 0.32, 0.65),
        (0.49, 0.35, 0.70),
        (0.45, 0.32, 0.64),
        (0.49, 0.34, 0.70),
    ]
    cum = bcg_reml.cumulative(order=bcg["year"].to_numpy())
    assert cum.index[0] == "Aronson 1948" and cum.index[-1] == "TPT Madras 1980"
    got = np.exp(cum[["estimate", "ci_low", "ci_high"]].to_numpy())
    assert got == pytest.approx(np.array(printed), abs=PRINTED_2DP)


def test_colditz1994_bcg_egger_regtest_lm_viechtbauer2010_jss(
    bcg_reml: mm.MetaAnalysisResult,
) -> None:
    """Viechtbauer (2010), section 3.5, "Tests for funnel plot asymmetry" (p. 30).

    ``regtest(rma(yi, vi, data = dat), model = "lm")``, Egger's weighted
    regression with multiplicative dispersion on the standard error:
    t = -1.4013, df = 11, p = 0.1887.
    """
    eg = bcg_reml.egger_test(model="lm")
    assert (eg.statistic, eg.df, eg.pvalue) == pytest.approx(
        (-1.4013, 11, 0.1887), abs=PRINTED_4DP
    )


def test_colditz1994_bcg_ranktest_metafor_documentation(bcg_reml: mm.MetaAnalysisResult) -> None:
    """Begg's rank correlation test on the BCG data, metafor's ``ranktest`` help page.

    Not in Viechtbauer (2010), which prints no ``ranktest`` output; the example of
    metafor's reference manual (``ranktest(rma(yi, vi, data = dat))``, metafor
    3.8-1) prints Kendall's tau = 0.0256, p = 0.9524.
    """
    rt = bcg_reml.begg_test()
    assert (rt.tau, rt.pvalue) == pytest.approx((0.0256, 0.9524), abs=PRINTED_4DP)


def test_colditz1994_bcg_trimfill_viechtbauer2010_jss(bcg_rr: mm.EffectSizes) -> None:
    """Viechtbauer (2010), section 3.5, "Trim and fill method" (pp. 31-32).

    ``trimfill(rma(yi, vi, data = dat, method = "FE"))``: 4 studies estimated
    missing on the right side; fixed-effects model with k = 17,
    Q(df = 16) = 262.7316; estimate -0.2910 (se 0.0383, z -7.6057),
    CI [-0.3660, -0.2160].
    """
    tf = mm.meta_analysis(bcg_rr, method="EE").trim_and_fill()
    assert (tf.k0, tf.side, tf.estimator) == (4, "right", "L0")
    adj = tf.result
    assert (adj.k, adj.q_df) == (17, 16)
    assert adj.q == pytest.approx(262.7316, abs=PRINTED_4DP)
    got = (adj.estimate, adj.se, adj.statistic, adj.ci_low, adj.ci_high)
    assert got == pytest.approx((-0.2910, 0.0383, -7.6057, -0.3660, -0.2160), abs=PRINTED_4DP)


def test_colditz1994_bcg_subgroups_common_tau2_viechtbauer2010_jss(
    bcg_rr: mm.EffectSizes, bcg: pd.DataFrame
) -> None:
    """Viechtbauer (2010), section 3.4, "Categorical moderators" (pp. 18-19).

    Subgroups with a common tau^2 are the model ``mods = ~ factor(alloc) - 1``:
    random -0.9658 (0.2672), alternate -0.5180 (0.4412), systematic -0.4289
    (0.3449); the test of subgroup differences is its QM(df = 2) = 1.7675,
    p = 0.4132.
    """
    sub = mm.subgroup_analysis(bcg_rr, groups=bcg["alloc"], method="REML", common_tau2=True)
    frame = sub.to_frame().set_index("subgroup")
    got = frame.loc[["random", "alternate", "systematic"], ["estimate", "se"]].to_numpy()
    printed = [(-0.9658, 0.2672), (-0.5180, 0.4412), (-0.4289, 0.3449)]
    assert got == pytest.approx(np.array(printed), abs=PRINTED_4DP)
    assert sub.q_between_df == 2
    assert (sub.q_between, sub.q_between_pvalue) == pytest.approx(
        (1.7675, 0.4132), abs=PRINTED_4DP
    )
