"""Published examples reproduced, each named after its source.

The numbers are the printed (rounded) values of the source; the tolerance is
half a unit in the last printed digit.
"""

from __future__ import annotations

import numpy as np
import pytest

import msc_meta as mm

#: The sources print 4 decimals (2 for I^2 and H^2): half a unit in the last digit.
PRINTED_4DP = 5e-5
PRINTED_2DP = 5e-3


def test_colditz1994_bcg_reml_viechtbauer2010_jss(bcg_rr: mm.EffectSizes) -> None:
    """Viechtbauer (2010) J Stat Softw 36(3), section 3.2 (random-effects model, REML).

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
