"""The ``msc-meta`` command (also ``python -m msc_meta``).

``msc-meta report`` runs the pre-specified MSC-RA analyses and writes figures,
tables and a self-contained ``report.html`` into an output folder (``results``
by default), printing one line per analysis as it goes and, last, where the
report is; a rerun removes the files of an earlier run that it does not write
again (listed in ``msc-meta-manifest.json``), never any other file.
``msc-meta pool FILE.csv`` pools a CSV of effect sizes (columns ``effect`` and
``variance`` or ``se``, optional ``study``, in any case; separated by commas,
semicolons or tabs; UTF-8) and prints the summary. ``msc-meta demo`` runs the
BCG vaccine example.

A mistake in the command or its input ends with exit status 2 and one line
``msc-meta <command>: <message>`` on standard error, never a traceback; an
internal error ends with exit status 1 and one line asking for a bug report
(the traceback too when the environment variable ``MSC_META_DEBUG`` is ``1``).
Warnings are printed as ``warning: <message>`` lines on standard error. When
the reader of standard output goes away (``msc-meta pool big.csv | head``) the
command stops quietly with exit status 1, as the Python documentation's note
on SIGPIPE advises.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import io
import math
import os
import re
import sys
import textwrap
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

import pandas as pd

from . import __version__
from ._errors import MetaAnalysisError
from .datasets import load_bcg
from .effects import effect_sizes
from .pooling import SE_VARIANCE_RTOL, meta_analysis  # one tolerance for the CLI and the API
from .report import JUDGEMENTS_FILE, build_report

#: Exit statuses.
OK, INTERNAL_ERROR, MISTAKE, INTERRUPTED = 0, 1, 2, 130

#: Environment variable that, set to anything but empty or ``0``, shows internal tracebacks.
DEBUG_ENV = "MSC_META_DEBUG"


_DESCRIPTION = (
    "Meta-analysis from the command line. 'msc-meta pool FILE.csv' pools a CSV of effect "
    "sizes and prints the summary; 'msc-meta demo' pools the BCG vaccine trials; "
    "'msc-meta report' runs the pre-specified MSC-RA analyses and writes figures, tables and "
    "report.html into a folder."
)

_EPILOG = f"""\
exit status:
  0    success
  1    an internal error: a bug in msc-meta (please report it with the command you ran)
  2    a mistake in the command or its input, explained in one line on standard error

Warnings are printed as 'warning: <message>' lines on standard error.

environment:
  {DEBUG_ENV}=1  also print the Python traceback of an internal error
