"""How fast NumPy alone can go: unguarded DL and local REML beside ``meta_analysis_many`` (issue 10).

The issue asks for DL on 10^6 meta-analyses of k = 10 in at most 0.1 s and REML in at most
1.5 s on this 2-core machine. This script measures, on the data of
``benchmarks/scaling.py`` (m = 10^6, k = 10; variances ``10 ** U(-3, 0)``, a true τ² per
row), in one process and one run, best of ``--repeats`` calls each, interleaved:

- **one numpy pass** over the input (``y.sum() + v.sum()``): the memory-bandwidth floor;
- **unguarded DL**: every per-row field of ``BatchResult`` (estimate, SE, interval, z and
  its p-value, τ² and its SE, Q and its p-value, I², H², prediction interval, the
  common-effect fit) in the fewest NumPy passes found, on two threads over chunks of 2^17
  cells, as the engine. Without anything that makes the engine's numbers trustworthy: no
  input checks, no cancellation-free forms for rows with one dominant weight, no
  rescaling of extreme rows, no detection of rows to refit, no warning codes;
- **msc_meta DL**: ``meta_analysis_many(y, v, method="DL")``;
- **unguarded local REML**: Newton steps on the REML score from the DL estimate (a
  Fisher-scoring step where the slope is not negative), truncated at 0, every row of a
  chunk until its step is below ``1e-10 max(1, τ²)`` (metafor's and PyMARE's kind of
  search: a local maximum, no search for others), then the fields as above;
- **certified-scan kernel alone**: the power sums and rounding bounds of the score
  (``msc_meta._batch_scan._Sums``) at 18 values of τ² for every row, in lockstep, with
  none of the bookkeeping of choosing the points: what the batch engine's sign-proven
  scan of the core's grid costs at its measured average of about 18 points per row;
- **msc_meta REML**: ``meta_analysis_many(y, v, method="REML")``, the core's global
  search with the score evaluated only where it may change sign.

It also prints how many rows the two unguarded fits agree with msc_meta on (τ² and the
estimate to 1e-8, relative to ``max(1, |x|)``), so that their numbers are real fits and
the rows where a local maximum is not the core's global one are counted.

Writes ``benchmarks/results/numpy_floor.json``. Usage:
``python benchmarks/numpy_floor.py [--m 1000000] [--repeats 5] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scaling import K, _load, write_data
from scipy import special

import msc_meta
from msc_meta._batch_scan import _Sums
from msc_meta._inference import chi2_sf_rows

HERE = Path(__file__).resolve().parent
CHUNK_ELEMENTS = 2**17  # cells per chunk, as msc_meta.batch
#: cells of the scan kernel's work array (studies x points x rows): blocks of 2^18 / (18 k)
#: rows; the engine's blocks have 2^18 grid points (about 4,700 rows of 56 points at
#: k = 10) and evaluate 4 points per pass, so its work arrays hold about 190,000 cells
SCAN_CELLS = 2**18
POINTS = 18  # score evaluations per row of the certified scan (its measured average)
Z975 = special.ndtri(0.975)
FIELDS = [
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "statistic",
    "pvalue",
    "tau2",
    "tau2_se",
    "q",
    "q_pvalue",
    "i2",
    "h2",
    "pi_low",
    "pi_high",
    "ce_estimate",
    "ce_se",
    "ce_ci_low",
    "ce_ci_high",
]


def _common_effect(Dt: np.ndarray, Vt: np.ndarray) -> tuple[np.ndarray, ...]:
    """Weights, their sum, the weighted mean, Q, tr P and tr PP of studies-first rows."""
    W = np.reciprocal(Vt)
    sw = np.add.reduce(W, axis=0)
    mu = np.einsum("kc,kc->c", W, Dt) / sw
    R = Dt - mu
    q = np.einsum("kc,kc,kc->c", R, R, W)
    s2 = np.einsum("kc,kc->c", W, W)
    s3 = np.einsum("kc,kc,kc->c", W, W, W)
    a = s2 / sw
    return W, sw, mu, q, sw - a, s2 - 2.0 * s3 / sw + a * a


def _fields(
    o: dict[str, np.ndarray],
    Dt: np.ndarray,
    Vt: np.ndarray,
    W: np.ndarray,
    center: np.ndarray,
    fe: tuple[np.ndarray, ...],
    t: np.ndarray,
    t_se: np.ndarray,
) -> None:
    """Every per-row field, written into the chunk's views ``o``; ``W`` is reused."""
    _, sw, mu, q, trP, _ = fe
    k = Dt.shape[0]
    np.add(Vt, t, out=W)
    np.reciprocal(W, out=W)
    swr = np.add.reduce(W, axis=0)
    mur = np.einsum("kc,kc->c", W, Dt) / swr
    est, se = o["estimate"], o["se"]
    np.add(center, mur, out=est)
    var = np.reciprocal(swr)
    np.sqrt(var, out=se)
    half = Z975 * se
    np.subtract(est, half, out=o["ci_low"])
    np.add(est, half, out=o["ci_high"])
    np.divide(est, se, out=o["statistic"])
    p = o["pvalue"]
    np.abs(o["statistic"], out=p)
    p *= np.sqrt(0.5)
    special.erfc(p, out=p)
    np.copyto(o["tau2"], t)
    np.copyto(o["tau2_se"], t_se)
    np.copyto(o["q"], q)
    np.copyto(o["q_pvalue"], chi2_sf_rows(q, k - 1))  # the library's closed-form tail
    vt = (k - 1) / trP
    np.divide(t, vt + t, out=o["i2"])
    o["i2"] *= 100.0
    np.divide(t, vt, out=o["h2"])
    o["h2"] += 1.0
    var += t
    pi_half = np.sqrt(var)
    pi_half *= Z975
    np.subtract(est, pi_half, out=o["pi_low"])
    np.add(est, pi_half, out=o["pi_high"])
    np.add(center, mu, out=o["ce_estimate"])
    np.sqrt(np.reciprocal(sw), out=o["ce_se"])
    half = Z975 * o["ce_se"]
    np.subtract(o["ce_estimate"], half, out=o["ce_ci_low"])
    np.add(o["ce_estimate"], half, out=o["ce_ci_high"])


