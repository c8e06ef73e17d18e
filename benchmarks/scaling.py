"""Time against m, and peak memory, of the batch engine and its peers (issue 10, "Speed").

For m = 1e3, 1e4, 1e5, 1e6 and 1e7 meta-analyses of k = 10 studies (the first m rows of
one seeded draw; variances spread over three orders of magnitude), each point is measured
in a fresh process, which loads the data from a raw binary file straight into its arrays
and then times, best of N calls (N = 5 up to m = 1e6 and 2 at 1e7: the first call of a fresh
process pays for mapping its memory; at most 3 for the loops, fewer for a peer whose calls
would exceed the budget).
Every series runs at one m before any runs at the next, so that a busy machine slows them
alike. The series:

- ``msc_meta.meta_analysis_many(y, v, method=..., progress=False)`` with DL, REML and PM
  (every field: estimate, tests, prediction interval, Q, I², H²);
- PyMARE's ``DerSimonianLaird().fit(y.T, v.T, X)`` and
  ``VarianceBasedLikelihoodEstimator("REML").fit(y.T, v.T, X)``, vectorized over all rows
  (the calls of ``benchmarks/bench_batch.py``);
- a loop over statsmodels' ``combine_effects`` (``method_re="chi2"``, i.e. DL, and its
  default ``"iterated"``, i.e. Paule-Mandel, beside msc_meta's PM: statsmodels has no REML);
- a loop over metafor's ``rma`` in ``Rscript`` (timed inside R), when R and metafor are
  installed and ``--skip-r`` is not given;
- one pass of numpy over the input (``y.sum() + v.sum()``): the memory-bandwidth floor.

A peer is run at the next m only while linear scaling of its last measured time predicts
less than ``--budget`` seconds (60); msc_meta up to ``--budget-ours`` (900). A point is run
only if its predicted memory fits in 80% of the available memory. Every point not run is
recorded with the reason, and printed. Nothing is extrapolated in the tables; the figure
shows measured points as markers and, dotted and labelled as such, the linear extrapolation
of a series beyond its last measured point.

Peak memory (Python processes): the process's ``ru_maxrss`` after the timed calls, less its
resident size just before them (interpreter, imports, warm-up and the loaded input), beside
the size of the input (``y.nbytes + v.nbytes``; MB = 10^6 bytes).

Writes ``benchmarks/results/scaling.json`` (every measurement, machine, versions, date),
draws ``docs/img/batch_scaling.png`` from that JSON and prints the Markdown tables of
``docs/batch.md`` ("Scaling"). ``--plot-only`` redraws the figure and reprints the tables
from the JSON without timing anything.

Usage: ``python benchmarks/scaling.py [--max-m 10000000] [--methods msc_meta,pymare-DL]
[--skip-r] [--budget 60] [--merge] [--plot-only] [--json FILE] [--figure FILE]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
JSON_PATH = ROOT / "benchmarks" / "results" / "scaling.json"
FIGURE_PATH = ROOT / "docs" / "img" / "batch_scaling.png"

K = 10
SEED = 20261130
SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
REPEATS = {1_000: 5, 10_000: 5, 100_000: 5, 1_000_000: 5, 10_000_000: 2}
BLOCK = 100_000  # rows drawn and written at a time
MB = 1e6
LOOPS = ("statsmodels", "metafor")  # one fit at a time: at most 3 calls per point
MEMORY_SHARE = 0.8  # a point runs only if its predicted peak fits in this share of MemAvailable

#: Every series: library, τ² method, label, and the msc_meta series it is compared with.
METHODS: dict[str, dict[str, str]] = {
    "msc_meta-DL": {"library": "msc_meta", "tau2": "DL", "label": "msc_meta DL"},
    "msc_meta-REML": {"library": "msc_meta", "tau2": "REML", "label": "msc_meta REML"},
    "msc_meta-PM": {"library": "msc_meta", "tau2": "PM", "label": "msc_meta PM"},
    "pymare-DL": {
        "library": "PyMARE",
        "tau2": "DL",
        "label": "PyMARE DL",
        "versus": "msc_meta-DL",
    },
    "pymare-REML": {
        "library": "PyMARE",
        "tau2": "REML",
        "label": "PyMARE REML",
        "versus": "msc_meta-REML",
    },
    "statsmodels-DL": {
        "library": "statsmodels",
        "tau2": "DL",
        "label": "statsmodels loop DL",
        "versus": "msc_meta-DL",
    },
    "statsmodels-PM": {
        "library": "statsmodels",
        "tau2": "PM",
        "label": "statsmodels loop PM",
        "versus": "msc_meta-PM",
    },
    "metafor-DL": {
        "library": "metafor",
        "tau2": "DL",
        "label": "metafor loop DL",
        "versus": "msc_meta-DL",
    },
    "metafor-REML": {
        "library": "metafor",
        "tau2": "REML",
        "label": "metafor loop REML",
        "versus": "msc_meta-REML",
    },
    "numpy-pass": {
        "library": "numpy",
        "tau2": "",
        "label": "numpy: one pass over the input",
    },
}

R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
a <- commandArgs(TRUE)
m <- as.integer(a[1]); k <- as.integer(a[2]); method <- a[3]; repeats <- as.integer(a[6])
y <- matrix(readBin(a[4], "double", n = m * k), ncol = k, byrow = TRUE)
v <- matrix(readBin(a[5], "double", n = m * k), ncol = k, byrow = TRUE)
invisible(rma(y[1, ], v[1, ], method = method))
failed <- 0L
seconds <- numeric(0)
for (r in seq_len(repeats)) {
  failed <- 0L
  t <- system.time(for (i in seq_len(m)) {
    fit <- try(rma(y[i, ], v[i, ], method = method), silent = TRUE)
    if (inherits(fit, "try-error")) failed <- failed + 1L
  })[["elapsed"]]
  seconds <- c(seconds, t)
}
cat(jsonlite::toJSON(list(seconds = seconds, failed = failed, r = R.version.string,
  metafor = as.character(packageVersion("metafor"))), auto_unbox = TRUE, digits = NA))
"""


