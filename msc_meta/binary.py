"""Mantel-Haenszel and Peto pooling of 2x2 tables (metafor's ``rma.mh``, ``rma.peto``).

Both methods pool the tables directly, without a continuity correction, so
studies with zero cells and double-zero studies contribute to the pooled
estimate as they are. The study-level effects (``effect``, ``variance``), used
only for Cochran's Q, I², H² and the per-study rows, are computed as metafor's
``escalc`` does, with the ``add``, ``to`` and ``drop00`` options.

Cells of study i: ``a`` events and ``b`` non-events in the treatment group
(``n_t = a + b``), ``c`` events and ``d`` non-events in the control group
(``n_c = c + d``), ``N = n_t + n_c``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ._errors import (
    DroppedStudiesWarning,
    FewStudiesWarning,
    MetaAnalysisError,
    ZeroCellWarning,
)
from ._inference import chi2_sf, critical_value, two_sided_p
from ._refit import FitSpec
from ._validation import (
    as_1d,
    as_labels,
    check_choice,
    check_counts,
    check_le,
    check_level,
    check_not_empty,
    resolve_columns,
)
from .effects import ZERO_CELL_RULES, effect_sizes, zero_cell_targets
from .heterogeneity import h2_from_q, i2_from_q
from .results import BinaryPooledResult, default_labels

__all__ = ["MH_MEASURES", "mantel_haenszel", "peto"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

MHMeasure = Literal["OR", "RR", "RD"]
ZeroCellRule = Literal["only0", "all", "if0all", "none"]


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Tables:
    """The 2x2 tables of k studies (float arrays, no missing values)."""

    a: FloatArray
    b: FloatArray
    c: FloatArray
    d: FloatArray

    @property
    def n1(self) -> FloatArray:
        return self.a + self.b

    @property
    def n2(self) -> FloatArray:
        return self.c + self.d

    @property
    def n(self) -> FloatArray:
        return self.a + self.b + self.c + self.d

    @property
    def events(self) -> FloatArray:
        """Events in both groups (``a + c``)."""
        return self.a + self.c

    @property
    def non_events(self) -> FloatArray:
        """Non-events in both groups (``b + d``)."""
        return self.b + self.d

    @property
    def double_zero(self) -> BoolArray:
        """No events in either group, or only events in both groups."""
        out: BoolArray = (self.events == 0) | (self.non_events == 0)
        return out

    @property
    def any_zero(self) -> BoolArray:
        out: BoolArray = (self.a == 0) | (self.b == 0) | (self.c == 0) | (self.d == 0)
        return out


def _peto_o_e_v(t: _Tables) -> tuple[FloatArray, FloatArray]:
    """Observed minus expected events and hypergeometric variance of ``a``.

    ``E = (a + c) n_t / N``, ``V = (a + c)(b + d) n_t n_c / (N² (N - 1))``.
    """
    n = t.n
    expected = t.events * t.n1 / n
    var = t.events * t.non_events * (t.n1 / n) * (t.n2 / n) / (n - 1)
    return t.a - expected, var


# --------------------------------------------------------------------------- study level


@dataclass(frozen=True)
class _StudyLevel:
    effect: FloatArray  # NaN for dropped double-zero studies
    variance: FloatArray
    dropped: BoolArray  # double-zero studies left out of Q, I², H²
    corrected: BoolArray  # kept studies that received ``add`` in every cell
    undefined: BoolArray  # kept studies whose uncorrected effect is infinite or undefined
    other_warnings: tuple[tuple[type[Warning], str], ...]  # from effect_sizes, to re-emit


def _study_level(
    measure: str,
    tables: _Tables,
    labels: Sequence[str],
    *,
    add: float,
    to: str,
    drop00: bool,
) -> _StudyLevel:
    """Study-level effects and variances from :func:`msc_meta.effects.effect_sizes`.

    As metafor's ``escalc(measure, add=, to=, drop00=)``. A kept study whose
    effect is infinite or undefined, or whose variance is not a positive
    number (a zero cell left uncorrected by ``add=0`` or ``to="none"``), gets
    NaN and is marked ``undefined``: it is left out of Q, I² and H², as
    metafor recodes such values to NA, while its table still enters the
    pooled sums, which need no correction. The ZeroCellWarning of
    ``effect_sizes`` is replaced by the caller's own, which says what the
    correction means for the pooled estimate; other warnings are handed back
    to be re-emitted.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        es = effect_sizes(
            measure,
            events_t=tables.a,
            n_t=tables.n1,
            events_c=tables.c,
            n_c=tables.n2,
            add=add,
            to=to,
            drop00=drop00,
            labels=list(labels),
        )
    others = tuple(
        (w.category, str(w.message)) for w in caught if not issubclass(w.category, ZeroCellWarning)
    )
    yi = es["effect"].to_numpy(dtype=np.float64)
    vi = es["variance"].to_numpy(dtype=np.float64)
    dropped = tables.double_zero if drop00 else np.zeros(tables.a.shape, dtype=np.bool_)
    kept = ~dropped
    with np.errstate(invalid="ignore"):
        undefined = kept & ~(np.isfinite(yi) & np.isfinite(vi) & (vi > 0))
    # the studies that received ``add`` (escalc's ``to``), named in the warning and notes
    corrected = zero_cell_targets(tables.any_zero, to, kept) & (add > 0)
    out = dropped | undefined
    return _StudyLevel(
        effect=np.where(out, np.nan, yi),
        variance=np.where(out, np.nan, vi),
        dropped=dropped,
        corrected=corrected,
        undefined=undefined,
        other_warnings=others,
    )