def _dl_chunk(Y: np.ndarray, V: np.ndarray, o: dict[str, np.ndarray]) -> None:
    k = Y.shape[1]
    center = Y[:, 0].copy()
    Dt = np.subtract(Y.T, center, out=np.empty(Y.shape[::-1]))
    Vt = np.ascontiguousarray(V.T)
    fe = _common_effect(Dt, Vt)
    _, _, _, q, trP, trPP = fe
    t = np.maximum(0.0, (q - (k - 1)) / trP)
    t_se = np.sqrt(2 * (k - 1) / trP / trP + 4 * t / trP + 2 * (t / trP) * t * (trPP / trP))
    _fields(o, Dt, Vt, fe[0], center, fe, t, t_se)


def _reml_chunk(Y: np.ndarray, V: np.ndarray, o: dict[str, np.ndarray]) -> None:
    """A local REML maximum from DL: Newton steps on the score, each row until it converges.

    Score S = y'PPy - tr P and slope -2 y'PPPy + tr PP (Viechtbauer 2005); a row whose
    slope is not negative takes a Fisher-scoring step (slope -tr PP), a step below 0 stops
    at 0. The rows still moving are gathered once they are fewer than half of the chunk,
    so that a few slow rows do not cost a pass over all of them.
    """
    k = Y.shape[1]
    center = Y[:, 0].copy()
    Dt = np.subtract(Y.T, center, out=np.empty(Y.shape[::-1]))
    Vt = np.ascontiguousarray(V.T)
    fe = _common_effect(Dt, Vt)
    t = np.maximum(0.0, (fe[3] - (k - 1)) / fe[4])
    rows = np.arange(t.shape[0])
    D, Vs = Dt, Vt
    for _ in range(100):
        ta = t[rows]
        W = np.add(Vs, ta)
        np.reciprocal(W, out=W)
        sw = np.add.reduce(W, axis=0)
        U = np.subtract(D, np.einsum("kc,kc->c", W, D) / sw)
        U *= W  # P y
        s2 = np.einsum("kc,kc->c", W, W)
        a = s2 / sw
        tr_pp = s2 - 2.0 * np.einsum("kc,kc,kc->c", W, W, W) / sw + a * a
        score = np.einsum("kc,kc->c", U, U) - (sw - a)
        y_ppp_y = np.einsum("kc,kc,kc->c", W, U, U) - np.einsum("kc,kc->c", W, U) ** 2 / sw
        slope = tr_pp - 2.0 * y_ppp_y
        slope = np.where(slope < 0.0, slope, -tr_pp)
        new = np.maximum(0.0, ta - score / slope)
        t[rows] = new
        moving = np.abs(new - ta) > 1e-10 * np.maximum(1.0, new)
        if not moving.any():
            break
        if 2 * np.count_nonzero(moving) < rows.size:
            rows = rows[moving]
            D, Vs = Dt[:, rows], Vt[:, rows]
    # the SE of τ² from tr PP at the final τ² (the weights are those of the fit)
    W = np.reciprocal(np.add(Vt, t))
    sw = np.add.reduce(W, axis=0)
    a = np.einsum("kc,kc->c", W, W) / sw
    tr_pp = np.einsum("kc,kc->c", W, W) - 2.0 * np.einsum("kc,kc,kc->c", W, W, W) / sw + a * a
    _fields(o, Dt, Vt, W, center, fe, t, np.sqrt(2.0 / tr_pp))


