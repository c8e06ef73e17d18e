"""Numbers, intervals and p-values as text: the one place the library formats them.

Text summaries (``summary()``), the HTML report and the figures all format
through these functions, so that a number reads the same everywhere. Two
styles: ``"text"`` (ASCII hyphen-minus, for consoles and CSV) and
``"typeset"`` (the typographic minus U+2212 and ``∞``, for figures and HTML).
Full precision is kept inside the library; rounding happens only here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

MINUS = "\u2212"

Style = Literal["text", "typeset"]

_NA = "NA"


def minus(text: str) -> str:
    """Replace hyphen-minus signs before digits by the typographic minus (U+2212).

    Parameters
    ----------
    text : str
        Any text; hyphens inside words ("Hartung-Knapp") are kept.

    Returns
    -------
    str
        The text with typographic minus signs.

    Examples
    --------
    >>> minus("-0.5 to 1.2; Hartung-Knapp") == "\\u22120.5 to 1.2; Hartung-Knapp"
    True
    """
    return re.sub(r"(?<![\w.])-(?=[\d.])", MINUS, text)


def _float(x: Any) -> float:
    """``x`` as a float, NaN when it is None or not a number."""
    if x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def number(x: Any, digits: int, *, style: Style = "text") -> str:
    """``x`` rounded to ``digits`` decimals.

    Parameters
    ----------
    x : float or None
        The number; None and NaN give ``"NA"``.
    digits : int
        Decimals shown.
    style : {"text", "typeset"}, default "text"
        ``"typeset"`` uses the typographic minus and ``∞``; ``"text"`` uses ``-`` and
        ``inf``.

    Returns
    -------
    str
        The formatted number. A value that rounds to zero is shown without a sign.

    Examples
    --------
    >>> number(-0.00004, 4)
    '0.0000'
    >>> number(float("-inf"), 2)
    '-inf'
    >>> number(float("nan"), 2)
    'NA'
    """
    v = _float(x)
    if math.isnan(v):
        return _NA
    if math.isinf(v):
        if style == "typeset":
            return "∞" if v > 0 else MINUS + "∞"
        return "inf" if v > 0 else "-inf"
    text = f"{v:.{digits}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")
    return minus(text) if style == "typeset" else text


def interval(lo: Any, hi: Any, digits: int, *, style: Style = "text") -> str:
    """``[lo, hi]`` with both bounds formatted by :func:`number`.

    Parameters
    ----------
    lo, hi : float or None
        The bounds.
    digits : int
        Decimals shown.
    style : {"text", "typeset"}, default "text"
        As in :func:`number`.

    Returns
    -------
    str
        ``"[lo, hi]"``.

    Examples
    --------
    >>> interval(0.1234, 2.5, 2)
    '[0.12, 2.50]'
    """
    return f"[{number(lo, digits, style=style)}, {number(hi, digits, style=style)}]"


def pvalue(p: Any, digits: int = 3) -> str:
    """A p-value with ``digits`` decimals, or ``"< 0.001"`` below the smallest shown.

    Parameters
    ----------
    p : float or None
        The p-value; None and NaN give ``"NA"``.
    digits : int, default 3
        Decimals shown; values below ``10**-digits`` are shown as ``"< 10**-digits"``.

    Returns
    -------
    str
        ``"0.012"``, ``"< 0.001"`` or ``"NA"``.

    Examples
    --------
    >>> pvalue(0.01234), pvalue(0.00001), pvalue(0.00001, 4)
    ('0.012', '< 0.001', '< 0.0001')
    """
    v = _float(p)
    if not math.isfinite(v):
        return _NA
    floor = 10.0 ** (-digits)
    return f"< {floor:.{digits}f}" if v < floor else f"{v:.{digits}f}"


def p_equals(p: Any, digits: int = 3) -> str:
    """``"p = 0.012"``, ``"p < 0.001"`` or ``"p = NA"``.

    Parameters
    ----------
    p : float or None
        The p-value.
    digits : int, default 3
        Decimals shown, as in :func:`pvalue`.

    Returns
    -------
    str
        The p-value with its ``p =`` or ``p <`` prefix.

    Examples
    --------
    >>> p_equals(0.04567), p_equals(1e-9)
    ('p = 0.046', 'p < 0.001')
    """
    text = pvalue(p, digits)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def alpha(x: float) -> str:
    """A significance level such as ``1 - level``: two decimals when exact, else 3 significant digits.

    Parameters
    ----------
    x : float
        The significance level, for example 0.05.

    Returns
    -------
    str
        ``"0.05"``, ``"0.10"``; ``"0.001"`` or ``"0.025"`` where two decimals would round.

    Examples
    --------
    >>> alpha(1 - 0.90), alpha(0.05), alpha(1 - 0.999), alpha(0.025)
    ('0.10', '0.05', '0.001', '0.025')
    """
    return f"{x:.2f}" if abs(round(x, 2) - x) < 1e-12 else f"{x:.3g}"


def percent(x: Any, digits: int = 0) -> str:
    """A percentage such as I²: ``"35%"``; ``"NA"`` when not finite.

    Parameters
    ----------
    x : float or None
        The value, already in percent.
    digits : int, default 0
        Decimals shown.

    Returns
    -------
    str
        The value with a percent sign.

    Examples
    --------
    >>> percent(34.6), percent(float("nan"))
    ('35%', 'NA')
    """
    v = _float(x)
    return f"{v:.{digits}f}%" if math.isfinite(v) else _NA


def small(x: Any, digits: int = 2, *, style: Style = "typeset") -> str:
    """A non-negative quantity such as τ²: ``digits`` decimals, or 2 significant digits below.

    Parameters
    ----------
    x : float or None
        The value.
    digits : int, default 2
        Decimals shown for values of at least ``10**-digits``.
    style : {"text", "typeset"}, default "typeset"
        As in :func:`number`.

    Returns
    -------
    str
        ``"0"`` for zero, ``"0.0012"``-style 2 significant digits for tiny values.

    Examples
    --------
    >>> small(0.000123), small(0.5), small(0.0)
    ('0.00012', '0.50', '0')
    """
    v = _float(x)
    if not math.isfinite(v):
        return _NA
    if v == 0:
        return "0"
    if abs(v) < 10.0 ** (-digits):
        text = f"{v:.2g}"
        return minus(text) if style == "typeset" else text
    return number(v, digits, style=style)


def count(x: Any) -> str:
    """A count: an integer when it is one, else up to 4 significant digits; ``""`` if missing.

    Parameters
    ----------
    x : float or None
        The count (a corrected count may be fractional).

    Returns
    -------
    str
        The formatted count.

    Examples
    --------
    >>> count(12.0), count(12.5), count(None)
    ('12', '12.5', '')
    """
    v = _float(x)
    if not math.isfinite(v):
        return ""
    return str(round(v)) if v.is_integer() else f"{v:.4g}"


def listing(texts: Sequence[str], limit: int = 10, sep: str = ", ") -> str:
    """The first ``limit`` of ``texts`` joined by ``sep``, and how many more there are.

    Parameters
    ----------
    texts : sequence of str
        Already formatted items (for example ``repr`` of study labels).
    limit : int, default 10
        Most items shown.
    sep : str, default ", "
        Separator between items.

    Returns
    -------
    str
        ``"'a', 'b' and 3 more"``.

    Examples
    --------
    >>> listing(["'a'", "'b'", "'c'"], limit=2)
    "'a', 'b' and 1 more"
    """
    more = f" and {len(texts) - limit} more" if len(texts) > limit else ""
    return sep.join(texts[:limit]) + more


def tick(v: float) -> str:
    """An axis tick label: ``0.1``, ``2``, ``−0.5`` (never scientific notation).

    Parameters
    ----------
    v : float
        The tick value.

    Returns
    -------
    str
        The label, with the typographic minus.

    Examples
    --------
    >>> tick(0.1), tick(2.0), tick(1e-7)
    ('0.1', '2', '0.0000001')
    """
    if v == 0:
        return "0"
    text = f"{v:.6g}"
    if "e" in text:
        text = f"{v:.10f}".rstrip("0").rstrip(".")
    return minus(text)