# --------------------------------------------------------------------------- pooled estimates


@dataclass(frozen=True)
class _Pooled:
    estimate: float  # log scale for OR and RR
    variance: float
    weights: FloatArray  # un-normalised, one per table


def _undefined(what: str, why: str, hint: str = "") -> MetaAnalysisError:
    return MetaAnalysisError(
        f"the Mantel-Haenszel {what} is undefined: {why} (metafor's rma.mh gives NA or NaN here)"
        + (f"; {hint}" if hint else "")
    )


_TRY_RD = "the risk difference (measure='RD') may still be estimable; check the counts"


def _mh_or(t: _Tables) -> _Pooled:
    """MH odds ratio with the Robins-Breslow-Greenland variance."""
    n = t.n
    p, q = (t.a + t.d) / n, (t.b + t.c) / n
    r, s = t.a * t.d / n, t.b * t.c / n
    r_sum, s_sum = float(r.sum()), float(s.sum())
    if r_sum == 0 or s_sum == 0:
        raise _undefined(
            "odds ratio",
            f"sum(a*d/N) = {r_sum:g} and sum(b*c/N) = {s_sum:g}; one of them is 0, which "
            "happens when no study has events in one group, or non-events in the other",
            _TRY_RD,
        )
    var = 0.5 * (
        float((p * r).sum()) / r_sum**2
        + float((p * s + q * r).sum()) / (r_sum * s_sum)
        + float((q * s).sum()) / s_sum**2
    )
    return _Pooled(float(np.log(r_sum / s_sum)), var, s)


def _mh_rr(t: _Tables) -> _Pooled:
    """MH risk ratio with the Greenland-Robins variance."""
    n = t.n
    if t.a.sum() == 0 or t.c.sum() == 0:
        raise _undefined(
            "risk ratio",
            f"there are {t.a.sum():g} events in the treatment groups and {t.c.sum():g} in "
            "the control groups over all studies; both must be > 0",
            _TRY_RD,
        )
    r, s = t.a * t.n2 / n, t.c * t.n1 / n
    r_sum, s_sum = float(r.sum()), float(s.sum())
    var = float((t.n1 * t.n2 * t.events / n**2 - t.a * t.c / n).sum()) / (r_sum * s_sum)
    if not var > 0:
        raise _undefined("risk ratio variance", f"it is {var:g}; every group has only events")
    return _Pooled(float(np.log(r_sum / s_sum)), var, s)


def _mh_rd(t: _Tables) -> _Pooled:
    """MH risk difference with the Greenland-Robins (Sato) variance."""
    n, n1, n2 = t.n, t.n1, t.n2
    w = n1 * n2 / n
    w_sum = float(w.sum())
    est = float((t.a * n2 / n - t.c * n1 / n).sum()) / w_sum
    num = est * float((t.c * (n1 / n) ** 2 - t.a * (n2 / n) ** 2 + w * (n2 - n1) / (2 * n)).sum())
    num += float((t.a * (n2 - t.c) / n + t.c * (n1 - t.a) / n).sum()) / 2
    var = num / w_sum**2
    if not var > 0:
        raise _undefined(
            "risk difference variance",
            f"it is {var:g}; every group has either no events or only events",
        )
    return _Pooled(est, var, w)


#: Mantel-Haenszel estimators, keyed by metafor's measure code.
MH_MEASURES: dict[str, Callable[[_Tables], _Pooled]] = {
    "OR": _mh_or,
    "RR": _mh_rr,
    "RD": _mh_rd,
}


# --------------------------------------------------------------------------- tests


@dataclass(frozen=True)
class _OddsRatioTests:
    cmh: float
    cmh_pvalue: float
    breslow_day: float
    breslow_day_pvalue: float | None
    tarone: float
    tarone_pvalue: float | None
    df: int  # of the Breslow-Day and Tarone tests: k_pos - 1


