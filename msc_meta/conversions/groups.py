"""Merging arms: several groups' n, mean and SD, or events and n, into one.

Part of :mod:`msc_meta.conversions`, which re-exports every public name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._errors import MetaAnalysisError
from .._validation import (
    as_1d,
    check_counts,
    check_positive,
)
from ._common import (
    FloatArray,
    FloatOrArray,
    _check_whole_n,
    _fmt,
    _out,
    _prepare,
)


@dataclass(frozen=True, eq=False)
class CombinedGroup:
    """One arm made by merging several: total size, mean and SD.

    Attributes
    ----------
    n, mean, sd : float or numpy.ndarray
        Combined sample size, mean and standard deviation.
    """

    n: FloatOrArray
    mean: FloatOrArray
    sd: FloatOrArray


@dataclass(frozen=True, eq=False)
class CombinedEvents:
    """One dichotomous arm made by merging several: events and total size.

    Attributes
    ----------
    events, n : float or numpy.ndarray
        Combined number of events and of participants.
    """

    events: FloatOrArray
    n: FloatOrArray


def _check_arm(n_: FloatArray, sd_: FloatArray, n_name: str, sd_name: str) -> None:
    if np.isnan(n_).any():
        i = int(np.flatnonzero(np.isnan(n_))[0])
        raise MetaAnalysisError(f"{n_name}[{i}] is missing (NaN); group sizes are required")
    _check_whole_n(n_, n_name)
    check_positive(sd_, sd_name, strict=False)


def combine_groups(
    n1: ArrayLike,
    mean1: ArrayLike,
    sd1: ArrayLike,
    n2: ArrayLike,
    mean2: ArrayLike,
    sd2: ArrayLike,
) -> CombinedGroup:
    r"""Merge two arms (n, mean, SD) into one, as if their data were pooled.

    Use it to form a single intervention arm from two doses, or two subgroups
    reported separately, before comparing with a shared control.

    Parameters
    ----------
    n1 : array_like
        Size of the first arm (whole number >= 1).
    mean1 : array_like
        Mean of the first arm.
    sd1 : array_like
        SD of the first arm (>= 0).
    n2 : array_like
        Size of the second arm (whole number >= 1).
    mean2 : array_like
        Mean of the second arm.
    sd2 : array_like
        SD of the second arm (>= 0).

    Returns
    -------
    CombinedGroup
        ``n``, ``mean``, ``sd`` of the merged arm (floats for scalar input).

    Raises
    ------
    MetaAnalysisError
        If a size is not a whole number >= 1 or an SD is negative.

    See Also
    --------
    combine_groups_many : Several arms at once.
    combine_events : Dichotomous arms.

    Notes
    -----
    With :math:`N = n_1 + n_2` (Handbook Table 6.5.a),

    .. math::

        M = \frac{n_1 M_1 + n_2 M_2}{N}, \qquad
        SD = \sqrt{\frac{(n_1 - 1)SD_1^2 + (n_2 - 1)SD_2^2
             + \frac{n_1 n_2}{N}(M_1 - M_2)^2}{N - 1}}.

    This is exact: it equals the mean and SD (``ddof=1``) of the
    concatenated raw data. Two arms of one observation each give
    :math:`|M_1 - M_2|/\sqrt 2`.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6: Choosing effect
       measures and computing estimates of effect, section 6.5.2.10 and
       Table 6.5.a. In: Cochrane Handbook for Systematic Reviews of
       Interventions, version 6.4, 2023.

    Examples
    --------
    Two doses, 10 patients with mean 5 (SD 1) and 20 with mean 8 (SD 2):
    M = 210 / 30 = 7, SD = sqrt((9 + 76 + 60) / 29) = sqrt(5) = 2.2361:

    >>> g = combine_groups(10, 5.0, 1.0, 20, 8.0, 2.0)
    >>> g.n, g.mean, round(g.sd, 4)
    (30.0, 7.0, 2.2361)
    """
    arrays, scalar = _prepare(
        ("n1", n1), ("mean1", mean1), ("sd1", sd1), ("n2", n2), ("mean2", mean2), ("sd2", sd2)
    )
    a_n, a_m, a_s, b_n, b_m, b_s = arrays
    _check_arm(a_n, a_s, "n1", "sd1")
    _check_arm(b_n, b_s, "n2", "sd2")
    total = a_n + b_n
    mean = (a_n * a_m + b_n * b_m) / total
    ss = (a_n - 1.0) * a_s**2 + (b_n - 1.0) * b_s**2 + a_n * b_n / total * (a_m - b_m) ** 2
    sd = np.sqrt(ss / (total - 1.0))
    return CombinedGroup(n=_out(total, scalar), mean=_out(mean, scalar), sd=_out(sd, scalar))


def combine_groups_many(n: ArrayLike, mean: ArrayLike, sd: ArrayLike) -> CombinedGroup:
    r"""Merge any number of arms (n, mean, SD) into one.

    Parameters
    ----------
    n : array_like
        Size of each arm to merge (at least one arm; whole numbers >= 1).
    mean : array_like
        Mean of each arm.
    sd : array_like
        SD of each arm (>= 0).

    Returns
    -------
    CombinedGroup
        ``n``, ``mean`` and ``sd`` of the merged arm, as floats.

    Raises
    ------
    MetaAnalysisError
        If the arrays differ in length, are empty, contain NaN, a size is
        not a whole number >= 1 or an SD is negative.

    See Also
    --------
    combine_groups : The two-arm formula this generalises.

    Notes
    -----
    Folding :func:`combine_groups` pairwise over the arms gives the same
    result, in closed form:

    .. math::

        N = \sum_j n_j,\quad M = \frac{1}{N}\sum_j n_j M_j,\quad
        SD = \sqrt{\frac{\sum_j (n_j - 1)SD_j^2 + \sum_j n_j (M_j - M)^2}{N - 1}}

    (within-arm plus between-arm sums of squares). The result does not depend
    on the order of the arms. Typical use: a multi-dose trial whose dose arms
    are combined for comparison with its single placebo arm (Handbook
    23.3.4), rather than counting the placebo arm twice.

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6, section 6.5.2.10
       and Table 6.5.a. In: Cochrane Handbook for Systematic Reviews of
       Interventions, version 6.4, 2023.
    .. [2] Higgins JPT, Eldridge S, Li T (editors). Chapter 23, section 23.3.4
       (multi-arm studies). Ibid.

    Examples
    --------
    Three dose arms of a trial with one placebo arm. N = 45,
    M = (50 + 160 + 90) / 45 = 6.6667; within-arm SS = 9 + 76 + 31.5 = 116.5,
    between-arm SS = 27.778 + 35.556 + 6.667 = 70, SD = sqrt(186.5 / 44):

    >>> g = combine_groups_many(n=[10, 20, 15], mean=[5.0, 8.0, 6.0], sd=[1.0, 2.0, 1.5])
    >>> g.n, round(g.mean, 4), round(g.sd, 4)
    (45.0, 6.6667, 2.0588)
    """
    n_ = as_1d(n, "n")
    m_ = as_1d(mean, "mean", n=n_.shape[0], n_from="n")
    s_ = as_1d(sd, "sd", n=n_.shape[0], n_from="n")
    if n_.size == 0:
        raise MetaAnalysisError("n is empty; at least one arm is needed")
    for name, arr in (("n", n_), ("mean", m_), ("sd", s_)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(
                f"{name}[{i}] = {arr[i]} is not allowed; every arm needs a finite {name}"
            )
    _check_arm(n_, s_, "n", "sd")
    total = float(n_.sum())
    grand = float((n_ * m_).sum() / total)
    if total == 1.0:
        return CombinedGroup(n=total, mean=grand, sd=float(s_[0]))
    ss = float(((n_ - 1.0) * s_**2).sum() + (n_ * (m_ - grand) ** 2).sum())
    return CombinedGroup(n=total, mean=grand, sd=math.sqrt(ss / (total - 1.0)))


def combine_events(
    events1: ArrayLike, n1: ArrayLike, events2: ArrayLike, n2: ArrayLike
) -> CombinedEvents:
    r"""Merge two dichotomous arms (events out of n) into one.

    Parameters
    ----------
    events1 : array_like
        Events in the first arm (whole numbers, ``events1 <= n1``).
    n1 : array_like
        Size of the first arm (whole numbers).
    events2 : array_like
        Events in the second arm (whole numbers, ``events2 <= n2``).
    n2 : array_like
        Size of the second arm (whole numbers).

    Returns
    -------
    CombinedEvents
        ``events`` and ``n`` of the merged arm (floats for scalar input).

    Raises
    ------
    MetaAnalysisError
        If a count is not a whole number, a size is < 1 or events exceed the
        arm's size.

    See Also
    --------
    combine_groups : Continuous arms.

    Notes
    -----
    .. math:: e = e_1 + e_2, \qquad N = n_1 + n_2

    References
    ----------
    .. [1] Higgins JPT, Eldridge S, Li T (editors). Chapter 23, section
       23.3.4 (combine groups to create a single pair-wise comparison). In:
       Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
       2023.

    Examples
    --------
    >>> e = combine_events(3, 25, 5, 27)
    >>> e.events, e.n
    (8.0, 52.0)
    """
    arrays, scalar = _prepare(("events1", events1), ("n1", n1), ("events2", events2), ("n2", n2))
    e1, a_n, e2, b_n = arrays
    for name, arr in (("events1", e1), ("n1", a_n), ("events2", e2), ("n2", b_n)):
        if np.isnan(arr).any():
            i = int(np.flatnonzero(np.isnan(arr))[0])
            raise MetaAnalysisError(f"{name}[{i}] is missing (NaN); counts are required")
    check_counts(e1, "events1")
    check_counts(e2, "events2")
    _check_whole_n(a_n, "n1")
    _check_whole_n(b_n, "n2")
    for e, m, en, nn in ((e1, a_n, "events1", "n1"), (e2, b_n, "events2", "n2")):
        bad = np.flatnonzero(e > m)
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(
                f"{en}[{i}] = {_fmt(e[i])} is larger than {nn}[{i}] = {_fmt(m[i])}; "
                f"{en} must be <= {nn}"
            )
    return CombinedEvents(events=_out(e1 + e2, scalar), n=_out(a_n + b_n, scalar))
