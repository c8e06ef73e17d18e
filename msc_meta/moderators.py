"""Subgroup analysis: a meta-analysis per subgroup and a test for subgroup differences.

Each subgroup is pooled on its own (its own τ²), as RevMan and R's ``meta``
(``subgroup``, ``tau.common = FALSE``) do; the test for subgroup differences
is Cochran's Q across the subgroup estimates with weights 1/SE², metafor's
``rma(b, sei = se, method = "FE")`` on the subgroup estimates (Borenstein et
al. 2009, ch. 19; Deeks, Higgins & Altman, Cochrane Handbook 10.11.3.1).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from tqdm import tqdm

from . import _format, _metareg
from ._errors import BoundaryWarning, DroppedStudiesWarning, MetaAnalysisError
from ._inference import TESTS, canonical_test, critical_value
from ._validation import check_level, check_number, is_missing
from .heterogeneity import cochran_q
from .pooling import _prepare, _unpack, meta_analysis
from .results import (
    DISPLAY_MAX_ROWS,
    MetaAnalysisResult,
    Summary,
    _check_max_rows,
)
from .tau2 import Tau2Control, canonical_method

FloatArray = NDArray[np.float64]

#: Most design cells (arrangements x studies x terms) of the permutation test fitted in one
#: stacked call (:func:`msc_meta._metareg.wls_tests`): 2**18 doubles, 2 MiB per array.
PERMUTATION_BLOCK_CELLS = 1 << 18


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
    common_tau2_model : MetaRegressionResult or None
        With ``common_tau2=True``: the mixed-effects model with one
        coefficient per subgroup and a common τ² (metafor's
        ``mods = ~ 0 + factor(group)``), whose coefficients are the subgroup
        estimates of :meth:`to_frame`; ``None`` with separate τ².
    """

    groups: dict[str, MetaAnalysisResult]
    overall: MetaAnalysisResult
    q_between: float
    q_between_df: int
    q_between_pvalue: float
    group_of: tuple[str, ...] = field(repr=False)
    common_tau2_model: MetaRegressionResult | None = field(default=None, repr=False)

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

    def subtotal(self, name: str) -> MetaAnalysisResult:
        """The pooled result of subgroup ``name`` as the subgroup analysis estimates it.

        With separate τ² (the default) this is ``groups[name]``, the fit of the subgroup's
        studies. With a common τ² the estimate, SE, statistic, p-value, CI and prediction
        interval are those of :attr:`common_tau2_model` (metafor's ``predict`` of
        ``mods = ~ 0 + factor(group)`` at that subgroup) and τ² is the common one; k, Q,
        I², H² and the weights stay those within the subgroup. Forest plots draw these.

        Parameters
        ----------
        name : str
            A subgroup, a key of :attr:`groups`.

        Returns
        -------
        MetaAnalysisResult
            The subgroup's result.

        Raises
        ------
        MetaAnalysisError
            ``name`` is not a subgroup.
        """
        if name not in self.groups:
            raise MetaAnalysisError(
                f"name={name!r} is not a subgroup; subgroups: {', '.join(map(repr, self.groups))}"
            )
        own = self.groups[name]
        model = self.common_tau2_model
        if model is None or name not in model.coef.index:
            return own
        row = (np.asarray(model.terms) == name).astype(float)
        pred = model.predict_design(row).iloc[0]
        return dataclasses.replace(
            own,
            estimate=float(pred["pred"]),
            se=float(pred["se"]),
            ci_low=float(pred["ci_low"]),
            ci_high=float(pred["ci_high"]),
            pi_low=float(pred["pi_low"]),
            pi_high=float(pred["pi_high"]),
            statistic=float(model.statistic[name]),
            pvalue=float(model.pvalue[name]),
            tau2=model.tau2,
            notes=(*own.notes, "estimate with the tau^2 common to all subgroups"),
        )

    def __repr__(self) -> str:
        return (
            f"<SubgroupResult {len(self.groups)} subgroups, k={self.overall.k}: "
            f"Q_between={self.q_between:.4f} (df={self.q_between_df}, p={self.q_between_pvalue:.4g})>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup and one for all studies: k, estimate, CI, tau², I², Q.

        With a common τ² the subgroup estimates, their SE, CI and τ² come from
        :attr:`common_tau2_model`; I² and Q stay those within each subgroup.
        """
        rows = []
        for name, r in [*((g, self.subtotal(g)) for g in self.groups), ("Overall", self.overall)]:
            est, se, lo, hi, tau2 = r.estimate, r.se, r.ci_low, r.ci_high, r.tau2
            rows.append(
                {
                    "subgroup": name,
                    "k": r.k,
                    "estimate": est,
                    "se": se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "tau2": tau2,
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
        model = self.common_tau2_model
        q_name = "Q" if model is None or model.qm_df2 is None else "F"
        df_text = f"{self.q_between_df}" + (
            "" if model is None or model.qm_df2 is None else f", {model.qm_df2}"
        )
        lines = (
            ("Subgroups", str(len(self.groups))),
            ("Studies (k)", str(self.overall.k)),
            (
                "Model",
                f"{self.overall.method} per subgroup, test {self.overall.test}"
                if model is None
                else f"{self.overall.method}, common tau^2 across subgroups (mixed-effects "
                f"model), test {self.overall.test}",
            ),
            (
                "Test for subgroup differences",
                f"{q_name} = {_format.number(self.q_between, digits)}, df = {df_text}, "
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
    common_tau2: bool = False,
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
    common_tau2 : bool, default False
        ``False``: each subgroup has its own τ² (RevMan, ``meta``). ``True``:
        a common τ² across subgroups, the mixed-effects model of metafor's
        ``rma(yi, vi, mods = ~ factor(group))``; the subgroup estimates come
        from it (:attr:`SubgroupResult.common_tau2_model`) and the test for
        subgroup differences is its omnibus test :math:`Q_M` (an F statistic
        under the t-based tests).

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
    if zero_se and df > 0:
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
    else:  # one subgroup: cochran_q gives Q = 0, p = 1 (k = p)
        between = cochran_q(est, se_g**2)
        qb, pb = between.q, between.pvalue
    model = None
    if common_tau2:
        model, qb, pb = _common_tau2(overall, g_kept)
    return SubgroupResult(
        groups=results,
        overall=overall,
        q_between=qb,
        q_between_df=df,
        q_between_pvalue=pb,
        group_of=tuple(g_kept),
        common_tau2_model=model,
    )


def _common_tau2(
    overall: MetaAnalysisResult, g_kept: list[str]
) -> tuple[MetaRegressionResult, float, float]:
    """The subgroup model with a common τ², and its test for subgroup differences (QM)."""
    levels = list(dict.fromkeys(g_kept))
    g = np.array(g_kept)
    X0 = np.column_stack([(g == name).astype(float) for name in levels])
    design = _metareg.Design(
        X=X0, terms=tuple(levels), rows=np.arange(len(g_kept), dtype=np.intp), intercept=False
    )
    _metareg.check_design(X0, design.terms, intercept=False)
    y, v = np.asarray(overall.effect, dtype=float), np.asarray(overall.variance, dtype=float)
    spec = overall.spec
    opts = {} if spec is None else spec.options()
    control = Tau2Control(tol=opts.get("tol", 1e-10), max_iter=opts.get("max_iter", 1000))
    model = _result(
        y,
        v,
        X0,
        overall.labels,
        design,
        overall.method,
        overall.test,
        overall.level,
        control,
        stacklevel=4,
    )
    if len(levels) < 2:
        return model, 0.0, 1.0
    X1 = np.column_stack([np.ones(len(g_kept)), X0[:, 1:]])
    fit = _metareg.fit_design(
        y, v, X1, True, overall.method, overall.test, overall.level, control, with_r2=False
    )
    return model, fit.qm, fit.qm_pvalue


def _is_missing(x: Any) -> bool:
    """A missing subgroup: ``None``, NaN, pandas' ``NA``, or the strings ``"<NA>"`` and ``"nan"``.

    The strings are what missing values become when a column of subgroups was
    converted to text (``astype(str)``), so they are missing too.
    """
    return is_missing(x) or (isinstance(x, str) and x in ("<NA>", "nan"))


def _as_list(x: Any) -> list[Any]:
    return list(x.tolist()) if hasattr(x, "tolist") else list(x)


# --------------------------------------------------------------------------- meta-regression


@dataclass(frozen=True, eq=False)
class PermutationTestResult:
    """Result of :meth:`MetaRegressionResult.permutation_test`.

    Attributes
    ----------
    pvalue : pandas.Series
        Permutation p-value of each coefficient, named by term.
    qm_pvalue : float
        Permutation p-value of the omnibus test of the moderators.
    n : int
        Number of arrangements evaluated (the observed one included).
    exact : bool
        True when every distinct arrangement was evaluated.
    """

    pvalue: pd.Series
    qm_pvalue: float
    n: int
    exact: bool

    def __repr__(self) -> str:
        kind = "exact" if self.exact else "approximate"
        return f"<PermutationTestResult {kind}, {self.n} arrangements: QM p={self.qm_pvalue:.4g}>"

    def to_frame(self) -> pd.DataFrame:
        """The permutation p-value of each coefficient (one row per term).

        Returns
        -------
        DataFrame
            Columns ``term`` and ``pvalue``.
        """
        return pd.DataFrame({"term": list(self.pvalue.index), "pvalue": self.pvalue.to_numpy()})


@dataclass(frozen=True, eq=False)
class MetaRegressionResult:
    """Result of :func:`meta_regression` (metafor's ``rma(yi, vi, mods = ...)``).

    Attributes
    ----------
    coef, se, statistic, pvalue, ci_low, ci_high : pandas.Series
        Coefficients, their standard errors, test statistics (z, or t under
        ``t``/``knha``/``adhoc``), p-values and confidence limits, named by term
        as R's ``model.matrix`` names them (``intrcpt``, ``ablat``,
        ``allocrandom``).
    vcov : pandas.DataFrame
        Covariance matrix of the coefficients.
    qm, qm_df, qm_df2, qm_pvalue : float, int, int or None, float
        Omnibus test of the moderators (every coefficient but the intercept):
        chi-squared with ``qm_df`` df under ``z``; an F statistic with
        (``qm_df``, ``qm_df2``) df otherwise.
    qe, qe_df, qe_pvalue : float, int, float
        Test for residual heterogeneity.
    tau2, tau2_se : float
        Residual τ² and its standard error (NaN where metafor gives none).
    i2, h2 : float
        Residual I² (percent) and H².
    r2 : float
        Pseudo-R² (percent): τ² explained by the moderators (NaN without an
        intercept).
    k : int
        Number of studies.
    method, test : str
        τ² estimator and test.
    level : float
        Confidence level.
    labels : tuple of str
        Study labels.
    effect, variance : ndarray
        The effects and sampling variances fitted.
    design : pandas.DataFrame
        The design matrix (one row per study, one column per term).
    weights : ndarray
        Percentage weights :math:`100 w_i/\\sum w` with :math:`w_i = 1/(v_i + \\hat\\tau^2)`.
    iterations : int
        Iterations of the τ² estimator.
    converged : bool
        Whether it converged.
    control : Tau2Control
        Convergence options of the fit (kept for refits: the permutation test).
    _design : object
        How the design matrix was built (for :meth:`predict` with ``newmods``).
    """

    coef: pd.Series
    se: pd.Series
    statistic: pd.Series
    pvalue: pd.Series
    ci_low: pd.Series
    ci_high: pd.Series
    vcov: pd.DataFrame
    qm: float
    qm_df: int
    qm_df2: int | None
    qm_pvalue: float
    qe: float
    qe_df: int
    qe_pvalue: float
    tau2: float
    tau2_se: float
    i2: float
    h2: float
    r2: float
    k: int
    method: str
    test: str
    level: float
    labels: tuple[str, ...]
    effect: FloatArray = field(repr=False)
    variance: FloatArray = field(repr=False)
    design: pd.DataFrame = field(repr=False)
    weights: FloatArray = field(repr=False)
    iterations: int = 0
    converged: bool = True
    control: Tau2Control = field(default_factory=Tau2Control, repr=False)
    _design: _metareg.Design | None = field(default=None, repr=False)

    @property
    def terms(self) -> tuple[str, ...]:
        """The names of the coefficients."""
        return tuple(str(t) for t in self.coef.index)

    @property
    def intercept(self) -> bool:
        """Whether the model has an intercept (the omnibus test leaves it out)."""
        return self._design.intercept if self._design is not None else False

    def __repr__(self) -> str:
        return (
            f"<MetaRegressionResult k={self.k}, {len(self.coef)} coefficients, "
            f"method={self.method}, test={self.test}: QM={self.qm:.4f} "
            f"(p={self.qm_pvalue:.4g}), tau2={self.tau2:.4g}>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: estimate, SE, statistic, p-value and CI.

        Returns
        -------
        DataFrame
            Columns ``term``, ``coef``, ``se``, ``statistic``, ``pvalue``,
            ``ci_low`` and ``ci_high``.
        """
        return pd.DataFrame(
            {
                "term": list(self.terms),
                "coef": self.coef.to_numpy(),
                "se": self.se.to_numpy(),
                "statistic": self.statistic.to_numpy(),
                "pvalue": self.pvalue.to_numpy(),
                "ci_low": self.ci_low.to_numpy(),
                "ci_high": self.ci_high.to_numpy(),
            }
        )

    def summary(self, digits: int = 4) -> Summary:
        """The fit as metafor prints it: heterogeneity, the tests, the coefficient table.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.

        Returns
        -------
        Summary
            Printable (``print``) and shown as HTML in Jupyter.
        """
        uses_t = self.qm_df2 is not None
        stat = "t" if uses_t else "z"
        qm_text = (
            f"F({self.qm_df}, {self.qm_df2}) = {_format.number(self.qm, digits)}"
            if uses_t
            else f"QM(df = {self.qm_df}) = {_format.number(self.qm, digits)}"
        )
        tau2_text = _format.number(self.tau2, digits)
        if not math.isnan(self.tau2_se):
            tau2_text += f" (SE = {_format.number(self.tau2_se, digits)})"
        lines = [
            ("Studies (k)", str(self.k)),
            ("Model", f"mixed-effects, {self.method}, test {TESTS[self.test].label}"),
            ("Residual tau^2", tau2_text),
            ("Residual I^2", f"{_format.number(self.i2, 2)}%"),
            ("Residual H^2", _format.number(self.h2, digits)),
        ]
        if not math.isnan(self.r2):
            lines.append(("R^2 (heterogeneity explained)", f"{_format.number(self.r2, 2)}%"))
        lines += [
            (
                "Test for residual heterogeneity",
                f"QE(df = {self.qe_df}) = {_format.number(self.qe, digits)}, "
                f"{_format.p_equals(self.qe_pvalue, digits)}",
            ),
            (
                "Test of moderators",
                f"{qm_text}, {_format.p_equals(self.qm_pvalue, digits)}",
            ),
        ]
        table = self.to_frame().set_index("term").rename(columns={"statistic": stat})
        notes: tuple[str, ...] = ()
        if self.k < 10:
            notes = (f"k = {self.k}: few studies for a meta-regression; read it with caution.",)
        return Summary(
            title="Meta-regression (msc_meta)",
            lines=tuple(lines),
            table=table.round(digits),
            notes=notes,
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def predict(self, newmods: Any = None) -> pd.DataFrame:
        """Predicted effects at new moderator values, with confidence and prediction intervals.

        Parameters
        ----------
        newmods : DataFrame, dict or array-like, optional
            Values of the moderators (not the intercept): for a formula or
            DataFrame fit, columns named as the data's moderators (categorical
            ones by level, e.g. ``{"ablat": [20], "alloc": ["random"]}``); for
            an array fit, one column per moderator. ``None``: the fitted value
            of each study.

        Returns
        -------
        DataFrame
            Columns ``pred``, ``se``, ``ci_low``, ``ci_high``, ``pi_low`` and
            ``pi_high``, as metafor's ``predict.rma``.

        Raises
        ------
        MetaAnalysisError
            ``newmods`` lacks a moderator, or has the wrong number of columns.
        """
        if newmods is None:
            X = self.design.to_numpy(dtype=float)
        else:
            if self._design is None:
                raise MetaAnalysisError("this result cannot build the design of newmods")
            X = _metareg.new_design(self._design, newmods)
        return self.predict_design(X)

    def predict_design(self, X: ArrayLike) -> pd.DataFrame:
        """Predictions at rows of the design matrix (intercept column included).

        Parameters
        ----------
        X : array-like
            ``m x p`` rows of the design matrix, columns as :attr:`terms`.

        Returns
        -------
        DataFrame
            Columns ``pred``, ``se``, ``ci_low``, ``ci_high``, ``pi_low`` and
            ``pi_high``.

        Raises
        ------
        MetaAnalysisError
            ``X`` does not have one column per coefficient.
        """
        x = np.atleast_2d(np.asarray(X, dtype=float))
        if x.shape[1] != len(self.coef):
            raise MetaAnalysisError(
                f"X has {x.shape[1]} columns but the model has {len(self.coef)} coefficients "
                f"({', '.join(self.terms)})"
            )
        b = self.coef.to_numpy()
        vb = self.vcov.to_numpy()
        pred = x @ b
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, vb, x))
        crit = critical_value(self.level, self.qm_df2 if self.qm_df2 is not None else None)
        pi_half = crit * np.sqrt(se * se + self.tau2)
        return pd.DataFrame(
            {
                "pred": pred,
                "se": se,
                "ci_low": pred - crit * se,
                "ci_high": pred + crit * se,
                "pi_low": pred - pi_half,
                "pi_high": pred + pi_half,
            }
        )

    def permutation_test(
        self, n: int = 1000, rng: np.random.Generator | int | None = None
    ) -> PermutationTestResult:
        """Permutation test of each coefficient and of the moderators (metafor's ``permutest``).

        Parameters
        ----------
        n : int, default 1000
            Number of arrangements (the observed one included). When the rows
            of the design matrix have at most ``n`` distinct arrangements,
            every one of them is evaluated (an exact test).
        rng : numpy.random.Generator or int, optional
            Random generator, or a seed, for the random arrangements.

        Returns
        -------
        PermutationTestResult
            Permutation p-values of the coefficients and of the omnibus test.

        Raises
        ------
        MetaAnalysisError
            ``n`` is smaller than 2.

        Notes
        -----
        The rows of the design matrix are rearranged across the studies
        (equivalently, the effects are permuted jointly with their variances
        across the rows of moderators) and the model is refitted with the same
        method and test; the p-value of a coefficient is the proportion of
        arrangements whose statistic is at least as large in absolute value
        as the observed one, that of the moderators the proportion whose QM
        is at least the observed QM (both with metafor's tolerance
        :math:`\\sqrt{\\epsilon}`). A random test counts the observed
        arrangement as its first (Good 2000). Arrangements whose fit fails
        are left out. A progress bar appears when it takes more than 2 s.
        τ² of each arrangement is estimated as :func:`meta_regression` does (ML, REML
        and the closed forms stacked across the arrangements of a block; PM, EB and PMM
        one at a time); the coefficients and tests
        of a block come from one stacked weighted least-squares fit
        (:data:`PERMUTATION_BLOCK_CELLS` cells at a time).

        References
        ----------
        .. [1] Higgins JPT, Thompson SG (2004). Controlling the risk of spurious
           findings from meta-regression. Stat Med 23(11):1663-1682.
        .. [2] Viechtbauer W, López-López JA, Sánchez-Meca J, Marín-Martínez F
           (2015). A comparison of procedures to test for moderators in
           mixed-effects meta-regression models. Psychol Methods 20(3):360-374.

        Examples
        --------
        >>> import msc_meta as mm
        >>> res = mm.meta_regression([0.1, 0.5, 0.3, 0.9, 0.7], [0.05, 0.04, 0.06, 0.05, 0.04],
        ...                          [1, 3, 2, 5, 4], method="DL")
        >>> perm = res.permutation_test()
        >>> perm.exact, perm.n, round(perm.qm_pvalue, 4)
        (True, 120, 0.0167)
        """
        n = int(check_number(n, "n", integer=True, low=2, strict=False))
        design = self.design.to_numpy(dtype=float)
        y, v = self.effect, self.variance
        total = _metareg.n_distinct_permutations(design)
        exact = total <= n
        if exact:
            arrangements: Any = _metareg.distinct_permutations(design)
            count = total
        else:
            gen = np.random.default_rng(rng)
            k = self.k
            arrangements = (np.arange(k) if i == 0 else gen.permutation(k) for i in range(n))
            count = n
        stats = np.full((count, len(self.coef)), np.nan)
        qms = np.full(count, np.nan)
        block = max(1, PERMUTATION_BLOCK_CELLS // design.size)
        designs = np.empty((min(block, count), *design.shape))
        done = 0  # arrangements whose statistics are in stats and qms
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, rows in enumerate(tqdm(arrangements, total=count, delay=2.0, leave=False)):
                j = i - done
                designs[j] = design[rows]
                if j + 1 == designs.shape[0] or i + 1 == count:
                    taus = _metareg.estimate_designs(
                        y, v, self.method, designs[: j + 1], self.control
                    )
                    self._permutation_block(designs[: j + 1], taus, stats, qms, done)
                    done = i + 1
        tol = math.sqrt(np.finfo(float).eps)
        obs = np.abs(self.statistic.to_numpy())
        with np.errstate(invalid="ignore"):
            hits = np.abs(stats) >= obs - tol
            ok = ~np.isnan(stats)
            pvals = (hits & ok).sum(axis=0) / ok.sum(axis=0)
            qm_ok = ~np.isnan(qms)
            qm_p = float(((qms >= self.qm - tol) & qm_ok).sum() / qm_ok.sum())
        return PermutationTestResult(
            pvalue=pd.Series(np.minimum(pvals, 1.0), index=list(self.terms), name="pvalue"),
            qm_pvalue=qm_p,
            n=count,
            exact=exact,
        )

    def _permutation_block(
        self,
        designs: FloatArray,
        taus: FloatArray,
        stats: FloatArray,
        qms: FloatArray,
        start: int,
    ) -> None:
        """The statistics of arrangements ``start...`` (designs and their τ²) into ``stats``, ``qms``.

        One stacked fit of the block; an arrangement whose τ² or fit failed stays NaN (left
        out of the p-values, as a fit that raises).
        """
        ok = np.flatnonzero(~np.isnan(taus))
        fits: list[tuple[NDArray[np.intp], _metareg.WlsTests]] = []
        try:
            fits.append((ok, self._wls_tests(designs[ok], taus[ok])))
        except np.linalg.LinAlgError:  # one design did not fit: one by one, as the core
            for i in ok:
                try:
                    fits.append(
                        (np.array([i]), self._wls_tests(designs[i : i + 1], taus[i : i + 1]))
                    )
                except np.linalg.LinAlgError:
                    continue
        for rows, fit in fits:
            stats[start + rows] = fit.statistic
            qms[start + rows] = fit.qm

    def _wls_tests(self, designs: FloatArray, taus: FloatArray) -> _metareg.WlsTests:
        return _metareg.wls_tests(
            self.effect, self.variance, designs, taus, self.intercept, self.test
        )

    def regplot(self, mod: str | int | None = None, ax: Any = None, **kwargs: Any) -> Any:
        """Bubble plot of the effects against one moderator (see :func:`msc_meta.plots.regplot`).

        Parameters
        ----------
        mod : str or int, optional
            The term on the x axis; the only moderator by default.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure by default.
        **kwargs
            Options of :func:`msc_meta.plots.regplot`.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        # lazy: plots load matplotlib, and plots import this module (statsmodels' convention)
        from .plots import regplot

        return regplot(self, mod=mod, ax=ax, **kwargs)


def meta_regression(
    effect: ArrayLike | Any,
    variance: ArrayLike | None = None,
    moderators: Any = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    data: pd.DataFrame | None = None,
    labels: Sequence[str] | ArrayLike | None = None,
    se: ArrayLike | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> MetaRegressionResult:
    """Mixed-effects meta-regression: the effects on moderators, with residual heterogeneity.

    Parameters
    ----------
    effect : array-like or EffectSizes
        Study effects on the analysis scale, or the output of
        :func:`~msc_meta.effect_sizes` (then ``variance`` and labels are taken
        from it), as for :func:`~msc_meta.meta_analysis`.
    variance : array-like, optional
        Sampling variances (> 0); alternatively give ``se``.
    moderators : str, DataFrame, Series or array-like, default None
        A formula with ``data=`` (``"~ ablat + alloc"``; categorical columns
        get R's treatment coding, the first level in sorted order the
        reference; ``"~ 0 + alloc"`` removes the intercept), a DataFrame of
        moderators (numeric or categorical columns), or a 1-D or 2-D numeric
        array (terms ``x1``, ``x2``, ...). An intercept is added unless a
        formula removes it. Required.
    method : str, default "REML"
        τ² estimator: any of :data:`~msc_meta.TAU2_METHODS` (``"EE"`` for a
        fixed-effects meta-regression).
    test : {"z", "t", "knha", "adhoc"}, default "z"
        Tests of the coefficients and of the moderators.
    level : float, default 0.95
        Confidence level in (0, 1).
    data : DataFrame, optional
        The columns a formula names (one row per study).
    labels : sequence of str, optional
        Study labels.
    se : array-like, optional
        Standard errors, instead of ``variance``.
    tol : float, default 1e-10
        Relative convergence threshold of the iterative τ² estimators.
    max_iter : int, default 1000
        Their maximum number of iterations.

    Returns
    -------
    MetaRegressionResult
        Coefficients with their tests, the omnibus test of the moderators,
        residual heterogeneity and the pseudo-R².

    Raises
    ------
    MetaAnalysisError
        Missing moderators; a formula without ``data``; a constant or
        redundant moderator (named); k not larger than the number of
        coefficients; the errors of :func:`~msc_meta.meta_analysis`.

    Warns
    -----
    DroppedStudiesWarning
        Studies with a missing effect, variance or moderator were left out.
    ConvergenceWarning
        The τ² estimator did not converge.

    Notes
    -----
    The model is :math:`y_i = x_i'\\beta + u_i + e_i` with
    :math:`u_i \\sim N(0, \\tau^2)` and :math:`e_i \\sim N(0, v_i)`. With
    :math:`W = \\operatorname{diag}(1/(v_i + \\hat\\tau^2))`,
    :math:`\\hat\\beta = (X'WX)^{-1}X'Wy` and
    :math:`\\operatorname{Var}(\\hat\\beta) = (X'WX)^{-1}`, multiplied under
    ``knha`` by :math:`s^2 = \\sum w_i(y_i - x_i'\\hat\\beta)^2/(k-p)` (by
    :math:`\\max(1, s^2)` under ``adhoc``), with t-tests on k - p df. The
    omnibus test of the moderators is
    :math:`Q_M = \\hat\\beta_m'\\operatorname{Var}(\\hat\\beta_m)^{-1}\\hat\\beta_m`
    (chi-squared), divided by m under the t-based tests (F on m and k - p df).
    Residual heterogeneity: :math:`Q_E` with weights :math:`1/v_i`,
    :math:`I^2 = 100\\hat\\tau^2/(\\tilde v + \\hat\\tau^2)` with
    :math:`\\tilde v = (k-p)/\\operatorname{tr}(P)`. The pseudo-R² is
    :math:`\\max(0, 100(\\hat\\tau^2_0 - \\hat\\tau^2)/\\hat\\tau^2_0)`, with
    :math:`\\hat\\tau^2_0` of the intercept-only model fitted with the same
    method (Raudenbush 2009); for ``EE`` the adjusted R² of the weighted
    regression. This is metafor's ``rma(yi, vi, mods = ...)``.

    References
    ----------
    .. [1] Thompson SG, Higgins JPT (2002). How should meta-regression
       analyses be undertaken and interpreted? Stat Med 21(11):1559-1573.
    .. [2] Viechtbauer W (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3):1-48.
    .. [3] Raudenbush SW (2009). Analyzing effect sizes: random-effects
       models. In: The Handbook of Research Synthesis and Meta-Analysis, 2nd
       ed., 295-315. Russell Sage Foundation.

    Examples
    --------
    BCG vaccine trials: log risk ratios on absolute latitude, the example of metafor's
    README and ``regplot`` help page (intercept 0.2515, slope -0.0291; metafor prints
    R² = 75.62% at its default convergence threshold, 75.63% at 1e-12):

    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> res = mm.meta_regression(es, moderators="~ ablat", data=bcg)
    >>> res.coef.round(4).tolist(), round(res.tau2, 4), round(res.r2, 2)
    ([0.2515, -0.0291], 0.0763, 75.63)
    """
    method_code = canonical_method(method)
    test_code = canonical_test(test)
    level = check_level(level)
    tol = check_number(tol, "tol", low=0.0)
    max_iter = int(check_number(max_iter, "max_iter", integer=True, low=1, strict=False))
    if moderators is None:
        raise MetaAnalysisError(
            "moderators is missing; give a formula with data=, a DataFrame or an array"
        )
    effect, variance, se, _measure, (labels, _n, _inputs) = _unpack(
        effect, variance, se, labels, None
    )
    y_all, v_all, lab_all, keep = _prepare(effect, variance, se, labels)
    k_all = int(y_all.shape[0])
    design = _metareg.build_design(moderators, data, k_all)
    has_mods = np.zeros(k_all, dtype=bool)
    has_mods[design.rows] = True
    use = keep & has_mods
    dropped = [lab_all[i] for i in np.flatnonzero(~use)]
    if dropped:
        warnings.warn(
            f"dropped {len(dropped)} {'study' if len(dropped) == 1 else 'studies'} with a "
            f"missing (NaN) effect, variance or moderator: {_format.listing([repr(d) for d in dropped])}",
            DroppedStudiesWarning,
            stacklevel=2,
        )
    X = design.X[keep[design.rows]]
    rows = design.rows[keep[design.rows]]
    y, v = y_all[rows], v_all[rows]
    lab = tuple(lab_all[i] for i in rows)
    _metareg.check_design(X, design.terms, design.intercept)
    control = Tau2Control(tol=tol, max_iter=max_iter)
    return _result(y, v, X, lab, design, method_code, test_code, level, control, stacklevel=3)


def _result(
    y: FloatArray,
    v: FloatArray,
    X: FloatArray,
    lab: tuple[str, ...],
    design: _metareg.Design,
    method: str,
    test: str,
    level: float,
    control: Tau2Control,
    *,
    stacklevel: int,
) -> MetaRegressionResult:
    """Fit a checked design and wrap it in a :class:`MetaRegressionResult`."""
    fit = _metareg.fit_design(y, v, X, design.intercept, method, test, level, control)
    for category, message in fit.messages:
        warnings.warn(message, category, stacklevel=stacklevel)
    terms = list(design.terms)
    k, p = X.shape

    def series(values: FloatArray, name: str) -> pd.Series:
        return pd.Series(values, index=terms, name=name)

    return MetaRegressionResult(
        coef=series(fit.coef, "coef"),
        se=series(fit.se, "se"),
        statistic=series(fit.statistic, "statistic"),
        pvalue=series(fit.pvalue, "pvalue"),
        ci_low=series(fit.ci_low, "ci_low"),
        ci_high=series(fit.ci_high, "ci_high"),
        vcov=pd.DataFrame(fit.vcov, index=terms, columns=terms),
        qm=fit.qm,
        qm_df=fit.qm_df,
        qm_df2=fit.df_resid,
        qm_pvalue=fit.qm_pvalue,
        qe=fit.qe,
        qe_df=k - p,
        qe_pvalue=fit.qe_pvalue,
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        i2=fit.i2,
        h2=fit.h2,
        r2=fit.r2,
        k=k,
        method=method,
        test=test,
        level=level,
        labels=lab,
        effect=y,
        variance=v,
        design=pd.DataFrame(X, index=list(lab), columns=terms),
        weights=fit.weights,
        iterations=fit.iterations,
        converged=fit.converged,
        control=control,
        _design=design,
    )