def _odds_ratio_tests(t: _Tables, log_or: float, *, correct: bool) -> _OddsRatioTests:
    """Cochran-Mantel-Haenszel, Breslow-Day and Tarone tests (metafor's MH, BD, TA)."""
    n, n1, n2, m1, m2 = t.n, t.n1, t.n2, t.events, t.non_events
    dev = abs(float((t.a - n1 * m1 / n).sum())) - (0.5 if correct else 0.0)
    cmh = dev**2 / float((n1 * n2 * m1 * m2 / (n**2 * (n - 1))).sum())

    # Expected a under the common odds ratio psi: the root in (0, min(n1, m1)) of
    # (psi - 1) x² - A x + psi n1 m1 = 0, written in the form without cancellation.
    psi = float(np.exp(log_or))
    big_a = psi * (n1 + m1) + (n2 - m1)
    root = np.sqrt(np.maximum(big_a**2 - 4 * n1 * m1 * psi * (psi - 1), 0.0))
    e11 = 2 * n1 * m1 * psi / (big_a + root)
    pos = (e11 > 0) & (m1 > 0) & (m2 > 0)
    e11, a = e11[pos], t.a[pos]
    e12, e21 = n1[pos] - e11, m1[pos] - e11
    e22 = n[pos] - n1[pos] - m1[pos] + e11
    inv_var = 1 / e11 + 1 / e12 + 1 / e21 + 1 / e22
    bd = max(0.0, float(((a - e11) ** 2 * inv_var).sum()))
    tarone = max(0.0, bd - float((a - e11).sum()) ** 2 / float((1 / inv_var).sum()))
    df = int(pos.sum()) - 1
    return _OddsRatioTests(
        cmh=cmh,
        cmh_pvalue=chi2_sf(cmh, 1),
        breslow_day=bd,
        breslow_day_pvalue=chi2_sf(bd, df) if df > 0 else None,
        tarone=tarone,
        tarone_pvalue=chi2_sf(tarone, df) if df > 0 else None,
        df=df,
    )


@dataclass(frozen=True)
class _Heterogeneity:
    q: float
    q_df: int
    q_pvalue: float
    i2: float
    h2: float


def _heterogeneity(q: float, k_yi: int) -> _Heterogeneity:
    """Q p-value, I² (percent) and H² from Q on ``k_yi - 1`` df; metafor's k < 2 convention."""
    if k_yi < 2:
        return _Heterogeneity(q=0.0, q_df=max(k_yi - 1, 0), q_pvalue=1.0, i2=0.0, h2=1.0)
    df = k_yi - 1
    q = max(0.0, q)
    return _Heterogeneity(
        q=q, q_df=df, q_pvalue=chi2_sf(q, df), i2=i2_from_q(q, df), h2=h2_from_q(q, df)
    )


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class _Input:
    tables: _Tables
    labels: tuple[str, ...]
    add: float
    level: float
    messages: tuple[tuple[type[Warning], str], ...]
    not_estimable: tuple[str, ...] = ()
    given: pd.DataFrame | None = None  # the counts of every study given (missing ones too)
    given_labels: tuple[str, ...] = ()
    kept: NDArray[np.intp] | None = None  # positions of the complete tables in ``given``


def _read_input(
    events_t: ArrayLike | str,
    n_t: ArrayLike | str,
    events_c: ArrayLike | str,
    n_c: ArrayLike | str,
    data: Any,
    labels: ArrayLike | str | None,
    add: float,
    to: str,
    level: float,
) -> _Input:
    """Validate the arguments, drop rows with NaN, return the tables and warnings to emit."""
    check_choice(to, "to", ZERO_CELL_RULES)
    level_f = check_level(level)
    try:
        add_f = float(add)
    except (TypeError, ValueError):
        raise MetaAnalysisError(f"add={add!r} is not a number; give a value >= 0") from None
    if not (np.isfinite(add_f) and add_f >= 0):
        raise MetaAnalysisError(f"add={add!r} is not allowed; it must be a finite number >= 0")
    if isinstance(labels, str) and data is None:
        raise MetaAnalysisError(
            f"labels={labels!r} looks like a column name but no data= was given; "
            "give the labels themselves, or data="
        )
    cols = resolve_columns(
        data,
        {"events_t": events_t, "n_t": n_t, "events_c": events_c, "n_c": n_c, "labels": labels},
    )
    e_t = as_1d(cols["events_t"], "events_t")
    k = e_t.shape[0]
    check_not_empty(e_t, "events_t")
    arrs = {"events_t": e_t}
    for name in ("n_t", "events_c", "n_c"):
        arrs[name] = as_1d(cols[name], name, n=k, n_from="events_t")
    given = as_labels(cols["labels"], k)
    labs = default_labels(k, given)
    for name in ("events_t", "events_c"):
        check_counts(arrs[name], name, labs)
    for name in ("n_t", "n_c"):
        check_counts(arrs[name], name, labs, positive=True)
    check_le(arrs["events_t"], arrs["n_t"], "events_t", "n_t", labs)
    check_le(arrs["events_c"], arrs["n_c"], "events_c", "n_c", labs)

    messages: list[tuple[type[Warning], str]] = []
    missing = np.zeros(k, dtype=np.bool_)
    for arr in arrs.values():
        missing |= np.isnan(arr)
    if missing.all():
        raise MetaAnalysisError(
            "every study has a missing (NaN) count; at least one complete 2x2 table is needed"
        )
    if missing.any():
        messages.append(
            (
                DroppedStudiesWarning,
                f"{int(missing.sum())} of {k} studies dropped because a count is missing "
                f"(NaN): {_names(labs, missing)}",
            )
        )
    keep = ~missing
    e_t, nt, e_c, nc = (arrs[n][keep] for n in ("events_t", "n_t", "events_c", "n_c"))
    tables = _Tables(a=e_t, b=nt - e_t, c=e_c, d=nc - e_c)
    kept_labels = tuple(lab for lab, kp in zip(labs, keep, strict=True) if kp)
    missing_labels = tuple(lab for lab, kp in zip(labs, keep, strict=True) if not kp)
    counts = pd.DataFrame({name: arrs[name] for name in ("events_t", "n_t", "events_c", "n_c")})
    return _Input(
        tables,
        kept_labels,
        add_f,
        level_f,
        tuple(messages),
        missing_labels,
        given=counts,
        given_labels=tuple(labs),
        kept=np.flatnonzero(keep),
    )


