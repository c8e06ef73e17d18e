"""High-precision referee for the randomized comparison with metafor.

Where msc_meta and metafor disagree, neither is taken on trust: this module
computes what the estimators *are* (not how an implementation iterates to
them) with mpmath at 60 significant digits, from the exact binary values of
the inputs:

* closed forms (EE, DL, HE, HS, HSk, SJ; Mantel-Haenszel, Peto, the CMH,
  Tarone and Breslow-Day tests) evaluated directly;
* PM, EB (whose estimating equation is the PM equation, Viechtbauer et al.
  2015) and PMM: the root of the generalised Q equation Q(τ²) = target (Q is
  strictly decreasing), or 0 when Q(0) <= target;
* ML and REML: the global maximum of the (restricted) log-likelihood on
  [0, ∞): every sign change of the score on a fine log-spaced grid (60 points
  per decade from 1e-12 of the smallest variance to beyond the largest
  possible root), each refined to 60 digits by bisection, the boundary 0
  included; the candidate with the highest log-likelihood wins;
* the Q-profile bounds: the roots of Q(τ²) = χ²-quantiles, with Q evaluated
  on exactly centred effects.

Everything downstream (weights, estimate, tests, intervals, I², H², the SE of
τ² with metafor's formula for each method) is then evaluated at those exact
values. Distribution functions are mpmath's (erfc, regularised incomplete
gamma and beta functions) and their inverses are solved to 60 digits.

Command line (needs mpmath; writes the overrides used by
tests/test_metafor_random.py)::

    python tests/reference/referee.py tests/reference/metafor_random.json \\
        tests/reference/metafor_random_overrides.json

compares every metafor value in the JSON with the exact one and writes an
override for each value that is outside the test's tolerance of the exact
value, with a one-line reason.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
from mpmath import mp, mpf

mp.dps = 60
DPS = 60

Mpf = Any  # mpmath.mpf (untyped)


# --------------------------------------------------------------------------- distributions


def norm_sf(z: Mpf) -> Mpf:
    """Upper tail of the standard normal."""
    return mp.erfc(z / mp.sqrt(2)) / 2


@cache
def norm_isf(p: str) -> Mpf:
    """z with norm_sf(z) = p (p as a decimal string, e.g. '0.025')."""
    return mp.sqrt(2) * mp.erfinv(1 - 2 * mpf(p))


def t_sf(t: Mpf, df: int) -> Mpf:
    """Upper tail of Student's t with ``df`` degrees of freedom (t >= 0)."""
    if mp.isinf(t):
        return mpf(0)
    x = mpf(df) / (df + t * t)
    return mp.betainc(mpf(df) / 2, mpf(1) / 2, 0, x, regularized=True) / 2


@cache
def t_isf(p: str, df: int) -> Mpf:
    """t with t_sf(t, df) = p."""
    from scipy import stats

    start = mpf(float(stats.t.isf(float(p), df)))
    return _solve_decreasing(lambda t: t_sf(t, df) - mpf(p), start)


def chi2_sf(x: Mpf, df: int) -> Mpf:
    """Upper tail of the chi-square distribution."""
    if x <= 0:
        return mpf(1)
    return mp.gammainc(mpf(df) / 2, x / 2, mp.inf, regularized=True)


def chi2_cdf(x: Mpf, df: int) -> Mpf:
    if x <= 0:
        return mpf(0)
    return mp.gammainc(mpf(df) / 2, 0, x / 2, regularized=True)


@cache
def chi2_isf(p: str, df: int) -> Mpf:
    """x with chi2_sf(x, df) = p (upper quantile)."""
    from scipy import stats

    start = mpf(float(stats.chi2.isf(float(p), df)))
    return _solve_decreasing(lambda x: chi2_sf(x, df) - mpf(p), start)


@cache
def chi2_ppf(p: str, df: int) -> Mpf:
    """x with chi2_cdf(x, df) = p (lower quantile)."""
    from scipy import stats

    start = mpf(float(stats.chi2.ppf(float(p), df)))
    return _solve_decreasing(lambda x: mpf(p) - chi2_cdf(x, df), start)


def _solve_decreasing(f: Any, start: Mpf) -> Mpf:
    """Root of a decreasing function near ``start`` (bracket, then bisection + secant)."""
    lo, hi = start * (1 - mpf("1e-6")), start * (1 + mpf("1e-6"))
    while f(lo) < 0:
        lo /= 2
    while f(hi) > 0:
        hi *= 2
    return _bisect(f, lo, hi)


def _bisect(f: Any, lo: Mpf, hi: Mpf, *, rel: Mpf | None = None) -> Mpf:
    """Root of f (f(lo) > 0 > f(hi), or the reverse) to ~DPS digits: Illinois + bisection."""
    rel = rel if rel is not None else mpf(10) ** (-(DPS - 5))
    flo, fhi = f(lo), f(hi)
    if flo == 0:
        return lo
    if fhi == 0:
        return hi
    sign_lo = flo > 0
    side = 0
    for it in range(2000):
        if abs(hi - lo) <= rel * max(abs(lo), abs(hi)) or hi - lo == 0:
            break
        if it % 3 == 2:  # guarantee progress
            mid = (lo + hi) / 2
        else:
            mid = hi - fhi * (hi - lo) / (fhi - flo)
            if not lo < mid < hi:
                mid = (lo + hi) / 2
        fm = f(mid)
        if fm == 0:
            return mid
        if (fm > 0) == sign_lo:
            lo, flo = mid, fm
            if side == -1:
                fhi /= 2
            side = -1
        else:
            hi, fhi = mid, fm
            if side == 1:
                flo /= 2
            side = 1
    return (lo + hi) / 2


