"""Time the whole ``meta_analysis_many`` per τ² method on m x k random-effects rows.

Usage: python benchmarks/batch_timing.py [m] [k] [methods...]  (default 1,000,000 x 10,
DL EE PM ML REML). Rows: v uniform on [0.01, 0.1], τ² = 0.05. Prints seconds and µs per row.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from msc_meta.batch import meta_analysis_many


def main() -> None:
    m = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rng = np.random.default_rng(1)
    V = rng.uniform(0.01, 0.1, (m, k))
    Y = rng.normal(0.0, np.sqrt(V + 0.05))
    for method in sys.argv[3:] or ["DL", "EE", "PM", "ML", "REML"]:
        start = time.perf_counter()
        res = meta_analysis_many(Y, V, method=method, progress=False)
        took = time.perf_counter() - start
        print(
            f"{method:5s} m={m:,} k={k}: {took:.3f} s ({1e6 * took / m:.2f} us per row), "
            f"flagged rows {int(np.count_nonzero(res.codes))}"
        )


if __name__ == "__main__":
    main()