def _names(labels: Sequence[str], mask: BoolArray) -> str:
    return ", ".join(repr(lab) for lab, m in zip(labels, mask, strict=True) if m)


def _zero_cell_notes(
    study: _StudyLevel, labels: Sequence[str], add: float, to: str, pooled_by: str
) -> list[str]:
    """Sentences on corrected and dropped studies (for the warning and the notes)."""
    notes = []
    if study.corrected.any():
        scope = "every study" if to in ("all", "if0all") else "the studies with a zero cell"
        notes.append(
            f"add={add:g} was added to each cell of {scope} (to={to!r}) for the study-level "
            f"effects only; the {pooled_by} estimate uses the counts as given. "
            f"Corrected: {_names(labels, study.corrected)}"
        )
    if study.dropped.any():
        notes.append(
            "double-zero studies (no events, or only events, in both groups) have no "
            "study-level effect (NaN in the per-study rows) and are left out of Q, I² and H²; "
            f"they still enter the {pooled_by} sums: {_names(labels, study.dropped)}"
        )
    if study.undefined.any():
        notes.append(
            f"with add={add:g} and to={to!r} the study-level effects of "
            f"{_names(labels, study.undefined)} are infinite or undefined, or have variance 0 "
            "(a zero cell left uncorrected): they are left out of Q, I² and H² (NaN in the "
            "per-study rows; metafor drops infinite effects too, but keeps variance-0 ones with "
            f"infinite weight); their tables still enter the {pooled_by} sums, which need no "
            "correction"
        )
    return notes


def _assemble(
    *,
    pooled: _Pooled,
    het: _Heterogeneity,
    study: _StudyLevel,
    inp: _Input,
    measure: str,
    method: str,
    notes: list[str],
    spec: FitSpec,
    cmh: float | None = None,
    cmh_pvalue: float | None = None,
    tarone: float | None = None,
    tarone_pvalue: float | None = None,
    tarone_df: int | None = None,
    breslow_day: float | None = None,
    breslow_day_pvalue: float | None = None,
) -> BinaryPooledResult:
    t = inp.tables
    study_data = pd.DataFrame({"events_t": t.a, "n_t": t.n1, "events_c": t.c, "n_c": t.n2})
    se = float(np.sqrt(pooled.variance))
    crit = critical_value(inp.level)
    z = pooled.estimate / se
    return BinaryPooledResult(
        estimate=pooled.estimate,
        se=se,
        ci_low=pooled.estimate - crit * se,
        ci_high=pooled.estimate + crit * se,
        statistic=z,
        pvalue=two_sided_p(z),
        q=het.q,
        q_df=het.q_df,
        q_pvalue=het.q_pvalue,
        i2=het.i2,
        h2=het.h2,
        k=int(inp.tables.a.shape[0]),
        measure=measure,
        method=method,
        level=inp.level,
        not_estimable=inp.not_estimable,
        effect=study.effect,
        variance=study.variance,
        weights=100 * pooled.weights / pooled.weights.sum(),
        labels=inp.labels,
        cmh=cmh,
        cmh_pvalue=cmh_pvalue,
        tarone=tarone,
        tarone_pvalue=tarone_pvalue,
        tarone_df=tarone_df,
        breslow_day=breslow_day,
        breslow_day_pvalue=breslow_day_pvalue,
        notes=tuple(notes),
        study_data=study_data,
        n_total=t.n,
        spec=spec,
    )


