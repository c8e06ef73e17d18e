"""The ``msc-meta`` command.

``msc-meta report`` runs the pre-specified MSC-RA analyses and writes figures,
tables and a self-contained ``report.html`` into an output folder (``results``
by default), printing one line per analysis as it goes and, last, where the
report is. ``msc-meta pool FILE.csv`` pools a CSV of effect sizes (columns
``effect`` and ``variance`` or ``se``, optional ``study``) and prints the
summary. ``msc-meta demo`` runs the BCG vaccine example. Bad input ends with
exit status 2 and a one-line message on standard error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="msc-meta", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"msc-meta {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    pool = sub.add_parser("pool", help="pool a CSV of effect sizes and print the summary")
    pool.add_argument("csv", help="CSV with columns effect and variance (or se), optional study")
    _model_options(pool)

    demo = sub.add_parser("demo", help="pool the bundled BCG vaccine trials (log risk ratios)")
    _model_options(demo)

    report = sub.add_parser(
        "report",
        help="run the pre-specified MSC-RA analyses; write figures, tables and report.html",
        description="Run the pre-specified MSC-RA analyses and write figures/, tables/ and a "
        "self-contained report.html into the output folder (only there).",
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
    return p


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="REML", help="tau^2 estimator (default REML)")
    p.add_argument("--test", default="z", help="z, t, knha or adhoc (default z)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    from ._errors import MetaAnalysisError

    if args.command == "report":
        return _report(args)
    try:
        from .pooling import meta_analysis

        if args.command == "demo":
            from .datasets import load_bcg
            from .effects import effect_sizes

            bcg = load_bcg()
            es = effect_sizes(
                "RR",
                data=bcg,
                events_t="tpos",
                n_t="n_t",
                events_c="cpos",
                n_c="n_c",
                labels="study",
            )
            res = meta_analysis(es, method=args.method, test=args.test, level=args.level)
        else:
            import pandas as pd

            try:
                frame = pd.read_csv(args.csv)
            except (OSError, pd.errors.ParserError) as exc:
                print(f"msc-meta pool: cannot read {args.csv!r}: {exc}", file=sys.stderr)
                return 2
            res = meta_analysis(frame, method=args.method, test=args.test, level=args.level)
        print(res.summary())
        return 0
    except MetaAnalysisError as exc:
        print(f"msc-meta {args.command}: {exc}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace) -> int:
    """``msc-meta report``: build the report, one progress line per analysis."""
    import time

    from ._errors import MetaAnalysisError
    from .report import build_report

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
            analyses=names,
            method=args.method,
            test=args.test,
            level=args.level,
            formats=args.formats,
            progress=progress,
        )
    except MetaAnalysisError as exc:
        print(f"msc-meta report: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"msc-meta report: cannot write the report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {page} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
