"""msc_meta against R's metafor on a seeded randomized grid (and exact values where metafor is wrong).

The reference values are in ``tests/reference/metafor_random.json``, written by
``tests/reference/generate_metafor_random.R`` (see ``tests/reference/README.md``,
"Randomized grid"): 1000 random (yi, vi) sets with k from 2 to 60, sampling
variances spanning ratios up to 1e9, effects scaled by 1e-6 to 1e8 and some with a
large common offset, τ² from 0 to 1e4 times the typical variance, each fitted with
every τ² method (one test and level per method); and random 2x2 tables with zero
cells and double zeros for ``rma.mh`` (OR, RR, RD) and ``rma.peto`` with random
``add``/``to``/``drop00``/``correct``/``level``. Every input number is in the JSON,
so these tests need no R.

Where metafor itself is not within the tolerance of the exact value (its Q-profile
search on uncentred effects, cancellation in its sums when variances span many
orders of magnitude, ...), ``tests/reference/metafor_random_overrides.json`` holds
the exact value computed by ``tests/reference/referee.py`` (mpmath, 60 digits)
with a one-line reason, and msc_meta is compared with that instead.

One test per τ² method and per binary measure; each runs all its cases and
reports every case and field that differs (not only the first).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import msc_meta as mm
from msc_meta.binary import MH_MEASURES
from msc_meta.pooling import TESTS
from msc_meta.tau2 import ITERATIVE_METHODS

#: Thousands of randomized cases: outside `make test-fast` (the fixed grid stays in it).
pytestmark = pytest.mark.slow

HERE = Path(__file__).parent / "reference"
REFERENCE = HERE / "metafor_random.json"
OVERRIDES = HERE / "metafor_random_overrides.json"

# --------------------------------------------------------------------------- tolerances

EPS = float(np.finfo(np.float64).eps)

#: Closed-form values (EE, DL, HE, HS, HSk, SJ fits; Cochran's Q; Mantel-Haenszel,
#: Peto and their tests): the same formulas evaluated in another order, so they
#: agree to rounding error times a modest condition number.
CLOSED_FORM_RTOL = 1e-9
#: Values that depend on an iterated τ² (ML, REML, EB, PM, PMM) or on a Q-profile
#: bound: metafor was run to a τ² change below 1e-13 (min vi + τ²) (Fisher
#: scoring) or to R's zeroin limit 2 eps |root| (uniroot); msc_meta is asked for
#: tol=1e-12. 1e-8 leaves room for ill-conditioned roots (a flat Q or
#: likelihood) and their propagation into derived values.
ITERATIVE_RTOL = 1e-8
#: τ²-valued results (τ², its Q-profile bounds) are also allowed this many
#: smallest sampling variances (min vi) of absolute error: the weight
#: 1/(vi + τ²) most sensitive to τ² then moves by at most 1e-11 of itself,
#: e.g. when τ² is 0 in one program and a threshold's width above 0 in the other.
#: (Not vt, the typical variance of I²: with variances spanning 1e9 it can be
#: 1e9 min vi, and an error of 1e-11 vt would move that weight by 1e-2.)
TAU2_ATOL_VMIN = 1e-11
#: Location results (estimate, CI and PI bounds) are compared in units of
#: sqrt(min vi + τ²) (at most sqrt(k) standard errors) plus the CI or PI
#: half-width, not of their own size: an estimate of 1e8 + 0.3 must be right to
#: about 1e-9 of the spread of the effects, not to 1e-9 of 1e8. Rounding a
#: weighted sum of effects of size |y| costs up to about k eps |y| (the inputs
#: have a common offset of up to 1e8 times their spread); this many such units
#: are allowed on top.
LOCATION_ULPS_PER_STUDY = 8.0
#: p-values: a relative error rtol in a z statistic moves log p by about rtol z²
#: (normal tail), and rtol in Q by about rtol Q / 2 (χ² tail); the allowance is
#: rtol (1 + z²) |p| or rtol (1 + Q) |p|, plus this absolute floor.
PVALUE_ATOL = 1e-14

#: msc_meta's convergence options in every call (metafor's settings above are
#: tighter than what is compared).
MSC_TOL = 1e-12
MSC_MAX_ITER = 10000

#: The library's methods, tests and binary pooling measures: the grid must hold every one.
ALL_METHODS = tuple(mm.TAU2_METHODS)
ALL_TESTS = frozenset(TESTS)
ALL_LEVELS = frozenset({0.90, 0.95, 0.99})
BINARY_MEASURES = (*MH_MEASURES, "PETO")

#: The grid must not shrink (counts when written; see the README).
MIN_DATASETS = 1000
MIN_RMA_CASES = 11000
MIN_BINARY_CASES = 960
MIN_CASES_PER_METHOD_TEST = 200
MAX_JSON_BYTES = 6_500_000

LOCATION_FIELDS = frozenset({"estimate", "ci_low", "ci_high", "pi_low", "pi_high"})
TAU2_FIELDS = frozenset({"tau2", "tau2_ci_low", "tau2_ci_high"})
I2_FIELDS = frozenset({"i2", "i2_ci_low", "i2_ci_high"})
H2_FIELDS = frozenset({"h2", "h2_ci_low", "h2_ci_high"})
COUNT_FIELDS = frozenset({"df", "q_df", "tarone_df"})
QPROFILE_FIELDS = (
    "tau2_ci_low",
    "tau2_ci_high",
    "i2_ci_low",
    "i2_ci_high",
    "h2_ci_low",
    "h2_ci_high",
)
#: p-value field -> the statistic whose size sets its allowance, and that statistic's kind
PVALUE_OF = {
    "pvalue": ("statistic", "z"),
    "q_pvalue": ("q", "chi2"),
    "cmh_pvalue": ("cmh", "chi2"),
    "tarone_pvalue": ("tarone", "chi2"),
    "breslow_day_pvalue": ("breslow_day", "chi2"),
}


# --------------------------------------------------------------------------- the reference


def _num(x: Any) -> float | None:
    """JSON value -> float: null -> None, "NaN"/"Inf"/"-Inf" -> non-finite floats."""
    if x is None:
        return None
    if isinstance(x, str):
        return {"NaN": math.nan, "Inf": math.inf, "-Inf": -math.inf}[x]
    return float(x)


@dataclass(frozen=True)
class QProfile:
    level: float
    values: dict[str, float | None]
    lb_sign: str | None
    ub_sign: str | None
    ci_null: bool | None
    r_warnings: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class Dataset:
    id: str
    k: int
    yi: np.ndarray
    vi: np.ndarray
    vt: float
    design: dict[str, Any]
    q: dict[str, float | None]
    qprofile: dict[float, QProfile]


@dataclass(frozen=True)
class RmaCase:
    id: str
    dataset: str
    method: str
    test: str
    level: float
    values: dict[str, float | None]
    threshold: float | None
    r_warnings: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class BinaryCase:
    id: str
    tables: str
    measure: str
    options: dict[str, Any]
    values: dict[str, float | None]
    k_yi: int | None
    r_warnings: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class Tables:
    id: str
    k: int
    counts: dict[str, np.ndarray]
    zero_cell_rows: int
    double_zero_rows: int


@dataclass
class Reference:
    meta: dict[str, Any]
    datasets: dict[str, Dataset]
    rma: list[RmaCase]
    tables: dict[str, Tables]
    binary: list[BinaryCase]
    rma_by_dataset: dict[str, list[RmaCase]] = field(default_factory=dict)


def load_reference(path: Path = REFERENCE) -> Reference:
    """Read the JSON into typed records (inputs as float64 arrays)."""
    with path.open(encoding="utf-8") as fh:
        raw = json.load(fh)
    rma_fields = raw["rma_fields"]
    q_fields = raw["q_fields"]
    qp_fields = raw["qprofile_fields"]
    assert tuple(qp_fields) == QPROFILE_FIELDS
    datasets = {}
    for d in raw["datasets"]:
        qprofile = {}
        for qp in d["qprofile"]:
            qprofile[float(qp["level"])] = QProfile(
                level=float(qp["level"]),
                values=dict(zip(qp_fields, map(_num, qp["values"]), strict=True)),
                lb_sign=qp["lb_sign"],
                ub_sign=qp["ub_sign"],
                ci_null=qp["ci_null"],
                r_warnings=tuple(qp["r_warnings"]),
                error=qp["error"],
            )
        datasets[d["id"]] = Dataset(
            id=d["id"],
            k=int(d["k"]),
            yi=np.array(d["yi"], dtype=np.float64),
            vi=np.array(d["vi"], dtype=np.float64),
            vt=float(d["vt"]),
            design=d["design"],
            q=dict(zip(q_fields, map(_num, d["q"]), strict=True)),
            qprofile=qprofile,
        )
    rma = [
        RmaCase(
            id=c["id"],
            dataset=c["id"].split("-")[0],
            method=c["method"],
            test=c["test"],
            level=float(c["level"]),
            values=dict(zip(rma_fields, map(_num, c["values"]), strict=True)),
            threshold=_num(c.get("threshold")),
            r_warnings=tuple(c["r_warnings"]),
            error=c["error"],
        )
        for c in raw["rma"]
    ]
    tables = {
        t["id"]: Tables(
            id=t["id"],
            k=int(t["k"]),
            counts={
                name: np.array(t[name], dtype=np.float64)
                for name in ("events_t", "n_t", "events_c", "n_c")
            },
            zero_cell_rows=int(t["zero_cell_rows"]),
            double_zero_rows=int(t["double_zero_rows"]),
        )
        for t in raw["tables"]
    }
    binary = [
        BinaryCase(
            id=c["id"],
            tables=c["tables"],
            measure=c["measure"],
            options={
                "add": float(c["options"]["add"]),
                "to": c["options"]["to"],
                "drop00": bool(c["options"]["drop00"]),
                "correct": bool(c["options"]["correct"]),
                "level": float(c["options"]["level"]),
            },
            values=dict(zip(c["fields"], map(_num, c["values"]), strict=True)),
            k_yi=c["k_yi"],
            r_warnings=tuple(c["r_warnings"]),
            error=c["error"],
        )
        for c in raw["binary"]
    ]
    meta = {k: v for k, v in raw.items() if k not in ("datasets", "rma", "tables", "binary")}
    by_ds: dict[str, list[RmaCase]] = defaultdict(list)
    for c in rma:
        by_ds[c.dataset].append(c)
    return Reference(meta, datasets, rma, tables, binary, dict(by_ds))


@cache
def _reference() -> Reference:
    return load_reference(REFERENCE)


@cache
def _overrides_file() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(OVERRIDES.read_text(encoding="utf-8"))
    return raw


@cache
def _overrides() -> dict[tuple[str, str], dict[str, Any]]:
    """(case id, field) -> override record; qprofile and Q overrides are keyed by dataset."""
    return {(o["case"], o["field"]): o for o in _overrides_file()["overrides"]}


def multimodal(dataset: str, method: str) -> bool:
    """True when the referee found more than one local maximum of the (RE)ML likelihood."""
    modes: dict[str, dict[str, int]] = _overrides_file()["multimodal_likelihood"]
    return modes.get(dataset, {}).get(method, 1) > 1


def qprofile_key(dataset: str, level: float) -> str:
    """Case id under which Q-profile values (per dataset and level) are overridden."""
    return f"{dataset}@{level:g}"


def expected_rma(case: RmaCase, ds: Dataset) -> tuple[dict[str, float | None], dict[str, str]]:
    """Reference values of one rma case (metafor's, or the exact override) and their sources."""
    values: dict[str, float | None] = dict(case.values)
    values.update(ds.q)
    values.update(ds.qprofile[case.level].values)
    source = dict.fromkeys(values, "metafor")
    ov = _overrides()
    for name in values:
        key = (
            (qprofile_key(ds.id, case.level), name)
            if name in QPROFILE_FIELDS
            else (ds.id, name)
            if name in ds.q
            else (case.id, name)
        )
        if key in ov:
            values[name] = _num(ov[key]["exact"])
            source[name] = "exact"
    return values, source


def expected_binary(case: BinaryCase) -> tuple[dict[str, float | None], dict[str, str]]:
    values = dict(case.values)
    source = dict.fromkeys(values, "metafor")
    ov = _overrides()
    for name in values:
        if (case.id, name) in ov:
            values[name] = _num(ov[(case.id, name)]["exact"])
            source[name] = "exact"
    return values, source


# --------------------------------------------------------------------------- comparing


def allowed_rma(
    name: str, expected: dict[str, float | None], vmin: float, k: int, iterative: bool
) -> float:
    """Absolute deviation allowed for field ``name`` of an rma case (see the constants).

    ``expected`` holds the case's reference values, ``vmin`` is the smallest
    sampling variance and ``k`` the number of studies.
    """
    rtol = ITERATIVE_RTOL if iterative else CLOSED_FORM_RTOL
    e = expected[name]
    if e is None or not math.isfinite(e) or name in COUNT_FIELDS:
        return 0.0
    tau2 = max(expected.get("tau2") or 0.0, 0.0)
    unit = math.sqrt(vmin + tau2)
    if name in LOCATION_FIELDS:
        est = expected["estimate"] or 0.0
        half_width = abs(e - est) if name != "estimate" else 0.0
        return rtol * (unit + half_width) + LOCATION_ULPS_PER_STUDY * k * EPS * abs(e)
    if name in TAU2_FIELDS:
        return rtol * abs(e) + TAU2_ATOL_VMIN * vmin
    if name in I2_FIELDS:
        return rtol * abs(e) + 100.0 * TAU2_ATOL_VMIN
    if name in H2_FIELDS:
        return rtol * abs(e) + TAU2_ATOL_VMIN
    if name == "statistic":
        se = expected.get("se") or 0.0
        extra = unit / se if se > 0 else 0.0
        return rtol * (abs(e) + extra) + LOCATION_ULPS_PER_STUDY * k * EPS * abs(e)
    if name in PVALUE_OF:
        return _pvalue_allowance(name, expected, rtol)
    return rtol * abs(e)


def _pvalue_allowance(name: str, expected: dict[str, float | None], rtol: float) -> float:
    stat_name, kind = PVALUE_OF[name]
    e = expected[name] or 0.0
    stat = expected.get(stat_name)
    s = abs(stat) if stat is not None and math.isfinite(stat) else 0.0
    growth = 1.0 + (s * s if kind == "z" else s)
    return rtol * growth * abs(e) + PVALUE_ATOL


def allowed_binary(name: str, expected: dict[str, float | None]) -> float:
    e = expected[name]
    if e is None or not math.isfinite(e) or name in COUNT_FIELDS:
        return 0.0
    if name in PVALUE_OF:
        return _pvalue_allowance(name, expected, CLOSED_FORM_RTOL)
    if name in LOCATION_FIELDS:
        se = expected.get("se") or 0.0
        est = expected.get("estimate") or 0.0
        return CLOSED_FORM_RTOL * (abs(e) + se + abs(e - est))
    if name == "statistic":
        return CLOSED_FORM_RTOL * (abs(e) + 1.0)
    if name in I2_FIELDS:
        return CLOSED_FORM_RTOL * abs(e) + 1e-10
    return CLOSED_FORM_RTOL * abs(e) + 1e-14


def agrees(actual: float | None, expected: float | None, allowed: float) -> bool:
    """True when ``actual`` is within ``allowed`` of ``expected``.

    ``None`` (metafor's NA) and NaN count as the same missing value; infinities
    must match exactly.
    """
    a_missing = actual is None or math.isnan(actual)
    e_missing = expected is None or math.isnan(expected)
    if a_missing or e_missing:
        return a_missing and e_missing
    assert actual is not None and expected is not None
    if not (math.isfinite(actual) and math.isfinite(expected)):
        return actual == expected
    return abs(actual - expected) <= allowed


def _fmt(x: float | None) -> str:
    return "None" if x is None else repr(x)


def describe(
    case_id: str,
    name: str,
    actual: float | None,
    expected: float | None,
    allowed: float,
    source: str,
) -> str:
    diff = (
        abs(actual - expected)
        if actual is not None and expected is not None and math.isfinite(actual - expected)
        else math.nan
    )
    rel = diff / abs(expected) if expected not in (None, 0.0) and math.isfinite(diff) else math.nan
    return (
        f"{case_id} {name}: msc_meta {_fmt(actual)} vs {source} {_fmt(expected)} "
        f"(diff {diff:.3g}, rel {rel:.3g}, allowed {allowed:.3g})"
    )


# --------------------------------------------------------------------------- running msc_meta


def _value(res: Any, name: str) -> float | None:
    """Field ``name`` of an msc_meta result as a float (interval ends by suffix)."""
    if name.endswith(("_ci_low", "_ci_high")):
        base, end = name.rsplit("_", 1)
        pair = getattr(res, base)
        x = pair[0 if end == "low" else 1]
    else:
        x = getattr(res, name)
    return None if x is None else float(x)


def _unexpected_warnings(
    caught: Iterable[warnings.WarningMessage], allowed: tuple[type, ...]
) -> list[str]:
    return [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, allowed) or issubclass(w.category, mm.ConvergenceWarning)
    ]


