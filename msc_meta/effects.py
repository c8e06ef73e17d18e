"""Effect sizes and their sampling variances: ``effect_sizes()``.

One registry of measures, keyed by metafor's ``escalc`` codes, each a small
function from validated arrays to ``(effect, variance)``. Formulas, defaults
and zero-cell rules follow metafor 3.8 ``escalc`` (Viechtbauer 2010), with the
references given per measure in :data:`MEASURES`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ._errors import MetaAnalysisError, MetaAnalysisWarning, ZeroCellWarning
from ._format import listing
from ._validation import (
    as_1d,
    as_labels,
    check_choice,
    check_counts,
    check_le,
    check_number,
    check_positive,
    check_range,
    resolve_columns,
)

FloatArray = NDArray[np.float64]

MeasureCode = Literal[
    "OR", "RR", "RD", "PETO", "AS",
    "MD", "SMD", "ROM",
    "PR", "PLO", "PLN", "PAS", "PFT",
    "COR", "ZCOR",
    "MC", "SMCR", "SMCC",
    "MN",
]  # fmt: skip

ZeroTo = Literal["only0", "all", "if0all", "none"]


#: Pooling functions a measure can go to: ``meta_analysis`` (every measure),
#: ``mantel_haenszel`` (OR, RR, RD) and ``peto`` (PETO).
Pooling = Literal["inverse-variance", "mantel-haenszel", "peto"]

#: The analysis scale relative to the display scale; ``"raw"``: shown as pooled.
Scale = Literal[
    "raw", "log", "logit", "arcsine square-root", "Freeman-Tukey double-arcsine", "Fisher z"
]

#: Back-transform from the analysis scale to the display scale: ``(values, study sizes)``;
#: only PFT's uses the study sizes.
BackTransform = Callable[[FloatArray, ArrayLike | None], FloatArray]


@dataclass(frozen=True)
class Measure:
    """A registered effect-size measure: every fact the library knows about it.

    Attributes
    ----------
    code : str
        metafor's ``escalc`` code.
    description : str
        What the measure is, and its scale.
    arguments : tuple of str
        Arguments it needs (names of :func:`effect_sizes`).
    family : str
        ``"binary2"``, ``"means2"``, ``"binary1"``, ``"means1"``, ``"cor"`` or ``"change"``.
    default_add : float
        Amount added to zero cells by default (0 for the arcsine measures, as metafor).
    compute : callable
        ``(args: dict of arrays) -> (effect, variance)``.
    reference : str
        Where the formula comes from.
    scale : str
        The analysis scale in words: ``"log"``, ``"logit"``, ``"arcsine square-root"``,
        ``"Freeman-Tukey double-arcsine"``, ``"Fisher z"``, or ``"raw"`` when the
        measure is shown as it is pooled (no back-transform; also ``AS``, whose
        arcsine difference has no display scale of its own).
    null : float or None
        "No effect" on the analysis scale: 0 for two-group measures, correlations and
        changes; None for one-group proportions and means, which have no natural null.
    back : callable or None
        ``(values, n) -> values`` from the analysis scale to the display scale; None
        for none. Only PFT's uses ``n``, the study sizes (:func:`inverse_pft`).
    display_name : str
        The display scale, lower case, for text (``"risk ratio"``, ``"proportion"``).
    short_name : str
        Short name for a column header (``"RR"``, ``"Proportion"``).
    axis_name : str
        The display scale, capitalised, for an axis label (``"Risk ratio"``).
    analysis_name : str
        The analysis scale, capitalised, for an axis drawn on it (``"Log risk ratio"``).
    display_range : tuple of float
        Values the display scale can take (``(0, 1)`` for proportions).
    pooled_by : frozenset of str
        The pooling functions that accept it: ``"inverse-variance"``
        (:func:`~msc_meta.meta_analysis`), ``"mantel-haenszel"`` and ``"peto"``.
    optional : tuple of str
        Arguments it accepts but does not need.
    """

    code: str
    description: str
    arguments: tuple[str, ...]
    family: str
    default_add: float
    compute: Callable[[dict[str, FloatArray]], tuple[FloatArray, FloatArray]]
    reference: str
    scale: Scale
    null: float | None
    back: BackTransform | None
    display_name: str
    short_name: str
    axis_name: str
    analysis_name: str
    display_range: tuple[float, float] = (-math.inf, math.inf)
    pooled_by: frozenset[Pooling] = frozenset({"inverse-variance"})
    optional: tuple[str, ...] = ()

    @property
    def groups(self) -> int:
        """Number of groups compared: 2 (treatment and control) or 1."""
        return 2 if self.family in ("binary2", "means2") else 1

    @property
    def is_ratio(self) -> bool:
        """A ratio of two groups: analysed on the log scale, drawn on a log axis."""
        return self.scale == "log" and self.groups == 2

    @property
    def display_null(self) -> float | None:
        """The value of no effect on the display scale (1 for ratios), None when there is none."""
        if self.null is None or self.back is None:
            return self.null
        return float(self.back(np.array(self.null), None))


# --------------------------------------------------------------------------- formulas


def hedges_correction(m: ArrayLike) -> FloatArray:
    """Exact small-sample bias correction of Hedges (1981), :math:`c(m)`.

    :math:`c(m) = \\Gamma(m/2) / (\\sqrt{m/2}\\,\\Gamma((m-1)/2))`, computed on the
    log scale with ``gammaln`` so that it does not overflow for large ``m``
    (the gamma function itself overflows past m = 343). It is computed as the
    Pochhammer symbol :math:`((m-1)/2)_{1/2} / \\sqrt{m/2}`, which neither
    overflows nor loses precision to cancellation for large m (a difference of
    two ``gammaln`` values, as in metafor's ``.cmicalc``, exceeds 1 past
    m = 2e7). NaN for m <= 1.

    Parameters
    ----------
    m : array_like
        Degrees of freedom (``n_t + n_c - 2`` for the SMD).

    Returns
    -------
    numpy.ndarray
        :math:`c(m)`, below 1 and tending to 1 as ``m`` grows.

    Examples
    --------
    >>> round(float(hedges_correction(18)), 6)
    0.957646
    >>> float(hedges_correction(1e9)) < 1.0
    True
    """
    m = np.asarray(m, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Gamma(m/2) / Gamma((m-1)/2) is the Pochhammer symbol ((m-1)/2)_{1/2}: no overflow,
        # and no cancellation between two large log-gamma values for large m
        out = special.poch((m - 1) / 2, 0.5) / np.sqrt(m / 2)
    return np.where(m > 1, out, np.nan)


def _rr(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    ai, n1, ci, n2 = a["events_t"], a["n_t"], a["events_c"], a["n_c"]
    return np.log(ai / n1) - np.log(ci / n2), 1 / ai - 1 / n1 + 1 / ci - 1 / n2


def _or(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    ai, n1, ci, n2 = a["events_t"], a["n_t"], a["events_c"], a["n_c"]
    bi, di = n1 - ai, n2 - ci
    return np.log(ai * di / (bi * ci)), 1 / ai + 1 / bi + 1 / ci + 1 / di


def _rd(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    p1, p2 = a["events_t"] / a["n_t"], a["events_c"] / a["n_c"]
    return p1 - p2, p1 * (1 - p1) / a["n_t"] + p2 * (1 - p2) / a["n_c"]


def _peto(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    ai, n1, ci, n2 = a["events_t"], a["n_t"], a["events_c"], a["n_c"]
    n = n1 + n2
    xt, yt = ai + ci, n - ai - ci
    expected = xt * n1 / n
    var = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
    return (ai - expected) / var, 1 / var


def _as(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    p1, p2 = a["events_t"] / a["n_t"], a["events_c"] / a["n_c"]
    return (
        np.arcsin(np.sqrt(p1)) - np.arcsin(np.sqrt(p2)),
        1 / (4 * a["n_t"]) + 1 / (4 * a["n_c"]),
    )


def _md(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    return (
        a["mean_t"] - a["mean_c"],
        a["sd_t"] ** 2 / a["n_t"] + a["sd_c"] ** 2 / a["n_c"],
    )


def _smd(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    n1, n2 = a["n_t"], a["n_c"]
    m = n1 + n2 - 2
    sp = np.sqrt(((n1 - 1) * a["sd_t"] ** 2 + (n2 - 1) * a["sd_c"] ** 2) / m)
    g = hedges_correction(m) * (a["mean_t"] - a["mean_c"]) / sp
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def _rom(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    m1, m2 = a["mean_t"], a["mean_c"]
    return (
        np.log(m1 / m2),
        a["sd_t"] ** 2 / (a["n_t"] * m1**2) + a["sd_c"] ** 2 / (a["n_c"] * m2**2),
    )


def _pr(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    p = a["events"] / a["n"]
    return p, p * (1 - p) / a["n"]


def _pln(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    x, n = a["events"], a["n"]
    return np.log(x / n), 1 / x - 1 / n


def _plo(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    x, n = a["events"], a["n"]
    return np.log(x / (n - x)), 1 / x + 1 / (n - x)


def _pas(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    return np.arcsin(np.sqrt(a["events"] / a["n"])), 1 / (4 * a["n"])


def _pft(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    x, n = a["events"], a["n"]
    y = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
    return y, 1 / (4 * n + 2)


def _mn(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    return a["mean"].copy(), a["sd"] ** 2 / a["n"]


#: The sampling variance of a correlation (COR, ZCOR) needs more than this many
#: observations; metafor's ``escalc`` sets it to NA at n <= 3 ("Cannot estimate the
#: sampling variance when ni <= 3"), although the large-sample formula of COR is finite there.
MIN_N_CORRELATION_VARIANCE = 3


def _cor(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    r, n = a["r"], a["n"]
    var = (1 - r**2) ** 2 / (n - 1)
    return r.copy(), np.where(n > MIN_N_CORRELATION_VARIANCE, var, np.nan)


def _zcor(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    n = a["n"]
    return np.arctanh(a["r"]), np.where(n > MIN_N_CORRELATION_VARIANCE, 1 / (n - 3), np.nan)


def _change_sd(a: dict[str, FloatArray]) -> FloatArray:
    s1, s2, r = a["sd_post"], a["sd_pre"], a["r"]
    return np.sqrt(s1**2 + s2**2 - 2 * r * s1 * s2)


def _mc(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    return a["mean_post"] - a["mean_pre"], _change_sd(a) ** 2 / a["n"]


def _smcc(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    n = a["n"]
    g = hedges_correction(n - 1) * (a["mean_post"] - a["mean_pre"]) / _change_sd(a)
    return g, 1 / n + g**2 / (2 * n)


def _smcr(a: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    n = a["n"]
    g = hedges_correction(n - 1) * (a["mean_post"] - a["mean_pre"]) / a["sd_pre"]
    return g, 2 * (1 - a["r"]) / n + g**2 / (2 * n)


def _exp(x: FloatArray, n: ArrayLike | None) -> FloatArray:
    return np.asarray(np.exp(x), dtype=np.float64)


def _expit(x: FloatArray, n: ArrayLike | None) -> FloatArray:
    return np.asarray(special.expit(x), dtype=np.float64)


def _iarcsin(x: FloatArray, n: ArrayLike | None) -> FloatArray:
    return np.asarray(np.sin(np.clip(x, 0.0, np.pi / 2)) ** 2, dtype=np.float64)


def _ipft(x: FloatArray, n: ArrayLike | None) -> FloatArray:
    if n is None:
        raise MetaAnalysisError("back-transforming PFT needs the study sizes n")
    return inverse_pft(x, n)


def _tanh(x: FloatArray, n: ArrayLike | None) -> FloatArray:
    return np.asarray(np.tanh(x), dtype=np.float64)


_B2 = ("events_t", "n_t", "events_c", "n_c")
_M2 = ("mean_t", "sd_t", "n_t", "mean_c", "sd_c", "n_c")
_B1 = ("events", "n")
_CH = ("mean_pre", "mean_post", "sd_pre", "sd_post", "n", "r")
_UNIT = (0.0, 1.0)
_CORR = (-1.0, 1.0)
_MH: frozenset[Pooling] = frozenset({"inverse-variance", "mantel-haenszel"})
_PETO: frozenset[Pooling] = frozenset({"inverse-variance", "peto"})

#: Registry of effect-size measures keyed by metafor's ``escalc`` codes: the one place
#: for every fact about a measure (formula, arguments, scales, names, null, pooling).
MEASURES: dict[str, Measure] = {
    m.code: m
    for m in (
        Measure("OR", "log odds ratio", _B2, "binary2", 0.5, _or,
                "Woolf (1955); Cochrane Handbook 6.4.1",
                scale="log", null=0.0, back=_exp, display_name="odds ratio", short_name="OR",
                axis_name="Odds ratio", analysis_name="Log odds ratio", pooled_by=_MH),
        Measure("RR", "log risk ratio", _B2, "binary2", 0.5, _rr,
                "Katz et al. (1978); Cochrane Handbook 6.4.1",
                scale="log", null=0.0, back=_exp, display_name="risk ratio", short_name="RR",
                axis_name="Risk ratio", analysis_name="Log risk ratio", pooled_by=_MH),
        Measure("RD", "risk difference", _B2, "binary2", 0.5, _rd,
                "Cochrane Handbook 6.4.1 (large-sample variance)",
                scale="raw", null=0.0, back=None, display_name="risk difference",
                short_name="RD", axis_name="Risk difference", analysis_name="Risk difference",
                pooled_by=_MH),
        Measure("PETO", "Peto's log odds ratio", _B2, "binary2", 0.5, _peto,
                "Yusuf et al. (1985), Prog Cardiovasc Dis 27:335-371",
                scale="log", null=0.0, back=_exp, display_name="odds ratio", short_name="OR",
                axis_name="Odds ratio (Peto)", analysis_name="Log odds ratio (Peto)",
                pooled_by=_PETO),
        Measure("AS", "arcsine square-root risk difference", _B2, "binary2", 0.0, _as,
                "Rücker et al. (2009), Stat Med 28:721-738",
                scale="raw", null=0.0, back=None,
                display_name="arcsine square-root risk difference", short_name="ASD",
                axis_name="Arcsine risk difference", analysis_name="Arcsine risk difference"),
        Measure("MD", "raw mean difference", _M2, "means2", 0.0, _md,
                "Cochrane Handbook 6.5.1 (heteroscedastic variance)",
                scale="raw", null=0.0, back=None, display_name="raw mean difference",
                short_name="MD", axis_name="Mean difference", analysis_name="Mean difference"),
        Measure("SMD", "standardised mean difference (Hedges' g)", _M2, "means2", 0.0, _smd,
                "Hedges (1981), J Educ Stat 6:107-128 (exact correction); Hedges & Olkin (1985)",
                scale="raw", null=0.0, back=None, display_name="standardised mean difference",
                short_name="SMD", axis_name="Standardised mean difference",
                analysis_name="Standardised mean difference"),
        Measure("ROM", "log ratio of means", _M2, "means2", 0.0, _rom,
                "Hedges, Gurevitch & Curtis (1999), Ecology 80:1150-1156",
                scale="log", null=0.0, back=_exp, display_name="ratio of means",
                short_name="ROM", axis_name="Ratio of means", analysis_name="Log ratio of means"),
        Measure("PR", "raw proportion", _B1, "binary1", 0.5, _pr,
                "metafor escalc 'PR'",
                scale="raw", null=None, back=None, display_name="proportion",
                short_name="Proportion", axis_name="Proportion", analysis_name="Proportion",
                display_range=_UNIT),
        Measure("PLO", "logit-transformed proportion", _B1, "binary1", 0.5, _plo,
                "metafor escalc 'PLO'; Lipsey & Wilson (2001)",
                scale="logit", null=None, back=_expit, display_name="proportion",
                short_name="Proportion", axis_name="Proportion",
                analysis_name="Logit proportion", display_range=_UNIT),
        Measure("PLN", "log-transformed proportion", _B1, "binary1", 0.5, _pln,
                "metafor escalc 'PLN'",
                scale="log", null=None, back=_exp, display_name="proportion",
                short_name="Proportion", axis_name="Proportion", analysis_name="Log proportion",
                display_range=_UNIT),
        Measure("PAS", "arcsine square-root proportion", _B1, "binary1", 0.0, _pas,
                "metafor escalc 'PAS'",
                scale="arcsine square-root", null=None, back=_iarcsin,
                display_name="proportion", short_name="Proportion", axis_name="Proportion",
                analysis_name="Arcsine square-root proportion", display_range=_UNIT),
        Measure("PFT", "Freeman-Tukey double-arcsine proportion", _B1, "binary1", 0.0, _pft,
                "Freeman & Tukey (1950), Ann Math Stat 21:607-611; Miller (1978)",
                scale="Freeman-Tukey double-arcsine", null=None, back=_ipft,
                display_name="proportion", short_name="Proportion", axis_name="Proportion",
                analysis_name="Freeman-Tukey double-arcsine proportion", display_range=_UNIT),
        Measure("MN", "raw mean of one group (e.g. a reported mean change)", ("mean", "sd", "n"),
                "means1", 0.0, _mn, "metafor escalc 'MN'",
                scale="raw", null=None, back=None, display_name="raw mean of one group",
                short_name="Mean", axis_name="Mean", analysis_name="Mean"),
        Measure("COR", "raw correlation coefficient", ("r", "n"), "cor", 0.0, _cor,
                "Olkin & Pratt (1958); metafor escalc 'COR'",
                scale="raw", null=0.0, back=None, display_name="correlation", short_name="r",
                axis_name="Correlation", analysis_name="Correlation", display_range=_CORR),
        Measure("ZCOR", "Fisher's r-to-z transformed correlation", ("r", "n"), "cor", 0.0, _zcor,
                "Fisher (1921)",
                scale="Fisher z", null=0.0, back=_tanh, display_name="correlation",
                short_name="r", axis_name="Correlation", analysis_name="Fisher's z",
                display_range=_CORR),
        Measure("MC", "raw mean change (post - pre)", _CH, "change", 0.0, _mc,
                "Morris & DeShon (2002), Psychol Methods 7:105-125",
                scale="raw", null=0.0, back=None, display_name="raw mean change",
                short_name="MC", axis_name="Mean change", analysis_name="Mean change"),
        Measure("SMCR", "standardised mean change, raw-score (pre) standardisation",
                ("mean_pre", "mean_post", "sd_pre", "n", "r"), "change", 0.0, _smcr,
                "Becker (1988), Br J Math Stat Psychol 41:257-278; Morris (2000)",
                scale="raw", null=0.0, back=None,
                display_name="standardised mean change, raw-score standardisation",
                short_name="SMC", axis_name="Standardised mean change",
                analysis_name="Standardised mean change", optional=("sd_post",)),
        Measure("SMCC", "standardised mean change, change-score standardisation", _CH,
                "change", 0.0, _smcc, "Gibbons et al. (1993); Morris & DeShon (2002)",
                scale="raw", null=0.0, back=None,
                display_name="standardised mean change, change-score standardisation",
                short_name="SMC", axis_name="Standardised mean change",
                analysis_name="Standardised mean change"),
    )
}  # fmt: skip

#: Measures analysed on the log scale and displayed exponentiated (ratios of two groups).
RATIO_MEASURES = frozenset(code for code, m in MEASURES.items() if m.is_ratio)


def measure_of(measure: str | None) -> Measure | None:
    """The registered facts of a result's measure; None without a measure or for an unknown code.

    A result's measure is free text when given to ``meta_analysis(measure=...)``: summaries,
    plots and the report then show a generic "effect" on its own scale.

    Parameters
    ----------
    measure : str or None
        A measure code, or any label, or None.

    Returns
    -------
    Measure or None
        The registry entry of :data:`MEASURES`, or None.

    Examples
    --------
    >>> measure_of("RR").display_name, measure_of("my scale"), measure_of(None)
    ('risk ratio', None, None)
    """
    return MEASURES.get(measure) if measure is not None else None


def measure_info(code: object) -> Measure:
    """The registered facts of a measure code (:data:`MEASURES`), or an error listing the codes.

    Parameters
    ----------
    code : str
        metafor's ``escalc`` code, as in :func:`effect_sizes` (``"RR"``).

    Returns
    -------
    Measure
        The measure's entry of :data:`MEASURES`.

    Raises
    ------
    MetaAnalysisError
        ``code`` is not a registered code.

    Examples
    --------
    >>> m = measure_info("RR")
    >>> m.scale, m.display_name, m.is_ratio, m.display_null
    ('log', 'risk ratio', True, 1.0)
    """
    return MEASURES[check_choice(code, "measure", MEASURES)]


# --------------------------------------------------------------------------- result


class EffectSizes(pd.DataFrame):
    """Effect sizes: a DataFrame with ``effect``, ``variance`` and ``se`` columns.

    ``study`` labels come first when given. Metadata: ``measure`` (the code),
    ``n_total`` (per-study total sample size, used by the PFT back-transform),
    ``zero_cell_studies`` (rows whose cells were corrected or dropped), and
    ``study_data`` (the per-study arguments as given, before any zero-cell
    correction: the arm data that forest plots print; ``inputs`` before, a
    name that still reads it with a ``DeprecationWarning``). The pooled
    results use the same names (``n_total``, ``study_data``).
    Ratio measures are on the log scale.
    """

    _metadata: ClassVar[list[str]] = ["measure", "n_total", "zero_cell_studies", "study_data"]
    measure: str
    n_total: FloatArray
    zero_cell_studies: tuple[int, ...]
    study_data: pd.DataFrame

    @property
    def _constructor(self) -> type[EffectSizes]:
        return EffectSizes

    @property
    def inputs(self) -> pd.DataFrame:
        """Deprecated name of ``study_data``."""
        warnings.warn(
            "EffectSizes.inputs is deprecated; use study_data, which holds the same values",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.study_data

    def __repr__(self) -> str:
        head = f"EffectSizes(measure={getattr(self, 'measure', None)!r}, k={len(self)})"
        return head + "\n" + pd.DataFrame(self).__repr__()


# --------------------------------------------------------------------------- zero cells


#: metafor's ``to`` rules for zero cells (``escalc``): which studies receive ``add``.
ZERO_CELL_RULES: tuple[str, ...] = ("only0", "all", "if0all", "none")


def zero_cell_targets(
    has_zero: NDArray[np.bool_], to: str, kept: NDArray[np.bool_] | None = None
) -> NDArray[np.bool_]:
    """The studies that receive ``add`` in every cell under metafor's ``to`` rule.

    Parameters
    ----------
    has_zero : ndarray of bool
        Whether each study has a zero cell.
    to : {"only0", "all", "if0all", "none"}
        The rule (:data:`ZERO_CELL_RULES`, as in metafor's ``escalc``).
    kept : ndarray of bool, optional
        The studies in the analysis (``drop00`` removes double-zero studies);
        ``None`` keeps every study. A study not kept is never a target.

    Returns
    -------
    ndarray of bool
        ``"only0"``: the kept studies with a zero cell; ``"all"``: every kept
        study; ``"if0all"``: every kept study if any kept study has a zero
        cell, else none; ``"none"``: none.

    Raises
    ------
    MetaAnalysisError
        ``to`` is not one of :data:`ZERO_CELL_RULES`.

    Examples
    --------
    >>> zero_cell_targets(np.array([True, False]), "if0all").tolist()
    [True, True]
    """
    kept = np.ones(has_zero.shape, dtype=bool) if kept is None else kept
    zero = has_zero & kept
    if to == "only0":
        return zero
    if to == "all":
        return kept.copy()
    if to == "if0all":
        return kept.copy() if bool(zero.any()) else np.zeros(has_zero.shape, dtype=bool)
    if to == "none":
        return np.zeros(has_zero.shape, dtype=bool)
    raise MetaAnalysisError(f"to={to!r} is not a zero-cell rule; use one of {ZERO_CELL_RULES}")


def _zero_cells(
    family: str,
    cols: dict[str, FloatArray],
    add: float,
    to: str,
    drop00: bool,
    labels: Sequence[str] | None,
) -> tuple[dict[str, FloatArray], list[int]]:
    """Apply metafor's zero-cell rules; return the adjusted counts and rows touched."""
    out = dict(cols)
    if family == "binary2":
        ai, n1, ci, n2 = cols["events_t"], cols["n_t"], cols["events_c"], cols["n_c"]
        bi, di = n1 - ai, n2 - ci
        dropped = np.zeros(ai.shape, dtype=bool)
        if drop00:
            with np.errstate(invalid="ignore"):
                dropped = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
        with np.errstate(invalid="ignore"):
            has0 = ((ai == 0) | (bi == 0) | (ci == 0) | (di == 0)) & ~dropped
        cells = [ai, bi, ci, di]
    else:  # binary1
        xi, n = cols["events"], cols["n"]
        mi = n - xi
        dropped = np.zeros(xi.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            has0 = (xi == 0) | (mi == 0)
        cells = [xi, mi]

    target = zero_cell_targets(has0, to)
    adjusted = [np.where(target, c + add, c) for c in cells]
    touched_add = np.flatnonzero(target) if add > 0 else np.array([], dtype=np.intp)

    if family == "binary2":
        a2, b2, c2, d2 = adjusted
        out["events_t"], out["n_t"] = a2, a2 + b2
        out["events_c"], out["n_c"] = c2, c2 + d2
        for key in _B2:
            out[key] = np.where(dropped, np.nan, out[key])
    else:
        x2, m2 = adjusted
        out["events"], out["n"] = x2, x2 + m2

    def names(idx: NDArray[np.intp]) -> str:
        return listing([repr(labels[i]) if labels is not None else f"[{i}]" for i in idx])

    msgs = []
    zero_rows = np.flatnonzero(has0)
    if touched_add.size and zero_rows.size:
        if to == "only0":
            msgs.append(
                f"added {add:g} to every cell of {touched_add.size} "
                f"{'study' if touched_add.size == 1 else 'studies'} with a zero cell "
                f"(to='only0'): {names(touched_add)}"
            )
        else:
            msgs.append(
                f"added {add:g} to every cell of all {touched_add.size} studies (to={to!r}); "
                f"studies with a zero cell: {names(zero_rows)}"
            )
    idx_drop = np.flatnonzero(dropped)
    if idx_drop.size:
        msgs.append(
            f"dropped {idx_drop.size} double-zero {'study' if idx_drop.size == 1 else 'studies'} "
            f"(no events, or only events, in both groups; drop00=True): {names(idx_drop)}"
        )
    if msgs:
        warnings.warn("; ".join(msgs), ZeroCellWarning, stacklevel=3)
    touched = sorted(set(touched_add.tolist()) | set(idx_drop.tolist()))
    return out, touched


# --------------------------------------------------------------------------- validation


def _validate(measure: Measure, a: dict[str, FloatArray], labels: Sequence[str] | None) -> None:
    fam = measure.family
    if fam == "binary2":
        for e, n in (("events_t", "n_t"), ("events_c", "n_c")):
            check_counts(a[n], n, labels, positive=True)
            check_counts(a[e], e, labels)
            check_le(a[e], a[n], e, n, labels)
    elif fam == "binary1":
        check_counts(a["n"], "n", labels, positive=True)
        check_counts(a["events"], "events", labels)
        check_le(a["events"], a["n"], "events", "n", labels)
    elif fam == "means2":
        for s in ("sd_t", "sd_c"):
            check_positive(a[s], s, labels, strict=False)
        min_n = 2 if measure.code == "SMD" else 1
        for n in ("n_t", "n_c"):
            _check_min_n(a[n], n, min_n, measure.code, labels)
        if measure.code == "ROM":
            for m in ("mean_t", "mean_c"):
                check_positive(a[m], m, labels)
    elif fam == "means1":
        check_positive(a["sd"], "sd", labels, strict=False)
        _check_min_n(a["n"], "n", 1, measure.code, labels)
    elif fam == "cor":
        check_range(a["r"], "r", -1.0, 1.0, labels)
        min_n = 4 if measure.code == "ZCOR" else 2
        _check_min_n(a["n"], "n", min_n, measure.code, labels)
        if measure.code == "ZCOR":
            bad = np.flatnonzero(np.abs(a["r"]) == 1)
            if bad.size:
                i = int(bad[0])
                raise MetaAnalysisError(
                    f"r[{i}] = {a['r'][i]:g} has no Fisher z (infinite); ZCOR needs -1 < r < 1"
                )
    else:  # change
        sds = ("sd_pre",) if measure.code == "SMCR" else ("sd_pre", "sd_post")
        for s in sds:
            check_positive(a[s], s, labels, strict=False)
        check_range(a["r"], "r", -1.0, 1.0, labels)
        min_n = 1 if measure.code == "MC" else 2
        _check_min_n(a["n"], "n", min_n, measure.code, labels)


def _check_min_n(
    n: FloatArray, name: str, min_n: int, code: str, labels: Sequence[str] | None
) -> None:
    check_counts(n, name, labels, positive=True)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(n < min_n)
    if bad.size:
        i = int(bad[0])
        where = f"[{i}]" + (f" (study {labels[i]!r})" if labels is not None else "")
        raise MetaAnalysisError(
            f"{name}{where} = {n[i]:g} is not allowed for {code}: it needs {name} >= {min_n}"
        )


# --------------------------------------------------------------------------- public API


def effect_sizes(
    measure: MeasureCode | str,
    *,
    data: Any = None,
    labels: ArrayLike | str | None = None,
    add: float | None = None,
    to: ZeroTo | str = "only0",
    drop00: bool = False,
    **columns: Any,
) -> EffectSizes:
    """Compute effect sizes and sampling variances, as metafor's ``escalc``.

    Parameters
    ----------
    measure : str
        A code of :data:`MEASURES`: ``OR RR RD PETO AS`` (two groups with
        events: ``events_t n_t events_c n_c``), ``MD SMD ROM`` (two groups with
        means: ``mean_t sd_t n_t mean_c sd_c n_c``), ``PR PLO PLN PAS PFT`` (one
        group with events: ``events n``), ``COR ZCOR`` (``r n``), and ``MC SMCR
        SMCC`` (one group before and after: ``mean_pre mean_post sd_pre sd_post
        n r``; the change is post minus pre), and ``MN`` (one group's mean:
        ``mean sd n``, e.g. a reported mean change with the SD of the change).
    data : DataFrame or mapping, optional
        When given, string arguments name its columns.
    labels : array-like or str, optional
        Study labels (or a column name with ``data``).
    add : float, optional
        Amount added to zero cells; metafor's default: 0.5, and 0 for ``AS``,
        ``PAS`` and ``PFT``.
    to : {"only0", "all", "if0all", "none"}, default "only0"
        Which studies get ``add``: those with a zero cell, all, all if any has
        a zero cell, or none.
    drop00 : bool, default False
        Drop (set to NaN) two-group studies with no events, or only events, in
        both groups (default False, as metafor's ``escalc``).
    **columns
        The arrays (or column names) listed above for the measure.

    Returns
    -------
    EffectSizes
        A DataFrame with ``effect``, ``variance`` and ``se`` (and ``study``).

    Raises
    ------
    MetaAnalysisError
        Unknown measure or argument, missing argument, mismatched lengths,
        impossible values (events > n, negative counts or SDs, |r| > 1, ...).

    Warns
    -----
    ZeroCellWarning
        When zero cells are corrected or double-zero studies dropped; the
        message names the studies.

    Notes
    -----
    Formulas are metafor's (``escalc``, default ``vtype="LS"``). For example,
    the log odds ratio is :math:`\\log(a d / b c)` with variance
    :math:`1/a + 1/b + 1/c + 1/d`, and Hedges' g is
    :math:`c(m)(\\bar x_t - \\bar x_c)/s_p` with :math:`m = n_t + n_c - 2`,
    the exact correction :func:`hedges_correction` and variance
    :math:`1/n_t + 1/n_c + g^2 / (2(n_t + n_c))`. Each measure's reference is
    in ``MEASURES[code].reference``.

    References
    ----------
    .. [1] Viechtbauer W (2010). Conducting meta-analyses in R with the metafor
       package. J Stat Softw 36(3):1-48.
    .. [2] Higgins JPT, et al. (eds) (2023). Cochrane Handbook for Systematic
       Reviews of Interventions, version 6.4, chapter 6.

    Examples
    --------
    The first two trials of the BCG vaccine data (Colditz et al. 1994):

    >>> es = effect_sizes("RR", events_t=[4, 6], n_t=[123, 306],
    ...                   events_c=[11, 29], n_c=[139, 303])
    >>> es["effect"].round(4).tolist()
    [-0.8893, -1.5854]
    >>> es["variance"].round(4).tolist()
    [0.3256, 0.1946]
    """
    spec = measure_info(measure)
    code = spec.code
    allowed = set(spec.arguments) | set(spec.optional)
    unknown = [a for a in columns if a not in allowed]
    if unknown:
        raise MetaAnalysisError(
            f"{unknown[0]}= is not an argument of measure {code!r}; "
            f"{code} takes: {', '.join(spec.arguments + spec.optional)}"
        )
    to = check_choice(to, "to", ("only0", "all", "if0all", "none"))
    add_value = (
        spec.default_add if add is None else check_number(add, "add", low=0.0, strict=False)
    )

    raw = resolve_columns(data, {**columns, **({"labels": labels} if labels is not None else {})})
    missing = [a for a in spec.arguments if raw.get(a) is None]
    if missing:
        raise MetaAnalysisError(
            f"measure {code!r} needs {', '.join(spec.arguments)}; missing: {', '.join(missing)}"
        )
    # the first array-valued argument fixes the number of studies
    first = next((a for a in spec.arguments if np.ndim(raw[a]) > 0), spec.arguments[0])
    n_studies = as_1d(raw[first], first).shape[0]
    if n_studies == 0:
        raise MetaAnalysisError(f"{first} is empty; at least one study is needed")
    arrays = {
        a: as_1d(raw[a], a, n=n_studies, n_from=first)
        for a in (*spec.arguments, *spec.optional)
        if raw.get(a) is not None
    }
    lab = as_labels(raw.get("labels"), n_studies)
    for a, arr in arrays.items():
        bad = np.flatnonzero(np.isinf(arr))
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(f"{a}[{i}] = {arr[i]} is not allowed; values must be finite")
    _validate(spec, arrays, lab)
    given = {a: arr.copy() for a, arr in arrays.items()}

    touched: list[int] = []
    if spec.family in ("binary2", "binary1"):
        arrays, touched = _zero_cells(spec.family, arrays, add_value, to, drop00, lab)

    with np.errstate(divide="ignore", invalid="ignore"):
        effect, variance = spec.compute(arrays)
    inputs_ok = np.all([np.isfinite(arr) for arr in arrays.values()], axis=0)
    estimable = np.isfinite(effect) & np.isfinite(variance)
    lost = np.flatnonzero(inputs_ok & ~estimable)
    if lost.size:
        shown = ", ".join(repr(lab[i]) if lab is not None else f"[{i}]" for i in lost[:10])
        category = (
            ZeroCellWarning if spec.family in ("binary2", "binary1") else MetaAnalysisWarning
        )
        if category is ZeroCellWarning:
            reason = " (a zero cell without correction: use add > 0 or to='only0')"
        elif code in ("COR", "ZCOR") and np.any(arrays["n"][lost] <= MIN_N_CORRELATION_VARIANCE):
            reason = (
                f" (its sampling variance cannot be estimated when n <= "
                f"{MIN_N_CORRELATION_VARIANCE}, as in metafor's escalc)"
            )
        else:
            reason = ""
        warnings.warn(
            f"{code} is not estimable (infinite or undefined) for {lost.size} "
            f"{'study' if lost.size == 1 else 'studies'}: {shown}; set to NaN{reason}",
            category,
            stacklevel=2,
        )
    effect = np.where(estimable, effect, np.nan)
    variance = np.where(estimable, variance, np.nan)

    if spec.family == "binary2" or spec.family == "means2":
        n_total = arrays["n_t"] + arrays["n_c"]
    else:
        n_total = arrays["n"]

    frame: dict[str, Any] = {}
    if lab is not None:
        frame["study"] = lab
    frame["effect"] = effect
    frame["variance"] = variance
    frame["se"] = np.sqrt(variance)
    out = EffectSizes(frame)
    out.measure = code
    out.n_total = np.asarray(n_total, dtype=np.float64)
    out.zero_cell_studies = tuple(touched)
    out.study_data = pd.DataFrame(given)
    return out


# --------------------------------------------------------------------------- back-transforms


def _pft_forward(p: FloatArray | float, n: float) -> FloatArray:
    return np.asarray(
        0.5 * (np.arcsin(np.sqrt(p * n / (n + 1))) + np.arcsin(np.sqrt((p * n + 1) / (n + 1)))),
        dtype=np.float64,
    )


def inverse_pft(x: ArrayLike, n: ArrayLike) -> FloatArray:
    """Inverse of the Freeman-Tukey double arcsine with the harmonic mean of ``n``.

    Miller (1978), Am Stat 32:138, as metafor's ``transf.ipft.hm``: with
    :math:`\\bar n` the harmonic mean of the study sizes,

    .. math::

        p = \\tfrac12\\{1 - \\operatorname{sgn}(\\cos 2x)
        \\sqrt{1 - (\\sin 2x + (\\sin 2x - 1/\\sin 2x)/\\bar n)^2}\\},

    set to 0 and 1 beyond the transforms of 0 and 1.

    Parameters
    ----------
    x : array_like
        Values on the double-arcsine scale (``PFT``).
    n : array_like
        Study sizes; their harmonic mean is used (non-finite ones are ignored).

    Returns
    -------
    numpy.ndarray
        Proportions.

    Examples
    --------
    >>> round(float(inverse_pft(0.5 * (np.arcsin(np.sqrt(3 / 11))
    ...                          + np.arcsin(np.sqrt(4 / 11))), [10])), 4)
    0.3
    """
    xa = np.asarray(x, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    nn = nn[np.isfinite(nn)]
    nhm = float(1.0 / np.mean(1.0 / nn))
    s = np.sin(2 * xa)
    # near 0 (x below about 1e-154) 1/s overflows; such x lie below the transform of 0 and
    # are set to 0 below
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        z = 0.5 * (1 - np.sign(np.cos(2 * xa)) * np.sqrt(1 - (s + (s - 1 / s) / nhm) ** 2))
    z = np.where(xa > _pft_forward(1.0, nhm), 1.0, z)
    z = np.where(xa < _pft_forward(0.0, nhm), 0.0, z)
    return np.asarray(z, dtype=np.float64)


def back_transform(measure: str | None, x: Any, *, n: ArrayLike | None = None) -> Any:
    """Map values from the analysis scale of ``measure`` to its display scale.

    Exponential for ratio measures (and PLN), inverse logit for PLO, inverse
    arcsine for PAS, tanh for ZCOR, and the harmonic-mean inverse of the
    Freeman-Tukey transform for PFT (which needs the study sizes ``n``): each
    measure's ``back`` in :data:`MEASURES`. Other measures (and codes not
    registered) are returned unchanged.

    Parameters
    ----------
    measure : str or None
        metafor's code of the measure (``None``: no transform).
    x : float or array_like
        Values on the analysis scale.
    n : array_like, optional
        Study sizes, needed for ``PFT`` only.

    Returns
    -------
    float or numpy.ndarray
        The values on the display scale.
    """
    spec = measure_of(measure)
    if spec is None or spec.back is None:
        return x
    res = spec.back(np.asarray(x, dtype=np.float64), n)
    return float(res) if np.ndim(x) == 0 else res
