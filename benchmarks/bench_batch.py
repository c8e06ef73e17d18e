"""Speed of the batch engine (``meta_analysis_many``) and GOSH beside their peers, in one run.

Times REML and DL on m meta-analyses of k = 10 (m = 1e3 .. 1e6, and 1e7 for DL with
``--big``) with ``msc_meta.meta_analysis_many`` (every field of the result: estimate, tests,
prediction interval, Q, I², H²), PyMARE's estimators (``DerSimonianLaird`` vectorized over
all rows; ``VarianceBasedLikelihoodEstimator(method="REML")`` on a subsample, extrapolated),
a loop over statsmodels' ``combine_effects`` (subsample, extrapolated) and, when ``Rscript``
with metafor is on the PATH, a loop over metafor's ``rma`` (subsample, extrapolated). Figures
marked ``*`` are extrapolated linearly from a subsample. Then GOSH over all 65,535 subsets of
k = 16 (``result.gosh()``) beside metafor's ``gosh``, and the peak memory of the batch engine
(``tracemalloc``, numpy's allocations) against the size of its input.

Usage: ``python benchmarks/bench_batch.py [--max-m 1000000] [--big] [--repeats 3]
[--plot FILE.png]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

import msc_meta as mm

K = 10
SUB_LOOP = 300  # rows of the statsmodels and metafor loops
SUB_PYMARE_REML = 2_000  # rows of PyMARE's REML (it optimizes row by row)


def _data(m: int, k: int = K, seed: int = 20261130) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = 10 ** rng.uniform(-2, -0.5, (m, k))
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    return y, v


def _best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _ours(y: np.ndarray, v: np.ndarray, method: str, repeats: int) -> float:
    return _best(lambda: mm.meta_analysis_many(y, v, method=method, progress=False), repeats)


def _pymare(y: np.ndarray, v: np.ndarray, method: str) -> float | None:
    try:
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
    except ImportError:
        return None
    est = DerSimonianLaird() if method == "DL" else VarianceBasedLikelihoodEstimator("REML")
    x = np.ones((y.shape[1], 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(y.T, v.T, x)  # PyMARE: studies x datasets
        return time.perf_counter() - t0


def _statsmodels(y: np.ndarray, v: np.ndarray, method: str) -> float:
    from statsmodels.stats.meta_analysis import combine_effects

    method_re = "chi2" if method == "DL" else "iterated"  # statsmodels has no REML: PM
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(y.shape[0]):
            combine_effects(y[i], v[i], method_re=method_re)
    return time.perf_counter() - t0


def _metafor(y: np.ndarray, v: np.ndarray, method: str) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        yp, vp = Path(tmp, "y.csv"), Path(tmp, "v.csv")
        np.savetxt(yp, y, delimiter=",", fmt="%.17g")
        np.savetxt(vp, v, delimiter=",", fmt="%.17g")
        script = (
            "suppressPackageStartupMessages(library(metafor));"
            f"y<-as.matrix(read.csv('{yp}',header=FALSE));v<-as.matrix(read.csv('{vp}',header=FALSE));"
            "t<-system.time(for(i in seq_len(nrow(y))) "
            f"try(rma(y[i,],v[i,],method='{method}'),silent=TRUE))[['elapsed']];cat(t)"
        )
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    return float(out.stdout.strip()) if out.returncode == 0 else None


def _metafor_gosh(y: np.ndarray, v: np.ndarray, method: str) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    ys = ",".join(f"{a:.17g}" for a in y)
    vs = ",".join(f"{a:.17g}" for a in v)
    script = (
        "suppressPackageStartupMessages(library(metafor));"
        f"fit<-rma(c({ys}),c({vs}),method='{method}');"
        "t<-system.time(gosh(fit,subsets=2^16,progbar=FALSE))[['elapsed']];cat(t)"
    )
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    return float(out.stdout.strip()) if out.returncode == 0 else None


def _peak_mb(y: np.ndarray, v: np.ndarray, method: str) -> float:
    tracemalloc.start()
    mm.meta_analysis_many(y, v, method=method, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _fmt(seconds: float | None, extrapolated: bool = False) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds:.3f}{'*' if extrapolated else ''}"


def _ratio(theirs: float | None, ours: float) -> str:
    if theirs is None:
        return "n/a"
    r = theirs / ours
    return f"{r:,.0f}x" if r >= 10 else f"{r:.2g}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-m", type=int, default=1_000_000)
    parser.add_argument("--big", action="store_true", help="also DL on m = 1e7")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-r", action="store_true", help="skip metafor")
    parser.add_argument("--plot", type=Path, default=None, help="time against m, as PNG")
    args = parser.parse_args()

    warm_y, warm_v = _data(100)
    for method in ("DL", "REML"):  # warm up (imports, caches) before timing
        mm.meta_analysis_many(warm_y, warm_v, method=method, progress=False)
        _pymare(warm_y, warm_v, method)
    sizes = [m for m in (1_000, 10_000, 100_000, 1_000_000) if m <= args.max_m]
    timings: dict[tuple[str, str], list[tuple[int, float]]] = {}
    floors: dict[int, float] = {}  # one numpy pass over effect and variance, per m
    print(f"k = {K}; seconds for m meta-analyses (* extrapolated from a subsample)")
    print(
        "| method | m | msc_meta | PyMARE | ratio | statsmodels loop | ratio "
        "| metafor rma loop | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for method in ("DL", "REML"):
        ms = sizes + ([10_000_000] if args.big and method == "DL" else [])
        for m in ms:
            y, v = _data(m)
            if m not in floors:
                floors[m] = _best(lambda y=y, v=v: (y.sum(), v.sum()), args.repeats)
            ours = _ours(y, v, method, args.repeats if m < 10_000_000 else 1)
            timings.setdefault(("msc_meta", method), []).append((m, ours))
            sub_p = m if method == "DL" else min(m, SUB_PYMARE_REML)
            pym = _pymare(y[:sub_p], v[:sub_p], method) if m < 10_000_000 else None
            pym = None if pym is None else pym * m / sub_p
            sub = min(m, SUB_LOOP)
            sm = _statsmodels(y[:sub], v[:sub], method) * m / sub
            mf = None if args.no_r else _metafor(y[:sub], v[:sub], method)
            mf = None if mf is None else mf * m / sub
            for name, t in (("PyMARE", pym), ("statsmodels", sm), ("metafor", mf)):
                if t is not None:
                    timings.setdefault((name, method), []).append((m, t))
            print(
                f"| {method} | {m:,} | {ours:.3f} | {_fmt(pym, sub_p < m)} | {_ratio(pym, ours)} "
                f"| {_fmt(sm, sub < m)} | {_ratio(sm, ours)} | {_fmt(mf, sub < m)} "
                f"| {_ratio(mf, ours)} |"
            )
            del y, v

    print("\nThe memory-bandwidth floor: one pass over effect and variance (numpy sums), seconds")
    print("| m | one pass | msc_meta DL | DL / floor | msc_meta REML | REML / floor |")
    print("|---:|---:|---:|---:|---:|---:|")
    by_m = {
        (meth, m): t for (name, meth), pts in timings.items() if name == "msc_meta" for m, t in pts
    }
    for m, floor in floors.items():
        dl, reml = by_m.get(("DL", m)), by_m.get(("REML", m))
        cells = [
            f"{t:.3f} | {t / floor:,.0f}x" if t is not None else "n/a | n/a" for t in (dl, reml)
        ]
        print(f"| {m:,} | {floor:.4f} | {cells[0]} | {cells[1]} |")

    print("\nGOSH: all 65,535 subsets of k = 16; seconds")
    print("| method | msc_meta result.gosh() | metafor gosh() | ratio |")
    print("|---|---:|---:|---:|")
    rng = np.random.default_rng(16)
    y16, v16 = rng.normal(0.3, 0.3, 16), 10 ** rng.uniform(-2, -0.5, 16)
    for method in ("DL", "REML"):
        res = mm.meta_analysis(y16, v16, method=method)
        ours = _best(lambda res=res: res.gosh(progress=False), args.repeats)
        theirs = None if args.no_r or method != "DL" else _metafor_gosh(y16, v16, method)
        print(f"| {method} | {ours:.3f} | {_fmt(theirs)} | {_ratio(theirs, ours)} |")

    print("\nPeak memory of meta_analysis_many (tracemalloc), k = 10")
    print("| method | m | input MB (effect + variance) | peak MB | peak / input |")
    print("|---|---:|---:|---:|---:|")
    for method in ("DL", "REML"):
        m = sizes[-1]
        y, v = _data(m)
        inp = (y.nbytes + v.nbytes) / 2**20
        peak = _peak_mb(y, v, method)
        print(f"| {method} | {m:,} | {inp:.1f} | {peak:.1f} | {peak / inp:.2f} |")

    if args.plot is not None:
        import matplotlib  # benchmark-only figure

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for (name, method), pts in sorted(timings.items()):
            xs, ts = zip(*pts, strict=True)
            style = "-" if method == "REML" else "--"
            what = "PM" if name == "statsmodels" and method == "REML" else method
            ax.loglog(xs, ts, style, marker="o", ms=3, label=f"{name} {what}")
        ax.set_xlabel("meta-analyses m (k = 10)")
        ax.set_ylabel("seconds")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(True, which="major", color="0.9")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"\nwrote {args.plot}")


if __name__ == "__main__":
    main()
