"""Speed of one REML meta-analysis (k = 10) beside its peers.

Runs ``msc_meta.meta_analysis`` (full result: estimate, tests, prediction
interval, Q, I², H² and Q-profile intervals), statsmodels'
``combine_effects`` (DerSimonian-Laird and its iterated Paule-Mandel), and,
when ``Rscript`` with metafor is on the PATH, metafor's ``rma`` (alone, and
with ``confint`` and ``predict`` for the same content as our result).

Each figure is the median over batches of the time per call (batch time
divided by the calls in the batch), so that all three are measured alike.

A second table times large meta-analyses: every τ² method of msc_meta at
k = 100,000 (memory O(k)), statsmodels' ``combine_effects`` at the same k,
and msc_meta beside metafor at k = 2,000 (metafor's ``rma`` builds k x k
matrices: at k = 100,000 one of them is 80 GB).
Usage: ``python benchmarks/bench_pooling.py [--batches 31] [--calls 200] [--no-large]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _median_per_call(fn: Callable[[], object], batches: int, calls: int) -> float:
    fn()  # warm up
    per_call = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - t0) / calls)
    return statistics.median(per_call) * 1e3  # ms


def _large_data(k: int, seed: int = 20261130) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = 10 ** rng.uniform(-3, 0, k)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    return y, v


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


R_LARGE = r"""
suppressMessages(library(metafor))
y <- c({y}); v <- c({v})
for (m in c("DL", "REML", "PM")) {{
  t0 <- proc.time()[["elapsed"]]
  r <- rma(y, v, method = m)
  cat(sprintf("%s %.6f\n", m, proc.time()[["elapsed"]] - t0))
}}
"""


def _large(repeats: int) -> None:
    import msc_meta as mm

    k_big, k_mid = 100_000, 2_000
    y, v = _large_data(k_big)
    rows: list[tuple[str, int, float]] = []
    for method in mm.TAU2_METHODS:
        secs = _median_seconds(lambda m=method: mm.meta_analysis(y, v, method=m), repeats)
        rows.append((f"msc_meta.meta_analysis(method='{method}')", k_big, secs))
    try:
        from statsmodels.stats.meta_analysis import combine_effects

        for re_method, label in (("chi2", "DL"), ("iterated", "PM")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                secs = _median_seconds(
                    lambda m=re_method: combine_effects(y, v, method_re=m), repeats
                )
            rows.append(
                (f"statsmodels combine_effects(method_re='{re_method}') ({label})", k_big, secs)
            )
    except ImportError:
        pass
    ym, vm = y[:k_mid], v[:k_mid]
    for method in ("DL", "REML", "PM"):
        secs = _median_seconds(lambda m=method: mm.meta_analysis(ym, vm, method=m), repeats)
        rows.append((f"msc_meta.meta_analysis(method='{method}')", k_mid, secs))
    if shutil.which("Rscript"):
        code = R_LARGE.format(
            y=", ".join(f"{x:.17g}" for x in ym), v=", ".join(f"{x:.17g}" for x in vm)
        )
        with tempfile.TemporaryDirectory() as tmp:  # Rscript -e refuses long expressions
            script = Path(tmp) / "large.R"
            script.write_text(code, encoding="utf-8")
            out = subprocess.run(["Rscript", str(script)], capture_output=True, text=True)
        for line in out.stdout.split("\n"):
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("DL", "REML", "PM"):
                rows.append((f"metafor rma(method='{parts[0]}')", k_mid, float(parts[1])))
    print(f"\nLarge k; median seconds per fit over {repeats} runs (metafor: one run)\n")
    print("| implementation | k | seconds |")
    print("|---|---:|---:|")
    for name, k, secs in rows:
        print(f"| {name} | {k:,} | {secs:.3f} |")


def _data(k: int = 10, seed: int = 20261121) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.02, 0.3, k)
    y = rng.normal(-0.4, np.sqrt(v + 0.1))
    return y, v


R_CODE = r"""
suppressMessages(library(metafor))
y <- c({y}); v <- c({v})
med <- function(f, batches, calls) {{
  f()
  per <- numeric(batches)
  for (b in seq_len(batches)) {{
    t0 <- proc.time()[["elapsed"]]
    for (i in seq_len(calls)) f()
    per[b] <- (proc.time()[["elapsed"]] - t0) / calls
  }}
  median(per) * 1e3
}}
a <- med(function() rma(y, v, method = "REML"), {batches}, {calls})
b <- med(function() {{ r <- rma(y, v, method = "REML"); confint(r); predict(r) }}, {batches}, {calls})
cat(sprintf("%.6f %.6f %s\n", a, b, as.character(packageVersion("metafor"))))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=31)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--no-large", action="store_true", help="skip the large-k table")
    args = ap.parse_args()

    import msc_meta as mm

    y, v = _data()
    rows: list[tuple[str, str, float]] = []
    rows.append(
        (
            "msc_meta.meta_analysis(method='REML')",
            "full result incl. Q-profile CIs and PI",
            _median_per_call(
                lambda: mm.meta_analysis(y, v, method="REML"), args.batches, args.calls
            ),
        )
    )
    rows.append(
        (
            "msc_meta.meta_analysis(method='DL')",
            "full result incl. Q-profile CIs and PI",
            _median_per_call(
                lambda: mm.meta_analysis(y, v, method="DL"), args.batches, args.calls
            ),
        )
    )
    try:
        from statsmodels.stats.meta_analysis import combine_effects

        for re_method, label in (("chi2", "DL"), ("iterated", "PM")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ms = _median_per_call(
                    lambda m=re_method: combine_effects(y, v, method_re=m),
                    args.batches,
                    args.calls,
                )
            rows.append((f"statsmodels combine_effects(method_re='{re_method}')", label, ms))
    except ImportError:
        rows.append(("statsmodels", "not installed", float("nan")))

    if shutil.which("Rscript"):
        code = R_CODE.format(
            y=", ".join(f"{x:.17g}" for x in y),
            v=", ".join(f"{x:.17g}" for x in v),
            batches=min(args.batches, 15),
            calls=max(20, args.calls // 4),
        )
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            a, b, ver = out.stdout.split()
            rows.append(
                (f"metafor {ver} rma(method='REML')", "estimate, tests, Q, I2 (no CIs)", float(a))
            )
            rows.append(
                (f"metafor {ver} rma + confint + predict", "same content as msc_meta", float(b))
            )
        else:
            rows.append(("metafor", "Rscript failed: " + out.stderr.strip()[:60], float("nan")))
    else:
        rows.append(("metafor", "R not installed (skipped)", float("nan")))

    print(
        f"k = {len(y)}; median time per call over {args.batches} batches of {args.calls} calls\n"
    )
    print("| implementation | what it computes | ms per call |")
    print("|---|---|---:|")
    for name, what, ms in rows:
        print(f"| {name} | {what} | {ms:.3f} |")
    if not args.no_large:
        _large(repeats=5)


if __name__ == "__main__":
    main()