def rma_allowed_warnings(
    case: RmaCase, ds: Dataset, expected: dict[str, float | None]
) -> tuple[type, ...]:
    """Warning categories msc_meta may raise on this case (a ConvergenceWarning never)."""
    allowed: list[type] = []
    q, q_df = expected["q"], expected["q_df"]
    qp = ds.qprofile[case.level]
    if (
        (case.method != "EE" and expected["tau2"] == 0.0)
        or (q is not None and q_df is not None and q < q_df)
        or expected["tau2_ci_low"] == 0.0
        or qp.ci_null
        or float(np.ptp(ds.yi)) == 0.0
    ):
        allowed.append(mm.BoundaryWarning)
    if ds.k <= 2:
        allowed.append(mm.FewStudiesWarning)
    if case.r_warnings or qp.r_warnings:
        allowed.append(mm.MetaAnalysisWarning)
    if case.method in ("ML", "REML") and multimodal(ds.id, case.method):
        allowed.append(mm.MultimodalLikelihoodWarning)
    return tuple(allowed)


def check_rma_case(case: RmaCase, ds: Dataset) -> list[str]:
    """Every difference between msc_meta and the reference on one rma case."""
    expected, source = expected_rma(case, ds)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = mm.meta_analysis(
                ds.yi,
                ds.vi,
                method=case.method,
                test=case.test,
                level=case.level,
                tol=MSC_TOL,
                max_iter=MSC_MAX_ITER,
            )
        except Exception as exc:  # reported as a failure of this case, with the others
            return [f"{case.id}: msc_meta raised {type(exc).__name__}: {exc}"]
    problems = []
    bad = _unexpected_warnings(caught, rma_allowed_warnings(case, ds, expected))
    if bad:
        problems.append(f"{case.id}: unexpected warning(s): {'; '.join(bad)}")
    iterative = case.method in ITERATIVE_METHODS
    for name, e in expected.items():
        if case.error is not None and source[name] == "metafor" and name not in ds.q:
            continue  # metafor failed on this case and no exact value replaces it
        a = _value(res, name)
        it = iterative or name in QPROFILE_FIELDS
        allowed = allowed_rma(name, expected, float(ds.vi.min()), ds.k, it)
        if not agrees(a, e, allowed):
            problems.append(describe(case.id, name, a, e, allowed, source[name]))
    return problems


