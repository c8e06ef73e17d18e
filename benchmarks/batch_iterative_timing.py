"""Time the vectorized iterative τ² estimators (msc_meta._batch_iterative) on m x k rows.

Usage: python benchmarks/batch_iterative_timing.py [m] [k]  (default 1,000,000 x 10).
Rows are random-effects data (v from 0.01 to 0.1, τ² = 0.05) in working units row by row.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from msc_meta._batch_iterative import ITERATIVE_BATCH_METHODS
from msc_meta.tau2 import Tau2Control


def main() -> None:
    m = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rng = np.random.default_rng(1)
    V = rng.uniform(0.01, 0.1, (m, k))
    Y = rng.normal(0.0, np.sqrt(V + 0.05))
    # working units per row: centred at the median effect, scaled by a power of two
    Y -= np.median(Y, axis=1, keepdims=True)
    scale = np.ldexp(1.0, np.frexp(np.sqrt(np.median(V, axis=1)))[1])[:, None]
    Y /= scale
    V /= scale * scale
    mask = np.ones((m, k), dtype=bool)
    for method in sys.argv[3:] or ["REML", "ML", "PM", "PMM"]:
        start = time.perf_counter()
        fit = ITERATIVE_BATCH_METHODS[method](Y, V, mask, Tau2Control())
        took = time.perf_counter() - start
        print(
            f"{method:5s} m={m:,} k={k}: {took:.3f} s ({1e6 * took / m:.2f} us per row), "
            f"not converged {int((~fit.converged).sum())}, multimodal {int(np.count_nonzero(fit.codes & 2))}"
        )


if __name__ == "__main__":
    main()
