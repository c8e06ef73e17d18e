"""The ``msc-meta`` command.

``msc-meta pool FILE.csv`` pools a CSV of effect sizes (columns ``effect`` and
``variance`` or ``se``, optional ``study``) and prints the summary.
``msc-meta demo`` runs the BCG vaccine example. ``msc-meta report`` (the full
MSC-RA report) is not built yet and says so.
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

    report = sub.add_parser("report", help="the MSC-RA report (not built yet)")
    report.add_argument("--out", default="results", help="output folder")
    return p


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="REML", help="tau^2 estimator (default REML)")
    p.add_argument("--test", default="z", help="z, t, knha or adhoc (default z)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    from ._errors import MetaAnalysisError

    try:
        if args.command == "report":
            print(
                "msc-meta report: the MSC-RA report is not built yet (it comes with the curated "
                "records and the plotting issue); try `msc-meta demo`.",
                file=sys.stderr,
            )
            return 2
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
