"""Input checks shared by every public function.

Each check raises :class:`~msc_meta._errors.MetaAnalysisError` (a ``ValueError``)
whose message names the argument, the first offending row (0-based, with the
study label when one is known), echoes the value and says what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ._errors import MetaAnalysisError

FloatArray = NDArray[np.float64]


def _where(i: int, labels: Sequence[str] | None) -> str:
    if labels is not None and i < len(labels):
        return f"[{i}] (study {labels[i]!r})"
    return f"[{i}]"


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def is_missing(x: Any) -> bool:
    """Whether a single cell is missing: ``None``, NaN or pandas' ``NA``."""
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):  # array-likes are not a single missing cell
        return False


def check_choice(value: object, name: str, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming the valid ones."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise MetaAnalysisError(
            f"{name}={value!r} is not allowed; valid values are: {', '.join(allowed)}"
        )
    return value


def resolve_code(
    value: object, name: str, codes: Iterable[str], aliases: Mapping[str, str], what: str
) -> str:
    """The canonical code of ``value``: any case, aliases resolved; else raise listing them.

    Parameters
    ----------
    value : object
        What the user gave (``"reml"``, ``"HKSJ"``).
    name : str
        The argument's name, for the message.
    codes : iterable of str
        The canonical codes (the keys of a registry).
    aliases : mapping of str to str
        Other accepted names and the code each stands for.
    what : str
        What a valid value is, for the message (``"a known tau^2 estimator"``).

    Returns
    -------
    str
        The canonical code.

    Raises
    ------
    MetaAnalysisError
        ``value`` is not a string naming a code or an alias.
    """
    codes = list(codes)
    folded = {c.casefold(): c for c in (*codes, *aliases)}
    code = folded.get(value.casefold()) if isinstance(value, str) else None
    if code is None:
        valid = ", ".join([*codes, *aliases])
        raise MetaAnalysisError(f"{name}={value!r} is not {what}; valid (any case): {valid}")
    return aliases.get(code, code)


def check_level(level: float) -> float:
    """Check a confidence level lies strictly between 0 and 1."""
    try:
        lv = float(level)
    except (TypeError, ValueError):
        raise MetaAnalysisError(
            f"level={level!r} is not a number; give a confidence level in (0, 1), e.g. 0.95"
        ) from None
    if not 0.0 < lv < 1.0:
        raise MetaAnalysisError(
            f"level={level!r} is outside (0, 1); give a confidence level such as 0.95 "
            "(not a percentage)"
        )
    return lv


def _unreadable(x: object, name: str) -> str:
    """Message naming the first element of ``x`` that is not a number."""
    if isinstance(x, str | bytes):
        return f"{name} = {x!r} is not a number; give numbers, one per study"
    try:
        items = list(x)  # type: ignore[call-overload]
    except TypeError:
        return f"{name} = {x!r} is not a number; give numbers, one per study"
    for i, item in enumerate(items):
        try:
            float(item)
        except (TypeError, ValueError):
            return (
                f"{name}[{i}] = {item!r} is not a number; give numbers, one per study "
                "(use NaN for a missing value)"
            )
    return f"{name} could not be read as numbers (got {type(x).__name__}); give numbers, one per study"


def check_number(
    value: object, name: str, *, integer: bool = False, low: float, strict: bool = True
) -> float:
    """Check an option is a finite real number (an integer if asked) above ``low``.

    Booleans are refused; numpy scalars are accepted.
    """
    import numbers

    kind = numbers.Integral if integer else numbers.Real
    what = "an integer" if integer else "a finite number"
    rel = ">" if strict else ">="
    if isinstance(value, bool) or not isinstance(value, kind):
        raise MetaAnalysisError(
            f"{name}={value!r} is not allowed; it must be {what} {rel} {low:g}"
        )
    out = float(value)
    if not np.isfinite(out) or (out <= low if strict else out < low):
        raise MetaAnalysisError(
            f"{name}={value!r} is not allowed; it must be {what} {rel} {low:g}"
        )
    return out


def as_1d(x: ArrayLike, name: str, *, n: int | None = None, n_from: str = "") -> FloatArray:
    """Convert ``x`` to a 1-d float array, checking its length against ``n``.

    Scalars are broadcast to length ``n`` when ``n`` is given.
    """
    if x is None:
        raise MetaAnalysisError(f"{name} is missing; it is required for this analysis")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise MetaAnalysisError(_unreadable(x, name)) from None
    if arr.ndim == 0:
        arr = arr.reshape(1) if n is None else np.full(n, float(arr))
    if arr.ndim != 1:
        raise MetaAnalysisError(
            f"{name} must be one-dimensional (one value per study); got shape {arr.shape}"
        )
    if n is not None and arr.shape[0] != n:
        ref = f" like {n_from}" if n_from else ""
        raise MetaAnalysisError(
            f"{name} has {arr.shape[0]} values but {n} are needed{ref}: "
            "every argument needs one value per study"
        )
    return arr


def check_not_empty(x: FloatArray, name: str) -> None:
    """Raise if ``x`` has no elements."""
    if x.size == 0:
        raise MetaAnalysisError(f"{name} is empty; at least one study is needed")


def check_no_inf(x: FloatArray, name: str, labels: Sequence[str] | None = None) -> None:
    """Raise on the first infinite value of ``x``."""
    bad = np.flatnonzero(np.isinf(x))
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"{name}{_where(i, labels)} = {x[i]} is not allowed; values must be finite "
            "(use NaN for a missing value)"
        )


