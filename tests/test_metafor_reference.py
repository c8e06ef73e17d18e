"""msc_meta against R's metafor, case by case (the validation grid).

The reference values are in ``tests/reference/metafor_reference.json``, written
by ``tests/reference/generate_metafor_reference.R`` (``make references``; see
``tests/reference/README.md``). Every input number is stored in the JSON, so
these tests need neither R nor an RNG that matches R's.

One test per case: ``escalc`` (:func:`msc_meta.effect_sizes`), ``rma``
(:func:`msc_meta.meta_analysis`, with metafor's ``predict`` and Q-profile
``confint``), ``mh`` (:func:`msc_meta.mantel_haenszel`) and ``peto``
(:func:`msc_meta.peto`). A value metafor reports as NA (JSON null) is not
compared, except inside effect-size vectors, where NA must be NaN.

Warnings: the JSON records facts about each case (zero cells, double zeros,
τ² on the boundary, k, metafor's own warnings); :func:`_warning_policy` turns
them into the warning categories msc_meta may raise and must raise. Any other
warning fails the test (pytest runs with ``filterwarnings = error``).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import msc_meta as mm
from msc_meta.binary import MH_MEASURES
from msc_meta.effects import MEASURES
from msc_meta.pooling import TESTS
from msc_meta.tau2 import ITERATIVE_METHODS

REFERENCE = Path(__file__).parent / "reference" / "metafor_reference.json"

# --------------------------------------------------------------------------- tolerances

#: Closed-form results (escalc, EE/DL/HE/HS/HSk/SJ fits, MH, Peto, Q and its
#: p-value) are the same arithmetic as metafor's in another order, so they
#: agree to rounding error times a modest condition number.
CLOSED_FORM_RTOL = 1e-9
#: Absolute floor for closed-form values at or near 0 (an estimate of 1e-17,
#: a p-value of 1e-300), where a relative difference means nothing.
CLOSED_FORM_ATOL = 1e-12
#: Iterative results (ML, REML, EB, PM, PMM and everything derived from their
#: τ²; the Q-profile bounds of τ², I² and H² for every method): metafor was
#: driven to a 1e-12 change in τ² (Fisher scoring) or uniroot(tol = 1e-12),
#: msc_meta stops at its default tol of 1e-10. 1e-7 is that convergence scale
#: with room for its propagation into derived values.
ITERATIVE_RTOL = 1e-7
ITERATIVE_ATOL = 1e-7

#: rma fields that do not depend on τ²: Cochran's Q is computed with the
#: common-effect weights 1/v_i whatever the method.
TAU2_FREE_FIELDS = frozenset({"q", "q_df", "q_pvalue"})
#: rma fields from the Q-profile root search (iterative for every method).
Q_PROFILE_FIELDS = frozenset({"tau2_ci", "i2_ci", "h2_ci"})

# --------------------------------------------------------------------------- grid size

#: The grid must not shrink: cases per kind as generated (metafor 3.8.1).
MIN_CASES = {"escalc": 279, "rma": 1760, "mh": 54, "peto": 18}
MIN_TOTAL = 2111
#: The library's measures, methods and tests: the grid must hold every one.
ALL_MEASURES = frozenset(MEASURES)
ALL_METHODS = frozenset(mm.TAU2_METHODS)
ALL_TESTS = frozenset(TESTS)
ALL_LEVELS = frozenset({0.95, 0.90})
ALL_ZERO_RULES = frozenset({"only0", "all", "if0all", "none"})
MAX_JSON_BYTES = 5_000_000

# --------------------------------------------------------------------------- loading


def _decode(x: Any) -> Any:
    """JSON value -> Python: "NaN"/"Inf"/"-Inf" strings to floats, lists recursively."""
    if isinstance(x, list):
        return [_decode(v) for v in x]
    if isinstance(x, str) and x in ("NaN", "Inf", "-Inf"):
        return float(x.replace("Inf", "inf").replace("NaN", "nan"))
    return x


@cache
def _reference() -> dict[str, Any]:
    with REFERENCE.open(encoding="utf-8") as fh:
        ref: dict[str, Any] = json.load(fh)
    for case in ref["cases"]:
        case["inputs"] = {k: _decode(v) for k, v in case["inputs"].items()}
        case["expected"] = {k: _decode(v) for k, v in case["expected"].items()}
    return ref


def _cases() -> list[dict[str, Any]]:
    return list(_reference()["cases"])


def _float_array(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class _Tol:
    rtol: float
    atol: float


CLOSED = _Tol(CLOSED_FORM_RTOL, CLOSED_FORM_ATOL)
ITERATIVE = _Tol(ITERATIVE_RTOL, ITERATIVE_ATOL)


def _mismatch(field: str, actual: Any, expected: Any, tol: _Tol) -> str | None:
    """None when ``actual`` matches ``expected`` (scalar or sequence), else a description."""
    exp = _float_array(expected if isinstance(expected, list) else [expected])
    try:
        act = _float_array(
            list(np.asarray(actual, dtype=np.float64).ravel()) if actual is not None else [None]
        )
    except (TypeError, ValueError):
        return f"{field}: msc_meta gave {actual!r}, metafor {expected!r}"
    if act.shape != exp.shape:
        return f"{field}: msc_meta gave {act.size} values, metafor {exp.size}"
    same_nan = np.isnan(act) == np.isnan(exp)
    finite = np.isfinite(exp) & np.isfinite(act)
    with np.errstate(invalid="ignore"):
        close = np.where(
            finite,
            np.abs(act - exp) <= tol.atol + tol.rtol * np.abs(exp),
            (act == exp) | (np.isnan(act) & np.isnan(exp)),
        )
    if bool(np.all(same_nan & close)):
        return None
    bad = np.flatnonzero(~(same_nan & close))
    i = int(bad[0])
    a, e = float(act[i]), float(exp[i])
    where = f"[{i}]" if exp.size > 1 else ""
    diff = abs(a - e) if math.isfinite(a) and math.isfinite(e) else math.nan
    rel = diff / abs(e) if e != 0.0 and math.isfinite(diff) else math.nan
    more = f" ({bad.size} of {exp.size} values differ)" if exp.size > 1 else ""
    return (
        f"{field}{where}: msc_meta {a!r} vs metafor {e!r} "
        f"(abs diff {diff:.3g}, rel diff {rel:.3g}; rtol {tol.rtol:g}, atol {tol.atol:g}){more}"
    )


def _assert_fields(
    case: dict[str, Any],
    get: Callable[[str], Any],
    tol_for: Callable[[str], _Tol],
) -> None:
    problems = []
    for field, expected in case["expected"].items():
        if expected is None:  # metafor gives NA here: nothing to compare
            continue
        try:
            actual = get(field)
        except AttributeError as exc:
            problems.append(f"{field}: not available ({exc})")
            continue
        msg = _mismatch(field, actual, expected, tol_for(field))
        if msg:
            problems.append(msg)
    if problems:
        pytest.fail(
            f"{case['id']}: {len(problems)} field(s) differ from metafor\n  "
            + "\n  ".join(problems)
            + f"\n  metafor: {case['metafor_call']}",
            pytrace=False,
        )


# --------------------------------------------------------------------------- warnings


@dataclass(frozen=True)
class _WarningPolicy:
    allowed: tuple[type[Warning], ...]
    required: tuple[tuple[type[Warning], ...], ...]  # each: one of these must be raised


def _warning_policy(case: dict[str, Any]) -> _WarningPolicy:
    """Warnings msc_meta may and must raise for ``case``, from the facts recorded in R."""
    flags = case["flags"]
    allowed: list[type[Warning]] = []
    required: list[tuple[type[Warning], ...]] = []
    if case["r_warnings"]:  # metafor itself warns here, so msc_meta may too
        allowed.append(mm.MetaAnalysisWarning)
    kind = case["kind"]
    if kind == "escalc":
        if flags.get("zero_cell_rows") or flags.get("double_zero_rows") or flags["na_effects"]:
            allowed.append(mm.ZeroCellWarning)
        if flags.get("zero_cells_corrected") or flags.get("double_zero_dropped"):
            required.append((mm.ZeroCellWarning,))
        if flags["na_effects"]:
            allowed.append(mm.MetaAnalysisWarning)
    elif kind == "rma":
        ci = flags["tau2_ci"] or {}
        if (
            flags["tau2_zero"]
            or flags["q_below_df"]
            or flags["identical_effects"]
            or ci.get("lower_at_zero")
            or ci.get("ci_null")
        ):
            allowed.append(mm.BoundaryWarning)
        if flags["k"] <= 2:
            allowed.append(mm.FewStudiesWarning)
    else:  # mh, peto
        if flags["zero_cell_rows"]:
            allowed.append(mm.ZeroCellWarning)
            required.append((mm.ZeroCellWarning, mm.DroppedStudiesWarning))
        if flags["double_zero_rows"]:
            allowed.append(mm.DroppedStudiesWarning)
        if flags["k_yi"] < 2:
            allowed.append(mm.FewStudiesWarning)
    return _WarningPolicy(tuple(allowed), tuple(required))


def _run(case: dict[str, Any], call: Callable[[], Any]) -> Any:
    """Run ``call`` and check its warnings against :func:`_warning_policy`."""
    policy = _warning_policy(case)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    unexpected = [w for w in caught if not issubclass(w.category, policy.allowed)]
    if unexpected:
        pytest.fail(
            f"{case['id']}: unexpected warning(s): "
            + "; ".join(f"{w.category.__name__}: {w.message}" for w in unexpected)
            + f" (metafor warned: {case['r_warnings'] or 'nothing'})",
            pytrace=False,
        )
    for options in policy.required:
        if not any(issubclass(w.category, options) for w in caught):
            names = " or ".join(c.__name__ for c in options)
            pytest.fail(f"{case['id']}: expected a {names}; none was raised", pytrace=False)
    return result


# --------------------------------------------------------------------------- one test per case


def _check_escalc(case: dict[str, Any]) -> None:
    es = _run(case, lambda: mm.effect_sizes(case["measure"], **case["inputs"], **case["options"]))
    _assert_fields(case, lambda f: np.asarray(es[f], dtype=np.float64), lambda f: CLOSED)


def _check_rma(case: dict[str, Any]) -> None:
    opts = case["options"]
    res = _run(
        case,
        lambda: mm.meta_analysis(
            case["inputs"]["yi"],
            case["inputs"]["vi"],
            method=opts["method"],
            test=opts["test"],
            level=opts["level"],
        ),
    )
    iterative_method = opts["method"] in ITERATIVE_METHODS

    def tol_for(field: str) -> _Tol:
        if field in Q_PROFILE_FIELDS:
            return ITERATIVE
        if iterative_method and field not in TAU2_FREE_FIELDS:
            return ITERATIVE
        return CLOSED

    _assert_fields(case, lambda f: getattr(res, f), tol_for)
    if case["expected"]["df"] is None:
        assert res.df is None, f"{case['id']}: a z test has no df, msc_meta gave {res.df!r}"


def _check_mh(case: dict[str, Any]) -> None:
    opts = case["options"]
    res = _run(
        case,
        lambda: mm.mantel_haenszel(opts["measure"], **case["inputs"], level=opts["level"]),
    )
    _assert_fields(case, lambda f: getattr(res, f), lambda f: CLOSED)


def _check_peto(case: dict[str, Any]) -> None:
    res = _run(case, lambda: mm.peto(**case["inputs"], level=case["options"]["level"]))
    _assert_fields(case, lambda f: getattr(res, f), lambda f: CLOSED)


CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "escalc": _check_escalc,
    "rma": _check_rma,
    "mh": _check_mh,
    "peto": _check_peto,
}


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_matches_metafor(case: dict[str, Any]) -> None:
    CHECKS[case["kind"]](case)


# --------------------------------------------------------------------------- the grid itself


def test_reference_records_r_and_metafor_versions() -> None:
    ref = _reference()
    assert re.match(r"R version \d+\.\d+\.\d+", ref["r_version"]), ref["r_version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", ref["metafor_version"]), ref["metafor_version"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", ref["generated"]), ref["generated"]


def test_grid_did_not_shrink() -> None:
    cases = _cases()
    counts = Counter(c["kind"] for c in cases)
    for kind, minimum in MIN_CASES.items():
        assert counts[kind] >= minimum, f"{kind}: {counts[kind]} cases, expected >= {minimum}"
    assert len(cases) >= MIN_TOTAL
    assert set(counts) == set(CHECKS), f"unknown kinds: {set(counts) - set(CHECKS)}"


def test_case_ids_are_unique() -> None:
    ids = Counter(c["id"] for c in _cases())
    assert not [i for i, n in ids.items() if n > 1]


def test_grid_covers_every_measure_method_and_test() -> None:
    cases = _cases()
    escalc = [c for c in cases if c["kind"] == "escalc"]
    rma = [c for c in cases if c["kind"] == "rma"]
    assert {c["measure"] for c in escalc} == ALL_MEASURES
    assert {c["options"].get("to") for c in escalc} >= ALL_ZERO_RULES
    assert {c["options"].get("drop00") for c in escalc} >= {False, True}
    assert {c["options"]["method"] for c in rma} == ALL_METHODS
    assert {c["options"]["test"] for c in rma} == ALL_TESTS
    assert {c["options"]["level"] for c in rma} == ALL_LEVELS
    # every method x test pair at both levels
    pairs = {(c["options"]["method"], c["options"]["test"], c["options"]["level"]) for c in rma}
    assert len(pairs) == len(ALL_METHODS) * len(ALL_TESTS) * len(ALL_LEVELS)
    # the boundary cases the grid is meant to hold
    flags = [c["flags"] for c in rma]
    assert any(f["k"] == 2 for f in flags)
    assert any(f["k"] >= 30 for f in flags)
    assert any(f["q_below_df"] for f in flags)
    assert any(f["identical_effects"] for f in flags)
    assert {c["options"]["measure"] for c in cases if c["kind"] == "mh"} == set(MH_MEASURES)
    assert any(c["kind"] == "peto" for c in cases)


def test_every_dataset_is_described() -> None:
    ref = _reference()
    described = ref["datasets"]
    missing = {c["dataset"] for c in ref["cases"]} - set(described)
    assert not missing, f"datasets without a source and description: {sorted(missing)}"
    for name, info in described.items():
        assert info["source"] and info["description"], name


def test_every_case_was_generated() -> None:
    # a case metafor could not compute is listed here instead of being written
    assert _reference()["not_generated"] == []


def test_reference_json_stays_small() -> None:
    assert REFERENCE.stat().st_size < MAX_JSON_BYTES