def _spec(
    inp: _Input,
    fitter: Callable[..., BinaryPooledResult],
    measure: str,
    *,
    to: str,
    drop00: bool,
    correct: bool | None,
) -> FitSpec:
    """The fit specification of a Mantel-Haenszel (``correct`` given) or Peto fit."""
    assert inp.given is not None and inp.kept is not None
    return FitSpec(
        kind="peto" if correct is None else "mantel-haenszel",
        fitter=fitter,
        measure=measure,
        method="Peto" if correct is None else "MH",
        test="z",
        level=inp.level,
        labels=inp.given_labels,
        kept=inp.kept,
        n_total=(inp.given["n_t"] + inp.given["n_c"]).to_numpy(dtype=np.float64),
        study_data=inp.given,
        add=inp.add,
        to=to,
        drop00=drop00,
        correct=correct,
    )


def _few_studies_note(k_yi: int) -> str:
    return (
        f"{k_yi} study-level effect{'s' if k_yi != 1 else ''}: heterogeneity cannot be "
        "assessed; Q = 0, p = 1, I² = 0 and H² = 1 by metafor's convention"
    )


# --------------------------------------------------------------------------- public API


def mantel_haenszel(
    measure: MHMeasure,
    *,
    events_t: ArrayLike | str,
    n_t: ArrayLike | str,
    events_c: ArrayLike | str,
    n_c: ArrayLike | str,
    data: Any = None,
    labels: ArrayLike | str | None = None,
    add: float = 0.5,
    to: ZeroCellRule = "only0",
    drop00: bool = True,
    correct: bool = True,
    level: float = 0.95,
) -> BinaryPooledResult:
    r"""Mantel-Haenszel common-effect meta-analysis of 2x2 tables.

    The equivalent of metafor's ``rma.mh(measure=, ai=, n1i=, ci=, n2i=, add=, to=,
    drop00=, correct=, level=)`` for the measures ``"OR"``, ``"RR"`` and ``"RD"``.

    Parameters
    ----------
    measure : {"OR", "RR", "RD"}
        Odds ratio, risk ratio (both pooled on the log scale) or risk difference.
    events_t : array_like or str
        Events in the treatment group, one per study (or a column name of
        ``data``).
    n_t : array_like or str
        Size of the treatment group.
    events_c : array_like or str
        Events in the control group.
    n_c : array_like or str
        Size of the control group.
    data : pandas.DataFrame or mapping, optional
        Where string arguments are looked up as columns.
    labels : array_like or str, optional
        Study labels (or a column of ``data``); ``"Study 1", ...`` by default.
    add : float, default 0.5
        Added to each cell of the tables selected by ``to``, for the study-level
        effects only; the pooled estimate always uses the counts as given.
    to : {"only0", "all", "if0all", "none"}, default "only0"
        Which tables get ``add``: those with a zero cell, all, all if any has a
        zero cell, or none (as ``escalc``).
    drop00 : bool, default True
        Leave double-zero studies (no events, or only events, in both groups)
        out of the study-level effects, hence out of Q, I² and H². They still
        enter the Mantel-Haenszel sums, where they carry no weight for OR and RR.
    correct : bool, default True
        Continuity correction (0.5) in the Cochran-Mantel-Haenszel test (OR only).
    level : float, default 0.95
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    BinaryPooledResult
        ``estimate`` (log OR, log RR or RD), ``se``, ``ci_low``, ``ci_high``,
        ``statistic`` (z), ``pvalue``; ``q``, ``q_df``, ``q_pvalue``, ``i2``
        (percent), ``h2`` from the study-level effects; ``k`` tables;
        per-study ``effect``, ``variance`` (NaN for dropped double-zero studies),
        ``weights`` (percent, summing to 100, as metafor's ``weights.rma.mh``);
        for OR also ``cmh``/``cmh_pvalue`` (Cochran-Mantel-Haenszel test) and
        ``tarone``/``tarone_pvalue`` (Tarone's test of homogeneity, on
        ``k_pos - 1`` df where ``k_pos`` counts tables with events and
        non-events; ``None`` when ``k_pos < 2``).

    Raises
    ------
    MetaAnalysisError
        For invalid input (negative, non-integer or too large counts, group
        sizes < 1, lengths that differ, no studies, unknown ``measure`` or
        ``to``, ``level`` outside (0, 1), a missing column), and when the
        pooled estimate is undefined (OR: ``R = 0`` or ``S = 0``; RR: no events
        in one group over all studies; RD: zero variance).

    Warns
    -----
    ZeroCellWarning
        When zero cells are corrected, double-zero studies dropped, or study-level
        effects left out of Q because a zero cell was not corrected (``add=0``
        or ``to="none"``); names the studies.
    DroppedStudiesWarning
        When studies with a missing (NaN) count are dropped (names them).
    FewStudiesWarning
        When fewer than two study-level effects remain, so heterogeneity cannot
        be assessed.

    See Also
    --------
    peto : Peto's one-step odds ratio.
    msc_meta.meta_analysis : inverse-variance pooling.

    Notes
    -----
    With :math:`N_i = a_i + b_i + c_i + d_i`, :math:`n_{1i} = a_i + b_i`,
    :math:`n_{2i} = c_i + d_i`:

    **Odds ratio** (Mantel & Haenszel 1959), with :math:`R_i = a_i d_i / N_i`,
    :math:`S_i = b_i c_i / N_i`, :math:`P_i = (a_i + d_i)/N_i`,
    :math:`Q_i = (b_i + c_i)/N_i`, :math:`R = \sum R_i`, :math:`S = \sum S_i`:

    .. math::

        \hat\psi = R / S, \qquad
        \widehat{\mathrm{Var}}(\log\hat\psi) = \frac{\sum P_i R_i}{2R^2}
        + \frac{\sum (P_i S_i + Q_i R_i)}{2RS} + \frac{\sum Q_i S_i}{2S^2}

    (Robins, Breslow & Greenland 1986). Weights are :math:`S_i`.
    The Cochran-Mantel-Haenszel statistic, on 1 df, is

    .. math::

        X^2_{MH} = \frac{\left(\left|\sum_i a_i - n_{1i} m_{1i}/N_i\right| - 0.5\right)^2}
        {\sum_i n_{1i} n_{2i} m_{1i} m_{2i} / (N_i^2 (N_i - 1))}

    with :math:`m_{1i} = a_i + c_i`, :math:`m_{2i} = b_i + d_i` (0.5 only when
    ``correct``; metafor's ``MH``). As in metafor, the 0.5 is subtracted even
    when :math:`|\sum_i a_i - n_{1i} m_{1i}/N_i| < 0.5` (R's ``mantelhaen.test``
    drops the correction there). Tarone's (1985) test is the Breslow-Day
    statistic :math:`\sum_i (a_i - \tilde a_i)^2/\tilde v_i` minus
    :math:`(\sum_i a_i - \tilde a_i)^2 / \sum_i \tilde v_i`, where
    :math:`\tilde a_i` is the expected count under :math:`\hat\psi` (the
    admissible root of a quadratic) and :math:`\tilde v_i^{-1}` the sum of the
    reciprocal expected cells, on :math:`k_{pos} - 1` df.

    **Risk ratio** (Greenland & Robins 1985):
    :math:`R = \sum a_i n_{2i}/N_i`, :math:`S = \sum c_i n_{1i}/N_i`,

    .. math::

        \widehat{\mathrm{Var}}(\log R/S) =
        \frac{\sum_i (n_{1i} n_{2i} (a_i + c_i)/N_i^2 - a_i c_i / N_i)}{R S}.

    Weights are :math:`c_i n_{1i} / N_i`.

    **Risk difference**, with weights :math:`w_i = n_{1i} n_{2i} / N_i`,
    :math:`\hat\delta = \sum_i (a_i n_{2i} - c_i n_{1i})/N_i \,/\, \sum_i w_i` and
    the variance of Sato, Greenland & Robins (1989), as in metafor:

    .. math::

        \widehat{\mathrm{Var}}(\hat\delta) = \frac{\hat\delta \sum_i
        \left(c_i n_{1i}^2 - a_i n_{2i}^2 + n_{1i} n_{2i}(n_{2i} - n_{1i})/2\right)/N_i^2
        + \sum_i \left(a_i (n_{2i} - c_i) + c_i (n_{1i} - a_i)\right) / (2 N_i)}
        {\left(\sum_i w_i\right)^2}.

    **Heterogeneity** uses the study-level effects :math:`y_i` and variances
    :math:`v_i` (``escalc`` with ``add``, ``to``, ``drop00``):
    :math:`Q = \sum_i (y_i - \hat\theta)^2 / v_i` on :math:`k_y - 1` df,
    :math:`I^2 = \max(0, 100 (Q - (k_y - 1))/Q)`, :math:`H^2 = Q/(k_y - 1)`;
    with :math:`k_y < 2`, :math:`Q = 0`, :math:`p = 1`, :math:`I^2 = 0`,
    :math:`H^2 = 1` (metafor's convention).

    References
    ----------
    Mantel N, Haenszel W (1959). Statistical aspects of the analysis of data from
    retrospective studies of disease. *J Natl Cancer Inst* 22:719-748.

    Robins J, Breslow N, Greenland S (1986). Estimators of the Mantel-Haenszel
    variance consistent in both sparse data and large-strata limiting models.
    *Biometrics* 42:311-323.

    Greenland S, Robins JM (1985). Estimation of a common effect parameter from
    sparse follow-up data. *Biometrics* 41:55-68.

    Sato T, Greenland S, Robins JM (1989). On the variance estimator for the
    Mantel-Haenszel risk difference. *Biometrics* 45:1323-1324.

    Tarone RE (1985). On heterogeneity tests based on efficient scores.
    *Biometrika* 72:91-95.

    Examples
    --------
    The first four BCG vaccine trials (metafor's ``dat.bcg``); metafor's
    ``rma.mh(measure="OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg[1:4, ])``
    gives an odds ratio of 0.2347 and I² = 0:

    >>> import numpy as np
    >>> import msc_meta as mm
    >>> res = mm.mantel_haenszel("OR", events_t=[4, 6, 3, 62], n_t=[123, 306, 231, 13598],
    ...                          events_c=[11, 29, 11, 248], n_c=[139, 303, 220, 12867])
    >>> round(float(np.exp(res.estimate)), 4)
    0.2347
    >>> round(res.i2, 2), round(float(res.weights.sum()), 10)
    (0.0, 100.0)
    """
    check_choice(measure, "measure", MH_MEASURES)
    inp = _read_input(events_t, n_t, events_c, n_c, data, labels, add, to, level)
    for cls, msg in inp.messages:
        warnings.warn(msg, cls, stacklevel=2)

    study = _study_level(measure, inp.tables, inp.labels, add=inp.add, to=to, drop00=bool(drop00))
    pooled = MH_MEASURES[measure](inp.tables)
    kept = ~np.isnan(study.effect)
    k_yi = int(kept.sum())
    q = float((((study.effect - pooled.estimate) ** 2 / study.variance)[kept]).sum())
    het = _heterogeneity(q, k_yi)

    for cls, msg in study.other_warnings:
        warnings.warn(msg, cls, stacklevel=2)
    notes = _zero_cell_notes(study, inp.labels, inp.add, to, "Mantel-Haenszel")
    if notes:
        warnings.warn(" ".join(n + "." for n in notes), ZeroCellWarning, stacklevel=2)
    if k_yi < 2:
        notes.append(_few_studies_note(k_yi))
        warnings.warn(notes[-1], FewStudiesWarning, stacklevel=2)

    cmh = cmh_p = tarone = tarone_p = bd = bd_p = None
    tarone_df: int | None = None
    if measure == "OR":
        tests = _odds_ratio_tests(inp.tables, pooled.estimate, correct=bool(correct))
        cmh, cmh_p = tests.cmh, tests.cmh_pvalue
        if tests.tarone_pvalue is None:
            notes.append(
                "Tarone's test needs at least two tables with both events and non-events; "
                "not computed"
            )
        else:
            tarone, tarone_p, tarone_df = tests.tarone, tests.tarone_pvalue, tests.df
            bd, bd_p = tests.breslow_day, tests.breslow_day_pvalue
    return _assemble(
        pooled=pooled,
        het=het,
        study=study,
        inp=inp,
        measure=measure,
        method="MH",
        notes=notes,
        spec=_spec(
            inp, mantel_haenszel, measure, to=to, drop00=bool(drop00), correct=bool(correct)
        ),
        cmh=cmh,
        cmh_pvalue=cmh_p,
        tarone=tarone,
        tarone_pvalue=tarone_p,
        tarone_df=tarone_df,
        breslow_day=bd,
        breslow_day_pvalue=bd_p,
    )