def check_positive(
    x: FloatArray, name: str, labels: Sequence[str] | None = None, *, strict: bool = True
) -> None:
    """Raise on the first value of ``x`` that is not > 0 (or >= 0); NaN passes."""
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(x <= 0 if strict else x < 0)
    if bad.size:
        i = int(bad[0])
        rel = "> 0" if strict else ">= 0"
        raise MetaAnalysisError(
            f"{name}{_where(i, labels)} = {_fmt(x[i])} is not allowed; it must be {rel}"
        )


def check_counts(
    x: FloatArray, name: str, labels: Sequence[str] | None = None, *, positive: bool = False
) -> None:
    """Raise unless every non-NaN value of ``x`` is a whole number >= 0 (or >= 1)."""
    finite = np.isfinite(x)
    check_no_inf(x, name, labels)
    low = 1 if positive else 0
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(finite & (x < low))
    if bad.size:
        i = int(bad[0])
        what = "a group size must be at least 1" if positive else "counts must be >= 0"
        raise MetaAnalysisError(f"{name}{_where(i, labels)} = {_fmt(x[i])} is not allowed; {what}")
    bad = np.flatnonzero(finite & (x != np.round(x)))
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"{name}{_where(i, labels)} = {_fmt(x[i])} is not allowed; counts must be whole numbers"
        )


def check_le(
    a: FloatArray, b: FloatArray, name_a: str, name_b: str, labels: Sequence[str] | None = None
) -> None:
    """Raise on the first row where ``a > b`` (e.g. events larger than the group size)."""
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(a > b)
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"{name_a}{_where(i, labels)} = {_fmt(a[i])} is larger than "
            f"{name_b}{_where(i, labels)} = {_fmt(b[i])}; {name_a} must be <= {name_b}"
        )


def check_range(
    x: FloatArray,
    name: str,
    low: float,
    high: float,
    labels: Sequence[str] | None = None,
) -> None:
    """Raise on the first non-NaN value of ``x`` outside ``[low, high]``."""
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((x < low) | (x > high))
    if bad.size:
        i = int(bad[0])
        raise MetaAnalysisError(
            f"{name}{_where(i, labels)} = {_fmt(x[i])} is not allowed; it must lie in [{low:g}, {high:g}]"
        )


def resolve_columns(
    data: Any,
    columns: Mapping[str, Any],
) -> dict[str, Any]:
    """Replace column names by the columns of ``data`` (a DataFrame or a mapping).

    Without ``data`` the values are returned unchanged. With ``data``, a string
    value is looked up as a column; other values (arrays, scalars) pass through.
    """
    if data is None:
        return dict(columns)
    out: dict[str, Any] = {}
    available = list(data.columns) if hasattr(data, "columns") else list(data.keys())
    for arg, value in columns.items():
        if isinstance(value, str):
            if value not in available:
                shown = ", ".join(map(str, available[:30]))
                more = f" (and {len(available) - 30} more)" if len(available) > 30 else ""
                raise MetaAnalysisError(
                    f"{arg}={value!r}: data= has no column {value!r}; its columns are: {shown}{more}"
                )
            col = data[value]
            out[arg] = col.to_numpy() if hasattr(col, "to_numpy") else col
        else:
            out[arg] = value
    return out


def _is_series(x: Any) -> bool:
    return hasattr(x, "index") and hasattr(x, "to_numpy") and not hasattr(x, "columns")


def align_series(values: Mapping[str, Any]) -> dict[str, Any]:
    """Align pandas Series arguments on their index, as pandas would, or refuse.

    Parameters
    ----------
    values : mapping of str to object
        Arguments by name, in order; the first Series is the reference. Values
        that are not Series (arrays, lists, scalars, ``None``) pass unchanged
        and are paired by position.

    Returns
    -------
    dict
        The same arguments, Series reordered to the reference's index.

    Raises
    ------
    MetaAnalysisError
        A Series has labels that the reference lacks (or lacks some of its
        labels), or a Series index has duplicates while the indexes differ:
        pairing such Series by position would silently match the wrong studies.
    """
    out = dict(values)
    series = [(name, x) for name, x in values.items() if _is_series(x)]
    if len(series) < 2:
        return out
    ref_name, ref = series[0]
    for name, x in series[1:]:
        if x.index.equals(ref.index):
            continue
        if ref.index.has_duplicates or x.index.has_duplicates:
            raise MetaAnalysisError(
                f"{name} and {ref_name} are pandas Series whose indexes differ and have "
                "duplicate labels, so they cannot be aligned; give them the same index, or "
                "pass arrays (paired by position)"
            )
        missing = ref.index.difference(x.index)
        extra = x.index.difference(ref.index)
        if len(missing) or len(extra):
            shown = ", ".join(map(repr, [*missing[:5], *extra[:5]]))
            raise MetaAnalysisError(
                f"{name} and {ref_name} are pandas Series with different index labels "
                f"({shown}); align them (e.g. with .reindex) or pass arrays, which are paired "
                "by position"
            )
        out[name] = x.reindex(ref.index)
    return out


def as_labels(labels: Any, n: int, name: str = "labels") -> list[str] | None:
    """Return study labels as a list of strings of length ``n`` (or ``None``)."""
    if labels is None:
        return None
    seq = [str(s) for s in (labels.tolist() if hasattr(labels, "tolist") else list(labels))]
    if len(seq) != n:
        raise MetaAnalysisError(f"{name} has {len(seq)} values but there are {n} studies")
    return seq