def binary_allowed_warnings(
    case: BinaryCase, tb: Tables, expected: dict[str, float | None]
) -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(categories msc_meta may raise, categories of which one must be raised).

    ``expected`` are the values compared (overrides applied): where msc_meta's convention
    leaves studies of variance 0 out of Q, fewer study-level effects may remain.
    """
    allowed: list[type] = []
    required: tuple[type, ...] = ()
    o = case.options
    corrected = o["add"] > 0 and (
        o["to"] == "all" or (o["to"] != "none" and tb.zero_cell_rows > 0)
    )
    dropped = tb.double_zero_rows > 0 and o["drop00"]
    if tb.zero_cell_rows or tb.double_zero_rows or corrected:
        allowed += [mm.ZeroCellWarning, mm.DroppedStudiesWarning]
    if corrected or dropped:
        required = (mm.ZeroCellWarning, mm.DroppedStudiesWarning)
    c = tb.counts
    events = c["events_t"] + c["events_c"]
    informative = (events > 0) & (c["n_t"] + c["n_c"] - events > 0)  # Peto: V > 0
    q_df = expected.get("q_df")
    if (
        case.k_yi is None
        or case.k_yi < 2
        or int(informative.sum()) < 2
        or (q_df is not None and q_df < 1)
    ):
        allowed.append(mm.FewStudiesWarning)
    if case.r_warnings:
        allowed.append(mm.MetaAnalysisWarning)
    return tuple(allowed), required


def run_binary(case: BinaryCase, tb: Tables) -> Any:
    o = case.options
    common = {
        **tb.counts,
        "add": o["add"],
        "to": o["to"],
        "drop00": o["drop00"],
        "level": o["level"],
    }
    if case.measure == "PETO":
        return mm.peto(**common)
    return mm.mantel_haenszel(case.measure, correct=o["correct"], **common)


def check_binary_case(case: BinaryCase, tb: Tables) -> list[str]:
    expected, source = expected_binary(case)
    metafor_undefined = case.error is not None or expected.get("estimate") is None
    # the z statistic is 0/0 (RD with no events, or only events, in every arm: se = 0)
    statistic_undefined = expected.get("statistic") is not None and math.isnan(
        expected["statistic"] or 0.0
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = run_binary(case, tb)
        except mm.MetaAnalysisError as exc:
            if metafor_undefined or statistic_undefined:
                return []  # metafor stops, or gives no estimate or no test: msc_meta refuses
            return [f"{case.id}: msc_meta raised MetaAnalysisError: {exc}"]
        except Exception as exc:
            return [f"{case.id}: msc_meta raised {type(exc).__name__}: {exc}"]
    if metafor_undefined:
        return [
            f"{case.id}: metafor gives no estimate ({case.error or 'NA'}) but msc_meta returned "
            f"{res.estimate!r} without a MetaAnalysisError"
        ]
    problems = []
    allowed_w, required_w = binary_allowed_warnings(case, tb, expected)
    bad = _unexpected_warnings(caught, allowed_w)
    if bad:
        problems.append(f"{case.id}: unexpected warning(s): {'; '.join(bad)}")
    if required_w and not any(issubclass(w.category, required_w) for w in caught):
        problems.append(
            f"{case.id}: expected a ZeroCellWarning or DroppedStudiesWarning; none raised"
        )
    for name, e in expected.items():
        a = _value(res, name)
        allowed = allowed_binary(name, expected)
        if not agrees(a, e, allowed):
            problems.append(describe(case.id, name, a, e, allowed, source[name]))
    return problems


def _report(kind: str, n_cases: int, problems: list[str]) -> None:
    if problems:
        cases = {p.split(" ", 1)[0].rstrip(":") for p in problems}
        shown = "\n  ".join(problems[:60])
        more = f"\n  ... and {len(problems) - 60} more" if len(problems) > 60 else ""
        pytest.fail(
            f"{kind}: {len(cases)} of {n_cases} cases differ ({len(problems)} values)\n  "
            f"{shown}{more}",
            pytrace=False,
        )


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("method", ALL_METHODS)
def test_rma_matches_metafor_or_exact(method: str) -> None:
    ref = _reference()
    cases = [c for c in ref.rma if c.method == method]
    problems: list[str] = []
    for case in cases:
        problems += check_rma_case(case, ref.datasets[case.dataset])
    _report(f"rma {method}", len(cases), problems)


@pytest.mark.parametrize("measure", BINARY_MEASURES)
def test_binary_matches_metafor_or_exact(measure: str) -> None:
    ref = _reference()
    cases = [c for c in ref.binary if c.measure == measure]
    problems: list[str] = []
    for case in cases:
        problems += check_binary_case(case, ref.tables[case.tables])
    _report(f"{'rma.peto' if measure == 'PETO' else 'rma.mh ' + measure}", len(cases), problems)


# --------------------------------------------------------------------------- the grid itself


def test_reference_records_versions_seed_and_rng() -> None:
    meta = _reference().meta
    assert re.match(r"R version \d+\.\d+\.\d+", meta["r_version"]), meta["r_version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["metafor_version"]), meta["metafor_version"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["generated"]), meta["generated"]
    assert isinstance(meta["seed"], int)
    assert meta["rng_kind"] == ["Mersenne-Twister", "Inversion", "Rejection"]


def test_grid_did_not_shrink() -> None:
    ref = _reference()
    assert len(ref.datasets) >= MIN_DATASETS
    assert len(ref.rma) >= MIN_RMA_CASES
    assert len(ref.binary) >= MIN_BINARY_CASES
    pairs = Counter((c.method, c.test) for c in ref.rma)
    assert len(pairs) == len(ALL_METHODS) * len(ALL_TESTS)
    assert min(pairs.values()) >= MIN_CASES_PER_METHOD_TEST, pairs
    assert {c.level for c in ref.rma} == ALL_LEVELS
    assert {c.measure for c in ref.binary} == set(BINARY_MEASURES)


def test_grid_spans_the_promised_ranges() -> None:
    ref = _reference()
    ks = [d.k for d in ref.datasets.values()]
    assert min(ks) == 2 and max(ks) >= 55
    assert sum(k <= 5 for k in ks) >= 0.35 * len(ks)  # weighted toward small k
    ratios = [float(d.vi.max() / d.vi.min()) for d in ref.datasets.values()]
    assert max(ratios) > 1e8 and min(ratios) == 1.0
    scales = [float(d.design["scale"]) for d in ref.datasets.values()]
    assert min(scales) < 1e-5 and max(scales) > 1e7
    offsets = [abs(float(d.design["offset"])) for d in ref.datasets.values()]
    assert sum(o > 0 for o in offsets) >= 100
    spread_ratio = [
        abs(float(d.design["offset"])) / float(np.sqrt(d.vt)) for d in ref.datasets.values()
    ]
    assert max(spread_ratio) > 1e7
    assert any(np.ptp(d.yi) == 0 for d in ref.datasets.values())
    assert any(d.q["q"] is not None and d.q["q"] < d.q["q_df"] for d in ref.datasets.values())
    tau2_zero = sum(float(d.design["tau2_over_vgeo"]) == 0 for d in ref.datasets.values())
    assert tau2_zero >= 100
    tabs = ref.tables.values()
    assert sum(t.double_zero_rows > 0 for t in tabs) >= 20
    assert sum(t.zero_cell_rows > 0 for t in tabs) >= 50
    opts = [c.options for c in ref.binary]
    assert {o["to"] for o in opts} == {"only0", "all", "if0all", "none"}
    assert {o["add"] for o in opts} >= {0.0, 0.5}
    assert {o["drop00"] for o in opts} == {True, False}


def test_case_ids_are_unique() -> None:
    ref = _reference()
    ids = Counter([c.id for c in ref.rma] + [c.id for c in ref.binary])
    assert not [i for i, n in ids.items() if n > 1]


def test_metafor_failures_are_recorded_not_dropped() -> None:
    # every dataset has one case per method, errors included (with their message)
    ref = _reference()
    for ds_id, cases in ref.rma_by_dataset.items():
        assert sorted(c.method for c in cases) == sorted(ALL_METHODS), ds_id
    assert ref.meta["counts"]["rma_errors"] == sum(c.error is not None for c in ref.rma)


def test_every_override_names_a_case_and_gives_a_reason() -> None:
    ref = _reference()
    ids = {c.id for c in ref.rma} | {c.id for c in ref.binary} | set(ref.datasets)
    ids |= {qprofile_key(d.id, lv) for d in ref.datasets.values() for lv in d.qprofile}
    for (case_id, name), o in _overrides().items():
        assert case_id in ids, case_id
        assert o["reason"] and "exact" in o and "metafor" in o, (case_id, name)


def test_reference_json_stays_small() -> None:
    assert REFERENCE.stat().st_size < MAX_JSON_BYTES
