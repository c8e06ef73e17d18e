"""Frozen result objects with text and HTML summaries.

Results keep full precision; rounding happens only on display (``digits``).
Ratio measures stay on the log scale in every field; :meth:`transform`
gives the display scale, as metafor's ``transf`` argument does. Every pooled
result keeps its fit specification (``spec``, a :class:`FitSpec`) and can be
fitted again on some of its studies (``subset``) or with other options
(``refit``); see :mod:`msc_meta._refit`.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from . import _format
from ._errors import MetaAnalysisError
from ._inference import TESTS, critical_value
from ._refit import REFIT_OPTIONS as REFIT_OPTIONS
from ._refit import FitSpec as FitSpec
from ._refit import _Refittable
from .effects import back_transform, measure_of

if TYPE_CHECKING:  # pragma: no cover
    from .bias import RankTest, RegressionTest, TrimAndFill

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- summary


#: Most study rows that ``summary()`` and the HTML display show; beyond it, the first and
#: last rows are shown with a "… n more studies" row (as pandas truncates long frames).
#: ``summary(max_rows=None)`` shows every row; ``to_frame()`` is always complete.
DISPLAY_MAX_ROWS = 30

#: How a result of one study is described, everywhere it is displayed (summaries,
#: ``to_frame()``, forest plots, the report): nothing is pooled, and there is no
#: prediction interval and no heterogeneity.
SINGLE_STUDY = "Single study (nothing pooled)"

#: What a summary says for quantities that need two or more studies (PI, τ², I², Q).
NOT_APPLICABLE_K1 = "not applicable (k = 1)"

#: The words for a study left out for missing values (``not_estimable``), in place of its
#: effect, in forest plots and the report (RevMan's words).
NOT_ESTIMABLE = "not estimable"


@dataclass(frozen=True)
class Summary:
    """A printable summary: a title, labelled lines, an optional table and notes.

    ``str(summary)`` gives plain text; in Jupyter ``_repr_html_`` renders tables.
    A table longer than ``max_rows`` (not counting its last ``fixed_rows``
    rows, the pooled rows, which are always shown) is shown as its first and
    last rows around a "… n more studies" row; ``table`` itself stays complete.

    Attributes
    ----------
    title : str
        First line.
    lines : tuple of (str, str)
        Labelled lines (label, value) under the title.
    table : pandas.DataFrame or None
        The table, already formatted for display.
    notes : tuple of str
        Lines printed under the table.
    max_rows : int or None
        Most table rows shown besides the last ``fixed_rows`` (``None``: all).
    fixed_rows : int
        Number of last rows (the pooled rows) always shown.
    row_noun : str
        What the rows are, for the "… n more studies" row.
    """

    title: str
    lines: tuple[tuple[str, str], ...]
    table: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    max_rows: int | None = None
    fixed_rows: int = 0
    row_noun: str = "studies"

    def _shown(self) -> tuple[pd.DataFrame, int, int]:
        """The rows to show, where the omission row goes, and how many rows it stands for."""
        table = self.table
        assert table is not None
        n_body = len(table) - self.fixed_rows
        if self.max_rows is None or n_body <= self.max_rows:
            return table, 0, 0
        head = (self.max_rows + 1) // 2
        tail = self.max_rows - head
        body = table.iloc[:n_body]
        parts = [body.iloc[:head], body.iloc[n_body - tail : n_body], table.iloc[n_body:]]
        return pd.concat(parts), head, n_body - self.max_rows

    def _omitted_text(self, n: int) -> str:
        return f"… {n:,} more {self.row_noun}"

    def __str__(self) -> str:
        width = max((len(k) for k, _ in self.lines), default=0)
        out = [self.title, "=" * len(self.title)]
        out += [f"{k.ljust(width)} : {v}" for k, v in self.lines]
        if self.table is not None:
            shown, at, omitted = self._shown()
            text = shown.to_string().splitlines()
            if omitted:
                header = len(text) - len(shown)
                text.insert(header + at, self._omitted_text(omitted))
            out += ["", *text]
        if self.notes:
            out += [""] + [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self.lines
        )
        parts = [f"<h4>{html.escape(self.title)}</h4>", f"<table>{rows}</table>"]
        if self.table is not None:
            shown, at, omitted = self._shown()
            table_html = shown.to_html(border=0)
            if omitted:
                head, sep, body = table_html.partition("<tbody>")
                rows_html = body.split("<tr>")
                span = shown.shape[1] + shown.index.nlevels
                gap = (
                    f"\n      <td colspan='{span}' style='text-align:left'>"
                    f"{html.escape(self._omitted_text(omitted))}</td>\n    </tr>\n    "
                )
                rows_html.insert(at + 1, gap)
                table_html = head + sep + "<tr>".join(rows_html)
            parts.append(table_html)
        parts += [f"<p><em>Note:</em> {html.escape(n)}</p>" for n in self.notes]
        return "<div class='msc-meta-summary'>" + "".join(parts) + "</div>"


def _check_max_rows(max_rows: int | None) -> int | None:
    if max_rows is None:
        return None
    if isinstance(max_rows, bool) or not isinstance(max_rows, int | np.integer) or max_rows < 1:
        raise MetaAnalysisError(
            f"max_rows={max_rows!r} must be a positive whole number, or None to show every row"
        )
    return int(max_rows)


def _names_text(names: Sequence[str], limit: int = 10) -> str:
    """``"3: A, B, C"``, the first ``limit`` names and how many more."""
    shown = ", ".join(map(str, names[:limit]))
    more = f", … {len(names) - limit:,} more" if len(names) > limit else ""
    return f"{len(names)}: {shown}{more}"


# --------------------------------------------------------------------------- transforms


def _back_transformed(
    measure: str | None, transform: Callable[[Any], Any], values: Sequence[float], digits: int
) -> list[tuple[str, str]]:
    """The summary row of the estimate and CI on the display scale, if the measure has one."""
    info = measure_of(measure)
    if info is None or info.back is None:
        return []
    est, lo, hi = (float(transform(x)) for x in values)
    shown = f"{_format.number(est, digits)} {_format.interval(lo, hi, digits)}"
    return [(f"Back-transformed ({info.display_name})", shown)]


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated; use {new}, which holds the same values",
        DeprecationWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------- results


class _Plottable:
    """Plot methods shared by the pooled-result classes (matplotlib loads on first use)."""

    def forest_plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Forest plot of the studies and the pooled estimate.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure by default.
        **kwargs
            Options of :func:`msc_meta.plots.forest_plot`.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes of the graph.
        """
        # lazy: plots load matplotlib, and plots import this module (statsmodels' convention)
        from .plots import forest_plot

        return forest_plot(cast(Any, self), ax=ax, **kwargs)

    def funnel_plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Contour-enhanced funnel plot (see :func:`msc_meta.plots.funnel_plot`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure by default.
        **kwargs
            Options of :func:`msc_meta.plots.funnel_plot`.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        # lazy: plots load matplotlib, and plots import this module (statsmodels' convention)
        from .plots import funnel_plot

        return funnel_plot(cast(Any, self), ax=ax, **kwargs)


# --------------------------------------------------------------------------- sensitivity (issue 9)


class _Sensitivity:
    """Leave-one-out and cumulative refits, shared by the pooled-result classes."""

    def leave_one_out(self) -> pd.DataFrame:
        """The meta-analysis refitted without each study in turn (metafor's ``leave1out``).

        Returns
        -------
        pandas.DataFrame
            One row per omitted study; see :func:`msc_meta.sensitivity.leave_one_out`.
        """
        # lazy: sensitivity refits through this module's results (a layer above it)
        from .sensitivity import _leave_one_out_frame

        return _leave_one_out_frame(cast(Any, self), stacklevel=3)

    def cumulative(self, order: Any = None) -> pd.DataFrame:
        """Cumulative meta-analysis, studies added one at a time (metafor's ``cumul``).

        Parameters
        ----------
        order : str or array_like, optional
            ``None`` (as given), ``"precision"``, a column of ``study_data``, sort
            keys or labels; see :func:`msc_meta.sensitivity.cumulative`.

        Returns
        -------
        pandas.DataFrame
            One row per added study.
        """
        # lazy: sensitivity refits through this module's results (a layer above it)
        from .sensitivity import cumulative

        return cumulative(cast(Any, self), order)


class _SensitivityWithInfluence(_Sensitivity):
    """:class:`_Sensitivity` and influence diagnostics (inverse-variance results)."""

    def influence(self) -> Any:
        """Influence diagnostics of each study (metafor's ``influence.rma.uni``).

        Returns
        -------
        InfluenceResult
            See :func:`msc_meta.sensitivity.influence`.
        """
        # lazy: sensitivity refits through this module's results (a layer above it)
        from .sensitivity import _influence

        return _influence(cast(Any, self), stacklevel=3)


@dataclass(frozen=True, eq=False)
class MetaAnalysisResult(_Plottable, _Refittable, _SensitivityWithInfluence):
    """Result of :func:`msc_meta.meta_analysis` (metafor's ``rma.uni``).

    All effects are on the analysis scale (log for ratio measures). ``i2`` is in
    percent. ``weights`` are percentages summing to 100. ``study_data`` holds
    the per-study arguments of :func:`~msc_meta.effect_sizes` (arm data) for
    the pooled studies, when the input was an ``EffectSizes``.
    ``not_estimable`` holds the labels of the studies left out because their
    effect or variance was missing (RevMan's "not estimable" rows).

    Attributes
    ----------
    estimate : float
        Pooled estimate (analysis scale).
    se : float
        Its standard error.
    ci_low : float
        Lower confidence limit of the pooled estimate.
    ci_high : float
        Upper confidence limit.
    statistic : float
        Test statistic of the pooled estimate (z, or t for the ``t``, ``knha``
        and ``adhoc`` tests).
    pvalue : float
        Its two-sided p-value.
    df : float or None
        Degrees of freedom of the t test (k - 1); ``None`` for the z test.
    tau2 : float
        Estimate of τ², the between-study variance (0 for ``EE``).
    tau2_se : float or None
        Its standard error, as metafor reports it (``None`` where metafor
        gives none).
    tau2_ci : (float, float)
        Q-profile confidence interval for τ².
    i2 : float
        I², percent.
    i2_ci : (float, float)
        Its confidence interval (from ``tau2_ci``).
    h2 : float
        H².
    h2_ci : (float, float)
        Its confidence interval (from ``tau2_ci``).
    q : float
        Cochran's Q.
    q_df : int
        Its degrees of freedom (k - 1).
    q_pvalue : float
        Its p-value.
    pi_low : float
        Lower limit of the prediction interval.
    pi_high : float
        Upper limit of the prediction interval.
    k : int
        Number of studies pooled.
    method : str
        τ² estimator (``"EE"`` for the common-effect model).
    test : str
        Test of the pooled estimate: ``"z"``, ``"t"``, ``"knha"`` or
        ``"adhoc"``.
    level : float
        Confidence level.
    measure : str or None
        The effect-size measure, when known (for back-transformations).
    effect : numpy.ndarray
        Effects of the pooled studies (analysis scale).
    variance : numpy.ndarray
        Their sampling variances.
    weights : numpy.ndarray
        Their weights in the pooled estimate, percent (summing to 100).
    labels : tuple of str
        Their labels.
    iterations : int
        Iterations of the τ² estimator (0 for closed-form ones).
    converged : bool
        Whether the τ² estimator converged.
    ce_estimate : float
        Common-effect estimate, computed beside a random-effects one.
    ce_se : float
        Its standard error.
    ce_ci_low : float
        Lower limit of its confidence interval (normal).
    ce_ci_high : float
        Upper limit of its confidence interval.
    notes : tuple of str
        Remarks on the fit, shown by :meth:`summary`.
    n_total : numpy.ndarray or None
        Study sizes of the pooled studies, kept for the back-transformation
        of ``PFT`` (``n_per_study`` before; that name still reads it, with a
        ``DeprecationWarning``).
    study_data : pandas.DataFrame or None
        Arm data of the pooled studies (see above).
    not_estimable : tuple of str
        Labels of the studies left out for missing values.
    spec : FitSpec or None
        What the result was fitted from and how (see :meth:`subset` and
        :meth:`refit`).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    pvalue: float
    df: float | None
    tau2: float
    tau2_se: float | None
    tau2_ci: tuple[float, float]
    i2: float
    i2_ci: tuple[float, float]
    h2: float
    h2_ci: tuple[float, float]
    q: float
    q_df: int
    q_pvalue: float
    pi_low: float
    pi_high: float
    k: int
    method: str
    test: str
    level: float
    measure: str | None
    effect: FloatArray = field(repr=False)
    variance: FloatArray = field(repr=False)
    weights: FloatArray = field(repr=False)
    labels: tuple[str, ...] = field(repr=False)
    iterations: int = 0
    converged: bool = True
    ce_estimate: float = float("nan")
    ce_se: float = float("nan")
    ce_ci_low: float = float("nan")
    ce_ci_high: float = float("nan")
    notes: tuple[str, ...] = ()
    n_total: FloatArray | None = field(default=None, repr=False)
    study_data: pd.DataFrame | None = field(default=None, repr=False)
    not_estimable: tuple[str, ...] = field(default=(), repr=False)
    spec: FitSpec | None = field(default=None, repr=False, compare=False)

    @property
    def n_per_study(self) -> FloatArray | None:
        """Deprecated name of :attr:`n_total`."""
        _deprecated("MetaAnalysisResult.n_per_study", "n_total")
        return self.n_total

    @property
    def tau(self) -> float:
        """Square root of ``tau2``."""
        return float(np.sqrt(self.tau2))

    @property
    def tau_ci(self) -> tuple[float, float]:
        """Q-profile interval for tau (square roots of ``tau2_ci``)."""
        lo, hi = self.tau2_ci
        return (float(np.sqrt(lo)), float(np.sqrt(hi)))

    @property
    def is_random(self) -> bool:
        """True for a random-effects model (method other than EE)."""
        return self.method != "EE"

    def __repr__(self) -> str:
        model = "common-effect" if not self.is_random else f"random-effects ({self.method})"
        return (
            f"<MetaAnalysisResult {model}, k={self.k}: estimate={self.estimate:.4f} "
            f"[{self.ci_low:.4f}, {self.ci_high:.4f}], p={self.pvalue:.4g}, "
            f"tau2={self.tau2:.4f}, I2={self.i2:.1f}%>"
        )

    def transform(self, x: Any) -> Any:
        """Back-transform values on the analysis scale to the display scale.

        Parameters
        ----------
        x : float or array_like
            Values on the analysis scale (e.g. ``self.estimate``).

        Returns
        -------
        float or numpy.ndarray
            The values on the display scale (see
            :func:`msc_meta.effects.back_transform`).
        """
        return back_transform(self.measure, x, n=self.n_total)

    def summary(self, digits: int = 4, *, max_rows: int | None = DISPLAY_MAX_ROWS) -> Summary:
        """A metafor-like summary with the pooled estimate, heterogeneity and tests.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.
        max_rows : int or None, default 30
            Most study rows shown in the table (the first and last ones, around
            a "… n more studies" row); ``None`` shows every study. The pooled
            rows are always shown; :meth:`to_frame` is always complete.

        Notes
        -----
        A single study (k = 1) is shown as :data:`SINGLE_STUDY`: nothing is
        pooled, and the prediction interval and the heterogeneity statistics
        are "not applicable (k = 1)".
        """
        max_rows = _check_max_rows(max_rows)
        lvl = f"{100 * self.level:g}%"
        one = self.k == 1
        if one:
            model = SINGLE_STUDY
        elif not self.is_random:
            model = "Common-effect model"
        else:
            model = f"Random-effects model (tau^2 estimator: {self.method})"
        stat_name = "z" if self.df is None else f"t(df={self.df:g})"
        lines: list[tuple[str, str]] = [
            ("Model", model),
            ("Studies (k)", str(self.k)),
            ("Measure", self.measure or "generic effect"),
            ("Test", TESTS[self.test].label),
            ("Estimate", _format.number(self.estimate, digits)),
            ("SE", _format.number(self.se, digits)),
            (
                f"{lvl} CI",
                f"{_format.interval(self.ci_low, self.ci_high, digits)}",
            ),
            (stat_name, _format.number(self.statistic, digits)),
            ("p-value", _format.pvalue(self.pvalue, digits)),
        ]
        if one:
            lines.append((f"{lvl} PI", NOT_APPLICABLE_K1))
        elif self.is_random:
            lines.append(
                (
                    f"{lvl} PI",
                    f"{_format.interval(self.pi_low, self.pi_high, digits)}",
                )
            )
        lines += _back_transformed(
            self.measure, self.transform, (self.estimate, self.ci_low, self.ci_high), digits
        )
        lines += [
            (
                "tau^2",
                f"{_format.number(self.tau2, digits)} {_format.interval(self.tau2_ci[0], self.tau2_ci[1], digits)}",
            ),
            (
                "tau",
                f"{_format.number(self.tau, digits)} {_format.interval(self.tau_ci[0], self.tau_ci[1], digits)}",
            ),
            (
                "I^2",
                f"{_format.number(self.i2, 2)}% [{_format.number(self.i2_ci[0], 2)}%, {_format.number(self.i2_ci[1], 2)}%]",
            ),
            (
                "H^2",
                f"{_format.number(self.h2, digits)} {_format.interval(self.h2_ci[0], self.h2_ci[1], digits)}",
            ),
            (
                "Q",
                f"{_format.number(self.q, digits)} (df = {self.q_df}, {_format.p_equals(self.q_pvalue, digits)})",
            ),
        ]
        if one:
            heterogeneity = {"tau^2", "tau", "I^2", "H^2", "Q"}
            lines = [(k, NOT_APPLICABLE_K1 if k in heterogeneity else v) for k, v in lines]
        if self.not_estimable:
            lines.append(("Not estimable (missing values)", _names_text(self.not_estimable)))
        frame = self.to_frame()
        return Summary(
            title="Meta-analysis (msc_meta)",
            lines=tuple(lines),
            table=frame.round(digits).set_index("study"),
            notes=self.notes,
            max_rows=max_rows,
            fixed_rows=int((frame["kind"] != "study").sum()),
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_frame(self) -> pd.DataFrame:
        """Per-study rows (effect, SE, CI, weight %) followed by the pooled rows.

        Columns: ``study, effect, se, ci_low, ci_high, weight, kind`` with ``kind``
        one of ``"study"``, ``"pooled"`` and (random-effects models with k ≥ 2)
        ``"prediction"`` for the prediction interval. Study intervals are Wald
        intervals on the analysis scale. With k = 1 the pooled row is the
        study itself, labelled :data:`SINGLE_STUDY`, and there is no
        prediction row.
        """
        rows = study_rows(self.labels, self.effect, self.variance, self.weights, self.level)
        if self.k == 1:
            pooled_label = SINGLE_STUDY
        else:
            pooled_label = "RE model" if self.is_random else "EE model"
        extra = [
            {
                "study": pooled_label,
                "effect": self.estimate,
                "se": self.se,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "weight": 100.0,
                "kind": "pooled",
            }
        ]
        if self.is_random and self.k >= 2:
            extra.append(
                {
                    "study": "Prediction interval",
                    "effect": self.estimate,
                    "se": np.nan,
                    "ci_low": self.pi_low,
                    "ci_high": self.pi_high,
                    "weight": np.nan,
                    "kind": "prediction",
                }
            )
        return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)

    # ------------------------------------------- small-study effects and publication bias
    # (msc_meta.bias, layer 6: imported inside the methods, like the plot methods)

    def egger_test(
        self, predictor: str = "sei", model: str = "rma", *, n: Any = None
    ) -> RegressionTest:
        """Regression test for funnel-plot asymmetry (see :func:`msc_meta.bias.egger_test`).

        Parameters
        ----------
        predictor : {"sei", "vi", "ninv", "sqrtninv"}, default "sei"
            The regressor (``ninv``/``sqrtninv``: Peters' test, needs sample sizes).
        model : {"rma", "lm"}, default "rma"
            Mixed-effects meta-regression with this fit's method and test, or
            Egger's weighted regression.
        n : array-like, optional
            Study sizes for ``ninv``/``sqrtninv``; ``n_total`` by default.

        Returns
        -------
        RegressionTest
            The test and the limit estimate (PET, or PEESE with ``vi``).
        """
        # lazy: bias (layer 6) imports this module
        from .bias import _egger

        return _egger(self, predictor, model, n, stacklevel=2)

    def begg_test(self) -> RankTest:
        """Rank correlation test for funnel-plot asymmetry (see :func:`msc_meta.bias.begg_test`).

        Returns
        -------
        RankTest
            Kendall's τ and its p-value.
        """
        # lazy: bias (layer 6) imports this module
        from .bias import _begg

        return _begg(self, stacklevel=2)

    def trim_and_fill(
        self, estimator: str = "L0", side: str | None = None, *, max_iter: int = 100
    ) -> TrimAndFill:
        """Trim-and-fill analysis (see :func:`msc_meta.bias.trim_and_fill`).

        Parameters
        ----------
        estimator : {"L0", "R0", "Q0"}, default "L0"
            Estimator of the number of missing studies.
        side : {"left", "right"}, optional
            Side of the missing studies; estimated by default.
        max_iter : int, default 100
            Largest number of iterations.

        Returns
        -------
        TrimAndFill
            k0, the filled studies and the adjusted result.
        """
        # lazy: bias (layer 6) imports this module
        from .bias import _trim_and_fill

        return _trim_and_fill(self, estimator, side, max_iter, stacklevel=2)

    # ------------------------------------------------------------- GOSH (issue 10, gosh)

    def gosh(
        self, subsets: int | None = None, rng: Any = None, *, progress: bool | None = None
    ) -> Any:
        """Fit the model on every subset of the studies (see :func:`msc_meta.gosh.gosh`).

        Parameters
        ----------
        subsets : int, optional
            Largest number of subsets: all 2^k − 1 up to this many (by default up to
            k = 16), a random sample of this many beyond.
        rng : numpy.random.Generator or int, optional
            Random generator or seed for sampled subsets.
        progress : bool, optional
            Show a progress bar (by default for long runs).

        Returns
        -------
        GoshResult
            Q, I², H², τ², the estimate and k of every subset, and the inclusion matrix.
        """
        # lazy: gosh (layer 6) fits through the batch engine, which imports this module
        from .gosh import gosh

        return gosh(self, subsets, rng, progress=progress)


@dataclass(frozen=True, eq=False)
class BinaryPooledResult(_Plottable, _Refittable, _Sensitivity):
    """Result of :func:`msc_meta.mantel_haenszel` and :func:`msc_meta.peto`.

    As metafor's ``rma.mh`` and ``rma.peto``: a common-effect estimate on the
    analysis scale (log for OR and RR), with Cochran's Q, I² (percent) and H²
    computed from the study-level effects. For the MH odds ratio the
    Cochran-Mantel-Haenszel test, and Tarone's and the Breslow-Day tests of
    homogeneity (``tarone_df``: tables with both events and non-events, minus
    1) are also given. ``not_estimable`` holds the labels of the studies left
    out because a count was missing.

    Attributes
    ----------
    estimate : float
        Pooled estimate (analysis scale).
    se : float
        Its standard error.
    ci_low : float
        Lower confidence limit of the pooled estimate.
    ci_high : float
        Upper confidence limit.
    statistic : float
        Test statistic of the pooled estimate (z, or t for the ``t``, ``knha``
        and ``adhoc`` tests).
    pvalue : float
        Its two-sided p-value.
    q : float
        Cochran's Q of the study-level effects.
    q_df : int
        Its degrees of freedom.
    q_pvalue : float
        Its p-value.
    i2 : float
        I², percent.
    h2 : float
        H².
    k : int
        Number of studies.
    measure : str
        ``"OR"``, ``"RR"``, ``"RD"`` (Mantel-Haenszel) or ``"PETO"``.
    method : str
        ``"MH"`` or ``"Peto"``.
    level : float
        Confidence level.
    effect : numpy.ndarray
        Study-level effects (analysis scale).
    variance : numpy.ndarray
        Their sampling variances.
    weights : numpy.ndarray
        Weights of the studies, percent (summing to 100).
    labels : tuple of str
        Study labels.
    cmh : float or None
        Cochran-Mantel-Haenszel test statistic (MH odds ratio only).
    cmh_pvalue : float or None
        Its p-value.
    tarone : float or None
        Tarone's test of homogeneity (MH odds ratio only).
    tarone_pvalue : float or None
        Its p-value.
    tarone_df : int or None
        Its degrees of freedom.
    breslow_day : float or None
        Breslow-Day test of homogeneity (MH odds ratio only).
    breslow_day_pvalue : float or None
        Its p-value.
    notes : tuple of str
        Remarks on the fit, shown by :meth:`summary`.
    study_data : pandas.DataFrame or None
        Arm data of the studies (for forest plots).
    not_estimable : tuple of str
        Labels of the studies left out for missing counts.
    n_total : numpy.ndarray or None
        Study sizes (``n_t + n_c``).
    spec : FitSpec or None
        What the result was fitted from and how (see :meth:`subset` and
        :meth:`refit`).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    pvalue: float
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    h2: float
    k: int
    measure: str
    method: str
    level: float
    effect: FloatArray = field(repr=False)
    variance: FloatArray = field(repr=False)
    weights: FloatArray = field(repr=False)
    labels: tuple[str, ...] = field(repr=False)
    cmh: float | None = None
    cmh_pvalue: float | None = None
    tarone: float | None = None
    tarone_pvalue: float | None = None
    tarone_df: int | None = None
    breslow_day: float | None = None
    breslow_day_pvalue: float | None = None
    notes: tuple[str, ...] = ()
    study_data: pd.DataFrame | None = field(default=None, repr=False)
    not_estimable: tuple[str, ...] = field(default=(), repr=False)
    n_total: FloatArray | None = field(default=None, repr=False)
    spec: FitSpec | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"<BinaryPooledResult {self.method} {self.measure}, k={self.k}: "
            f"estimate={self.estimate:.4f} [{self.ci_low:.4f}, {self.ci_high:.4f}], "
            f"p={self.pvalue:.4g}, I2={self.i2:.1f}%>"
        )

    def transform(self, x: Any) -> Any:
        """Back-transform values on the analysis scale to the display scale.

        Parameters
        ----------
        x : float or array_like
            Values on the analysis scale (e.g. ``self.estimate``).

        Returns
        -------
        float or numpy.ndarray
            The values on the display scale (exponentiated for OR, RR and
            PETO).
        """
        return back_transform(self.measure, x)

    def summary(self, digits: int = 4, *, max_rows: int | None = DISPLAY_MAX_ROWS) -> Summary:
        """A metafor-like summary of the pooled estimate and heterogeneity.

        A single study is described as in :meth:`MetaAnalysisResult.summary`.

        Parameters
        ----------
        digits : int, default 4
            Decimals shown.
        max_rows : int or None, default 30
            Most study rows shown (``None``: all), as for
            :meth:`MetaAnalysisResult.summary`.
        """
        max_rows = _check_max_rows(max_rows)
        lvl = f"{100 * self.level:g}%"
        one = self.k == 1
        lines: list[tuple[str, str]] = [
            ("Model", SINGLE_STUDY if one else f"Common-effect model ({self.method})"),
            ("Studies (k)", str(self.k)),
            ("Measure", self.measure),
            ("Estimate", _format.number(self.estimate, digits)),
            ("SE", _format.number(self.se, digits)),
            (
                f"{lvl} CI",
                f"{_format.interval(self.ci_low, self.ci_high, digits)}",
            ),
            ("z", _format.number(self.statistic, digits)),
            ("p-value", _format.pvalue(self.pvalue, digits)),
        ]
        lines += _back_transformed(
            self.measure, self.transform, (self.estimate, self.ci_low, self.ci_high), digits
        )
        lines += [
            ("I^2", f"{_format.number(self.i2, 2)}%"),
            ("H^2", _format.number(self.h2, digits)),
            (
                "Q",
                f"{_format.number(self.q, digits)} (df = {self.q_df}, {_format.p_equals(self.q_pvalue, digits)})",
            ),
        ]
        if self.cmh is not None and self.cmh_pvalue is not None:
            lines.append(
                (
                    "CMH test",
                    f"{_format.number(self.cmh, digits)} (df = 1, {_format.p_equals(self.cmh_pvalue, digits)})",
                )
            )
        if self.tarone is not None and self.tarone_pvalue is not None:
            lines.append(
                (
                    "Tarone's test",
                    f"{_format.number(self.tarone, digits)} "
                    f"(df = {self.tarone_df}, {_format.p_equals(self.tarone_pvalue, digits)})",
                )
            )
        if self.breslow_day is not None and self.breslow_day_pvalue is not None:
            lines.append(
                (
                    "Breslow-Day test",
                    f"{_format.number(self.breslow_day, digits)} "
                    f"(df = {self.tarone_df}, {_format.p_equals(self.breslow_day_pvalue, digits)})",
                )
            )
        if one:
            lines = [(k, NOT_APPLICABLE_K1 if k in ("I^2", "H^2", "Q") else v) for k, v in lines]
        if self.not_estimable:
            lines.append(("Not estimable (missing values)", _names_text(self.not_estimable)))
        frame = self.to_frame()
        return Summary(
            title=f"{self.method} meta-analysis (msc_meta)",
            lines=tuple(lines),
            table=frame.round(digits).set_index("study"),
            notes=self.notes,
            max_rows=max_rows,
            fixed_rows=int((frame["kind"] != "study").sum()),
        )

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_frame(self) -> pd.DataFrame:
        """Per-study rows (effect, SE, CI, weight %) followed by the pooled row.

        With k = 1 the pooled row is the study itself, labelled :data:`SINGLE_STUDY`.
        """
        rows = study_rows(self.labels, self.effect, self.variance, self.weights, self.level)
        pooled = pd.DataFrame(
            [
                {
                    "study": SINGLE_STUDY if self.k == 1 else f"{self.method} model",
                    "effect": self.estimate,
                    "se": self.se,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "weight": 100.0,
                    "kind": "pooled",
                }
            ]
        )
        return pd.concat([rows, pooled], ignore_index=True)


def study_rows(
    labels: Sequence[str],
    effect: FloatArray,
    variance: FloatArray,
    weights: FloatArray,
    level: float,
) -> pd.DataFrame:
    """Per-study rows with Wald confidence intervals and weights (percent).

    Parameters
    ----------
    labels : sequence of str
        Study labels.
    effect : numpy.ndarray
        Study effects.
    variance : numpy.ndarray
        Their sampling variances.
    weights : numpy.ndarray
        Their weights, percent.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Columns ``study``, ``effect``, ``se``, ``ci_low``, ``ci_high``,
        ``weight`` and ``kind`` (``"study"``).
    """
    zc = critical_value(level)
    se = np.sqrt(variance)
    return pd.DataFrame(
        {
            "study": list(labels),
            "effect": effect,
            "se": se,
            "ci_low": effect - zc * se,
            "ci_high": effect + zc * se,
            "weight": weights,
            "kind": "study",
        }
    )


def default_labels(n: int, labels: Sequence[str] | None) -> tuple[str, ...]:
    """Study labels, ``"Study 1" ...`` when none are given.

    Parameters
    ----------
    n : int
        Number of studies.
    labels : sequence of str or None
        The labels given, if any.

    Returns
    -------
    tuple of str
        The labels.
    """
    if labels is None:
        return tuple(f"Study {i + 1}" for i in range(n))
    return tuple(labels)
