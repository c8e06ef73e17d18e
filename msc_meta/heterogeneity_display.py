"""Heterogeneity for reading: tables of several analyses side by side, and plain words.

:func:`heterogeneity_table` puts the heterogeneity of several meta-analyses
side by side (a :class:`HeterogeneityTable`), and :func:`describe_heterogeneity`
says in one plain line what I² and its interval show, in the words of the
Cochrane Handbook (section 10.10.2). Every number is read from the results;
the numbers themselves are computed in :mod:`msc_meta.heterogeneity`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._errors import MetaAnalysisError
from ._format import interval, number, p_equals, percent
from .effects import measure_of
from .results import MetaAnalysisResult

#: Cochrane Handbook (Deeks, Higgins & Altman, section 10.10.2) rough guide to I²: the
#: bands overlap on purpose, because the importance of an I² value depends on the size and
#: direction of the effects and on the strength of the evidence for heterogeneity.
I2_BANDS: tuple[tuple[float, float, str], ...] = (
    (0.0, 40.0, "might not be important"),
    (30.0, 60.0, "moderate"),
    (50.0, 90.0, "substantial"),
    (75.0, 100.0, "considerable"),
)

#: An I² interval is called wide when it reaches both the lowest band (below this bound,
#: "might not be important") ...
_WIDE_LOW = 40.0
#: ... and the highest band (above this bound, "considerable"): the data are then compatible
#: with both negligible and considerable heterogeneity.
_WIDE_HIGH = 75.0

#: Below this many studies the I² line says that k is small even when the interval is narrow
#: (as :data:`msc_meta.analyses.SMALL_K`).
FEW_STUDIES = 5

#: Columns of :attr:`HeterogeneityTable.frame`, in order.
HETEROGENEITY_COLUMNS: tuple[str, ...] = (
    "analysis",
    "k",
    "measure",
    "scale",
    "method",
    "test",
    "level",
    "estimate",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "estimate_display",
    "ci_low_display",
    "ci_high_display",
    "pi_low_display",
    "pi_high_display",
    "tau2",
    "tau2_ci_low",
    "tau2_ci_high",
    "tau",
    "i2",
    "i2_ci_low",
    "i2_ci_high",
    "h2",
    "h2_ci_low",
    "h2_ci_high",
    "q",
    "df",
    "p",
    "estimable",
    "interpretation",
)


def _meta_result(obj: object, name: str) -> MetaAnalysisResult:
    """The :class:`MetaAnalysisResult` in ``obj`` (itself, or an analysis result's ``.result``)."""
    if isinstance(obj, MetaAnalysisResult):
        return obj
    inner = getattr(obj, "result", None)
    if isinstance(inner, MetaAnalysisResult):
        return inner
    raise MetaAnalysisError(
        f"{name} is a {type(obj).__name__}; expected a MetaAnalysisResult "
        "(from msc_meta.meta_analysis) or an AnalysisResult (from msc_meta.analyses.run_analysis)"
    )


def i2_band(i2: float) -> str:
    """The Cochrane Handbook band(s) of an I² value in percent, in words.

    Parameters
    ----------
    i2 : float
        I² in percent, in [0, 100].

    Returns
    -------
    str
        ``"might not be important"``, ``"moderate"``, ``"substantial"`` or
        ``"considerable"``; where the Handbook's bands overlap (30–40%,
        50–60%, 75–90%) both are named, e.g. ``"moderate to substantial"``.

    Raises
    ------
    MetaAnalysisError
        ``i2`` is not a number in [0, 100].

    Notes
    -----
    The bands of Deeks, Higgins & Altman (Cochrane Handbook, section
    10.10.2): 0–40% might not be important, 30–60% may represent moderate,
    50–90% substantial and 75–100% considerable heterogeneity. They overlap
    on purpose: the Handbook asks that I² be read together with the size and
    direction of the effects and the strength of the evidence for
    heterogeneity (the p-value of Q, or the interval of I²).

    References
    ----------
    .. [1] Deeks JJ, Higgins JPT, Altman DG (editors). Chapter 10: Analysing
       data and undertaking meta-analyses. In: Higgins JPT, Thomas J, et al.
       (editors). Cochrane Handbook for Systematic Reviews of Interventions,
       version 6.4. Cochrane, 2023. Section 10.10.2.

    Examples
    --------
    >>> i2_band(20.0), i2_band(55.0), i2_band(92.2)
    ('might not be important', 'moderate to substantial', 'considerable')
    """
    if not isinstance(i2, (int, float, np.floating)) or not (0.0 <= float(i2) <= 100.0):
        raise MetaAnalysisError(f"i2={i2!r} is not a percentage in [0, 100]")
    names = [label for low, high, label in I2_BANDS if low <= float(i2) <= high]
    return " to ".join([names[0], names[-1]]) if len(names) > 1 else names[0]


def display_scale(measure: str | None) -> str:
    """The name of the display scale of ``measure`` (e.g. ``"risk ratio"`` for ``"RR"``).

    Parameters
    ----------
    measure : str or None
        A measure code of :data:`~msc_meta.effects.MEASURES`, or ``None``.

    Returns
    -------
    str
        Ratio and proportion measures are shown back-transformed
        (``result.transform``), named by their display scale; other measures
        on their own scale, named by the measure's description (``"raw mean
        difference"`` for ``"MD"``); ``"effect"`` when there is no measure.
    """
    info = measure_of(measure)
    return info.display_name if info is not None else "effect"


def describe_heterogeneity(result: MetaAnalysisResult | object) -> str:
    """One plain-language line on the heterogeneity of a meta-analysis.

    Parameters
    ----------
    result : MetaAnalysisResult or AnalysisResult
        A result of :func:`~msc_meta.meta_analysis` (or of
        :func:`~msc_meta.analyses.run_analysis`, whose ``.result`` is used).

    Returns
    -------
    str
        For example ``"I² = 62% [12%, 84%]: substantial, with wide
        uncertainty at k = 5."``; for a single study, that heterogeneity
        cannot be assessed.

    Raises
    ------
    MetaAnalysisError
        ``result`` is not a meta-analysis result.

    Notes
    -----
    I² (percent) is the share of the variability of the study estimates
    that is due to heterogeneity rather than sampling error (Higgins &
    Thompson 2002); it is not the size of the heterogeneity, which is τ².
    The words are the Cochrane Handbook bands (:func:`i2_band`). The
    interval is the Q-profile interval (Viechtbauer 2007), as metafor's
    ``confint``. It is called wide when it reaches both below 40% ("might not
    be important") and above 75% ("considerable"): the data then cannot tell
    negligible from considerable heterogeneity, which is the rule when k is
    small. Below :data:`FEW_STUDIES` studies the line says that k is small
    even when the interval is narrow. With k = 1 there is no between-study
    variation to see; the result's I² of 0 is a convention, not an
    estimate.

    References
    ----------
    .. [1] Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a
       meta-analysis. Stat Med 21(11):1539-1558.
    .. [2] Viechtbauer W (2007). Confidence intervals for the amount of
       heterogeneity in meta-analysis. Stat Med 26(1):37-52.
    .. [3] Deeks JJ, Higgins JPT, Altman DG (editors). Cochrane Handbook for
       Systematic Reviews of Interventions, version 6.4, section 10.10.2.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> describe_heterogeneity(mm.meta_analysis(es, method="REML"))
    'I² = 92% [82%, 98%]: considerable (k = 13).'
    """
    res = _meta_result(result, "result")
    if res.k < 2:
        return f"Heterogeneity cannot be assessed with a single study (k = {res.k})."
    i2 = float(np.clip(res.i2, 0.0, 100.0))
    text = f"I² = {percent(i2)}"
    lo, hi = (float(b) for b in res.i2_ci)
    has_ci = bool(np.isfinite(lo) and np.isfinite(hi))
    if has_ci:
        lo, hi = float(np.clip(lo, 0.0, 100.0)), float(np.clip(hi, 0.0, 100.0))
        text += f" [{percent(lo)}, {percent(hi)}]"
    text += f": {i2_band(i2)}"
    if not has_ci:
        text += f", with no interval available at k = {res.k}."
    elif lo < _WIDE_LOW and hi > _WIDE_HIGH:
        text += f", with wide uncertainty at k = {res.k}."
    elif res.k < FEW_STUDIES:
        text += f", from only k = {res.k} studies."
    else:
        text += f" (k = {res.k})."
    return text


@dataclass(frozen=True, eq=False)
class HeterogeneityTable:
    """Heterogeneity of several meta-analyses side by side (:func:`heterogeneity_table`).

    Attributes
    ----------
    frame : DataFrame
        One row per analysis, columns :data:`HETEROGENEITY_COLUMNS`, at full
        precision: the pooled ``estimate`` with ``ci_low``/``ci_high`` and
        the prediction interval ``pi_low``/``pi_high`` on the analysis scale
        (log for ratio measures) and on the display scale (``*_display``,
        via the result's ``transform``; ``scale`` names it); ``tau2`` with its
        Q-profile interval, ``tau``; ``i2`` (percent) and ``h2`` with their
        intervals; Cochran's ``q`` with its ``df`` and ``p``; the ``method``
        and ``test``; ``estimable`` (k ≥ 2: heterogeneity can be assessed)
        and the plain-language ``interpretation``
        (:func:`describe_heterogeneity`).

    Notes
    -----
    With k = 1 the frame keeps the values the result holds (τ² = 0, I² = 0,
    H² = 1, Q = 0 by convention) and ``estimable`` is False; the text and
    HTML displays show "n/a" for them instead.
    """

    frame: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """A copy of the table as a tidy DataFrame (full precision)."""
        return self.frame.copy()

    def __repr__(self) -> str:
        return f"<HeterogeneityTable: {len(self.frame)} analyses>"

    def display_frame(self, digits: int = 2) -> pd.DataFrame:
        """The table for reading: estimates with intervals as text, rounded to ``digits``.

        Parameters
        ----------
        digits : int, default 2
            Decimal places.

        Returns
        -------
        pandas.DataFrame
            One row per analysis; heterogeneity quantities of analyses with
            k = 1 are shown as ``n/a``.
        """

        def num(x: float) -> str:
            return number(x, digits)

        def ci(a: float, b: float) -> str:
            return interval(a, b, digits)

        rows = []
        for rec in self.frame.to_dict("records"):
            r = _Row({str(k): v for k, v in rec.items()})
            ok = bool(r.estimable)
            na = "n/a"
            rows.append(
                {
                    "analysis": r.analysis,
                    "k": r.k,
                    "estimate": f"{num(r.estimate_display)} "
                    f"{ci(r.ci_low_display, r.ci_high_display)}",
                    "prediction interval": ci(r.pi_low_display, r.pi_high_display) if ok else na,
                    "scale": r.scale,
                    "tau²": f"{num(r.tau2)} {ci(r.tau2_ci_low, r.tau2_ci_high)}" if ok else na,
                    "I² (%)": f"{number(r.i2, 1)} {interval(r.i2_ci_low, r.i2_ci_high, 1)}"
                    if ok
                    else na,
                    "H²": f"{num(r.h2)} {ci(r.h2_ci_low, r.h2_ci_high)}" if ok else na,
                    "Q (df, p)": f"{num(r.q)} ({r.df}, {_p_text(r.p)})" if ok else na,
                    "model": f"{r.method}, {r.test}",
                    "interpretation": r.interpretation,
                }
            )
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        return str(self.display_frame().to_string(index=False))

    def _repr_html_(self) -> str:
        out: str = self.display_frame().to_html(
            index=False, border=0, classes="heterogeneity-table"
        )
        return out


class _Row:
    """Attribute access to one row of the table (values as floats where numeric)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


def _p_text(p: float) -> str:
    """``p = 0.012`` or ``p < 0.001`` (:func:`~msc_meta._format.p_equals`); ``p NA`` when missing."""
    return p_equals(p) if np.isfinite(p) else "p NA"


def heterogeneity_table(
    results: Mapping[str, MetaAnalysisResult | object] | Sequence[MetaAnalysisResult | object],
) -> HeterogeneityTable:
    """Heterogeneity of several meta-analyses, one row each.

    Parameters
    ----------
    results : mapping of str to result, or sequence of results
        Results of :func:`~msc_meta.meta_analysis` (or of
        :func:`~msc_meta.analyses.run_analysis`). A mapping's keys name the
        rows; in a sequence, an analysis result is named by its
        ``spec.name`` and a bare result ``"analysis 1"``, ``"analysis 2"``, ...

    Returns
    -------
    HeterogeneityTable
        ``.frame`` (and ``to_frame()``) with the columns of
        :data:`HETEROGENEITY_COLUMNS`; ``str()`` and ``_repr_html_`` display
        it rounded.

    Raises
    ------
    MetaAnalysisError
        No results, duplicate names, or an element that is not a
        meta-analysis result.

    Notes
    -----
    Every number is read from the results, nothing is recomputed: I², H² and
    their Q-profile intervals as :func:`~msc_meta.meta_analysis` gives them
    (metafor's ``rma.uni`` with ``confint``), the prediction interval as
    metafor's ``predict``, the display scale via ``result.transform``
    (metafor's ``transf``). ``interpretation`` is
    :func:`describe_heterogeneity`.

    References
    ----------
    .. [1] Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a
       meta-analysis. Stat Med 21(11):1539-1558.
    .. [2] Viechtbauer W (2007). Confidence intervals for the amount of
       heterogeneity in meta-analysis. Stat Med 26(1):37-52.
    .. [3] Riley RD, Higgins JPT, Deeks JJ (2011). Interpretation of random
       effects meta-analyses. BMJ 342:d549.

    Examples
    --------
    >>> import msc_meta as mm
    >>> bcg = mm.datasets.load_bcg()
    >>> es = mm.effect_sizes("RR", data=bcg, events_t="tpos", n_t="n_t",
    ...                      events_c="cpos", n_c="n_c", labels="study")
    >>> table = heterogeneity_table({"REML": mm.meta_analysis(es, method="REML"),
    ...                              "DL": mm.meta_analysis(es, method="DL")})
    >>> table.frame[["analysis", "k", "i2"]].round(2).values.tolist()
    [['REML', 13, 92.22], ['DL', 13, 92.12]]
    """
    items: list[tuple[str, MetaAnalysisResult]] = []
    if isinstance(results, Mapping):
        for key, obj in results.items():
            if not isinstance(key, str):
                raise MetaAnalysisError(f"results key {key!r} is not a string (an analysis name)")
            items.append((key, _meta_result(obj, f"results[{key!r}]")))
    elif isinstance(results, Sequence) and not isinstance(results, (str, bytes)):
        for i, obj in enumerate(results):
            spec = getattr(obj, "spec", None)
            name = getattr(spec, "name", None)
            items.append(
                (
                    name if isinstance(name, str) else f"analysis {i + 1}",
                    _meta_result(obj, f"results[{i}]"),
                )
            )
    else:
        raise MetaAnalysisError(
            f"results is a {type(results).__name__}; expected a mapping of names to results "
            "or a sequence of results"
        )
    if not items:
        raise MetaAnalysisError("results is empty; give at least one meta-analysis result")
    names = [n for n, _ in items]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MetaAnalysisError(f"results has duplicate analysis names: {', '.join(dup)}")

    rows = []
    for name, r in items:
        t = r.transform
        rows.append(
            {
                "analysis": name,
                "k": r.k,
                "measure": r.measure,
                "scale": display_scale(r.measure),
                "method": r.method,
                "test": r.test,
                "level": r.level,
                "estimate": r.estimate,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "pi_low": r.pi_low,
                "pi_high": r.pi_high,
                "estimate_display": float(t(r.estimate)),
                "ci_low_display": float(t(r.ci_low)),
                "ci_high_display": float(t(r.ci_high)),
                "pi_low_display": float(t(r.pi_low)),
                "pi_high_display": float(t(r.pi_high)),
                "tau2": r.tau2,
                "tau2_ci_low": r.tau2_ci[0],
                "tau2_ci_high": r.tau2_ci[1],
                "tau": r.tau,
                "i2": r.i2,
                "i2_ci_low": r.i2_ci[0],
                "i2_ci_high": r.i2_ci[1],
                "h2": r.h2,
                "h2_ci_low": r.h2_ci[0],
                "h2_ci_high": r.h2_ci[1],
                "q": r.q,
                "df": r.q_df,
                "p": r.q_pvalue,
                "estimable": r.k >= 2,
                "interpretation": describe_heterogeneity(r),
            }
        )
    return HeterogeneityTable(frame=pd.DataFrame(rows, columns=list(HETEROGENEITY_COLUMNS)))
