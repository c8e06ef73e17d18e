"""Change from baseline: the SD of the change, and the correlation it implies.

Part of :mod:`msc_meta.conversions`, which re-exports every public name.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._errors import MetaAnalysisError
from .._validation import (
    check_positive,
    check_range,
)
from ._common import (
    FloatOrArray,
    _fmt,
    _out,
    _prepare,
)


def change_sd(sd_pre: ArrayLike, sd_post: ArrayLike, r: ArrayLike) -> FloatOrArray:
    r"""SD of the change from baseline, from the baseline and final SDs.

    Parameters
    ----------
    sd_pre : array_like
        SD at baseline (>= 0).
    sd_post : array_like
        SD at follow-up (>= 0).
    r : array_like
        Correlation between baseline and follow-up values, in [-1, 1];
        usually imputed from another study, so try several values in a
        sensitivity analysis.

    Returns
    -------
    float or numpy.ndarray
        SD of the within-person change.

    Raises
    ------
    MetaAnalysisError
        If an SD is negative or ``r`` lies outside [-1, 1].

    See Also
    --------
    correlation_from_change : The inverse, to impute ``r``.
    sd_from_change : Alias of this function.

    Notes
    -----
    .. math::

        SD_{\text{change}} = \sqrt{SD_{\text{pre}}^2 + SD_{\text{post}}^2
            - 2r\,SD_{\text{pre}}SD_{\text{post}}}

    The same formula gives the SD of within-person differences in a
    cross-over trial (Handbook 5.1, section 16.4.6.3).

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.8. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.
    .. [2] Higgins JPT, Green S (editors). Cochrane Handbook for Systematic
       Reviews of Interventions, version 5.1.0, 2011, section 16.4.6.4
       (worked example).

    Examples
    --------
    The Handbook 5.1 cross-over example: SDs 2.38 and 2.21, imputed
    correlation 0.68, n = 10. SD of the differences 1.843, SE of the mean
    difference 1.843 / sqrt(10) = 0.583:

    >>> round(change_sd(2.38, 2.21, 0.68), 3)
    1.843
    """
    (pre, post, r_), scalar = _prepare(("sd_pre", sd_pre), ("sd_post", sd_post), ("r", r))
    check_positive(pre, "sd_pre", strict=False)
    check_positive(post, "sd_post", strict=False)
    check_range(r_, "r", -1.0, 1.0)
    var = pre**2 + post**2 - 2.0 * r_ * pre * post
    return _out(np.sqrt(np.maximum(var, 0.0)), scalar)


sd_from_change = change_sd


def correlation_from_change(
    sd_pre: ArrayLike, sd_post: ArrayLike, sd_change: ArrayLike
) -> FloatOrArray:
    r"""Correlation between baseline and follow-up implied by three SDs.

    Use a study that reports all three SDs to impute the correlation for
    studies that report only baseline and final SDs (see :func:`change_sd`).

    Parameters
    ----------
    sd_pre : array_like
        SD at baseline (> 0).
    sd_post : array_like
        SD at follow-up (> 0).
    sd_change : array_like
        SD of the change from baseline (>= 0).

    Returns
    -------
    float or numpy.ndarray
        The implied correlation, in [-1, 1].

    Raises
    ------
    MetaAnalysisError
        If an SD is not positive, or the three SDs are impossible together
        (``sd_change`` outside ``[|sd_pre - sd_post|, sd_pre + sd_post]``,
        which would put the correlation outside [-1, 1]).

    See Also
    --------
    change_sd : The inverse.

    Notes
    -----
    .. math::

        r = \frac{SD_{\text{pre}}^2 + SD_{\text{post}}^2 - SD_{\text{change}}^2}
                 {2\,SD_{\text{pre}}SD_{\text{post}}}

    Values within 1e-12 of ±1 (rounding of the reported SDs) are clipped.
    A correlation below 0.5 means a final-value analysis is more precise
    than a change-score analysis (Handbook 6.5.2.8).

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.8. In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    Baseline SD 6.4, final SD 7.1, SD of change 4.5:
    r = (40.96 + 50.41 - 20.25) / (2 × 6.4 × 7.1) = 71.12 / 90.88 = 0.78.

    >>> round(correlation_from_change(6.4, 7.1, 4.5), 4)
    0.7826
    """
    arrays, scalar = _prepare(("sd_pre", sd_pre), ("sd_post", sd_post), ("sd_change", sd_change))
    pre, post, chg = arrays
    check_positive(pre, "sd_pre")
    check_positive(post, "sd_post")
    check_positive(chg, "sd_change", strict=False)
    r = (pre**2 + post**2 - chg**2) / (2.0 * pre * post)
    tol = 1e-12
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(np.abs(r) > 1.0 + tol)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"sd_change[{i}] = {_fmt(chg[i])} is impossible with sd_pre[{i}] = "
            f"{_fmt(pre[i])} and sd_post[{i}] = {_fmt(post[i])}: it must lie in "
            f"[{_fmt(abs(pre[i] - post[i]))}, {_fmt(pre[i] + post[i])}] (the implied "
            f"correlation {_fmt(r[i])} is outside [-1, 1]); check the three SDs"
        )
    return _out(np.clip(r, -1.0, 1.0), scalar)