# --------------------------------------------------------------------------- the model


def _ratio(num: Mpf, den: Mpf) -> Mpf:
    """num / den, with R's conventions for den = 0 (+-Inf, or NaN for 0/0)."""
    if den == 0:
        return mp.nan if num == 0 else (mp.inf if num > 0 else -mp.inf)
    return num / den


def _alpha_str(level: float) -> str:
    """1 - level as a decimal string (levels are 0.90, 0.95, 0.99)."""
    return repr(round(1.0 - level, 12))


def _half_alpha_str(level: float) -> str:
    return repr(round((1.0 - level) / 2, 12))


class Data:
    """One (y, v) set at 60 digits, with memoised exact quantities."""

    def __init__(self, y: Sequence[float], v: Sequence[float]) -> None:
        self.yf = np.asarray(y, dtype=np.float64)
        self.vf = np.asarray(v, dtype=np.float64)
        self.y = [mpf(float(a)) for a in y]  # exact binary values
        self.v = [mpf(float(a)) for a in v]
        self.k = len(self.y)
        ybar = mp.fsum(self.y) / self.k
        self.d = [a - ybar for a in self.y]  # exactly centred (60 digits)
        self._tau2: dict[str, Mpf] = {}
        self.modes: dict[str, int] = {}  # local maxima of the (RE)ML likelihood on [0, inf)

    # weights and weighted residuals ------------------------------------------------
    def weights(self, tau2: Mpf) -> list[Mpf]:
        return [1 / (vi + tau2) for vi in self.v]

    def wmean_resid(self, w: list[Mpf]) -> tuple[Mpf, list[Mpf]]:
        sw = mp.fsum(w)
        mu_d = mp.fdot(w, self.d) / sw
        return mu_d, [di - mu_d for di in self.d]

    def q_at(self, tau2: Mpf) -> Mpf:
        w = self.weights(tau2)
        _, r = self.wmean_resid(w)
        return mp.fsum(wi * ri * ri for wi, ri in zip(w, r, strict=True))

    def typical_v(self) -> Mpf:
        w = self.weights(0)
        sw = mp.fsum(w)
        trp = sw - mp.fsum(wi * wi for wi in w) / sw
        return (self.k - 1) / trp

    # Q equation ----------------------------------------------------------------------
    def q_root(self, target: Mpf) -> Mpf:
        """τ² >= 0 with Q(τ²) = target (0 when Q(0) <= target)."""
        if self.q_at(0) <= target:
            return mpf(0)
        hi = max(self.v) + mp.fsum(di * di for di in self.d) + 1
        hi = mpf(hi)
        while self.q_at(hi) > target:
            hi *= 4
        return _bisect(lambda t: self.q_at(t) - target, mpf(0), hi)

    # likelihood -------------------------------------------------------------------------
    def score(self, tau2: Mpf, reml: bool) -> Mpf:
        w = self.weights(tau2)
        _, r = self.wmean_resid(w)
        yppy = mp.fsum((wi * ri) ** 2 for wi, ri in zip(w, r, strict=True))
        sw = mp.fsum(w)
        if reml:
            return yppy - (sw - mp.fsum(wi * wi for wi in w) / sw)
        return yppy - sw

    def loglik(self, tau2: Mpf, reml: bool) -> Mpf:
        w = self.weights(tau2)
        _, r = self.wmean_resid(w)
        ll = -mp.fsum(mp.log(vi + tau2) for vi in self.v) / 2
        ll -= mp.fsum(wi * ri * ri for wi, ri in zip(w, r, strict=True)) / 2
        if reml:
            ll -= mp.log(mp.fsum(w)) / 2
        return ll

    def _score_grid(self, grid: np.ndarray, reml: bool) -> np.ndarray:
        """Score on a grid in double precision (sign screening only)."""
        d = self.yf - np.median(self.yf)
        w = 1.0 / (self.vf[None, :] + grid[:, None])
        sw = w.sum(axis=1)
        mu = (w * d).sum(axis=1) / sw
        r = d[None, :] - mu[:, None]
        s = ((w * r) ** 2).sum(axis=1)
        if reml:
            return s - (sw - (w * w).sum(axis=1) / sw)
        return s - sw

    def ml_max(self, reml: bool) -> Mpf:
        """Global maximiser of the (restricted) likelihood on [0, ∞)."""
        if self.k < 2 or max(abs(di) for di in self.d) == 0:
            return mpf(0)
        spread = float(self.yf.max() - self.yf.min())
        hi = max(10 * spread * spread, 10 * float(self.vf.max()))
        lo = 1e-12 * float(self.vf.min())
        n = math.ceil(60 * math.log10(hi / lo)) + 1
        grid = np.concatenate([[0.0], np.geomspace(lo, hi, n)])
        s = self._score_grid(grid, reml)
        candidates: list[Mpf] = [mpf(0)]
        n_modes = 1 if self.score(mpf(0), reml) <= 0 else 0  # is 0 a local maximum?
        for i in range(len(grid) - 1):
            if s[i] > 0 and s[i + 1] <= 0:  # a local maximum in (grid[i], grid[i+1]]
                a, b = mpf(float(grid[i])), mpf(float(grid[i + 1]))
                # extend the bracket until the exact score changes sign
                while self.score(a, reml) <= 0 and a > 0:
                    a = a / 4 if a > lo else mpf(0)
                while self.score(b, reml) > 0:
                    b *= 4
                if self.score(a, reml) > 0:
                    candidates.append(_bisect(lambda t: self.score(t, reml), a, b))
                    n_modes += 1
        self.modes["REML" if reml else "ML"] = n_modes
        lls = [self.loglik(c, reml) for c in candidates]
        best = max(range(len(candidates)), key=lambda i: lls[i])
        return candidates[best]

    # τ² estimators ---------------------------------------------------------------------
    def tau2(self, method: str) -> Mpf:
        if method not in self._tau2:
            self._tau2[method] = self._estimate(method)
        return self._tau2[method]

    def _estimate(self, method: str) -> Mpf:
        k = self.k
        w0 = self.weights(0)
        sw0 = mp.fsum(w0)
        q0 = self.q_at(0)
        if method == "EE":
            return mpf(0)
        if method == "DL":
            trp = sw0 - mp.fsum(wi * wi for wi in w0) / sw0
            return max(mpf(0), (q0 - (k - 1)) / trp)
        if method == "HS":
            return max(mpf(0), (q0 - k) / sw0)
        if method == "HSk":
            return max(mpf(0), (mpf(k) / (k - 1) * q0 - k) / sw0)
        if method == "HE":
            rss = mp.fsum(di * di for di in self.d)
            trpv = mp.fsum(self.v) * (k - 1) / k
            return max(mpf(0), (rss - trpv) / (k - 1))
        if method == "SJ":
            t0 = mp.fsum(di * di for di in self.d) / k
            return max(mpf(0), t0 * self.q_at(t0) / (k - 1))
        if method in ("PM", "EB"):
            return self.q_root(mpf(k - 1))
        if method == "PMM":
            return self.q_root(chi2_ppf("0.5", k - 1))
        if method == "ML":
            return self.ml_max(reml=False)
        if method == "REML":
            return self.ml_max(reml=True)
        raise ValueError(method)

    def tau2_se(self, method: str, tau2: Mpf) -> Mpf | None:
        """metafor's standard error of τ² for ``method``, at the exact τ²."""
        k = self.k
        t = max(tau2, mpf(0))
        if method == "EE":
            return None
        if method in ("DL", "HS", "HSk"):
            w = self.weights(0)
            sw, s2, s3 = mp.fsum(w), mp.fsum(x**2 for x in w), mp.fsum(x**3 for x in w)
            trp = sw - s2 / sw
            spp = s2 - 2 * s3 / sw + (s2 / sw) ** 2  # sum(P * P), exactly
            core = 2 * (k - 1) + 4 * t * trp + 2 * t * t * spp
            if method == "DL":
                return mp.sqrt(core / trp**2)
            se = mp.sqrt(core / sw**2)
            return se * k / (k - 1) if method == "HSk" else se
        if method == "HE":
            sv, sv2 = mp.fsum(self.v), mp.fsum(x * x for x in self.v)
            tr_pvpv = sv2 * (1 - mpf(2) / k) + sv * sv / k**2
            trpv = sv * (k - 1) / k
            return mp.sqrt((2 * tr_pvpv + 4 * t * trpv + 2 * t * t * (k - 1)) / (k - 1) ** 2)
        if method == "SJ":
            t0 = mp.fsum(di * di for di in self.d) / k
            w = self.weights(t0)
            sw = mp.fsum(w)
            P = [[(w[i] if i == j else 0) - w[i] * w[j] / sw for j in range(k)] for i in range(k)]
            PV = [[P[i][j] * self.v[j] for j in range(k)] for i in range(k)]
            s_pvpv = mp.fsum(PV[i][j] * PV[j][i] for i in range(k) for j in range(k))
            s_pvp = mp.fsum(PV[i][j] * P[i][j] for i in range(k) for j in range(k))
            s_pp = mp.fsum(P[i][j] ** 2 for i in range(k) for j in range(k))
            return mp.sqrt(t0**2 / (k - 1) ** 2 * (2 * s_pvpv + 4 * t * s_pvp + 2 * t * t * s_pp))
        w = self.weights(tau2)
        sw = mp.fsum(w)
        if method == "ML":
            return mp.sqrt(2 / mp.fsum(x * x for x in w))
        if method == "REML":
            s2, s3 = mp.fsum(x**2 for x in w), mp.fsum(x**3 for x in w)
            return mp.sqrt(2 / (s2 - 2 * s3 / sw + (s2 / sw) ** 2))
        if method in ("EB", "PM", "PMM"):
            return mp.sqrt(mpf(2) * k * k / (k - 1)) / sw
        raise ValueError(method)

    # Q-profile ------------------------------------------------------------------------
    def qprofile(self, level: float) -> dict[str, Mpf]:
        df = self.k - 1
        half = _half_alpha_str(level)
        crit_for_lower = chi2_isf(half, df)
        crit_for_upper = chi2_ppf(half, df)
        lo = self.q_root(crit_for_lower)
        hi = self.q_root(crit_for_upper)
        vt = self.typical_v()
        return {
            "tau2_ci_low": lo,
            "tau2_ci_high": hi,
            "i2_ci_low": 100 * lo / (vt + lo),
            "i2_ci_high": 100 * hi / (vt + hi),
            "h2_ci_low": lo / vt + 1,
            "h2_ci_high": hi / vt + 1,
        }

    def cochran(self) -> dict[str, Mpf]:
        q = self.q_at(0)
        return {"q": q, "q_df": mpf(self.k - 1), "q_pvalue": chi2_sf(q, self.k - 1)}

    # one fit --------------------------------------------------------------------------
    def fit(self, method: str, test: str, level: float) -> dict[str, Mpf | None]:
        """Every per-case field of metafor's rma + predict for this method/test/level."""
        k = self.k
        tau2 = self.tau2(method)
        w = self.weights(tau2)
        sw = mp.fsum(w)
        mu_d, r = self.wmean_resid(w)
        ybar = mp.fsum(self.y) / k
        mu = ybar + mu_d
        vb = 1 / sw
        if test in ("knha", "adhoc"):
            s2 = mp.fsum(wi * ri * ri for wi, ri in zip(w, r, strict=True)) / (k - 1)
            if test == "adhoc":
                s2 = max(s2, mpf(1))
            vb *= s2
        se = mp.sqrt(vb)
        stat = _ratio(mu, se)
        half = _half_alpha_str(level)
        if test == "z":
            crit = norm_isf(half)
            p = 2 * norm_sf(abs(stat)) if not mp.isnan(stat) else mp.nan
            df = None
        else:
            crit = t_isf(half, k - 1)
            p = 2 * t_sf(abs(stat), k - 1) if not mp.isnan(stat) else mp.nan
            df = mpf(k - 1)
        q0 = self.q_at(0)
        if method == "EE":
            i2 = max(mpf(0), 100 * (q0 - (k - 1)) / q0) if q0 > 0 else mpf(0)
            h2 = q0 / (k - 1)
        else:
            vt = self.typical_v()
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
        pi_half = crit * mp.sqrt(vb + tau2)
        return {
            "estimate": mu,
            "se": se,
            "ci_low": mu - crit * se,
            "ci_high": mu + crit * se,
            "statistic": stat,
            "pvalue": p,
            "df": df,
            "tau2": tau2,
            "tau2_se": self.tau2_se(method, tau2),
            "i2": i2,
            "h2": h2,
            "pi_low": mu - pi_half,
            "pi_high": mu + pi_half,
        }