"""

_POOL_DESCRIPTION = (
    "Pool a CSV of effect sizes and print the summary. The file needs a column 'effect' and "
    "a column 'variance' or 'se' (standard error), and may have a column 'study' (labels); "
    "names match in any case and other columns are ignored. Columns may be separated by "
    "commas, semicolons or tabs, with a point as the decimal mark; the file must be UTF-8 "
    "(with or without a byte-order mark). With both 'variance' and 'se' they must agree "
    "(se = square root of variance); a row with only one of them uses that one. An empty cell "
    "or NA is a missing value: that study is left out, with a warning."
)

_REPORT_DESCRIPTION = (
    "Run the pre-specified MSC-RA analyses and write figures/, tables/ and a self-contained "
    "report.html into the output folder (only there), with msc-meta-manifest.json listing "
    "the files written. A rerun into the same folder removes the files listed by the earlier "
    "run that it does not write again, if unchanged since; it never touches any other file."
)

#: Cells read as a missing value (compared in lower case, after stripping spaces).
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "#n/a"})

#: Column separators tried, in order of preference, with their names for messages.
_SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs"}

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf(?:inity)?", re.I)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+")


class _Mistake(Exception):
    """A mistake in the command's input, told to the user in one line."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: ``msc-meta pool: <message>``."""

    def error(self, message: str) -> NoReturn:
        self.exit(MISTAKE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="msc-meta",
        description=textwrap.fill(_DESCRIPTION, width=79),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"msc-meta {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    pool = sub.add_parser(
        "pool",
        help="pool a CSV of effect sizes and print the summary",
        description=_POOL_DESCRIPTION,
    )
    pool.add_argument("csv", help="CSV with columns effect and variance (or se), optional study")
    _model_options(pool)

    demo = sub.add_parser(
        "demo",
        help="pool the bundled BCG vaccine trials (log risk ratios)",
        description="Pool the BCG vaccine trials of Colditz et al. (1994), 13 trials, as log "
        "risk ratios, and print the summary.",
    )
    _model_options(demo)

    report = sub.add_parser(
        "report",
        help="run the pre-specified MSC-RA analyses; write figures, tables and report.html",
        description=_REPORT_DESCRIPTION,
    )
    report.add_argument("--out", default="results", help="output folder (default: results)")
    report.add_argument(
        "--analyses",
        nargs="+",
        metavar="NAME",
        default=None,
        help="run only these analyses (default: all pre-specified ones)",
    )
    report.add_argument(
        "--method", default=None, help="tau^2 estimator for every analysis (default: each own)"
    )
    report.add_argument(
        "--test", default=None, help="z, t, knha or adhoc for every analysis (default: each own)"
    )
    report.add_argument("--level", type=float, default=0.95, help="confidence level (0.95)")
    report.add_argument(
        "--formats",
        default="png,pdf,svg",
        help="figure files to write, comma-separated from png, pdf, svg (default: all)",
    )
    report.add_argument(
        "--records",
        default=None,
        metavar="PATH",
        help="folder of trial-record files (default: the bundled MSC-RA records)",
    )
    report.add_argument(
        "--judgements",
        default=None,
        metavar="CSV",
        help="a curator's GRADE judgements (overrides) for the summary of findings "
        f"(default: {JUDGEMENTS_FILE} beside the records, if there is one)",
    )
    return p


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="REML", help="tau^2 estimator (default REML)")
    p.add_argument("--test", default="z", help="z, t, knha or adhoc (default z)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``msc-meta`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 after a mistake in the command or its
        input, 1 after an internal error or when standard output was closed
        early, 130 when interrupted. Usage errors and ``--help`` exit through
        :class:`SystemExit` (status 2 and 0).

    Notes
    -----
    Warnings raised while the command runs are printed as ``warning: <message>``
    lines on standard error; Python's warning filters still decide which are
    shown (a warning made an error with ``-W error`` ends the command as a
    mistake). The warning machinery is restored on return.
    """
    command = ""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args = _parser().parse_args(argv)
            command = str(args.command)
            status = _COMMANDS[command](args)
            sys.stdout.flush()
            return status
    except BrokenPipeError:
        _silence_stdout()
        return INTERNAL_ERROR
    except KeyboardInterrupt:
        _tell(command, "interrupted")
        return INTERRUPTED
    except Warning as exc:
        _tell(
            command,
            f"{exc} (a {type(exc).__name__}, made an error by -W error or PYTHONWARNINGS)",
        )
        return MISTAKE
    except _Mistake as exc:
        _tell(command, str(exc))
        return MISTAKE
    except Exception as exc:
        if isinstance(exc, MetaAnalysisError):
            _tell(command, str(exc))
            return MISTAKE
        debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
        if debug:
            traceback.print_exc()
        _tell(
            command,
            f"internal error: {type(exc).__name__}: {exc}; this is a bug in msc-meta; please "
            "report it with the command you ran"
            + ("" if debug else f" ({DEBUG_ENV}=1 shows the traceback)"),
        )
        return INTERNAL_ERROR


def _tell(command: str, message: str) -> None:
    """Print ``msc-meta <command>: <message>`` as one line on standard error."""
    prog = f"msc-meta {command}" if command else "msc-meta"
    with contextlib.suppress(OSError):
        print(f"{prog}: {_one_line(message)}", file=sys.stderr, flush=True)


def _one_line(text: str) -> str:
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Show a warning as ``warning: <message>``, without Python's file, line and category."""
    with contextlib.suppress(OSError):
        print(f"warning: {_one_line(str(message))}", file=file or sys.stderr, flush=True)


def _silence_stdout() -> None:
    """After a broken pipe, point standard output at the null device, so exit stays quiet.

    Python flushes standard output once more when it exits; with the reader gone that
    would fail again and print an error. See "Note on SIGPIPE" in the documentation of
    the :mod:`signal` module.
    """
    out = sys.__stdout__
    if out is None or sys.stdout is not out:
        return  # captured (tests, notebooks): nothing is flushed to the closed pipe at exit
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())


# --------------------------------------------------------------------------- commands


