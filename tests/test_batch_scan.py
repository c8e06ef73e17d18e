"""The adaptive scan of the ML/REML score: the sign of every grid point, as the full scan has it.

:func:`msc_meta._batch_scan.scan_scores` evaluates the score at some points of the core's grid
and gives the others the sign that bounds prove. Every point must carry the sign the score
has there (as the full evaluation of every point finds it), so that the sign changes, hence
the candidates of the likelihood's maxima, are those of the core.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from msc_meta import _batch_iterative as bi
from msc_meta import _batch_scan
from tests.test_batch_iterative import _pack, _random_rows
from tests.test_hardening import _bimodal_candidates


def _changes(scores: np.ndarray) -> np.ndarray:
    """Where the score goes from positive to at most 0 between neighbouring grid points."""
    return (scores[:, :-1] > 0.0) & (scores[:, 1:] <= 0.0)


def _signs(rows: list[tuple[np.ndarray, np.ndarray]], reml: bool) -> tuple[int, int]:
    """Compare the adaptive and the full scan on rows; return (points, points evaluated)."""
    Y, V, mask = _pack(rows)
    Yz, Vz, k = bi._prepare(Y, V, mask)
    t_min, t_max, n, vmin, vmax, bound = bi._scan_bounds(Yz, Vz, mask)
    width = int(n.max()) + 1
    scan_grid = _batch_scan.ScanGrid(t_min, t_max / t_min, n)
    grid = scan_grid.full(width)
    Yt, Vt = np.ascontiguousarray(Yz.T), np.ascontiguousarray(Vz.T)
    evaluated = 0
    real = _batch_scan._Sums

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, t: np.ndarray, *args: object) -> None:
            nonlocal evaluated
            evaluated += t.size
            super().__init__(t, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_batch_scan, "_Sums", Counting)
        with np.errstate(all="ignore"):
            raw = _batch_scan.scan_scores(
                scan_grid, width, Yt, Vt, vmin, vmax, bound, k, reml,
                partial(bi._score_points, reml=reml),
            )  # fmt: skip
    fast = _batch_scan.filled(raw, n)
    with np.errstate(all="ignore"):
        full = bi._score_grid(grid, Yt, Vt, reml)
    # the engine reads the sign changes off the scores without filling them: the same
    with np.errstate(invalid="ignore"):
        assert np.array_equal(_changes(raw), _changes(fast))
        assert np.array_equal(raw[:, 0] <= 0.0, fast[:, 0] <= 0.0)
    inside = ~np.isnan(grid)
    assert not np.isnan(fast[inside]).any()
    assert np.isnan(fast[~inside]).all()
    where = np.argwhere(inside & (np.sign(fast) != np.sign(full)))
    assert where.size == 0, [
        (int(i), int(j), rows[i], fast[i, j], full[i, j]) for i, j in where[:3]
    ]
    return int(inside.sum()), evaluated


@pytest.mark.parametrize("reml", [True, False])
def test_random_rows_keep_every_sign(reml: bool) -> None:
    rng = np.random.default_rng(20261201)
    rows = _random_rows(rng, 1500, 12) + _random_rows(rng, 100, 60)
    points, evaluated = _signs(rows, reml)
    assert evaluated < 0.7 * points  # the scan skips points (the test of the skipping is real)


@pytest.mark.parametrize("reml", [True, False])
def test_bimodal_prone_rows_keep_every_sign(reml: bool) -> None:
    rng = np.random.default_rng(20261201)
    _signs(_bimodal_candidates(rng, 1500), reml)


@pytest.mark.parametrize("reml", [True, False])
def test_simulation_rows_keep_every_sign(reml: bool) -> None:
    """The rows of benchmarks/scaling.py: k = 10, variances over three decades, small τ²."""
    rng = np.random.default_rng(20261130)
    v = 10 ** rng.uniform(-3.0, 0.0, (3000, 10))
    y = rng.normal(0.3, np.sqrt(v + rng.uniform(0.0, 0.1, (3000, 1))))
    points, evaluated = _signs(list(zip(y, v, strict=True)), reml)
    assert evaluated < 0.5 * points


def test_small_blocks_keep_every_sign() -> None:
    """Blocks of 1 to 12 rows (chunks of a batch): the points evaluated again may number as
    many as the rows, and must still be taken from their own rows."""
    rng = np.random.default_rng(72)
    rows = _random_rows(rng, 600, 6) + _bimodal_candidates(rng, 200)
    start = 0
    for size in range(1, 13):
        for _ in range(9):
            block = rows[start : start + size]
            start = (start + size) % (len(rows) - 12)
            for reml in (True, False):
                _signs(block, reml)


def test_rows_of_two_studies_and_identical_effects() -> None:
    rows = [
        (np.array([0.0, 1.0]), np.array([1e-6, 1e6])),
        (np.array([0.3, 0.3, 0.3]), np.array([0.1, 0.2, 0.3])),
        (np.array([0.0, 1e-9]), np.array([1.0, 1.0])),
        (np.array([-5.0, 5.0]), np.array([1e-3, 1e-3])),
        # the bottom stretch's margins matter here (found by a review: without the rounding
        # terms of A and B, REML gave τ² = 0.2054 against the core's 0.02072)
        (np.array([0.0, 4621.460794093352]), np.array([1.0, 21357898.853627495])),
    ]
    for reml in (True, False):
        _signs(rows, reml)


def test_scan_grid_is_the_core_grid_bit_for_bit() -> None:
    from msc_meta import tau2

    rng = np.random.default_rng(9)
    rows = _random_rows(rng, 300, 12)
    Y, V, mask = _pack(rows)
    Yz, Vz, _ = bi._prepare(Y, V, mask)
    t_min, t_max, n, vmin, _, _ = bi._scan_bounds(Yz, Vz, mask)
    grid = _batch_scan.ScanGrid(t_min, t_max / t_min, n)
    full = grid.full(int(n.max()) + 1)
    for i, (y, v) in enumerate(rows):
        y_w, v_w, _ = tau2.working_units(y, v)
        core = tau2._scan_grid(y_w, v_w)
        assert np.array_equal(full[i, : core.size], core)
        assert np.isnan(full[i, core.size :]).all()
    # the first point at or above a target, as a search of the whole grid finds it
    for target in (0.25 * vmin, vmin, 3.0 * t_min, t_max):
        want = np.argmax(full[:, 1:] >= target[:, None], axis=1) + 1
        want = np.where((full[:, 1:] >= target[:, None]).any(axis=1), want, n)
        np.testing.assert_array_equal(grid.first_above(target), want)


def test_scan_grid_length_is_the_cores_where_log10_rounds_differently() -> None:
    """NumPy's log10 and math.log10 may differ in the last bit; where ten times the decades is
    a whole number, that decides the ceiling, so the number of points is taken as the core's."""
    from msc_meta import tau2

    for y in ([0.0, 11.059088422333799],):
        y_w, v_w, _ = tau2.working_units(np.array(y), np.ones(2))
        core = tau2._scan_grid(y_w, v_w).size - 1
        n = bi._scan_bounds(y_w[None, :], v_w[None, :], np.ones((1, 2), dtype=bool))[2]
        assert int(n[0]) == core == 45
