"""The batch engine on Dask: lazy results equal to the in-memory engine's, also on a cluster."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.batch import BatchResult

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")


def _rows(m: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    V = rng.uniform(0.01, 1.0, size=(m, k)) * 10.0 ** rng.integers(-3, 4, size=(m, 1))
    Y = rng.choice([0.0, 0.3], size=(m, 1)) * np.sqrt(V).mean(axis=1, keepdims=True)
    Y = Y * rng.normal(size=(m, k)) + np.sqrt(V) * rng.normal(size=(m, k))
    absent = rng.random((m, k)) < 0.2
    absent[:, 0] = False
    absent[0, 1:] = True  # k = 1
    Y[absent] = np.nan
    V[absent] = np.nan
    return Y, V


def _assert_equal(a: BatchResult, b: BatchResult) -> None:
    for f in dataclasses.fields(BatchResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f.name
        elif f.name != "groups":
            assert x == y, f.name


@pytest.mark.parametrize(("method", "test"), [("REML", "z"), ("DL", "knha"), ("PM", "t")])
def test_dask_arrays_give_the_in_memory_result_exactly(method: str, test: str) -> None:
    Y, V = _rows(2000, 10, 1)
    ref = mm.meta_analysis_many(Y, V, method=method, test=test)
    lazy = mm.meta_analysis_many(
        da.from_array(Y, chunks=(256, 5)), da.from_array(V, chunks=(512, 10)),
        method=method, test=test,
    )  # fmt: skip
    assert type(lazy).__name__ == "DaskBatchResult"
    assert isinstance(lazy.estimate, da.Array)
    _assert_equal(lazy.compute(), ref)
    assert np.array_equal(lazy.tau2.compute(), ref.tau2)
    assert lazy[5].estimate == ref[5].estimate
    assert len(lazy) == 2000
    assert lazy.to_frame().compute().equals(ref.to_frame())


def test_standard_errors_and_a_numpy_partner() -> None:
    Y, V = _rows(300, 6, 2)
    ref = mm.meta_analysis_many(Y, se=np.sqrt(V), method="REML")
    lazy = mm.meta_analysis_many(da.from_array(Y, chunks=(64, 6)), se=np.sqrt(V))
    _assert_equal(lazy.compute(), ref)


def test_options_are_checked_before_anything_is_computed() -> None:
    Y, V = _rows(10, 3, 3)
    with pytest.raises(mm.MetaAnalysisError, match="level"):
        mm.meta_analysis_many(da.from_array(Y), da.from_array(V), level=2.0)


def test_long_dask_dataframe() -> None:
    Y, V = _rows(600, 7, 4)
    lines = pd.DataFrame(
        {"g": np.repeat(np.arange(600) * 3, 7), "y": Y.ravel(), "v": V.ravel()}
    ).dropna()
    ref = mm.meta_analysis_many("y", "v", data=lines, group="g").to_frame().sort_index()
    lazy = mm.meta_analysis_many("y", "v", data=dd.from_pandas(lines, npartitions=5), group="g")
    got = lazy.compute().to_frame().sort_index()  # a shuffle by group reorders the groups
    assert got.index.equals(ref.index)
    # in-memory rows agree to rounding with their position in the block (BLAS row sums)
    np.testing.assert_allclose(got.to_numpy(float), ref.to_numpy(float), rtol=1e-12, atol=0)
    # indexed by group with known divisions: no shuffle, the groups keep their order
    indexed = dd.from_pandas(lines.set_index("g"), npartitions=5)
    frame = mm.meta_analysis_many("y", "v", data=indexed, group="g").to_frame().compute()
    assert frame.index.equals(ref.index)


def test_import_msc_meta_does_not_import_dask() -> None:
    code = "import sys, msc_meta; msc_meta.meta_analysis_many([[0.1, 0.2]], [[1.0, 1.0]]); "
    code += "print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_local_cluster_of_two_workers_gives_the_in_memory_result_exactly() -> None:
    distributed = pytest.importorskip("distributed")
    Y, V = _rows(4000, 10, 5)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        for method in ("REML", "DL", "SJ"):
            ref = mm.meta_analysis_many(Y, V, method=method, test="knha")
            lazy = mm.meta_analysis_many(
                da.from_array(Y, chunks=(512, 10)), da.from_array(V, chunks=(512, 10)),
                method=method, test="knha",
            )  # fmt: skip
            _assert_equal(lazy.compute(), ref)


def test_each_dask_block_is_fitted_by_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask runs the blocks in parallel: inside a block the engine keeps to one thread."""
    from msc_meta import _batch_dask

    Y, V = _rows(600, 6, 5)
    ref = mm.meta_analysis_many(Y, V, method="REML", n_jobs=1)
    seen: list[object] = []
    real = _batch_dask.meta_analysis_many

    def spy(*args: object, **kwargs: object) -> BatchResult:
        seen.append(kwargs.get("n_jobs"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_batch_dask, "meta_analysis_many", spy)
    lazy = mm.meta_analysis_many(
        da.from_array(Y, chunks=(100, 6)), da.from_array(V, chunks=(100, 6)), n_jobs=2
    )
    _assert_equal(lazy.compute(scheduler="threads"), ref)
    # the probe of the options, then every block
    assert len(seen) == len(lazy.blocks) + 1 and set(seen) == {1}


def test_blocks_in_threads_record_their_own_refit_warnings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blocks fitted at the same time by threads of one process, each with rows the core refits
    (two maxima tied to rounding: the core's warning sets the MULTIMODAL code), give the
    in-memory codes.

    Each refit is slowed down so that the threads' refits overlap: without the lock around them,
    one thread's ``catch_warnings`` restores the warning machinery while another's refit is
    still warning, and that warning escapes (an error under pytest) or is lost.
    """
    from msc_meta import batch
    from tests.test_batch import TIED_ML

    rng = np.random.default_rng(20261201)
    Y = rng.normal(size=(400, 3))
    V = rng.uniform(0.05, 1.0, size=(400, 3))
    tied = np.arange(0, 400, 10)  # four refits in every block of 50 rows
    Y[tied] = TIED_ML[0] + rng.normal(size=(tied.size, 1))  # a shift keeps the tie
    V[tied] = TIED_ML[1]
    ref = mm.meta_analysis_many(Y, V, method="ML", n_jobs=1)
    assert (ref.codes[tied] & 2).all()
    real = batch.meta_analysis
    calls: list[int] = []

    def slow(*args: object, **kwargs: object) -> object:
        calls.append(1)
        time.sleep(0.002)
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        time.sleep(0.002)
        return result

    monkeypatch.setattr(batch, "meta_analysis", slow)
    lazy = mm.meta_analysis_many(
        da.from_array(Y, chunks=(50, 3)), da.from_array(V, chunks=(50, 3)), method="ML"
    )
    for _ in range(3):
        _assert_equal(lazy.compute(scheduler="threads", num_workers=4), ref)
    assert len(calls) >= 3 * tied.size  # the refits happened (in the blocks' threads)