def _demo(args: argparse.Namespace) -> int:
    bcg = load_bcg()
    es = effect_sizes(
        "RR", data=bcg, events_t="tpos", n_t="n_t", events_c="cpos", n_c="n_c", labels="study"
    )
    res = meta_analysis(es, method=args.method, test=args.test, level=args.level)
    print(res.summary())
    return OK


def _pool(args: argparse.Namespace) -> int:
    frame = _read_effects_csv(args.csv)
    res = meta_analysis(frame, method=args.method, test=args.test, level=args.level)
    print(res.summary())
    return OK


def _report(args: argparse.Namespace) -> int:
    """``msc-meta report``: build the report, one progress line per analysis."""
    names = None
    if args.analyses is not None:
        names = [n.strip() for part in args.analyses for n in part.split(",") if n.strip()]
    t0 = time.perf_counter()

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        page = build_report(
            args.out,
            records=args.records,
            judgements=args.judgements,
            analyses=names,
            method=args.method,
            test=args.test,
            level=args.level,
            formats=args.formats,
            progress=progress,
        )
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _Mistake(f"cannot write the report: {exc}") from exc
    print(f"report: {page} ({time.perf_counter() - t0:.1f} s)")
    return OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": _demo,
    "pool": _pool,
    "report": _report,
}


# --------------------------------------------------------------------------- pool's CSV


