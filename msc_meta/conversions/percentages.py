"""Whole counts from reported percentages, with a check that they reproduce them.

Part of :mod:`msc_meta.conversions`, which re-exports every public name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._errors import MetaAnalysisError
from .._validation import (
    as_1d,
)
from ._common import (
    BoolArray,
    FloatOrArray,
    IntArray,
    _check_whole_n,
)


@dataclass(frozen=True, eq=False)
class CountFromPercent:
    """A whole count recovered from a reported percentage of ``n``.

    Attributes
    ----------
    count : int or numpy.ndarray of int
        The count nearest to ``percent / 100 * n`` (rounded half up) among
        those that reproduce the reported percentage.
    percent : float or numpy.ndarray
        The reported percentage.
    n : int or numpy.ndarray of int
        The denominator.
    reproduced_percent : float or numpy.ndarray
        ``100 * count / n`` at full precision.
    exact : bool or numpy.ndarray of bool
        True when ``count`` is the *only* whole number whose percentage
        rounds to the reported value; False flags an ambiguous row (several
        counts reproduce it, e.g. coarse rounding of a large ``n``).
    derivation : str or tuple of str
        A one-line audit trail per row for data provenance, e.g.
        ``"53.3% × 30 = 15.99 → 16 (16/30 = 53.33%)"``.
    decimals : int or numpy.ndarray of int
        The number of decimals the percentage was checked at.
    """

    count: int | IntArray
    percent: FloatOrArray
    n: int | IntArray
    reproduced_percent: FloatOrArray
    exact: bool | BoolArray
    derivation: str | tuple[str, ...]
    decimals: int | IntArray

    def to_frame(self) -> pd.DataFrame:
        """Return a tidy DataFrame with one row per percentage."""
        derivs = [self.derivation] if isinstance(self.derivation, str) else self.derivation
        return pd.DataFrame(
            {
                "count": np.atleast_1d(self.count),
                "n": np.atleast_1d(self.n),
                "percent": np.atleast_1d(self.percent),
                "decimals": np.atleast_1d(self.decimals),
                "reproduced_percent": np.atleast_1d(self.reproduced_percent),
                "exact": np.atleast_1d(self.exact),
                "derivation": list(derivs),
            }
        )


def _plain(x: Fraction, digits: int) -> str:
    """Format ``x`` with at most ``digits`` decimals, trailing zeros dropped."""
    text = f"{float(x):.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse_percent(value: object, i: int, decimals: int | None) -> tuple[Fraction, int, str]:
    """Return the exact reported value, the decimals to check and its text."""
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        shown_default = 0
    elif isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise MetaAnalysisError(
            f"percent[{i}] = {value!r} is not a number; give a percentage such as 53.3 or "
            "the text '53.3' as printed in the paper"
        )
    else:
        text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
        shown_default = 1
    try:
        dec = Decimal(text)
    except InvalidOperation:
        raise MetaAnalysisError(
            f"percent[{i}] = {value!r} could not be read as a number; give a percentage "
            "such as 53.3 or '53.3'"
        ) from None
    if not dec.is_finite():
        raise MetaAnalysisError(
            f"percent[{i}] = {value!r} is not allowed; the percentage must be a finite number"
        )
    exponent = dec.as_tuple().exponent
    shown = max(0, -int(exponent)) if isinstance(exponent, int) else 0
    digits = max(shown_default if decimals is None else decimals, shown)
    exact = Fraction(dec)
    if not 0 <= exact <= 100:
        raise MetaAnalysisError(
            f"percent[{i}] = {text} is not allowed; it must lie in [0, 100] "
            "(give a percentage, not a proportion or a count)"
        )
    return exact, digits, text


def counts_from_percent(
    percent: object, n: ArrayLike, *, decimals: int | None = None
) -> CountFromPercent:
    r"""Recover whole counts from reported percentages, checking the rounding.

    Papers often report "53.3% of 30" instead of "16/30". This function
    returns the count and checks that it reproduces the percentage at the
    precision it was printed with; a percentage no whole count can give is
    an error (a typo, or the wrong denominator).

    Parameters
    ----------
    percent : float, str or sequence of them
        Reported percentage(s), in [0, 100]. Give text as printed (``"53.3"``,
        ``"53.30"``, ``"50%"``) to let the number of decimals be read from it;
        numbers are checked at ``decimals`` (default 1) decimals, or more if
        the number has more.
    n : array_like
        Denominator(s): whole numbers >= 1.
    decimals : int, optional
        Number of decimals the percentages were printed with. Overrides the
        defaults above (but never hides decimals a value actually shows).

    Returns
    -------
    CountFromPercent
        ``count``, ``percent``, ``n``, ``reproduced_percent``, ``exact``,
        ``derivation`` and ``decimals``; scalars for scalar input, arrays (and
        tuples of strings) otherwise.

    Raises
    ------
    MetaAnalysisError
        If no whole count reproduces a percentage (the message shows the two
        nearest candidates), a percentage is outside [0, 100] or not a
        number, or ``n`` is not a whole number >= 1.

    Notes
    -----
    With :math:`p` the reported percentage printed with :math:`d` decimals,
    the counts consistent with it are

    .. math::

        K = \left\{k \in \{0, \dots, n\} :
            \left|\frac{100k}{n} - p\right| \le \tfrac12 10^{-d}\right\},

    (the closed interval accepts both round-half-up and round-half-even
    reporting). The count returned is :math:`\lfloor pn/100 + 1/2\rfloor`
    (round half up, not Python's banker's rounding), which is the element of
    :math:`K` nearest to :math:`pn/100` whenever :math:`K` is not empty.
    ``exact`` is False when :math:`|K| > 1`. All arithmetic is exact
    (rational), so 53.3% is not confused with 53.29999....

    References
    ----------
    .. [1] Higgins JPT, Li T, Deeks JJ (editors). Chapter 6, section 6.4
       (dichotomous outcome data need counts of events and participants).
       In: Cochrane Handbook for Systematic Reviews of Interventions,
       version 6.4, 2023.
    .. [2] Brown NJL, Heathers JAJ. The GRIM test: a simple technique detects
       numerous anomalies in the reporting of results in psychology. Soc
       Psychol Personal Sci 2017;8(4):363-369 (the consistency check).

    Examples
    --------
    53.3% of 30 patients is 16 patients (16/30 = 53.33%):

    >>> r = counts_from_percent("53.3", 30)
    >>> r.count, r.exact
    (16, True)
    >>> r.derivation
    '53.3% × 30 = 15.99 → 16 (16/30 = 53.33%)'

    A percentage that no count of 30 can give is refused:

    >>> try:
    ...     counts_from_percent("53.5", 30)
    ... except MetaAnalysisError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    percent[0] = 53.5% of n[0] = 30 cannot be reproduced by any whole count:
    16/30 = 53.33% and 17/30 = 56.67% (reported to 1 decimal); check the
    percentage, its denominator and its rounding
    """
    scalar = isinstance(percent, (str, int, float, np.integer, np.floating))
    if scalar:
        values: list[object] = [percent]
    elif isinstance(percent, Sequence) or hasattr(percent, "__array__"):
        values = list(np.asarray(percent, dtype=object).ravel())
    else:
        raise MetaAnalysisError(
            f"percent could not be read (got {type(percent).__name__}); give a number, "
            "a string such as '53.3', or a sequence of them"
        )
    if decimals is not None and (
        isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)) or decimals < 0
    ):
        raise MetaAnalysisError(
            f"decimals={decimals!r} is not allowed; give a whole number >= 0 or None"
        )
    scalar = scalar and np.ndim(n) == 0
    n_arr = as_1d(n, "n")
    if len(values) == 1 and n_arr.shape[0] > 1:
        values = values * n_arr.shape[0]
    elif np.ndim(n) == 0:
        n_arr = np.full(len(values), n_arr[0])
    if n_arr.shape[0] != len(values):
        raise MetaAnalysisError(
            f"n has {n_arr.shape[0]} values but percent has {len(values)}: "
            "every argument needs one value per row"
        )
    if np.isnan(n_arr).any():
        i = int(np.flatnonzero(np.isnan(n_arr))[0])
        raise MetaAnalysisError(f"n[{i}] is missing (NaN); the denominator is required")
    _check_whole_n(n_arr)

    counts, pcts, reproduced, exacts, derivs, digits_out = [], [], [], [], [], []
    for i, (value, n_f) in enumerate(zip(values, n_arr, strict=True)):
        p, digits, text = _parse_percent(value, i, decimals)
        n_i = int(n_f)
        half = Fraction(1, 2 * 10**digits)
        target = p * n_i / 100
        lo_k = max(0, math.ceil((p - half) * n_i / 100))
        hi_k = min(n_i, math.floor((p + half) * n_i / 100))
        n_candidates = hi_k - lo_k + 1
        pct_digits = digits + 1
        if n_candidates < 1:
            below = max(0, min(n_i, math.floor(target)))
            above = min(n_i, below + 1)
            near = " and ".join(
                f"{c}/{n_i} = {_plain(Fraction(100 * c, n_i), pct_digits)}%"
                for c in sorted({below, above})
            )
            unit = "decimal" if digits == 1 else "decimals"
            raise MetaAnalysisError(
                f"percent[{i}] = {text}% of n[{i}] = {n_i} cannot be reproduced by any whole "
                f"count: {near} (reported to {digits} {unit}); check the percentage, its "
                "denominator and its rounding"
            )
        # round half up; it always lies in [lo_k, hi_k] when that is not empty (see Notes)
        count = min(max(math.floor(target + Fraction(1, 2)), lo_k), hi_k)
        rep = Fraction(100 * count, n_i)
        deriv = (
            f"{text}% × {n_i} = {_plain(target, 4)} → {count} "
            f"({count}/{n_i} = {_plain(rep, pct_digits)}%)"
        )
        if 1 < n_candidates <= 5:
            others = ", ".join(str(c) for c in range(lo_k, hi_k + 1) if c != count)
            deriv += f"; not unique: {others} also give {text}%"
        elif n_candidates > 5:
            deriv += f"; not unique: every count from {lo_k} to {hi_k} gives {text}%"
        counts.append(count)
        pcts.append(float(p))
        reproduced.append(float(rep))
        exacts.append(n_candidates == 1)
        derivs.append(deriv)
        digits_out.append(digits)

    if scalar:
        return CountFromPercent(
            count=counts[0],
            percent=pcts[0],
            n=int(n_arr[0]),
            reproduced_percent=reproduced[0],
            exact=exacts[0],
            derivation=derivs[0],
            decimals=digits_out[0],
        )
    return CountFromPercent(
        count=np.asarray(counts, dtype=np.int64),
        percent=np.asarray(pcts, dtype=np.float64),
        n=n_arr.astype(np.int64),
        reproduced_percent=np.asarray(reproduced, dtype=np.float64),
        exact=np.asarray(exacts, dtype=np.bool_),
        derivation=tuple(derivs),
        decimals=np.asarray(digits_out, dtype=np.int64),
    )
