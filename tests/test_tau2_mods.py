"""τ² with a design matrix (the meta-regression branches of ``msc_meta.tau2``).

Two checks: an intercept-only design matrix gives the intercept-only fit, and
``mods = ~ x`` agrees with R's metafor (``tests/reference/tau2_mods.json``,
written by ``tests/reference/generate_tau2_mods.R``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from msc_meta.heterogeneity import cochran_q, typical_variance
from msc_meta.tau2 import TAU2_METHODS, Tau2Control, estimate_tau2, trace_p, wls_residuals
from tests.test_metafor_reference import (
    CLOSED_FORM_ATOL,
    CLOSED_FORM_RTOL,
    ITERATIVE_ATOL,
    ITERATIVE_METHODS,
    ITERATIVE_RTOL,
)

REFERENCE = Path(__file__).parent / "reference" / "tau2_mods.json"
#: metafor's control in the R script, as msc_meta's options.
CONTROL = Tau2Control(tol=1e-12, max_iter=10000)
#: The intercept-only fit with X = a column of ones differs from X = None only in
#: rounding: working units centre the effects only when X is None, and the
#: O(k) intercept-only formulas sum in another order than the matrix ones.
IDENTITY_RTOL = 1e-12
IDENTITY_ATOL = 1e-15


@cache
def _reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    (d,) = [d for d in _reference()["datasets"] if d["name"] == name]
    y = np.asarray(d["yi"], dtype=np.float64)
    v = np.asarray(d["vi"], dtype=np.float64)
    return y, v, np.asarray(d["x"], dtype=np.float64)


def test_reference_file_records_its_provenance() -> None:
    ref = _reference()
    for key in ("r_version", "metafor_version", "generated", "control", "rng_kind"):
        assert ref[key], key
    assert ref["not_generated"] == []
    methods = {c["method"] for c in ref["cases"]}
    assert methods == set(TAU2_METHODS)
    assert len(ref["cases"]) == len(ref["datasets"]) * len(TAU2_METHODS)


@pytest.mark.parametrize("case", _reference()["cases"], ids=lambda c: c["id"])
def test_tau2_with_moderators_matches_metafor(case: dict[str, Any]) -> None:
    y, v, x = _dataset(case["dataset"])
    X = np.column_stack([np.ones_like(x), x])
    fit = estimate_tau2(y, v, case["method"], X, control=CONTROL)
    iterative = case["method"] in ITERATIVE_METHODS
    rtol = ITERATIVE_RTOL if iterative else CLOSED_FORM_RTOL
    atol = ITERATIVE_ATOL if iterative else CLOSED_FORM_ATOL
    assert fit.tau2 == pytest.approx(case["tau2"], rel=rtol, abs=atol)
    if case["se"] is None:
        assert fit.se is None
    else:
        assert fit.se == pytest.approx(case["se"], rel=rtol, abs=atol)


def _identity_inputs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20261130)
    out = [(d["name"], *_dataset(d["name"])[:2]) for d in _reference()["datasets"]]
    for k in (2, 3, 7, 40):
        v = rng.uniform(0.01, 0.5, k)
        out.append((f"random_k{k}", rng.normal(0.3, np.sqrt(v + 0.1)), v))
    return out


@pytest.mark.parametrize("method", sorted(TAU2_METHODS))
@pytest.mark.parametrize("inputs", _identity_inputs(), ids=lambda t: t[0])
def test_column_of_ones_is_the_intercept_only_model(
    method: str, inputs: tuple[str, np.ndarray, np.ndarray]
) -> None:
    _, y, v = inputs
    ones = np.ones((y.shape[0], 1))
    plain = estimate_tau2(y, v, method, None, control=CONTROL)
    design = estimate_tau2(y, v, method, ones, control=CONTROL)
    assert design.tau2 == pytest.approx(plain.tau2, rel=IDENTITY_RTOL, abs=IDENTITY_ATOL)
    if plain.se is None:
        assert design.se is None
    else:
        assert design.se == pytest.approx(plain.se, rel=IDENTITY_RTOL, abs=IDENTITY_ATOL)
    assert design.converged == plain.converged
    # the same iteration, up to one step more or less from the different rounding
    assert abs(design.iterations - plain.iterations) <= 1
    assert len(design.maxima) == len(plain.maxima)


def _p_matrix(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """P = W - W X (X'WX)^-1 X'W, written out."""
    W = np.diag(w)
    return W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W


def test_public_algebra_with_a_design_matrix_is_the_textbook_formula() -> None:
    y, v, x = _dataset("bcg_ablat")
    w = 1.0 / (v + 0.1)
    X = np.column_stack([np.ones_like(x), x])
    P = _p_matrix(w, X)
    assert trace_p(w, X) == pytest.approx(np.trace(P), rel=1e-12)
    r = wls_residuals(y, w, X)
    assert float(w @ (r * r)) == pytest.approx(float(y @ P @ y), rel=1e-12)
    ones = np.ones((y.shape[0], 1))
    assert trace_p(w) == pytest.approx(np.trace(_p_matrix(w, ones)), rel=1e-12)
    assert wls_residuals(y, w) == pytest.approx(wls_residuals(y, w, ones), rel=1e-12, abs=1e-14)
    # heterogeneity's Q and typical variance are these at the weights 1/v
    k, p = X.shape
    assert cochran_q(y, v, X).q == pytest.approx(float(y @ _p_matrix(1.0 / v, X) @ y), rel=1e-12)
    assert typical_variance(v, X) == pytest.approx((k - p) / trace_p(1.0 / v, X), rel=1e-15)