def _scan_kernel_chunk(Y: np.ndarray, V: np.ndarray, o: dict[str, np.ndarray]) -> None:
    Yt = np.ascontiguousarray(Y.T)
    Vt = np.ascontiguousarray(V.T)
    vmin = np.minimum.reduce(Vt, axis=0)
    t = np.geomspace(1.0 / 64.0, 100.0, POINTS)[:, None] * vmin[None, :]
    sums = _Sums(t, Yt, Yt * Yt, Vt, True)
    np.copyto(o["tau2"], sums.S[-1])


def _chunked(
    kernel: Callable[[np.ndarray, np.ndarray, dict[str, np.ndarray]], None], cells: int
) -> Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """``kernel`` on chunks of about ``cells`` cells, on two threads, into fresh results."""

    def run(y: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
        m, k = y.shape
        out = {name: np.empty(m) for name in FIELDS}
        step = max(1, cells // k)

        def one(start: int) -> None:
            sl = slice(start, start + step)
            kernel(y[sl], v[sl], {name: a[sl] for name, a in out.items()})

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(one, range(0, m, step)))
        return out

    return run


def _agree(ours: Any, floor: dict[str, np.ndarray]) -> float:
    """Share of rows whose τ² and estimate agree with msc_meta's to 1e-8 (of max(1, |x|))."""
    ok = np.ones(ours.tau2.shape, bool)
    for name in ("tau2", "estimate"):
        a, b = getattr(ours, name), floor[name]
        ok &= np.abs(a - b) <= 1e-8 * np.maximum(1.0, np.abs(a))
    return float(ok.mean())


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=HERE,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=10**6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "numpy_floor.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        y_path, v_path = write_data(Path(tmp), args.m)
        y, v = _load(y_path, args.m), _load(v_path, args.m)

    def many(method: str) -> Callable[[np.ndarray, np.ndarray], Any]:
        return lambda y, v: msc_meta.meta_analysis_many(y, v, method=method, progress=False)

    series: dict[str, tuple[Callable[[np.ndarray, np.ndarray], Any], float | None]] = {
        "one numpy pass (one thread)": (lambda y, v: y.sum() + v.sum(), None),
        "unguarded DL": (_chunked(_dl_chunk, CHUNK_ELEMENTS), 0.1),
        "msc_meta DL": (many("DL"), 0.1),
        "unguarded local REML": (_chunked(_reml_chunk, CHUNK_ELEMENTS), 1.5),
        f"certified-scan kernel alone ({POINTS} points per row)": (
            _chunked(_scan_kernel_chunk, SCAN_CELLS // POINTS),
            None,
        ),
        "msc_meta REML": (many("REML"), 1.5),
    }
    results: dict[str, Any] = {name: None for name in series}
    outputs: dict[str, Any] = {}
    times: dict[str, list[float]] = {name: [] for name in series}
    for name, (call, _) in series.items():  # a warm-up call each
        outputs[name] = call(y, v)
    for _ in range(args.repeats):  # interleaved, so that a busy moment slows all alike
        for name, (call, _) in series.items():
            start = time.perf_counter()
            call(y, v)
            times[name].append(time.perf_counter() - start)
    floor = min(times["one numpy pass (one thread)"])
    print(
        f"m = {args.m:,} meta-analyses of k = {K}, best of {args.repeats}, {os.cpu_count()} cores"
    )
    print("| series | seconds | x one pass | target |\n|---|---:|---:|---:|")
    for name, (_, target) in series.items():
        best = min(times[name])
        results[name] = {"seconds": best, "all": times[name], "target": target}
        shown = "" if target is None else f"{target} s"
        print(f"| {name} | {best:.3f} | {best / floor:.0f}x | {shown} |")
    agree = {
        "unguarded DL vs msc_meta DL": _agree(outputs["msc_meta DL"], outputs["unguarded DL"]),
        "unguarded local REML vs msc_meta REML": _agree(
            outputs["msc_meta REML"], outputs["unguarded local REML"]
        ),
    }
    for name, share in agree.items():
        print(f"{name}: tau2 and estimate agree to 1e-8 on {100 * share:.4f} % of rows")
    record = {
        "m": args.m,
        "k": K,
        "repeats": args.repeats,
        "series": results,
        "agreement": agree,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor()},
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