# --------------------------------------------------------------------------- 2x2 tables


@dataclass(frozen=True)
class Tables:
    a: list[Mpf]
    b: list[Mpf]
    c: list[Mpf]
    d: list[Mpf]

    @classmethod
    def from_counts(
        cls,
        events_t: Sequence[float],
        n_t: Sequence[float],
        events_c: Sequence[float],
        n_c: Sequence[float],
    ) -> Tables:
        a = [mpf(x) for x in events_t]
        c = [mpf(x) for x in events_c]
        b = [mpf(n) - x for n, x in zip(n_t, a, strict=True)]
        d = [mpf(n) - x for n, x in zip(n_c, c, strict=True)]
        return cls(a, b, c, d)


def _zero_rows(t: Tables) -> list[bool]:
    return [min(a, b, c, d) == 0 for a, b, c, d in zip(t.a, t.b, t.c, t.d, strict=True)]


def _double_zero(t: Tables) -> list[bool]:
    return [
        (a == 0 and c == 0) or (b == 0 and d == 0)
        for a, b, c, d in zip(t.a, t.b, t.c, t.d, strict=True)
    ]


def study_effects(
    t: Tables, measure: str, add: float, to: str, drop00: bool
) -> list[tuple[Mpf, Mpf]]:
    """metafor's escalc yi, vi for the kept, finite studies (add/to/drop00 as escalc)."""
    dz = _double_zero(t)
    k = len(t.a)
    dropped = [drop00 and x for x in dz]
    # escalc drops double zeros first, so "if0all" looks at the kept tables only
    zero = [z and not dr for z, dr in zip(_zero_rows(t), dropped, strict=True)]
    if to == "all":
        corr = [True] * k
    elif to == "only0":
        corr = list(zero)
    elif to == "if0all":
        corr = [any(zero)] * k
    else:
        corr = [False] * k
    out = []
    addm = mpf(add)
    for i in range(k):
        if dropped[i]:
            continue
        x = addm if corr[i] else mpf(0)
        a, b, c, d = t.a[i] + x, t.b[i] + x, t.c[i] + x, t.d[i] + x
        n1, n2 = a + b, c + d
        try:
            if measure == "OR":
                yi, vi = mp.log((a * d) / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
            elif measure == "RR":
                yi, vi = mp.log((a / n1) / (c / n2)), 1 / a - 1 / n1 + 1 / c - 1 / n2
            elif measure == "RD":
                p1, p2 = a / n1, c / n2
                yi, vi = p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
            else:  # PETO
                n = n1 + n2
                e = (a + c) * n1 / n
                v = (a + c) * (b + d) * n1 * n2 / (n * n * (n - 1))
                yi, vi = (a - e) / v, 1 / v
        except (ZeroDivisionError, ValueError):
            continue
        if mp.isfinite(yi) and mp.isfinite(vi) and vi > 0:
            # msc_meta's convention: a study-level variance of 0 (RD or RR of an uncorrected
            # table without events, or with only events, in both arms) would get an infinite
            # weight; such studies are left out of Q, I² and H² with a ZeroCellWarning, as
            # infinite effects are. metafor keeps them, and its Q is then Inf or NaN.
            out.append((yi, vi))
    return out


def _q_about(effects: list[tuple[Mpf, Mpf]], est: Mpf) -> Mpf:
    """sum((yi - est)^2 / vi) with R's IEEE conventions for vi = 0 (Inf, or NaN for 0 * Inf)."""
    finite = [(yi, vi) for yi, vi in effects if vi > 0]
    zero = [yi for yi, vi in effects if vi == 0]
    if any(yi == est for yi in zero):
        return mp.nan
    if zero:
        return mp.inf
    return mp.fsum((yi - est) ** 2 / vi for yi, vi in finite) if finite else mpf(0)


def _heterogeneity(q: Mpf, k_yi: int) -> dict[str, Mpf]:
    if k_yi > 1:
        if mp.isnan(q) or mp.isinf(q):  # R: pchisq(Inf) = 0, (Inf - df)/Inf = NaN
            return {
                "q": q,
                "q_df": mpf(k_yi - 1),
                "q_pvalue": mp.nan if mp.isnan(q) else mpf(0),
                "i2": mp.nan,
                "h2": q,
            }
        q = max(mpf(0), q)
        return {
            "q": q,
            "q_df": mpf(k_yi - 1),
            "q_pvalue": chi2_sf(q, k_yi - 1),
            "i2": max(mpf(0), 100 * (q - (k_yi - 1)) / q) if q > 0 else mpf(0),
            "h2": q / (k_yi - 1),
        }
    # no study-level effect at all: msc_meta's df is 0 (metafor's k.yi - 1 = -1)
    return {
        "q": mpf(0),
        "q_df": mpf(max(k_yi - 1, 0)),
        "q_pvalue": mpf(1),
        "i2": mpf(0),
        "h2": mpf(1),
    }


def _z_fields(est: Mpf, se: Mpf, level: float) -> dict[str, Mpf]:
    crit = norm_isf(_half_alpha_str(level))
    z = _ratio(est, se)
    return {
        "estimate": est,
        "se": se,
        "ci_low": est - crit * se,
        "ci_high": est + crit * se,
        "statistic": z,
        "pvalue": mp.nan if mp.isnan(z) else 2 * norm_sf(abs(z)),
    }


def mantel_haenszel_exact(
    t: Tables, measure: str, add: float, to: str, drop00: bool, correct: bool, level: float
) -> dict[str, Mpf | None]:
    """rma.mh's fields, exactly (the pooled estimate from the counts as given)."""
    a, b, c, d = t.a, t.b, t.c, t.d
    n1 = [x + y for x, y in zip(a, b, strict=True)]
    n2 = [x + y for x, y in zip(c, d, strict=True)]
    N = [x + y for x, y in zip(n1, n2, strict=True)]
    k = len(a)
    out: dict[str, Mpf | None] = {}
    if measure == "OR":
        R = mp.fsum(a[i] * d[i] / N[i] for i in range(k))
        S = mp.fsum(b[i] * c[i] / N[i] for i in range(k))
        P = [(a[i] + d[i]) / N[i] for i in range(k)]
        Q = [(b[i] + c[i]) / N[i] for i in range(k)]
        Ri = [a[i] * d[i] / N[i] for i in range(k)]
        Si = [b[i] * c[i] / N[i] for i in range(k)]
        est = mp.log(R / S)
        var = (
            mp.fsum(P[i] * Ri[i] for i in range(k)) / R**2
            + mp.fsum(P[i] * Si[i] + Q[i] * Ri[i] for i in range(k)) / (R * S)
            + mp.fsum(Q[i] * Si[i] for i in range(k)) / S**2
        ) / 2
        out.update(_z_fields(est, mp.sqrt(var), level))
        xt = [a[i] + c[i] for i in range(k)]
        yt = [b[i] + d[i] for i in range(k)]
        num = abs(mp.fsum(a[i] - n1[i] / N[i] * xt[i] for i in range(k))) - (
            mpf("0.5") if correct else 0
        )
        den = mp.fsum(n1[i] / N[i] * n2[i] / N[i] * xt[i] * yt[i] / (N[i] - 1) for i in range(k))
        out["cmh"] = num**2 / den
        out["cmh_pvalue"] = chi2_sf(out["cmh"], 1)
        psi = R / S
        bd_terms, dev, var_sum = [], [], []
        for i in range(k):
            if psi == 1:
                n11 = n1[i] / N[i] * xt[i]
            else:
                A = psi * (n1[i] + xt[i]) + (n2[i] - xt[i])
                B = mp.sqrt(A * A - 4 * n1[i] * xt[i] * psi * (psi - 1))
                n11 = (A - B) / (2 * (psi - 1))
            if not (n11 > 0 and xt[i] > 0 and yt[i] > 0):
                continue
            n12 = n1[i] - n11
            n21 = xt[i] - n11
            n22 = n11 - n1[i] - xt[i] + N[i]
            inv = 1 / n11 + 1 / n12 + 1 / n21 + 1 / n22
            bd_terms.append((a[i] - n11) ** 2 * inv)
            dev.append(a[i] - n11)
            var_sum.append(1 / inv)
        k_pos = len(bd_terms)
        bd = max(mpf(0), mp.fsum(bd_terms))
        ta = max(mpf(0), bd - mp.fsum(dev) ** 2 / mp.fsum(var_sum)) if k_pos else mpf(0)
        # msc_meta's convention: no Tarone or Breslow-Day test on fewer than two tables with
        # both events and non-events (metafor reports a statistic on 0 df)
        two = k_pos > 1
        out["breslow_day"] = bd if two else None
        out["tarone"] = ta if two else None
        out["tarone_df"] = mpf(k_pos - 1) if two else None
        out["breslow_day_pvalue"] = chi2_sf(bd, k_pos - 1) if two else None
        out["tarone_pvalue"] = chi2_sf(ta, k_pos - 1) if two else None
    elif measure == "RR":
        R = mp.fsum(a[i] * n2[i] / N[i] for i in range(k))
        S = mp.fsum(c[i] * n1[i] / N[i] for i in range(k))
        est = mp.log(R / S)
        var = mp.fsum(
            n1[i] / N[i] * n2[i] / N[i] * (a[i] + c[i]) - a[i] / N[i] * c[i] for i in range(k)
        ) / (R * S)
        out.update(_z_fields(est, mp.sqrt(var), level))
    else:  # RD
        den = mp.fsum(n1[i] * n2[i] / N[i] for i in range(k))
        est = mp.fsum(a[i] * n2[i] / N[i] - c[i] * n1[i] / N[i] for i in range(k)) / den
        var = (
            est
            * mp.fsum(
                c[i] * (n1[i] / N[i]) ** 2
                - a[i] * (n2[i] / N[i]) ** 2
                + n1[i] / N[i] * n2[i] / N[i] * (n2[i] - n1[i]) / 2
                for i in range(k)
            )
            + mp.fsum(
                a[i] * (n2[i] - c[i]) / N[i] + c[i] * (n1[i] - a[i]) / N[i] for i in range(k)
            )
            / 2
        ) / den**2
        out.update(_z_fields(est, mp.sqrt(var), level))
    effects = study_effects(t, measure, add, to, drop00)
    out.update(_heterogeneity(_q_about(effects, est), len(effects)))
    return out


def peto_exact(
    t: Tables, add: float, to: str, drop00: bool, level: float
) -> dict[str, Mpf | None]:
    """rma.peto's fields, exactly."""
    a, b, c, d = t.a, t.b, t.c, t.d
    k = len(a)
    n1 = [a[i] + b[i] for i in range(k)]
    n2 = [c[i] + d[i] for i in range(k)]
    N = [n1[i] + n2[i] for i in range(k)]
    xt = [a[i] + c[i] for i in range(k)]
    yt = [b[i] + d[i] for i in range(k)]
    E = [xt[i] * n1[i] / N[i] for i in range(k)]
    V = [
        xt[i] * yt[i] * n1[i] / N[i] * n2[i] / N[i] / (N[i] - 1) if N[i] > 1 else mpf(0)
        for i in range(k)
    ]
    sv = mp.fsum(V)
    est = mp.fsum(a[i] - E[i] for i in range(k)) / sv
    out: dict[str, Mpf | None] = dict(_z_fields(est, 1 / mp.sqrt(sv), level))
    pos = [i for i in range(k) if V[i] > 0]
    q = mp.fsum((a[i] - E[i]) ** 2 / V[i] for i in pos) - mp.fsum(
        a[i] - E[i] for i in pos
    ) ** 2 / mp.fsum(V[i] for i in pos)
    q = max(mpf(0), q)
    k_yi = len(study_effects(t, "PETO", add, to, drop00))
    if len(pos) > 1:
        out.update(
            {
                "q": q,
                "q_df": mpf(k_yi - 1),
                "q_pvalue": chi2_sf(q, k_yi - 1) if k_yi > 1 else None,
                "i2": max(mpf(0), 100 * (q - (k_yi - 1)) / q) if q > 0 else mpf(0),
                "h2": q / (k_yi - 1) if k_yi > 1 else None,
            }
        )
    else:
        q_df = mpf(max(k_yi - 1, 0))
        out.update({"q": q, "q_df": q_df, "q_pvalue": mpf(1), "i2": mpf(0), "h2": mpf(1)})
    return out


# --------------------------------------------------------------------------- command line


def _to_float(x: Mpf | None) -> float | None:
    if x is None:
        return None
    if mp.isnan(x):
        return math.nan
    if mp.isinf(x):
        return math.inf if x > 0 else -math.inf
    return float(x)


def _json_num(x: float | None) -> Any:
    if x is None:
        return None
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return x


def _exact_rma(data: Data, case: Any) -> dict[str, float | None]:
    return {f: _to_float(x) for f, x in data.fit(case.method, case.test, case.level).items()}


def main(argv: list[str]) -> int:
    """Compare every metafor value with the exact one; write the overrides."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests import test_metafor_random as harness

    ref_path = Path(argv[1]) if len(argv) > 1 else harness.REFERENCE
    out_path = Path(argv[2]) if len(argv) > 2 else harness.OVERRIDES
    ref = harness.load_reference(ref_path)
    overrides: list[dict[str, Any]] = []
    multimodal: dict[str, dict[str, int]] = {}
    n_checked = 0
    for n, ds in enumerate(ref.datasets.values()):
        data = Data(ds.yi, ds.vi)
        vmin = float(ds.vi.min())
        exact_q = {f: _to_float(x) for f, x in data.cochran().items()}
        for name, value in ds.q.items():
            n_checked += 1
            allowed = harness.allowed_rma(name, exact_q, vmin, ds.k, iterative=False)
            if not harness.agrees(value, exact_q[name], allowed):
                overrides.append(
                    _override(ds.id, name, value, exact_q[name], reason(ds, None, name))
                )
        for level, qp in ds.qprofile.items():
            exact_qp = {f: _to_float(x) for f, x in data.qprofile(level).items()}
            for name, value in qp.values.items():
                n_checked += 1
                allowed = harness.allowed_rma(name, exact_qp, vmin, ds.k, iterative=True)
                if not harness.agrees(value, exact_qp[name], allowed):
                    overrides.append(
                        _override(
                            harness.qprofile_key(ds.id, level),
                            name,
                            value,
                            exact_qp[name],
                            reason(ds, None, name, qp=qp),
                        )
                    )
        for case in ref.rma_by_dataset[ds.id]:
            exact = _exact_rma(data, case)
            full = {**exact, **exact_q}
            iterative = case.method in harness.ITERATIVE_METHODS
            for name, value in case.values.items():
                n_checked += 1
                allowed = harness.allowed_rma(name, full, vmin, ds.k, iterative)
                if case.error is not None or not harness.agrees(value, exact[name], allowed):
                    overrides.append(
                        _override(
                            case.id, name, value, exact[name], reason(ds, case, name, exact, data)
                        )
                    )
        for m in ("ML", "REML"):
            data.tau2(m)
            if data.modes.get(m, 1) > 1:
                multimodal.setdefault(ds.id, {})[m] = data.modes[m]
        if (n + 1) % 50 == 0:
            print(f"{n + 1} datasets, {len(overrides)} overrides", file=sys.stderr)
    for case in ref.binary:
        tb = ref.tables[case.tables]
        t = Tables.from_counts(*(tb.counts[c] for c in ("events_t", "n_t", "events_c", "n_c")))
        if case.error is not None or case.values.get("estimate") is None:
            continue  # metafor has no estimate: msc_meta must refuse (checked by the test)
        o = case.options
        if case.measure == "PETO":
            ex = peto_exact(t, o["add"], o["to"], o["drop00"], o["level"])
        else:
            ex = mantel_haenszel_exact(
                t, case.measure, o["add"], o["to"], o["drop00"], o["correct"], o["level"]
            )
        exact_b = {f: _to_float(x) for f, x in ex.items()}
        for name, value in case.values.items():
            n_checked += 1
            allowed = harness.allowed_binary(name, exact_b)
            if not harness.agrees(value, exact_b.get(name), allowed):
                overrides.append(
                    _override(
                        case.id,
                        name,
                        value,
                        exact_b.get(name),
                        binary_reason(case, name, value, exact_b.get(name)),
                    )
                )
    print(
        f"checked {n_checked} metafor values; {len(overrides)} overrides; "
        f"{len(multimodal)} datasets with a multimodal (RE)ML likelihood",
        file=sys.stderr,
    )
    out = {
        "description": (
            "Values where metafor (tests/reference/metafor_random.json) is not within the test's "
            "tolerance of the exact value computed by tests/reference/referee.py (mpmath, "
            f"{DPS} digits); tests/test_metafor_random.py compares msc_meta with `exact` instead. "
            "Written by `python tests/reference/referee.py`."
        ),
        "mpmath_version": mpmath.__version__,
        "digits": DPS,
        "checked": n_checked,
        "multimodal_likelihood": multimodal,
        "overrides": overrides,
    }
    out_path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


def _ratio_text(ds: Any) -> str:
    return f"variances spanning a ratio of {float(ds.vi.max() / ds.vi.min()):.2g}"


def _offset_text(ds: Any) -> str:
    offset = abs(float(ds.design["offset"]))
    return f"offset {offset:.3g} = {offset / math.sqrt(float(ds.vi.min())):.2g} x sqrt(min vi)"


CANCEL_Q = "Q = Y'PY with P = W - ww'/sum(w) (the P-matrix form) cancels"
CANCEL_TRP = "tr(P) = sum(w) - sum(w^2)/sum(w) cancels"
CANCEL_PP = "sum(P*P) cancels"


def reason(
    ds: Any,
    case: Any,
    name: str,
    exact: dict[str, float | None] | None = None,
    data: Data | None = None,
    qp: Any = None,
) -> str:
    """One line on why metafor's value is not the exact one (classified from the case)."""
    offset = abs(float(ds.design["offset"]))
    if case is None and name in ("q", "q_df", "q_pvalue"):
        return f"Cochran's Q: metafor's {CANCEL_Q} with {_ratio_text(ds)}"
    if case is None:
        if offset > 0 and name.startswith("tau2"):
            return (
                "Q-profile bound: metafor's confint evaluates Q(tau2) = Y'PY on uncentred effects "
                f"({_offset_text(ds)}), losing the digits of the deviations; exact root of "
                "Q(tau2) = chi2 quantile"
            )
        if offset > 0:
            return (
                "Q-profile bound (I2/H2 scale): metafor's tau2 bound from Q(tau2) on uncentred "
                f"effects ({_offset_text(ds)}) and/or its vt, where {CANCEL_TRP} ({_ratio_text(ds)})"
            )
        return f"Q-profile bound on the I2/H2 scale: metafor's vt = (k-1)/tr(P), where {CANCEL_TRP} with {_ratio_text(ds)}"
    if case.error is not None:
        what = (
            "the root of Q(tau2) = k - 1, the EB estimating equation"
            if case.method == "EB"
            else "the estimator"
        )
        return f"metafor stopped with an error ({case.error.strip()}); exact value of {what}"
    assert exact is not None and data is not None
    m_tau2, e_tau2 = case.values["tau2"], exact["tau2"]
    from tests import test_metafor_random as harness

    tau2_ok = harness.agrees(
        m_tau2,
        e_tau2,
        harness.allowed_rma(
            "tau2", exact, float(ds.vi.min()), ds.k, case.method in harness.ITERATIVE_METHODS
        ),
    )
    if not tau2_ok:
        if case.method in ("ML", "REML"):
            reml = case.method == "REML"
            ll_m = data.loglik(mpf(m_tau2), reml)
            ll_e = data.loglik(mpf(e_tau2), reml)
            stuck = any("local maximum" in w for w in case.r_warnings)
            how = (
                "metafor's ll0check replaced its Fisher-scoring result by tau2 = 0"
                if stuck
                else "metafor's Fisher scoring (started at the HE estimate) stopped"
            )
            core = (
                f"{case.method}: {how} at tau2 = {m_tau2:.10g} (log-likelihood {float(ll_m):.12g}); "
                f"the global maximum on [0, inf) is at tau2 = {e_tau2:.10g} (log-likelihood {float(ll_e):.12g})"
            )
        elif case.method in ("DL", "HS", "HSk"):
            core = f"{case.method}: tau2 from metafor's Q, where {CANCEL_Q} with {_ratio_text(ds)}"
        else:
            core = f"{case.method}: metafor's tau2 {m_tau2!r} is not the exact {e_tau2!r} ({_ratio_text(ds)})"
        return core if name == "tau2" else f"follows from tau2 ({core})"
    if name in ("i2", "h2") and case.method == "EE":
        return f"EE I2/H2 from Q: metafor's {CANCEL_Q} with {_ratio_text(ds)}"
    if name in ("i2", "h2"):
        return f"metafor's vt = (k-1)/tr(P), where {CANCEL_TRP} with {_ratio_text(ds)}"
    if name == "tau2_se":
        return f"{case.method} SE of tau2: metafor's {CANCEL_PP if case.method in ('DL', 'HS', 'HSk', 'REML', 'SJ') else 'sum of weights'} with {_ratio_text(ds)}"
    if case.test in ("knha", "adhoc") and float(np.ptp(ds.yi)) == 0:
        return (
            "identical effects: the Knapp-Hartung residual sum of squares is exactly 0, but metafor's "
            f"residuals from its uncentred weighted mean are rounding noise ({_offset_text(ds)})"
        )
    return (
        f"{case.method}/{case.test}: metafor's {name} loses digits ({_ratio_text(ds)}; "
        f"metafor's tau2 {m_tau2!r} vs exact {e_tau2!r}, within the tau2 tolerance, but the weight "
        "of the smallest variance is more sensitive)"
    )


def binary_reason(case: Any, name: str, metafor: float | None, exact: float | None) -> str:
    """Why msc_meta is compared with the exact value rather than metafor's."""
    m = case.measure
    tests = ("tarone", "tarone_df", "tarone_pvalue", "breslow_day", "breslow_day_pvalue")
    if name in tests and exact is None:
        return (
            f"{m}: convention: with fewer than two tables with both events and non-events "
            "msc_meta reports no Tarone or Breslow-Day test (metafor: a statistic on 0 df)"
        )
    if name in ("q", "q_df", "q_pvalue", "i2", "h2"):
        if metafor is not None and not math.isfinite(metafor):
            return (
                f"{m}: convention: a study-level variance of 0 (an uncorrected table without "
                "events, or with only events, in both arms) has infinite weight, so metafor's Q "
                "is Inf or NaN; msc_meta leaves such studies out of Q, I² and H² with a "
                "ZeroCellWarning; exact value without them"
            )
        if name == "q_df" and metafor is not None and metafor < 0:
            return f"{m}: convention: no study-level effect, so msc_meta's df is 0 (metafor: -1)"
        if case.options["add"] == 0 or case.options["to"] == "none":
            return (
                f"{m}: convention: study-level variances of 0 left out of {name} by msc_meta "
                "(kept with infinite weight by metafor); exact value without them"
            )
    return f"{m}: metafor's {name} differs from the exact closed form"


def _override(
    case_id: str, field: str, metafor: float | None, exact: float | None, reason: str
) -> dict[str, Any]:
    return {
        "case": case_id,
        "field": field,
        "metafor": _json_num(metafor),
        "exact": _json_num(exact),
        "reason": reason,
    }


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
