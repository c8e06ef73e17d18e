"""GOSH (``result.gosh()``, :mod:`msc_meta.gosh`) against metafor's ``gosh.rma``.

tests/reference/generate_metafor_gosh.R writes metafor 3.8-1's ``gosh()`` over all subsets
of the first 10 studies of dat.bcg and a seeded k = 6 dataset, for REML, DL, EE and ML.
Two documented disagreements, settled by the math:

* DL: metafor's fast path in ``gosh`` reports H² = Q/(k − 1) unfloored (below 1 when
  τ² = 0), where ``rma()`` itself, and msc_meta, give H² = 1 + τ²/ṽ = 1 then;
* ML: on the few subsets whose likelihood has two local maxima, metafor's Fisher scoring
  can stop at the lower one; the global maximum is used here (flagged in ``codes``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

import msc_meta as mm
from msc_meta._batch_types import MULTIMODAL, NOT_CONVERGED
from msc_meta._errors import MetaAnalysisError
from msc_meta.batch import NOT_REPRESENTABLE
from msc_meta.gosh import GoshResult, gosh, gosh_subsets
from msc_meta.plots import gosh_data, gosh_plot

matplotlib.use("Agg")

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "metafor_gosh.json").read_text(encoding="utf-8")
)
CASES = REFERENCE["cases"]
COLUMNS = (("k", "k"), ("QE", "q"), ("I2", "i2"), ("H2", "h2"), ("tau2", "tau2"),
           ("estimate", "estimate"))  # fmt: skip


def test_grid_did_not_shrink() -> None:
    assert len(CASES) == 8
    assert {c["method"] for c in CASES} == {"REML", "DL", "EE", "ML"}
    assert sorted({len(c["k"]) for c in CASES}) == [63, 1023]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['dataset']}-{c['method']}")
def test_matches_metafor(case: dict[str, Any]) -> None:
    res = mm.meta_analysis(
        np.array(case["yi"]), np.array(case["vi"]), method=case["method"], tol=1e-12
    )
    g = res.gosh()
    np.testing.assert_array_equal(g.incl, np.array(case["incl"], dtype=bool))
    assert not g.sampled
    ok = (g.codes & MULTIMODAL) == 0
    assert np.count_nonzero(~ok) < len(ok) // 10  # ML on bcg10: 48 of 1023 flagged
    for ref_name, name in COLUMNS:
        ref = np.array(case[ref_name], dtype=float)
        if ref_name == "H2" and case["method"] == "DL":
            ref = np.maximum(ref, 1.0)
        got = np.asarray(getattr(g, name), dtype=float)
        tol = 1e-6 if ref_name == "I2" else 1e-8
        np.testing.assert_allclose(got[ok], ref[ok], rtol=tol, atol=tol, err_msg=ref_name)
    assert g.converged.all()


def test_each_subset_equals_meta_analysis() -> None:
    case = CASES[0]
    y, v = np.array(case["yi"]), np.array(case["vi"])
    g = mm.meta_analysis(y, v, method="REML").gosh()
    for j in (0, 10, 500, len(g) - 1):
        if g.k[j] < 2:
            continue
        one = mm.meta_analysis(y[g.incl[j]], v[g.incl[j]], method="REML")
        assert g.estimate[j] == pytest.approx(one.estimate, abs=1e-8)
        assert g.tau2[j] == pytest.approx(one.tau2, abs=1e-8)


def test_subsets_order_and_sampling() -> None:
    incl, sampled = gosh_subsets(16)
    assert incl.shape == (65535, 16) and not sampled
    assert len({row.tobytes() for row in incl}) == 65535
    a, sampled_a = gosh_subsets(20, rng=7)
    b, _ = gosh_subsets(20, rng=7)
    assert sampled_a and a.shape == (100_000, 20)
    np.testing.assert_array_equal(a, b)
    assert a.any(axis=1).all()
    c, sampled_c = gosh_subsets(6, subsets=10, rng=1)
    assert sampled_c and c.shape == (10, 6)
    d, sampled_d = gosh_subsets(6, subsets=63)
    assert not sampled_d and d.shape == (63, 6)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "all"])
def test_bad_subsets(bad: Any) -> None:
    with pytest.raises(MetaAnalysisError, match="subsets"):
        gosh_subsets(5, subsets=bad)


def test_needs_meta_analysis_result() -> None:
    with pytest.raises(MetaAnalysisError, match="result"):
        gosh("not a result")  # type: ignore[arg-type]


def test_sampled_reproducible_and_frame() -> None:
    rng = np.random.default_rng(3)
    res = mm.meta_analysis(rng.normal(0.2, 0.3, 18), rng.uniform(0.01, 0.1, 18))
    g1 = res.gosh(subsets=500, rng=11)
    g2 = res.gosh(subsets=500, rng=11)
    assert isinstance(g1, GoshResult) and g1.sampled and len(g1) == 500
    np.testing.assert_array_equal(g1.estimate, g2.estimate)
    frame = g1.to_frame()
    assert list(frame.columns[:7]) == ["k", "q", "i2", "h2", "tau2", "estimate", "converged"]
    assert list(frame.columns[7:]) == list(res.labels)
    np.testing.assert_array_equal(frame["k"], frame[list(res.labels)].sum(axis=1))
    text = g1.summary()
    assert "500 subsets (sampled) of 18 studies" in text
    assert str(g1) == text


def test_plot() -> None:
    import matplotlib.pyplot as plt  # test-only import, as in test_plots

    res = mm.meta_analysis(np.array(CASES[0]["yi"]), np.array(CASES[0]["vi"]))
    g = res.gosh()
    data = gosh_data(g)
    assert list(data.columns) == ["estimate", "i2", "k"] and len(data) == 1023
    ax = g.plot()
    assert ax.get_ylabel() == "I² (%)"
    assert [c.get_gid() for c in ax.collections] == ["gosh-points"]
    assert sum(child.get_gid() == "gosh-marginal" for child in ax.child_axes) == 2
    plt.close(ax.figure)
    ax2 = gosh_plot(g, marginals=False)
    assert not ax2.child_axes
    plt.close(ax2.figure)


def test_summary_counts_fits_not_converged_apart_from_subsets_the_core_refuses() -> None:
    # a refused subset has no fit (converged False, only NOT_REPRESENTABLE): it is counted as
    # not representable, not as not converged
    n = 3
    res = GoshResult(
        incl=np.ones((n, 2), dtype=bool),
        k=np.full(n, 2),
        q=np.array([1.0, 2.0, np.nan]),
        i2=np.array([0.0, 10.0, np.nan]),
        h2=np.array([1.0, 1.1, np.nan]),
        tau2=np.array([0.0, 0.1, np.nan]),
        estimate=np.array([0.5, 0.6, np.nan]),
        converged=np.array([True, False, False]),
        codes=np.array([0, NOT_CONVERGED, NOT_REPRESENTABLE]),
        labels=("a", "b"),
        method="REML",
        sampled=False,
    )
    text = res.summary()
    assert "not converged: 1 subsets" in text
    assert "not representable (no fit): 1 subsets" in text
