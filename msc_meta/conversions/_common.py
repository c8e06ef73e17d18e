"""Helpers shared by the conversion modules: reading inputs, checks, critical values."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._errors import MetaAnalysisError
from .._inference import critical_value, critical_values
from .._validation import as_1d, check_counts, check_no_inf, check_positive

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
FloatOrArray = float | FloatArray


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _prepare(*pairs: tuple[str, ArrayLike]) -> tuple[list[FloatArray], bool]:
    """Read named inputs as equally long 1-d float arrays; scalars broadcast.

    Returns the arrays and whether every input was a scalar (then the caller
    returns a ``float``). Infinite values are rejected, NaN passes (missing).
    """
    scalar = all(np.ndim(x) == 0 for _, x in pairs if x is not None)
    first = [as_1d(x, name) for name, x in pairs]
    k, k_from = 1, pairs[0][0]
    for (name, x), arr in zip(pairs, first, strict=True):
        if np.ndim(x) > 0 and arr.shape[0] != k:
            if k != 1:
                break  # as_1d below reports the mismatch
            k, k_from = arr.shape[0], name
    out = [as_1d(x, name, n=k, n_from=k_from) for name, x in pairs]
    for (name, _), arr in zip(pairs, out, strict=True):
        check_no_inf(arr, name)
    return out, scalar


def _out(x: FloatArray, scalar: bool) -> FloatOrArray:
    return float(x[0]) if scalar else x


def _check_whole_n(n: FloatArray, name: str = "n", *, minimum: int = 1, why: str = "") -> None:
    check_counts(n, name, positive=True)
    if minimum > 1:
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(n < minimum)
        if bad.size:
            i = int(bad[0])
            raise MetaAnalysisError(
                f"{name}[{i}] = {_fmt(n[i])} is not allowed; it must be >= {minimum}{why}"
            )


def _check_ordered(lower: FloatArray, upper: FloatArray) -> None:
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(lower >= upper)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"lower[{i}] = {_fmt(lower[i])} is not below upper[{i}] = {_fmt(upper[i])}; "
            "a confidence interval needs lower < upper (were the bounds swapped?)"
        )


def _check_ratio_bounds(x: FloatArray, name: str) -> None:
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(x <= 0)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"{name}[{i}] = {_fmt(x[i])} is not allowed with ratio=True; the CI of a ratio "
            "(OR, RR, HR) has bounds > 0 (give the ratio scale, not the log scale, "
            "or use ratio=False for log-scale bounds)"
        )


def _quantile(level: float, df: FloatArray | None, k: int) -> FloatArray:
    """Two-sided critical value: z, or t with ``df`` degrees of freedom."""
    if df is None:
        return np.full(k, critical_value(level))
    return critical_values(level, df)


def _read_df(df: ArrayLike | None, k: int) -> FloatArray | None:
    if df is None:
        return None
    arr = as_1d(df, "df", n=k, n_from="the other arguments")
    check_no_inf(arr, "df")
    check_positive(arr, "df")
    return arr