def peto(
    *,
    events_t: ArrayLike | str,
    n_t: ArrayLike | str,
    events_c: ArrayLike | str,
    n_c: ArrayLike | str,
    data: Any = None,
    labels: ArrayLike | str | None = None,
    add: float = 0.5,
    to: ZeroCellRule = "only0",
    drop00: bool = True,
    level: float = 0.95,
) -> BinaryPooledResult:
    r"""Peto's one-step odds ratio (common-effect meta-analysis of 2x2 tables).

    The equivalent of metafor's ``rma.peto(ai=, n1i=, ci=, n2i=, add=, to=, drop00=,
    level=)``. The result has ``measure="PETO"`` and ``method="Peto"``; the
    estimate is a log odds ratio.

    Parameters
    ----------
    events_t : array_like or str
        Events in the treatment group, one per study (or a column name of
        ``data``).
    n_t : array_like or str
        Size of the treatment group.
    events_c : array_like or str
        Events in the control group.
    n_c : array_like or str
        Size of the control group.
    data : pandas.DataFrame or mapping, optional
        Where string arguments are looked up as columns.
    labels : array_like or str, optional
        Study labels (or a column of ``data``); ``"Study 1", ...`` by default.
    add : float, default 0.5
        Added to each cell of the tables selected by ``to``, as in
        :func:`mantel_haenszel`, for the study-level effects (the per-study
        rows) only. The pooled estimate and Q use the counts as given.
    to : {"only0", "all", "if0all", "none"}, default "only0"
        Which tables get ``add`` (as in :func:`mantel_haenszel`).
    drop00 : bool, default True
        Leave double-zero studies out of the study-level effects (as in
        :func:`mantel_haenszel`).
    level : float, default 0.95
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    BinaryPooledResult
        As for :func:`mantel_haenszel`; weights are :math:`V_i / \sum V_i` in
        percent (metafor's ``weights.rma.peto``); no CMH or Tarone test.

    Raises
    ------
    MetaAnalysisError
        For invalid input (see :func:`mantel_haenszel`), or when no table has
        both events and non-events (:math:`\sum V_i = 0`).

    Warns
    -----
    ZeroCellWarning, DroppedStudiesWarning, FewStudiesWarning
        As in :func:`mantel_haenszel`.

    Notes
    -----
    With :math:`O_i = a_i`, :math:`E_i = (a_i + c_i) n_{1i}/N_i` and the
    hypergeometric variance
    :math:`V_i = (a_i + c_i)(b_i + d_i) n_{1i} n_{2i} / (N_i^2 (N_i - 1))`
    (Yusuf et al. 1985):

    .. math::

        \log\hat\psi = \frac{\sum_i (O_i - E_i)}{\sum_i V_i}, \qquad
        \mathrm{SE} = \left(\sum_i V_i\right)^{-1/2}, \qquad
        Q = \sum_{i: V_i > 0} \frac{(O_i - E_i)^2}{V_i}
            - \frac{\left(\sum_i (O_i - E_i)\right)^2}{\sum_i V_i},

    Q (floored at 0) on :math:`k_y - 1` df, where :math:`k_y` counts the
    study-level effects; I² and H² from Q as in :func:`mantel_haenszel`, and
    Q = 0, p = 1, I² = 0, H² = 1 when fewer than two tables have
    :math:`V_i > 0` (metafor's convention).

    References
    ----------
    Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985). Beta blockade during
    and after myocardial infarction: an overview of the randomized trials.
    *Prog Cardiovasc Dis* 27:335-371.

    Examples
    --------
    The first four BCG vaccine trials; metafor's ``rma.peto(ai=tpos, bi=tneg,
    ci=cpos, di=cneg, data=dat.bcg[1:4, ])`` gives a log odds ratio of -1.2655:

    >>> import msc_meta as mm
    >>> res = mm.peto(events_t=[4, 6, 3, 62], n_t=[123, 306, 231, 13598],
    ...               events_c=[11, 29, 11, 248], n_c=[139, 303, 220, 12867])
    >>> res.measure, res.method, res.k
    ('PETO', 'Peto', 4)
    >>> round(res.estimate, 4)
    -1.2655
    """
    inp = _read_input(events_t, n_t, events_c, n_c, data, labels, add, to, level)
    for cls, msg in inp.messages:
        warnings.warn(msg, cls, stacklevel=2)

    study = _study_level("PETO", inp.tables, inp.labels, add=inp.add, to=to, drop00=bool(drop00))
    o_e, var = _peto_o_e_v(inp.tables)
    v_sum = float(var.sum())
    if v_sum == 0:
        raise MetaAnalysisError(
            "Peto's odds ratio is undefined: no table has both events and non-events "
            "(sum of V_i = 0); metafor's rma.peto stops here too"
        )
    estimate = float(o_e.sum()) / v_sum
    pos = var > 0
    k_pos = int(pos.sum())
    k_yi = int((~np.isnan(study.effect)).sum())
    q = float((o_e[pos] ** 2 / var[pos]).sum()) - float(o_e.sum()) ** 2 / v_sum
    if k_pos > 1:
        het = _heterogeneity(q, k_yi)
    else:  # one informative table: Q = 0 exactly; metafor keeps df = k_y - 1
        het = _Heterogeneity(q=0.0, q_df=max(k_yi - 1, 0), q_pvalue=1.0, i2=0.0, h2=1.0)

    for cls, msg in study.other_warnings:
        warnings.warn(msg, cls, stacklevel=2)
    notes = _zero_cell_notes(study, inp.labels, inp.add, to, "Peto")
    if notes:
        warnings.warn(" ".join(n + "." for n in notes), ZeroCellWarning, stacklevel=2)
    if min(k_yi, k_pos) < 2:
        notes.append(_few_studies_note(min(k_yi, k_pos)))
        warnings.warn(notes[-1], FewStudiesWarning, stacklevel=2)
    return _assemble(
        pooled=_Pooled(estimate, 1 / v_sum, var),
        het=het,
        study=study,
        inp=inp,
        measure="PETO",
        method="Peto",
        notes=notes,
        spec=_spec(inp, peto, "PETO", to=to, drop00=bool(drop00), correct=None),
    )
