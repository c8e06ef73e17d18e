"""Subgroup analysis: a meta-analysis per subgroup and a test for subgroup differences.

Each subgroup is pooled on its own (its own τ²), as RevMan and R's ``meta``
(``subgroup``, ``tau.common = FALSE``) do; the test for subgroup differences
is Cochran's Q across the subgroup estimates with weights 1/SE², metafor's
``rma(b, sei = se, method = "FE")`` on the subgroup estimates (Borenstein et
al. 2009, ch. 19; Deeks, Higgins & Altman, Cochrane Handbook 10.11.3.1).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from . import _format
from ._errors import BoundaryWarning, MetaAnalysisError
from ._validation import is_missing
from .heterogeneity import cochran_q
from .pooling import meta_analysis
from .results import (
    DISPLAY_MAX_ROWS,
    MetaAnalysisResult,
    Summary,
    _check_max_rows,
)


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """Result of :func:`subgroup_analysis`.

    Attributes
    ----------
    groups : dict of str to MetaAnalysisResult
        One meta-analysis per subgroup, in order of first appearance.
    overall : MetaAnalysisResult
        All studies pooled together.
    q_between : float
        Test for subgroup differences: Q across the subgroup estimates.
    q_between_df : int
        Its degrees of freedom (number of subgroups - 1).
    q_between_pvalue : float
        Its p-value (chi-squared with ``q_between_df`` degrees of freedom).
    group_of : tuple of str
        The subgroup of each study, in the order of ``overall.labels``.
    """

    groups: dict[str, MetaAnalysisResult]
    overall: MetaAnalysisResult
    q_between: float
    q_between_df: int
    q_between_pvalue: float
    group_of: tuple[str, ...] = field(repr=False)

    @property
    def i2_between(self) -> float:
        """I² of the test for subgroup differences (percent; Borenstein & Higgins 2013).

        NaN when the test is undefined (``q_between`` is NaN).
        """
        if math.isnan(self.q_between):
            return math.nan
        if self.q_between_df <= 0 or self.q_between <= 0:
            return 0.0
        return max(0.0, 100.0 * (self.q_between - self.q_between_df) / self.q_between)

    def __repr__(self) -> str:
        return (
            f"<SubgroupResult {len(self.groups)} subgroups, k={self.overall.k}: "
            f"Q_between={self.q_between:.4f} (df={self.q_between_df}, p={self.q_between_pvalue:.4g})>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup and one for all studies: k, estimate, CI, tau², I², Q."""
        rows = []
        for name, r in [*self.groups.items(), ("Overall", self.overall)]:
            rows.append(
                {
                    "subgroup": name,
                    "k": r.k,
                    "estimate": r.estimate,
                    "se": r.se,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "tau2": r.tau2,
                    "i2": r.i2,
                    "q": r.q,
                    "q_df": r.q_df,
                    "q_pvalue": r.q_pvalue,
                }
            )
        return pd.DataFrame(rows)

    def summary(self, digits: int = 4, *, max_rows: int | None = DISPLAY_MAX_ROWS) -> Summary:
        """Subgroup table and the test for subgroup differences.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.
        max_rows : int or None, default 30
            Most subgroup rows shown (the first and last ones, around a
            "… n more subgroups" row; ``None``: all); the overall row is always
            shown and :meth:`to_frame` is complete.
        """
        lines = (
            ("Subgroups", str(len(self.groups))),
            ("Studies (k)", str(self.overall.k)),
            ("Model", f"{self.overall.method} per subgroup, test {self.overall.test}"),
            (
                "Test for subgroup differences",
                f"Q = {_format.number(self.q_between, digits)}, df = {self.q_between_df}, "
                f"{_format.p_equals(self.q_between_pvalue, digits)}, "
                f"I^2 = {_format.number(self.i2_between, 1)}%",
            ),
        )
        return Summary(
            title="Subgroup analysis (msc_meta)",
            lines=lines,
            table=self.to_frame().round(digits).set_index("subgroup"),
            max_rows=_check_max_rows(max_rows),
            fixed_rows=1,
            row_noun="subgroups",
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def forest_plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Forest plot with a block per subgroup (see :func:`msc_meta.plots.forest_plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure by default.
        **kwargs
            Options of :func:`msc_meta.plots.forest_plot`.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        # lazy: plots load matplotlib, and plots import this module (statsmodels' convention)
        from .plots import forest_plot

        return forest_plot(self, ax=ax, **kwargs)


def subgroup_analysis(
    effect: ArrayLike | Any,
    variance: ArrayLike | None = None,
    groups: ArrayLike | Sequence[Any] | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    labels: Sequence[str] | ArrayLike | None = None,
    measure: str | None = None,
    se: ArrayLike | None = None,
) -> SubgroupResult:
    """Meta-analysis per subgroup, and the test for subgroup differences.

    Parameters
    ----------
    effect : array-like or EffectSizes
        Study effects on the analysis scale, or the output of
        :func:`~msc_meta.effect_sizes`, as for :func:`~msc_meta.meta_analysis`.
    variance : array-like, optional
        Sampling variances (> 0); alternatively give ``se``.
    groups : array-like, default None
        The subgroup of each study (any labels; missing values are an error).
        Required: the default only lets ``variance`` be left out before it, as
        in ``subgroup_analysis(es, groups=...)`` with an ``EffectSizes``.
    method : str, default "REML"
        τ² estimator, for each subgroup's and the overall
        :func:`~msc_meta.meta_analysis`.
    test : {"z", "t", "knha", "adhoc"}, default "z"
        Test of each pooled estimate.
    level : float, default 0.95
        Confidence level in (0, 1).
    labels : sequence of str, optional
        Study labels.
    measure : str, optional
        The effect-size measure (for display back-transformations).
    se : array-like, optional
        Standard errors, instead of ``variance``.

    Returns
    -------
    SubgroupResult
        One meta-analysis per subgroup, the overall one, and the test for
        subgroup differences.

    Raises
    ------
    MetaAnalysisError
        ``groups`` missing, of the wrong length, or with missing values.

    Warns
    -----
    BoundaryWarning
        The test for subgroup differences is undefined because a subgroup's
        estimate has standard error 0 (Hartung-Knapp with identical effects);
        ``q_between`` and its p-value are then NaN.

    Notes
    -----
    With subgroup estimates :math:`\\hat\\mu_g` and standard errors
    :math:`s_g`, :math:`Q_{between} = \\sum_g w_g(\\hat\\mu_g - \\bar\\mu)^2`
    with :math:`w_g = 1/s_g^2` and :math:`\\bar\\mu = \\sum w_g\\hat\\mu_g/\\sum w_g`,
    compared with :math:`\\chi^2_{G-1}`. Each subgroup has its own τ²
    (RevMan's and ``meta``'s default); metafor's mixed-effects model with a
    common τ² (``rma(yi, vi, mods = ~ factor(g))``) answers a different
    question. Subgroups of one study warn (:class:`~msc_meta.FewStudiesWarning`).
    Each subgroup's result is the overall result refitted on the subgroup's
    studies (:meth:`~msc_meta.MetaAnalysisResult.subset`), so it keeps the
    measure, the study sizes (the PFT back-transform needs them), the arm data
    and every option of the overall fit.

    References
    ----------
    .. [1] Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009).
       Introduction to Meta-Analysis, chapter 19. Wiley.
    .. [2] Deeks JJ, Higgins JPT, Altman DG (2023). Chapter 10, section
       10.11.3.1. Cochrane Handbook for Systematic Reviews of Interventions 6.4.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> sub = mm.subgroup_analysis(es, groups=bcg["alloc"])
    >>> sorted(sub.groups), sub.q_between_df
    (['alternate', 'random', 'systematic'], 2)
    """
    overall = meta_analysis(
        effect,
        variance,
        se=se,
        method=method,
        test=test,
        level=level,
        labels=labels,
        measure=measure,
    )
    if groups is None:
        raise MetaAnalysisError("groups is missing; give the subgroup of each study")
    g_all = [None if _is_missing(x) else str(x) for x in _as_list(groups)]
    spec = overall.spec
    assert spec is not None
    if len(g_all) != len(spec.labels):
        raise MetaAnalysisError(
            f"groups has {len(g_all)} values but there are {len(spec.labels)} studies; "
            "give one per study"
        )
    for i, g in enumerate(g_all):
        if g is None:
            raise MetaAnalysisError(f"groups[{i}] is missing; every study needs a subgroup")
    # the subgroup of each pooled study (studies with a missing effect or variance are left out)
    g_kept = [str(g_all[i]) for i in spec.kept]
    results: dict[str, MetaAnalysisResult] = {
        name: overall.subset([g == name for g in g_kept]) for name in dict.fromkeys(g_kept)
    }
    est = np.array([r.estimate for r in results.values()])
    se_g = np.array([r.se for r in results.values()])
    df = len(results) - 1
    zero_se = [name for name, r in results.items() if r.se == 0.0]
    if df == 0:
        qb, pb = 0.0, 1.0
    elif zero_se:
        # a subgroup estimate with SE 0 (Hartung-Knapp factor 0: identical effects) would get
        # an infinite weight; the test for subgroup differences is then undefined
        warnings.warn(
            "the test for subgroup differences is undefined: the estimate of subgroup(s) "
            f"{', '.join(map(repr, zero_se))} has standard error 0 (test={test!r}: its effects "
            "are identical, so the Hartung-Knapp factor is 0); q_between and its p-value are "
            "NaN. test='adhoc' floors the factor at 1.",
            BoundaryWarning,
            stacklevel=2,
        )
        qb, pb = math.nan, math.nan
    else:
        between = cochran_q(est, se_g**2)
        qb, pb = between.q, between.pvalue
    return SubgroupResult(
        groups=results,
        overall=overall,
        q_between=qb,
        q_between_df=df,
        q_between_pvalue=pb,
        group_of=tuple(g_kept),
    )


def _is_missing(x: Any) -> bool:
    """A missing subgroup: ``None``, NaN, pandas' ``NA``, or the strings ``"<NA>"`` and ``"nan"``.

    The strings are what missing values become when a column of subgroups was
    converted to text (``astype(str)``), so they are missing too.
    """
    return is_missing(x) or (isinstance(x, str) and x in ("<NA>", "nan"))


def _as_list(x: Any) -> list[Any]:
    return list(x.tolist()) if hasattr(x, "tolist") else list(x)