def _read_effects_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the CSV that ``msc-meta pool`` pools, refusing what it cannot read faithfully.

    Parameters
    ----------
    path : str or path
        A UTF-8 file (a byte-order mark is allowed) whose first non-blank line
        names the columns: ``effect`` and ``variance`` or ``se``, optionally
        ``study``, in any case and with any surrounding spaces; other columns
        are ignored. Columns are separated by commas, semicolons or tabs (the
        separator that makes the header name the needed columns).

    Returns
    -------
    pandas.DataFrame
        Columns ``effect`` and ``variance`` (or ``se`` when the file has only
        that), and ``study`` when the file has it, one row per study; missing
        cells (empty, ``NA``, ``NaN``, ``null``, ``#N/A``) are NaN. With both
        ``variance`` and ``se`` the frame has ``variance``: the file's, or
        ``se`` squared where the variance is missing.

    Raises
    ------
    _Mistake
        The file cannot be read (missing, a folder, not permitted), is not
        UTF-8, is empty or has no data rows; its header lacks a needed column
        or names one twice; a row has too many or too few fields or a cell that
        is not a number; or ``variance`` and ``se`` disagree (beyond
        :data:`msc_meta.pooling.SE_VARIANCE_RTOL`, as in ``meta_analysis``) or
        ``se`` is not positive. Each message names the file and the line
        (1-based, the header being line 1 of a file without blank lines) and
        the study label where there is one.

    Notes
    -----
    Blank lines, and rows whose cells are all empty (as spreadsheets export
    them), are skipped. Decimal commas are refused, not guessed.
    """
    name = str(path)
    text = _read_utf8(name)
    lines = text.splitlines()
    header_no = next((i for i, line in enumerate(lines, start=1) if line.strip()), None)
    if header_no is None:
        raise _Mistake(
            f"{name!r} is empty; expected a header line naming the columns (effect and "
            "variance or se, optionally study) and one row per study"
        )
    sep, header = _separator(name, lines[header_no - 1])
    folded = [h.strip().casefold() for h in header]
    col: dict[str, int] = {}
    for i, key in enumerate(folded):
        if key in ("effect", "variance", "se", "study"):
            if key in col:
                first = header[col[key]].strip()
                raise _Mistake(
                    f"{name!r}, line {header_no}: columns {first!r} and {header[i].strip()!r} "
                    f"both name {key!r}; keep one"
                )
            col[key] = i

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    rows: list[tuple[int, list[str]]] = []
    end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if start <= header_no or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise _Mistake(_ragged(name, start, lines, row, sep, len(header)))
            rows.append((start, row))
    except csv.Error as exc:
        raise _Mistake(f"{name!r}, line {reader.line_num}: {exc}") from None
    if not rows:
        raise _Mistake(f"{name!r} has a header line but no data rows; add one row per study")

    def where(line_no: int, row: list[str]) -> str:
        label = row[col["study"]].strip() if "study" in col else ""
        return f"line {line_no}" + (f" ({label})" if label else "")

    def number(key: str, line_no: int, row: list[str]) -> float:
        cell = row[col[key]].strip()
        if cell.casefold() in _MISSING:
            return math.nan
        if _NUMBER.fullmatch(cell):
            return float(cell)
        hint = (
            "; write decimals with a point (0.5, not 0,5)"
            if _DECIMAL_COMMA.fullmatch(cell)
            else ""
        )
        raise _Mistake(
            f"{name!r}, {where(line_no, row)}, column {header[col[key]].strip()!r}: "
            f"{cell!r} is not a number{hint}"
        )

    data: dict[str, list[object]] = {}
    if "study" in col:
        data["study"] = [row[col["study"]].strip() or f"line {n}" for n, row in rows]
    data["effect"] = [number("effect", n, row) for n, row in rows]
    if "variance" in col and "se" in col:
        data["variance"] = _variance_from_both(
            name,
            [where(n, row) for n, row in rows],
            [number("variance", n, row) for n, row in rows],
            [number("se", n, row) for n, row in rows],
        )
    else:
        key = "variance" if "variance" in col else "se"
        data[key] = [number(key, n, row) for n, row in rows]
    return pd.DataFrame(data)


def _read_utf8(name: str) -> str:
    path = Path(name)
    if path.is_dir():
        raise _Mistake(f"{name!r} is a folder, not a CSV file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _Mistake(f"cannot read {name!r}: no such file") from None
    except PermissionError:
        raise _Mistake(f"cannot read {name!r}: permission denied") from None
    except OSError as exc:
        raise _Mistake(f"cannot read {name!r}: {exc.strerror or exc}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _Mistake(f"{name!r} is UTF-16 text; save it as UTF-8 (in Excel: CSV UTF-8)")
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _Mistake(
            f"{name!r} is not UTF-8 text: byte 0x{body[exc.start]:02x} at line {line}, "
            f"column {column} cannot be decoded; save it as UTF-8 (in Excel: CSV UTF-8)"
        ) from None


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep), [])


def _separator(name: str, header_line: str) -> tuple[str, list[str]]:
    """The separator that makes the header name the needed columns, and the header."""
    found: list[tuple[str, list[str]]] = []
    for sep in _SEPARATORS:
        fields = _split(header_line, sep)
        keys = {f.strip().casefold() for f in fields}
        if "effect" in keys and keys & {"variance", "se"}:
            found.append((sep, fields))
    if found:
        return max(found, key=lambda f: len(f[1]))
    sep, fields = max(((s, _split(header_line, s)) for s in _SEPARATORS), key=lambda f: len(f[1]))
    needed = "'effect' and 'variance' or 'se' (and optionally 'study')"
    if len(fields) <= 1:
        raise _Mistake(
            f"{name!r}: found one column {header_line.strip()!r}; needed columns {needed}, "
            "separated by commas, semicolons or tabs"
        )
    shown = ", ".join(repr(f.strip()) for f in fields)
    raise _Mistake(f"{name!r}: found columns {shown}; needed {needed}")


def _ragged(name: str, line_no: int, lines: list[str], row: list[str], sep: str, n: int) -> str:
    raw = lines[line_no - 1] if line_no <= len(lines) else sep.join(row)
    text = (
        f"{name!r}, line {line_no} has {len(row)} field{'s' if len(row) != 1 else ''} "
        f"({raw.strip()!r}) but the header has {n} columns"
    )
    for other, what in _SEPARATORS.items():
        if other != sep and len(_split(raw, other)) == n:
            return f"{text}; is the file separated by {what}?"
    return text


def _variance_from_both(
    name: str, where: list[str], variance: list[float], se: list[float]
) -> list[object]:
    """Variances from a file with both columns: they must agree where both are given."""
    out: list[object] = []
    bad: list[str] = []
    for w, v, s in zip(where, variance, se, strict=True):
        if not math.isnan(s) and not s > 0:
            raise _Mistake(f"{name!r}, {w}: se = {s:g} must be > 0")
        if math.isnan(v) or math.isnan(s):
            out.append(s * s if math.isnan(v) else v)
            continue
        if not (v >= 0 and math.isclose(math.sqrt(v), s, rel_tol=SE_VARIANCE_RTOL)):
            bad.append(f"{w}: variance {v:.6g}, se {s:.6g} (se^2 {s * s:.6g})")
        out.append(v)
    if bad:
        raise _Mistake(
            f"{name!r}: columns 'variance' and 'se' disagree (se must be the square root of "
            f"variance) on {'; '.join(bad)}; keep one of the columns or correct these rows"
        )
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