# ---------------------------------------------------------------- data


def write_data(directory: Path, m: int, k: int = K, seed: int = SEED) -> tuple[Path, Path]:
    """Draw m x k effects and variances (seeded, in blocks of rows) into raw float64 files.

    Variances ``10 ** U(-3, 0)`` (three orders of magnitude); per row a true τ² ~ U(0, 0.1)
    and effects ``N(0.3, v + τ²)``. Row-major, so the first m' rows are the data for m' < m.
    """
    rng = np.random.default_rng(seed)
    y_path, v_path = directory / "y.f64", directory / "v.f64"
    with y_path.open("wb") as fy, v_path.open("wb") as fv:
        for start in range(0, m, BLOCK):
            n = min(BLOCK, m - start)
            v = 10 ** rng.uniform(-3.0, 0.0, (n, k))
            tau2 = rng.uniform(0.0, 0.1, (n, 1))
            y = rng.normal(0.3, np.sqrt(v + tau2))
            y.tofile(fy)
            v.tofile(fv)
    return y_path, v_path


def _load(path: Path, m: int, k: int = K) -> np.ndarray:
    return np.fromfile(path, dtype=np.float64, count=m * k).reshape(m, k)


# ---------------------------------------------------------------- one point, in a worker


def _runner(method: str) -> Callable[[np.ndarray, np.ndarray], Any]:
    """The call timed for ``method`` (imports happen here, before timing)."""
    library, tau2 = method.split("-")
    if library == "msc_meta":
        import msc_meta as mm

        return lambda y, v: mm.meta_analysis_many(y, v, method=tau2, progress=False)
    if library == "pymare":
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator

        def pymare(y: np.ndarray, v: np.ndarray) -> Any:
            est = DerSimonianLaird() if tau2 == "DL" else VarianceBasedLikelihoodEstimator("REML")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return est.fit(y.T, v.T, np.ones((y.shape[1], 1)))  # studies x datasets

        return pymare
    if library == "statsmodels":
        from statsmodels.stats.meta_analysis import combine_effects

        method_re = "chi2" if tau2 == "DL" else "iterated"

        def loop(y: np.ndarray, v: np.ndarray) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i in range(y.shape[0]):
                    combine_effects(y[i], v[i], method_re=method_re)

        return loop
    if method == "numpy-pass":
        return lambda y, v: float(y.sum() + v.sum())
    raise ValueError(f"no Python runner for method {method!r}")


