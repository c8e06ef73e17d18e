"""Rows of a forest plot: studies, pooled estimates, texts, order and axis (no drawing)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._errors import MetaAnalysisError
from .._format import count, number, p_equals, small
from .._inference import critical_value, two_sided_p
from ..results import NOT_APPLICABLE_K1, NOT_ESTIMABLE, SINGLE_STUDY
from ._common import (
    TYPESET,
    PooledResult,
    check_xlim,
    is_random,
    measure_of,
    nice_linear,
    nice_log,
    ticks_within_linear,
    ticks_within_log,
    to_display,
)

RowKind = Literal[
    "study",
    "not_estimable",
    "omitted",
    "pooled_re",
    "pooled_ce",
    "prediction",
    "subgroup_header",
    "heterogeneity",
    "test",
    "subgroup_test",
]
SortKey = Literal["effect", "weight", "year"] | str

#: Rows whose text spans the columns (drawn from the left edge, smaller font).
TEXT_KINDS = frozenset({"heterogeneity", "test", "subgroup_test", "omitted"})
#: Rows drawn in bold.
BOLD_KINDS = frozenset({"pooled_re", "pooled_ce", "subgroup_header"})

ARM_KEYS = ("arm_t", "n_t", "arm_c", "n_c", "arm", "n", "pre", "post")
GRAPH_KINDS = ("study", "pooled_re", "pooled_ce", "prediction")
ARROW_KINDS = ("study", "prediction")
#: How far (in widths of the core of the plot) the automatic axis reaches to cover study
#: intervals beyond the estimates and the pooled intervals; see :func:`axis_limits`.
COVER_REACH = 2.0


def direction_labels(
    favours: Any, label_left: str | None, label_right: str | None
) -> tuple[str | None, str | None]:
    """The labels under the axis, left and right: given, or ``"Favours ..."`` from ``favours``."""
    if favours is None:
        return (
            None if label_left is None else str(label_left),
            None if label_right is None else str(label_right),
        )
    if label_left is not None or label_right is not None:
        raise MetaAnalysisError(
            "give favours= or label_left=/label_right=, not both (favours=('A', 'B') is "
            "label_left='Favours A', label_right='Favours B')"
        )
    if isinstance(favours, str) or len(favours) != 2:
        raise MetaAnalysisError(
            f"favours={favours!r} must be two labels (left, right), e.g. ('MSC', 'control')"
        )
    return _favours(str(favours[0])), _favours(str(favours[1]))


def _favours(label: str) -> str:
    return label if re.match(r"(?i)favou?rs?\b", label) else f"Favours {label}"


def check_max_rows(max_rows: Any) -> int | None:
    if max_rows is None:
        return None
    if isinstance(max_rows, bool) or not isinstance(max_rows, int | np.integer) or max_rows < 1:
        raise MetaAnalysisError(
            f"max_rows={max_rows!r} must be a positive whole number, or None to show every study"
        )
    return int(max_rows)


def shown_studies(idx: list[int], max_rows: int | None) -> tuple[list[int], list[int], int]:
    """The first and last studies of ``idx`` within ``max_rows``, and how many are left out."""
    if max_rows is None or len(idx) <= max_rows:
        return idx, [], 0
    head = (max_rows + 1) // 2
    tail = max_rows - head
    return idx[:head], idx[len(idx) - tail :], len(idx) - max_rows


def omitted_row(n: int, y: float, group: str = "") -> dict[str, Any]:
    text = f"… {n:,} more {'study' if n == 1 else 'studies'} (not shown; all are pooled)"
    return text_row("omitted", text, y, group)


def not_estimable_row(label: str, y: float, group: str = "") -> dict[str, Any]:
    return {
        **text_row("not_estimable", str(label), y, group),
        "estimate_text": "",
        "ci_text": NOT_ESTIMABLE,
        "effect_text": NOT_ESTIMABLE,
        "weight_text": "",
    }


@dataclass(frozen=True)
class ForestColumn:
    """A text column of a forest plot.

    Attributes
    ----------
    key : str
        Column of :attr:`ForestData.rows` holding the texts.
    header : str
        Column header.
    side : {"left", "right"}
        Left or right of the graph.
    align : {"left", "right", "center"}
        Horizontal alignment of the texts.
    group : str
        A header spanning consecutive columns with the same ``group`` (e.g.
        the name of an arm above its "Events/Total" column); ``""`` for none.
    """

    key: str
    header: str
    side: Literal["left", "right"]
    align: Literal["left", "right", "center"] = "right"
    group: str = ""


@dataclass(frozen=True)
class RowContext:
    root: PooledResult
    transform: bool
    digits: int
    arm_digits: int
    family: str | None
    extra: dict[str, tuple[str, list[str]]]
    level: float

    def disp(self, x: Any, n: Any = None) -> Any:
        return to_display(self.root, x, n=n, transform=self.transform)

    def n_of(self, idx: Sequence[int]) -> float | None:
        """Harmonic mean of the study sizes (for the PFT inverse of pooled values)."""
        n = getattr(self.root, "n_total", None)
        if n is None or len(idx) == 0:
            return None
        vals = np.asarray(n, dtype=float)[list(idx)]
        vals = vals[np.isfinite(vals) & (vals > 0)]
        return float(len(vals) / np.sum(1.0 / vals)) if vals.size else None

    def interval_texts(self, est: float, lo: float, hi: float) -> dict[str, str]:
        d = self.digits
        if not math.isfinite(est):
            return {
                "estimate_text": "",
                "ci_text": NOT_ESTIMABLE,
                "effect_text": NOT_ESTIMABLE,
            }
        ci = f"[{number(lo, d, style=TYPESET)}; {number(hi, d, style=TYPESET)}]"
        e = number(est, d, style=TYPESET)
        return {"estimate_text": e, "ci_text": ci, "effect_text": f"{e} {ci}"}

    def study_row(self, i: int, y: float, group: str = "") -> dict[str, Any]:
        r = self.root
        yi, vi = float(r.effect[i]), float(r.variance[i])
        crit = critical_value(self.level)
        se = math.sqrt(vi) if math.isfinite(vi) else math.nan
        n_i = None
        n = getattr(r, "n_total", None)
        if n is not None:
            n_i = float(n[i])
        est, lo, hi = (
            float(v) for v in self.disp(np.array([yi, yi - crit * se, yi + crit * se]), n=n_i)
        )
        w = float(r.weights[i])
        row: dict[str, Any] = {
            "kind": "study",
            "label": str(r.labels[i]),
            "group": group,
            "study": i,
            "y": y,
            "estimate": est,
            "ci_low": lo,
            "ci_high": hi,
            "weight": w,
            "weight_text": f"{w:.1f}%" if math.isfinite(w) else "",
            **self.interval_texts(est, lo, hi),
            **self.arm_texts([i], total=False),
        }
        for key, (_, values) in self.extra.items():
            row[key] = values[i]
        return row

    def arm_texts(self, idx: Sequence[int], *, total: bool) -> dict[str, str]:
        sd = self.root.study_data
        fam = self.family
        if sd is None or fam is None or len(idx) == 0:
            return {}
        part = sd.iloc[list(idx)]

        def col(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
            if name not in part.columns:
                return np.full(len(part), np.nan)
            return np.asarray(part[name].to_numpy(dtype=float), dtype=np.float64)

        def ratio(ev: str, n: str) -> str:
            e, m = col(ev), col(n)
            if total:
                if not (np.isfinite(e).all() and np.isfinite(m).all()):
                    return ""
                return f"{count(float(e.sum()))}/{count(float(m.sum()))}"
            return f"{count(e[0])}/{count(m[0])}" if np.isfinite(e[0]) else ""

        def size(n: str) -> str:
            m = col(n)
            if total:
                return count(float(m.sum())) if np.isfinite(m).all() else ""
            return count(m[0])

        def mean_sd(mean: str, sd_: str) -> str:
            if total:
                return ""
            m, s = col(mean)[0], col(sd_)[0]
            if not math.isfinite(m):
                return ""
            d = self.arm_digits
            return (
                f"{number(m, d, style=TYPESET)} ({number(s, d, style=TYPESET)})"
                if math.isfinite(s)
                else number(m, d, style=TYPESET)
            )

        if fam == "binary2":
            return {"arm_t": ratio("events_t", "n_t"), "arm_c": ratio("events_c", "n_c")}
        if fam == "means2":
            return {
                "arm_t": mean_sd("mean_t", "sd_t"),
                "n_t": size("n_t"),
                "arm_c": mean_sd("mean_c", "sd_c"),
                "n_c": size("n_c"),
            }
        if fam == "binary1":
            return {"arm": ratio("events", "n")}
        if fam == "means1":
            return {"arm": mean_sd("mean", "sd"), "n": size("n")}
        if fam == "cor":
            return {"n": size("n")}
        if fam == "change":
            return {
                "pre": mean_sd("mean_pre", "sd_pre"),
                "post": mean_sd("mean_post", "sd_post"),
                "n": size("n"),
            }
        return {}  # pragma: no cover - every family is handled above


def text_row(kind: RowKind, text: str, y: float, group: str = "") -> dict[str, Any]:
    return {
        "kind": kind,
        "label": text,
        "group": group,
        "study": -1,
        "y": y,
        "estimate": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "weight": math.nan,
    }


def pooled_block(
    rows: list[dict[str, Any]],
    ctx: RowContext,
    res: PooledResult,
    idx: Sequence[int],
    y: float,
    *,
    group: str,
    common: bool,
    prediction: bool | None,
    subtotal: bool,
    tests: bool,
) -> float:
    """Append the pooled, prediction, heterogeneity and test rows; return the next y."""
    random = is_random(res)
    n_hm = ctx.n_of(idx)
    weight_total = float(np.nansum(np.asarray(ctx.root.weights, dtype=float)[list(idx)]))
    arms = ctx.arm_texts(idx, total=True)
    method = getattr(res, "method", "")
    models: list[tuple[RowKind, str, float, float, float]] = []
    if random:
        if common:
            ce_est, ce_lo, ce_hi = (
                float(getattr(res, a)) for a in ("ce_estimate", "ce_ci_low", "ce_ci_high")
            )
            models.append(
                ("pooled_ce", _model_label("common", subtotal, "", res.k), ce_est, ce_lo, ce_hi)
            )
        models.append(
            (
                "pooled_re",
                _model_label("random", subtotal, "", res.k),
                res.estimate,
                res.ci_low,
                res.ci_high,
            )
        )
    else:
        how = {"MH": "Mantel-Haenszel", "Peto": "Peto"}.get(method, "")
        models.append(
            (
                "pooled_ce",
                _model_label("common", subtotal, how, res.k),
                res.estimate,
                res.ci_low,
                res.ci_high,
            )
        )
    for kind, label, est, lo, hi in models:
        e, a, b = (float(v) for v in ctx.disp(np.array([est, lo, hi]), n=n_hm))
        row = {
            **text_row(kind, label, y, group),
            "estimate": e,
            "ci_low": a,
            "ci_high": b,
            "weight": weight_total,
            "weight_text": f"{weight_total:.1f}%",
            **ctx.interval_texts(e, a, b),
            **arms,
        }
        arms = {}  # totals once, on the first pooled row
        rows.append(row)
        y += 1
    # from k = 2, as the result's tables report it (to_frame, the report)
    show_pi = random and res.k >= 2 and (prediction if prediction is not None else not subtotal)
    if show_pi:
        lo_pi, hi_pi = (
            float(v)
            for v in ctx.disp(np.array([res.pi_low, res.pi_high]), n=n_hm)  # type: ignore[union-attr]
        )
        d = ctx.digits
        ci = f"[{number(lo_pi, d, style=TYPESET)}; {number(hi_pi, d, style=TYPESET)}]"
        rows.append(
            {
                **text_row("prediction", "Prediction interval", y, group),
                "ci_low": lo_pi,
                "ci_high": hi_pi,
                "estimate_text": "",
                "ci_text": ci,
                "effect_text": ci,
            }
        )
        y += 1
    rows.append(text_row("heterogeneity", _heterogeneity_text(res), y, group))
    y += 1
    # a proportion's test is against 0 on the transformed scale (logit 0 is p = 0.5): no line
    spec = measure_of(res.measure)
    if tests and not (spec is not None and spec.family == "binary1"):
        for model, text in _test_texts(res, common):
            label = "Test for overall effect" + (f" ({model})" if model else "")
            rows.append(text_row("test", f"{label}: {text}", y, group))
            y += 1
    return y


def _model_label(model: str, subtotal: bool, how: str, k: int = 2) -> str:
    if k == 1:  # nothing is pooled: say so rather than name a model, as the summaries do
        return "Subtotal (one study)" if subtotal else SINGLE_STUDY
    if subtotal:
        return f"Subtotal ({model} effect{'s' if model == 'random' else ''})"
    name = "Random-effects model" if model == "random" else "Common-effect model"
    return f"{name} ({how})" if how else name


def _heterogeneity_text(res: PooledResult) -> str:
    if res.k < 2:
        return f"Heterogeneity: {NOT_APPLICABLE_K1}"
    parts = []
    if is_random(res):
        tau2 = float(res.tau2)  # type: ignore[union-attr]
        lo, hi = res.tau2_ci  # type: ignore[union-attr]
        ci = f" [{small(lo)}; {small(hi)}]" if math.isfinite(lo) else ""
        parts.append(f"τ² = {small(tau2)}{ci}")
    i2 = f"I² = {res.i2:.0f}%"
    i2_ci = getattr(res, "i2_ci", None)
    if i2_ci is not None and all(math.isfinite(v) for v in i2_ci):
        i2 += f" [{i2_ci[0]:.0f}%; {i2_ci[1]:.0f}%]"
    parts.append(i2)
    parts.append(
        f"Q = {number(res.q, 2, style=TYPESET)}, df = {res.q_df} ({p_equals(res.q_pvalue)})"
    )
    return "Heterogeneity: " + "; ".join(parts)


def _test_texts(res: PooledResult, common: bool) -> list[tuple[str, str]]:
    df = getattr(res, "df", None)
    if df is None:
        main = f"z = {number(res.statistic, 2, style=TYPESET)} ({p_equals(res.pvalue)})"
    else:
        main = (
            f"t = {number(res.statistic, 2, style=TYPESET)}, df = {df:g} ({p_equals(res.pvalue)})"
        )
    if not (common and is_random(res)):
        return [("", main)]
    ce_se = float(res.ce_se)  # type: ignore[union-attr]
    z = float(res.ce_estimate) / ce_se  # type: ignore[union-attr]
    p = two_sided_p(z)
    return [
        ("common effect", f"z = {number(z, 2, style=TYPESET)} ({p_equals(p)})"),
        ("random effects", main),
    ]


# --------------------------------------------------------------------------- sorting, columns


def extra_columns(
    data: pd.DataFrame | None, columns: Sequence[str] | Mapping[str, str] | None, k: int
) -> dict[str, tuple[str, list[str]]]:
    if data is not None:
        if not hasattr(data, "columns"):
            raise MetaAnalysisError(
                f"data is a {type(data).__name__}; give a DataFrame with one row per study"
            )
        if len(data) != k:
            raise MetaAnalysisError(
                f"data has {len(data)} rows but the result has {k} studies; give one row per "
                "pooled study, in the order of result.labels"
            )
    if columns is None:
        return {}
    if data is None:
        raise MetaAnalysisError("columns= needs data=, a DataFrame with one row per study")
    headers = dict(columns) if isinstance(columns, Mapping) else {c: str(c) for c in columns}
    out: dict[str, tuple[str, list[str]]] = {}
    for name, header in headers.items():
        if name not in data.columns:
            raise MetaAnalysisError(
                f"columns: {name!r} is not a column of data; its columns are: "
                f"{', '.join(map(str, data.columns))}"
            )
        out[f"extra_{name}"] = (str(header), [_cell(v) for v in data[name].tolist()])
    return out


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        if not math.isfinite(v):
            return ""
        return count(float(v)) if float(v).is_integer() else f"{v:g}"
    text = str(v)
    return "" if text in ("nan", "<NA>", "NaT") else text


_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")


def _sort_values(sort_by: str, root: PooledResult, data: pd.DataFrame | None) -> list[Any]:
    k = len(root.labels)
    if sort_by == "effect":
        return [float(v) for v in root.effect]
    if sort_by == "weight":
        return [float(v) for v in root.weights]
    if sort_by == "year" and (data is None or "year" not in data.columns):
        years: list[Any] = []
        for lab in root.labels:
            m = _YEAR.search(str(lab))
            if m is None:
                raise MetaAnalysisError(
                    f"sort_by='year': no year in the label {lab!r}; give data= with a 'year' "
                    "column"
                )
            years.append(int(m.group(1)))
        return years
    if data is None or sort_by not in data.columns:
        allowed = "'effect', 'weight', 'year'"
        if data is not None:
            allowed += " or a column of data: " + ", ".join(map(str, data.columns))
        raise MetaAnalysisError(f"sort_by={sort_by!r} is not allowed; give {allowed}")
    values = data[sort_by].tolist()
    assert len(values) == k  # checked in extra_columns
    return values


def sorted_studies(
    idx: list[int],
    sort_by: str | None,
    descending: bool,
    root: PooledResult,
    data: pd.DataFrame | None,
) -> list[int]:
    if sort_by is None:
        return list(idx)
    if data is not None:
        extra_columns(data, None, len(root.labels))
    values = _sort_values(sort_by, root, data)

    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float | np.floating) and not math.isfinite(v))

    present = [i for i in idx if not missing(values[i])]
    absent = [i for i in idx if missing(values[i])]
    present.sort(key=lambda i: values[i], reverse=descending)  # stable
    return present + absent


def make_columns(
    ctx: RowContext,
    root: PooledResult,
    arm_labels: tuple[str, str],
    label_header: str,
    extra: dict[str, tuple[str, list[str]]],
    frame: pd.DataFrame,
) -> tuple[ForestColumn, ...]:
    t, c = (str(a) for a in arm_labels)
    cols = [ForestColumn("label", label_header, "left", "left")]
    cols += [ForestColumn(key, header, "left", "left") for key, (header, _) in extra.items()]
    arm_cols: dict[str, list[ForestColumn]] = {
        "binary2": [
            ForestColumn("arm_t", "Events/Total", "left", "right", t),
            ForestColumn("arm_c", "Events/Total", "left", "right", c),
        ],
        "means2": [
            ForestColumn("arm_t", "Mean (SD)", "left", "right", t),
            ForestColumn("n_t", "N", "left", "right", t),
            ForestColumn("arm_c", "Mean (SD)", "left", "right", c),
            ForestColumn("n_c", "N", "left", "right", c),
        ],
        "binary1": [ForestColumn("arm", "Events/Total", "left", "right")],
        "means1": [
            ForestColumn("arm", "Mean (SD)", "left", "right"),
            ForestColumn("n", "N", "left", "right"),
        ],
        "cor": [ForestColumn("n", "N", "left", "right")],
        "change": [
            ForestColumn("pre", "Before: mean (SD)", "left", "right"),
            ForestColumn("post", "After: mean (SD)", "left", "right"),
            ForestColumn("n", "N", "left", "right"),
        ],
    }
    cols += [col for col in arm_cols.get(ctx.family or "", []) if col.key in frame.columns]
    spec = measure_of(root.measure)
    short = spec.short_name if spec is not None and ctx.transform else "Effect"
    cols += [
        ForestColumn("estimate_text", short, "right", "right"),
        ForestColumn("ci_text", f"{100 * ctx.level:g}% CI", "right", "right"),
        ForestColumn("weight_text", "Weight", "right", "right"),
    ]
    return tuple(cols)


# --------------------------------------------------------------------------- axis


def null_value_of(
    measure: str | None, null: float | bool | None, log_scale: bool, kind: str
) -> float | None:
    natural = 1.0 if log_scale else 0.0
    spec = measure_of(measure)
    if null is None:
        if spec is not None and spec.null is None:
            return None
        if kind == "identity" and spec is not None and spec.is_ratio:
            return 0.0  # analysis (log) scale
        return natural
    if isinstance(null, bool):
        return natural if null else None
    value = float(null)
    if not math.isfinite(value) or (log_scale and value <= 0):
        raise MetaAnalysisError(
            f"null={null!r} is not a valid position on the "
            f"{'logarithmic ' if log_scale else ''}axis"
        )
    return value


def axis_limits(
    frame: pd.DataFrame,
    log_scale: bool,
    null_value: float | None,
    kind: str,
    measure: str | None,
    xlim: Any,
    xticks: Sequence[float] | None,
) -> tuple[tuple[float, float], tuple[float, ...]]:
    user = check_xlim(xlim, log_scale)
    ticks_user = None
    if xticks is not None:
        ticks_user = tuple(sorted(float(t) for t in xticks))
        if len(ticks_user) == 0 or not all(math.isfinite(t) for t in ticks_user):
            raise MetaAnalysisError(f"xticks={xticks!r} must be finite numbers")
        if log_scale and ticks_user[0] <= 0:
            raise MetaAnalysisError(f"xticks={xticks!r} must be positive on a log axis")
    if user is not None:
        lo, hi = user
        if ticks_user is not None:
            return user, tuple(t for t in ticks_user if lo <= t <= hi)
        within = ticks_within_log if log_scale else ticks_within_linear
        return user, within(lo, hi)
    if ticks_user is not None:
        return (ticks_user[0], ticks_user[-1]), ticks_user

    def fwd(x: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(x) if log_scale else x

    graph = frame[frame["kind"].isin(GRAPH_KINDS)]
    studies = graph[graph["kind"] == "study"]
    others = graph[graph["kind"] != "study"]
    core = np.concatenate(
        [
            fwd(studies["estimate"].to_numpy(float)),
            fwd(others["ci_low"].to_numpy(float)),
            fwd(others["ci_high"].to_numpy(float)),
        ]
    )
    core = core[np.isfinite(core)]
    s_lo = fwd(studies["ci_low"].to_numpy(float))
    s_hi = fwd(studies["ci_high"].to_numpy(float))
    ext = np.concatenate([s_lo, s_hi])
    ext = ext[np.isfinite(ext)]
    spans = (s_hi - s_lo)[np.isfinite(s_lo) & np.isfinite(s_hi)]
    if core.size == 0:
        core = np.array([0.0 if log_scale else (null_value or 0.0)])
    c_lo, c_hi = float(core.min()), float(core.max())
    # The study intervals are covered unless they reach far beyond the core (the estimates,
    # the pooled and prediction intervals): more than COVER_REACH times the larger of the
    # core's width and the median width of a study interval. Only such extreme intervals
    # end in arrows; a narrow pooled interval (Hartung-Knapp with k = 2 and similar
    # estimates) no longer cuts ordinary study intervals.
    typical = float(np.median(spans)) if spans.size else 0.0
    floor = 0.3 if log_scale else max(abs(c_lo), abs(c_hi), 1e-3) * 0.5
    reach = COVER_REACH * max(c_hi - c_lo, typical, floor)
    lo = min(c_lo, max(float(ext.min()), c_lo - reach)) if ext.size else c_lo
    hi = max(c_hi, min(float(ext.max()), c_hi + reach)) if ext.size else c_hi
    if null_value is not None:
        nv = math.log10(null_value) if log_scale else null_value
        lo, hi = min(lo, nv), max(hi, nv)
    if log_scale:
        ticks = nice_log(10.0**lo, 10.0**hi)
    else:
        spec = measure_of(measure)
        ticks = nice_linear(lo, hi)
        # on the display scale (back-transformed, or PR and COR as they are) ticks stay inside
        # the values the measure can take
        if spec is not None and (kind != "identity" or spec.back is None):
            b_lo, b_hi = spec.display_range
            ticks = tuple(t for t in ticks if b_lo - 1e-12 <= t <= b_hi + 1e-12)
            if len(ticks) < 2:  # pragma: no cover - ranges inside the bounds give 2+ ticks
                ticks = (max(b_lo, lo), min(b_hi, hi))
    return (ticks[0], ticks[-1]), ticks