def _rss_mb() -> float:
    """Resident size of this process now (Linux /proc), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MB


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB  # Linux: KiB


def worker(method: str, m: int, y_path: Path, v_path: Path, repeats: int) -> dict[str, Any]:
    """Time ``method`` on the first m rows, best of ``repeats``; peak memory of the calls."""
    run = _runner(method)
    y, v = _load(y_path, m), _load(v_path, m)
    run(y[:50].copy(), v[:50].copy())  # warm-up: first-call costs, caches
    before = _rss_mb()
    seconds = []
    out: Any = None
    for _ in range(repeats):
        out = None  # the previous result is freed before the next call
        t0 = time.perf_counter()
        out = run(y, v)
        seconds.append(time.perf_counter() - t0)
    peak = max(_maxrss_mb(), _rss_mb())  # ru_maxrss lags the current RSS by a few pages
    point: dict[str, Any] = {
        "seconds": min(seconds),
        "all_seconds": seconds,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "peak_extra_mb": max(peak - before, 0.0),
    }
    if method.startswith("msc_meta"):
        point["not_converged"] = int(np.count_nonzero(~out.converged))
    return point


# ---------------------------------------------------------------- the run


def _mem_available_mb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / MB
    return math.inf


def _versions(r_versions: dict[str, str]) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "pandas", "statsmodels", "pymare", "msc_meta"):
        try:
            module = __import__(name)
            out[name] = str(getattr(module, "__version__", "?"))
        except ImportError:
            out[name] = "not installed"
    git = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    out["msc_meta_commit"] = git.stdout.strip() if git.returncode == 0 else "?"
    return out | r_versions


def _machine() -> dict[str, Any]:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) * 1024 / MB
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": round(total),
    }


def plan(
    previous: dict[str, Any] | None, m: int, budget: float, available_mb: float
) -> str | None:
    """Why the point at m is not run (None: run it), from the series' last measured point.

    Both predictions are linear in m from the last measured point: its time against
    ``budget``, its peak memory (input plus what the call added) against ``available_mb``.
    """
    if previous is None:
        return None
    scale = m / previous["m"]
    t = previous["seconds"] * scale
    if t > budget:
        return (
            f"not run: m = {previous['m']:,} took {previous['seconds']:.3g} s, so about "
            f"{t:.3g} s expected (linear in m), over the {budget:g} s budget"
        )
    need = (previous.get("peak_extra_mb", 0.0) + previous["input_mb"]) * scale
    if need > MEMORY_SHARE * available_mb:
        return (
            f"not run: about {need:,.0f} MB expected (linear in m from m = {previous['m']:,}), "
            f"over {MEMORY_SHARE:.0%} of the {available_mb:,.0f} MB available"
        )
    return None


def _python_point(method: str, m: int, paths: tuple[Path, Path], repeats: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, str(m)]
    cmd += [str(paths[0]), str(paths[1]), str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {"status": "failed", "reason": f"worker exited with {out.returncode}: {tail}"}
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return {"status": "measured"} | got


def _r_point(method: str, m: int, paths: tuple[Path, Path], repeats: int) -> dict[str, Any]:
    tau2 = METHODS[method]["tau2"]
    cmd = ["Rscript", "-e", R_SCRIPT, str(m), str(K), tau2, str(paths[0]), str(paths[1])]
    out = subprocess.run([*cmd, str(repeats)], capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {"status": "failed", "reason": f"Rscript exited with {out.returncode}: {tail}"}
    got = json.loads(out.stdout.strip().splitlines()[-1])
    seconds = [float(s) for s in np.atleast_1d(got["seconds"])]
    return {
        "status": "measured",
        "seconds": min(seconds),
        "all_seconds": seconds,
        "failed_fits": int(got["failed"]),
        "r_versions": {"R": got["r"].removeprefix("R version "), "metafor": got["metafor"]},
    }


def _r_missing() -> str | None:
    if shutil.which("Rscript") is None:
        return "not run: Rscript is not on the PATH"
    check = subprocess.run(
        ["Rscript", "-e", "library(metafor); library(jsonlite)"], capture_output=True, text=True
    )
    if check.returncode != 0:
        return "not run: R packages metafor and jsonlite are not both installed"
    return None


def expand_methods(spec: str | None) -> list[str]:
    """Method keys from ``--methods`` (keys or library names, comma-separated)."""
    if not spec:
        return list(METHODS)
    chosen: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        keys = [part] if part in METHODS else [k for k in METHODS if k.split("-")[0] == part]
        if not keys:
            raise SystemExit(f"--methods: unknown {part!r}; choose from {', '.join(METHODS)}")
        chosen += [k for k in keys if k not in chosen]
    return chosen


def _measure_point(
    method: str,
    m: int,
    paths: tuple[Path, Path],
    args: argparse.Namespace,
    last: dict[str, Any] | None,
    r_why: str | None,
) -> dict[str, Any]:
    """Measure one point, or say why not (the budget and memory rules of :func:`plan`)."""
    point: dict[str, Any] = {"method": method, "m": m, "input_mb": 2 * m * K * 8 / MB}
    library = METHODS[method]["library"]
    ours = library == "msc_meta"
    why = r_why if library == "metafor" else None
    budget = args.budget_ours if ours else args.budget
    why = why or plan(last, m, budget, _mem_available_mb())
    if why is not None:
        return point | {"status": "skipped", "reason": why}
    repeats = min(REPEATS[m], args.repeats) if args.repeats else REPEATS[m]
    if library in LOOPS:
        repeats = min(repeats, 3)
    if last is not None and not ours:  # a long run: fewer repeats
        expected = last["seconds"] * m / last["m"]
        repeats = max(1, min(repeats, int(args.budget / 2 / expected)))
    load = os.getloadavg()[0]
    run = _r_point if library == "metafor" else _python_point
    point |= run(method, m, paths, repeats)
    return point | {"repeats": repeats, "load_average_1min_before": load}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every chosen series at every m up to ``--max-m``; the results as a JSON dict."""
    methods = expand_methods(args.methods)
    sizes = [m for m in SIZES if m <= args.max_m]
    r_why = "not run: --skip-r" if args.skip_r else None
    if r_why is None and any(METHODS[x]["library"] == "metafor" for x in methods):
        r_why = _r_missing()
    r_versions: dict[str, str] = {}
    points: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        print(f"drawing {sizes[-1]:,} x {K} effects and variances ...", file=sys.stderr)
        paths = write_data(Path(tmp), sizes[-1])
        last: dict[str, dict[str, Any]] = {}  # each series' last measured point
        failed: dict[str, str] = {}
        for m in sizes:  # every series at one m before the next m: they share the load
            for method in methods:
                if method in failed:
                    point: dict[str, Any] = {"method": method, "m": m}
                    point["input_mb"] = 2 * m * K * 8 / MB
                    point |= {"status": "skipped", "reason": failed[method]}
                else:
                    point = _measure_point(method, m, paths, args, last.get(method), r_why)
                r_versions |= point.pop("r_versions", {})
                if point["status"] == "measured":
                    last[method] = point
                elif point["status"] == "failed":
                    failed[method] = f"not run: m = {m:,} failed"
                shown = (
                    f"{point['seconds']:.4g} s" if point["status"] == "measured" else ""
                ) or point.get("reason", "")
                print(f"{method:15s} m = {m:>10,}: {shown}", file=sys.stderr, flush=True)
                points.append(point)
    command = "python benchmarks/scaling.py" + "".join(f" {a}" for a in sys.argv[1:])
    return {
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "k": K,
        "seed": SEED,
        "data": "first m rows of one seeded draw: v = 10**U(-3, 0), per-row tau2 ~ U(0, 0.1), "
        "y ~ N(0.3, v + tau2)",
        "budget_seconds": {"peers": args.budget, "msc_meta": args.budget_ours},
        "msc_meta_chunk_size": "engine default",
        "machine": _machine(),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "wall_seconds": time.perf_counter() - started,
        "versions": _versions(r_versions),
        "methods": {k: METHODS[k] for k in methods},
        "points": points,
    }


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` with the series of ``old`` that ``new`` did not run."""
    kept = [p for p in old["points"] if p["method"] not in new["methods"]]
    methods = {k: v for k, v in old["methods"].items() if k not in new["methods"]}
    return new | {
        "methods": methods | new["methods"],
        "points": kept + new["points"],
        "merged_from": [*old.get("merged_from", []), old["created"]],
    }


# ---------------------------------------------------------------- tables and figure


def _seconds(p: dict[str, Any] | None) -> str:
    if p is None:
        return ""
    return f"{p['seconds']:.3g}" if p["status"] == "measured" else "not run"


def _ratio(theirs: dict[str, Any] | None, ours: dict[str, Any] | None) -> str:
    if theirs is None or ours is None or "not run" in (_seconds(theirs), _seconds(ours)):
        return ""
    r = theirs["seconds"] / ours["seconds"]
    return f"{r:,.0f}x" if r >= 10 else f"{r:.2g}x"


def tables(results: dict[str, Any]) -> str:
    """The Markdown tables (times, ratios, peak memory) and the reasons for points not run."""
    at = {(p["method"], p["m"]): p for p in results["points"]}
    sizes = sorted({p["m"] for p in results["points"]})
    lines = [
        f"k = {results['k']}; seconds for m meta-analyses, best of N calls; ratio = the "
        "peer's time over msc_meta's with the same tau2 method (statsmodels' default, PM, "
        "has its own table: statsmodels has no REML)"
    ]
    loads = [p["load_average_1min_before"] for p in results["points"] if "repeats" in p]
    if loads:
        lines[0] += (
            f". Load average (1 min) as the points started: {min(loads):.2f} to "
            f"{max(loads):.2f}, on {results['machine']['cores']} cores"
        )
    for tau2, peers in (
        ("DL", ["pymare-DL", "statsmodels-DL", "metafor-DL"]),
        ("REML", ["pymare-REML", "metafor-REML"]),
        ("PM", ["statsmodels-PM"]),
    ):
        ours = f"msc_meta-{tau2}"
        peers = [p for p in peers if p in results["methods"]]
        head = f"| m | msc_meta {tau2} |"
        rule = "|---:|---:|"
        for peer in peers:
            head += f" {METHODS[peer]['label']} | ratio |"
            rule += "---:|---:|"
        lines += ["", head, rule]
        for m in sizes:
            row = f"| {m:,} | {_seconds(at.get((ours, m)))} |"
            for peer in peers:
                row += f" {_seconds(at.get((peer, m)))} | {_ratio(at.get((peer, m)), at.get((ours, m)))} |"
            lines.append(row)
    if "numpy-pass" in results["methods"]:
        lines += [
            "",
            "| m | one numpy pass over the input | msc_meta DL / pass | msc_meta REML / pass |",
            "|---:|---:|---:|---:|",
        ]
        for m in sizes:
            floor = at.get(("numpy-pass", m))
            lines.append(
                f"| {m:,} | {_seconds(floor)} | {_ratio(at.get(('msc_meta-DL', m)), floor)} "
                f"| {_ratio(at.get(('msc_meta-REML', m)), floor)} |"
            )
    mem = [
        k
        for k in ("msc_meta-DL", "msc_meta-REML", "pymare-DL", "pymare-REML")
        if k in results["methods"]
    ]
    if mem:
        lines += [
            "",
            "Peak memory: what the calls added to the process's resident size (MB, "
            "ru_maxrss after less RSS before), and that over the input's size",
            "",
            "| m | input MB | " + " | ".join(METHODS[k]["label"] for k in mem) + " |",
            "|---:|---:|" + "---:|" * len(mem),
        ]
        for m in sizes:
            cells = []
            for k in mem:
                p = at.get((k, m))
                if p is None or p["status"] != "measured":
                    cells.append(_seconds(p))
                else:
                    ratio = p["peak_extra_mb"] / p["input_mb"]
                    times = f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2g}x"
                    extra = p["peak_extra_mb"]
                    size = f"{extra:,.0f}" if extra >= 100 else f"{extra:.2g}"
                    cells.append(f"{size} ({times})")
            lines.append(
                f"| {m:,} | {2 * m * results['k'] * 8 / MB:,.2f} | " + " | ".join(cells) + " |"
            )
    notes = [
        f"- {METHODS[p['method']]['label']}, m = {p['m']:,}: {p['reason']}"
        for p in results["points"]
        if p["status"] != "measured"
    ]
    if notes:
        lines += ["", "Points not measured:", "", *notes]
    unconv = [p for p in results["points"] if p.get("not_converged")]
    failed = [p for p in results["points"] if p.get("failed_fits")]
    for p in unconv:
        lines.append(
            f"- {METHODS[p['method']]['label']}, m = {p['m']:,}: {p['not_converged']:,} "
            "rows flagged not converged"
        )
    for p in failed:
        lines.append(
            f"- {METHODS[p['method']]['label']}, m = {p['m']:,}: {p['failed_fits']:,} "
            "fit(s) raised an error (try() in the loop)"
        )
    return "\n".join(lines)


def plot_data(results: dict[str, Any]) -> pd.DataFrame:
    """One line per (series, m) to draw: measured points, then the linear extrapolation.

    Columns ``method``, ``label``, ``m``, ``seconds`` and ``measured``. Beyond a series' last
    measured point, up to the largest m of the run, ``seconds`` is that point's time scaled
    linearly in m and ``measured`` is False.
    """
    rows: list[dict[str, Any]] = []
    sizes = sorted({p["m"] for p in results["points"]})
    for method, info in results["methods"].items():
        done = sorted(
            (p for p in results["points"] if p["method"] == method and p["status"] == "measured"),
            key=lambda p: p["m"],
        )
        for p in done:
            rows.append(
                {
                    "method": method,
                    "label": info["label"],
                    "m": p["m"],
                    "seconds": p["seconds"],
                    "measured": True,
                }
            )
        if done:
            last = done[-1]
            for m in (s for s in sizes if s > last["m"]):
                rows.append(
                    {
                        "method": method,
                        "label": info["label"],
                        "m": m,
                        "seconds": last["seconds"] * m / last["m"],
                        "measured": False,
                    }
                )
    return pd.DataFrame(rows, columns=["method", "label", "m", "seconds", "measured"])


STYLE = {  # colour by library, line by tau2 method
    "msc_meta": "#1f4e9c",
    "PyMARE": "#d9730d",
    "statsmodels": "#2f8f3a",
    "metafor": "#b3261e",
    "numpy": "0.45",
}
LINES: dict[str, Any] = {"DL": "-", "REML": "--", "PM": (0, (4, 1, 1, 1, 1, 1))}  # dash-dot-dot
MARKERS = {"msc_meta": "o", "PyMARE": "s", "statsmodels": "^", "metafor": "D", "numpy": "x"}


def draw(frame: pd.DataFrame, ax: Any) -> Any:
    """Draw ``plot_data``'s lines on ``ax``: markers at measured points, dotted extrapolation."""
    for method, part in frame.groupby("method", sort=False):
        info = METHODS[str(method)]
        colour, marker = STYLE[info["library"]], MARKERS[info["library"]]
        style = "-." if info["library"] == "numpy" else LINES[info["tau2"]]
        done = part[part["measured"]]
        ax.loglog(
            done["m"],
            done["seconds"],
            linestyle=style,
            color=colour,
            marker=marker,
            ms=4,
            label=info["label"],
        )
        rest = part[~part["measured"]]
        if len(rest):
            xs = [done["m"].iloc[-1], *rest["m"]]
            ts = [done["seconds"].iloc[-1], *rest["seconds"]]
            ax.loglog(xs, ts, linestyle=(0, (1, 3)), color=colour, lw=1)
    if (~frame["measured"]).any():
        ax.plot(
            [],
            [],
            linestyle=(0, (1, 3)),
            color="0.3",
            lw=1,
            label="extrapolated linearly, not measured",
        )
    ax.set_xlabel("meta-analyses m (k = 10 studies each)")
    ax.set_ylabel("seconds (best of N)")
    ax.grid(True, which="major", color="0.9")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return ax


def figure(results: dict[str, Any], path: Path) -> None:
    """Draw the figure of ``results`` into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    draw(plot_data(results), ax)
    ax.set_title(f"{results['created']}, {results['machine']['cores']} cores", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-m", type=int, default=SIZES[-1])
    parser.add_argument("--methods", default=None, help="comma-separated keys or libraries")
    parser.add_argument("--skip-r", action="store_true", help="do not run metafor")
    parser.add_argument("--budget", type=float, default=60.0, help="peers: seconds per point")
    parser.add_argument("--budget-ours", type=float, default=900.0)
    parser.add_argument("--repeats", type=int, default=None, help="at most this many calls")
    parser.add_argument("--merge", action="store_true", help="keep other series of the JSON")
    parser.add_argument("--plot-only", action="store_true", help="redraw from the JSON")
    parser.add_argument("--json", type=Path, default=JSON_PATH)
    parser.add_argument("--figure", type=Path, default=FIGURE_PATH)
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        method, m, y_path, v_path, repeats = args.worker
        print(json.dumps(worker(method, int(m), Path(y_path), Path(v_path), int(repeats))))
        return
    if args.plot_only:
        results = json.loads(args.json.read_text(encoding="utf-8"))
    else:
        results = measure(args)
        if args.merge and args.json.exists():
            results = merge(json.loads(args.json.read_text(encoding="utf-8")), results)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    figure(results, args.figure)
    v = results["versions"]
    print(
        f"{results['created']}; {results['machine']['cpu']}, {results['machine']['cores']} "
        f"cores; load average before {results['load_average_before'][0]:.2f}, after "
        f"{results['load_average_after'][0]:.2f}"
    )
    print(", ".join(f"{k} {v[k]}" for k in v))
    print(f"`{results['command']}`\n")
    print(tables(results))
    print(f"\nwrote {args.json} and {args.figure}")


if __name__ == "__main__":
    main()
