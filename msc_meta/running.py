"""Running the pre-specified MSC-RA analyses, keeping each one's warnings or error.

:func:`run_all` runs the analyses of :data:`msc_meta.analyses.ANALYSES` (or a
selection) on the bundled records or a records folder and returns one
:class:`ReportEntry` per analysis: the result, the warnings it raised and,
when it could not run, the error. The report (:mod:`msc_meta.report`) and the
notebooks call it, so both show the same numbers.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import MetaAnalysisError
from ._validation import check_level
from .analyses import ANALYSES, AnalysisResult, AnalysisSpec, run_analysis
from .bias import MIN_STUDIES
from .datasets import load_msc_ra
from .pooling import canonical_test
from .records import TrialRecords, load_records
from .results import MetaAnalysisResult
from .sensitivity import LOO_MIN_K
from .tau2 import canonical_method

#: Fewest studies for which a funnel plot is drawn, the threshold of the tests for
#: small-study effects (:data:`msc_meta.bias.MIN_STUDIES`). With fewer, tests for funnel-plot
#: asymmetry have too little power to tell chance from real asymmetry, and the plot cannot
#: be read (Sterne et al. 2011, BMJ 343:d4002, recommendation 1; Cochrane Handbook 13.3.5.4).
MIN_K_FUNNEL = MIN_STUDIES

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class RecordedWarning:
    """A warning raised while running or drawing one analysis.

    Attributes
    ----------
    category : str
        Class name of the warning (e.g. ``"FewStudiesWarning"``).
    message : str
        Its message.
    """

    category: str
    message: str

    def __str__(self) -> str:
        return f"{self.category}: {self.message}"


@dataclass(frozen=True, eq=False)
class FurtherAnalysis:
    """One sensitivity, small-study or moderator analysis of a pre-specified analysis.

    Attributes
    ----------
    key : str
        Its code: one of :data:`FURTHER_ANALYSES`.
    label : str
        Its name in words (e.g. ``"Leave-one-out"``).
    ran : bool
        Whether it ran.
    result : Any
        What it gave when it ran: the leave-one-out ``DataFrame``, an
        :class:`~msc_meta.sensitivity.InfluenceResult`, a
        :class:`~msc_meta.bias.RegressionTest`, :class:`~msc_meta.bias.RankTest`
        or :class:`~msc_meta.bias.TrimAndFill`; ``None`` otherwise.
    reason : str
        Why it did not run, in plain words (empty when it ran).
    """

    key: str
    label: str
    ran: bool
    result: Any = None
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.label}: run" if self.ran else f"{self.label}: not run; {self.reason}"


#: The further analyses of each pre-specified analysis, in the report's order: code, name
#: and the fewest studies it needs (``None``: it needs pre-specified moderators instead).
#: Leave-one-out and influence need :data:`msc_meta.sensitivity.LOO_MIN_K` studies, the
#: small-study tests :data:`msc_meta.bias.MIN_STUDIES` (Sterne et al. 2011).
FURTHER_ANALYSES: tuple[tuple[str, str, int | None], ...] = (
    ("leave_one_out", "Leave-one-out", LOO_MIN_K),
    ("influence", "Influence diagnostics", LOO_MIN_K),
    ("egger", "Egger's regression test", MIN_STUDIES),
    ("begg", "Begg's rank correlation test", MIN_STUDIES),
    ("trim_and_fill", "Trim-and-fill", MIN_STUDIES),
    ("meta_regression", "Meta-regression", None),
)

#: Why no meta-regression runs: no pre-specified analysis names moderators.
NO_MODERATORS = "no moderators are pre-specified for this analysis"


def _run_further(key: str, result: MetaAnalysisResult) -> Any:
    """Run one further analysis on ``result`` with its defaults (as the fit: method, test)."""
    if key == "leave_one_out":
        return result.leave_one_out()
    if key == "influence":
        return result.influence()
    if key == "egger":
        return result.egger_test()
    if key == "begg":
        return result.begg_test()
    return result.trim_and_fill()


def further_analyses(result: MetaAnalysisResult | None) -> tuple[FurtherAnalysis, ...]:
    """Run the further analyses that the number of studies allows; say why the others did not.

    Leave-one-out and influence diagnostics run from
    :data:`~msc_meta.sensitivity.LOO_MIN_K` studies; Egger's and Begg's tests
    and trim-and-fill (L0, side estimated) from :data:`~msc_meta.bias.MIN_STUDIES`;
    a meta-regression only where moderators are pre-specified, which no
    analysis does. An analysis that raises is reported as not run, with the
    error as its reason.

    Parameters
    ----------
    result : MetaAnalysisResult or None
        The pooled result of the analysis; ``None`` (the analysis did not
        run) gives nothing.

    Returns
    -------
    tuple of FurtherAnalysis
        One per entry of :data:`FURTHER_ANALYSES`, in order.

    Examples
    --------
    >>> import msc_meta as mm
    >>> res = mm.meta_analysis([0.1, 0.3], [0.04, 0.09])
    >>> print(further_analyses(res)[0])
    Leave-one-out: not run; k = 2, it needs at least 3 studies
    """
    if result is None:
        return ()
    out: list[FurtherAnalysis] = []
    for key, label, min_k in FURTHER_ANALYSES:
        if min_k is None:
            out.append(FurtherAnalysis(key, label, False, reason=NO_MODERATORS))
        elif result.k < min_k:
            reason = f"k = {result.k}, it needs at least {min_k} studies"
            out.append(FurtherAnalysis(key, label, False, reason=reason))
        else:
            try:
                out.append(FurtherAnalysis(key, label, True, _run_further(key, result)))
            except MetaAnalysisError as exc:
                reason = f"it could not be computed: {exc}"
                out.append(FurtherAnalysis(key, label, False, reason=reason))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class ReportEntry:
    """One pre-specified analysis as the report ran it.

    Attributes
    ----------
    spec : AnalysisSpec
        The analysis.
    analysis : AnalysisResult or None
        The result, or ``None`` when the analysis could not run.
    warnings : tuple of RecordedWarning
        Every warning raised while it ran (e.g. ``FewStudiesWarning`` for
        small k), in order, without repeats.
    error : MetaAnalysisError or None
        Why the analysis could not run (e.g. no study reports the outcome).
    further : tuple of FurtherAnalysis
        The sensitivity, small-study and moderator analyses
        (:func:`further_analyses`): each one's result, or why it did not run.
    """

    spec: AnalysisSpec
    analysis: AnalysisResult | None
    warnings: tuple[RecordedWarning, ...] = ()
    error: MetaAnalysisError | None = None
    further: tuple[FurtherAnalysis, ...] = ()

    @property
    def name(self) -> str:
        """The analysis name (``spec.name``)."""
        return self.spec.name

    @property
    def ok(self) -> bool:
        """True when the analysis ran."""
        return self.analysis is not None

    @property
    def result(self) -> MetaAnalysisResult | None:
        """The meta-analysis result, or ``None``."""
        return None if self.analysis is None else self.analysis.result

    def further_result(self, key: str) -> Any:
        """What the further analysis ``key`` gave, or ``None`` when it did not run.

        Parameters
        ----------
        key : str
            A code of :data:`FURTHER_ANALYSES` (e.g. ``"leave_one_out"``).

        Returns
        -------
        Any
            Its result (see :class:`FurtherAnalysis`), or ``None``.
        """
        return next((f.result for f in self.further if f.key == key and f.ran), None)

    def __repr__(self) -> str:
        state = f"k={self.analysis.k}" if self.analysis is not None else f"error: {self.error}"
        return f"<ReportEntry {self.name}: {state}, {len(self.warnings)} warnings>"


def record_warnings(caught: Iterable[warnings.WarningMessage]) -> tuple[RecordedWarning, ...]:
    """Caught warnings as :class:`RecordedWarning`, in order, without repeats.

    Parameters
    ----------
    caught : iterable of warnings.WarningMessage
        What :func:`warnings.catch_warnings` (``record=True``) collected.

    Returns
    -------
    tuple of RecordedWarning
        One per distinct (category, message), first occurrence first.
    """
    out: list[RecordedWarning] = []
    for w in caught:
        rec = RecordedWarning(w.category.__name__, str(w.message))
        if rec not in out:
            out.append(rec)
    return tuple(out)


def load(records: TrialRecords | str | os.PathLike[str] | None) -> TrialRecords:
    """The records to run on: given, read from a folder, or the bundled MSC-RA records.

    Parameters
    ----------
    records : TrialRecords, str, path or None
        Records, a folder of record files, or ``None`` for the bundled records.

    Returns
    -------
    TrialRecords
        The validated records.

    Raises
    ------
    MetaAnalysisError
        ``records`` is of another type, or (as :class:`~msc_meta.records.RecordError`)
        the folder holds bad records.
    """
    if records is None:
        return load_msc_ra()
    if isinstance(records, TrialRecords):
        return records
    if isinstance(records, (str, os.PathLike)):
        return load_records(Path(records))
    raise MetaAnalysisError(
        f"records is a {type(records).__name__}; expected TrialRecords, a folder path or None"
    )


def select(analyses: Sequence[str | AnalysisSpec] | str | None) -> list[AnalysisSpec]:
    """The analyses to run, by name or spec, in order and without repeats.

    Parameters
    ----------
    analyses : sequence of str or AnalysisSpec, str or None
        Names of :data:`~msc_meta.analyses.ANALYSES` or specs; ``None`` for all.

    Returns
    -------
    list of AnalysisSpec
        The specs.

    Raises
    ------
    MetaAnalysisError
        An analysis that is not pre-specified, a name unusable in file names,
        or an empty selection.
    """
    if analyses is None:
        return list(ANALYSES.values())
    if isinstance(analyses, (str, AnalysisSpec)):
        analyses = [analyses]
    specs: list[AnalysisSpec] = []
    for a in analyses:
        if isinstance(a, AnalysisSpec):
            spec = a
        elif isinstance(a, str) and a in ANALYSES:
            spec = ANALYSES[a]
        else:
            raise MetaAnalysisError(
                f"analysis {a!r} is not pre-specified; valid: {', '.join(ANALYSES)}"
            )
        if not _SAFE_NAME.fullmatch(spec.name):
            raise MetaAnalysisError(
                f"analysis name {spec.name!r} cannot be used in file names; use letters, "
                "digits, '_', '-' and '.'"
            )
        if spec.name not in [s.name for s in specs]:
            specs.append(spec)
    if not specs:
        raise MetaAnalysisError("analyses is empty; name at least one analysis")
    return specs


def check_model(method: str | None, test: str | None, level: float) -> tuple[str | None, float]:
    """Check the model overrides before anything runs.

    Parameters
    ----------
    method : str or None
        A τ² estimator code, or ``None`` for each analysis's own.
    test : str or None
        A test code, or ``None`` for each analysis's own.
    level : float
        Confidence level.

    Returns
    -------
    tuple of (str or None, float)
        ``method`` as given and the checked level.

    Raises
    ------
    MetaAnalysisError
        An unknown method or test, or a level outside (0, 1).
    """
    if method is not None:
        canonical_method(method)
    if test is not None:
        canonical_test(test)
    return method, check_level(level)


def run_one(
    spec: AnalysisSpec,
    records: TrialRecords,
    method: str | None,
    test: str | None,
    level: float,
) -> ReportEntry:
    """Run one analysis, recording its warnings; an analysis that cannot run keeps its error.

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis.
    records : TrialRecords
        The records.
    method : str or None
        τ² estimator override.
    test : str or None
        Test override.
    level : float
        Confidence level.

    Returns
    -------
    ReportEntry
        The result, its further analyses (:func:`further_analyses`) and the
        warnings of both, or the error.
    """
    # The pre-specified analyses warn by design (FewStudiesWarning at k < 5): the
    # warnings are recorded here, per analysis, and shown as caveats; nothing is
    # silenced outside this block.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = run_analysis(spec, records, method=method, test=test, level=level)
        except MetaAnalysisError as exc:
            return ReportEntry(
                spec=spec, analysis=None, warnings=record_warnings(caught), error=exc
            )
        further = further_analyses(res.result)
    return ReportEntry(spec=spec, analysis=res, warnings=record_warnings(caught), further=further)


def run_all(
    records: TrialRecords | str | os.PathLike[str] | None = None,
    *,
    analyses: Sequence[str | AnalysisSpec] | None = None,
    method: str | None = None,
    test: str | None = None,
    level: float = 0.95,
) -> list[ReportEntry]:
    """Run the pre-specified analyses, keeping each one's warnings or error.

    Parameters
    ----------
    records : TrialRecords, str or path, optional
        Records, or a folder of record files (:func:`~msc_meta.records.load_records`);
        the bundled MSC-RA records by default.
    analyses : sequence of str or AnalysisSpec, optional
        Names of :data:`~msc_meta.analyses.ANALYSES` (all, in their order, by default).
    method : str, optional
        Override every analysis's τ² estimator (default: each analysis's own,
        REML).
    test : str, optional
        Override every analysis's test (default: each analysis's own,
        Hartung-Knapp).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    list of ReportEntry
        One per analysis, in order: the :class:`~msc_meta.analyses.AnalysisResult`,
        the warnings it raised, or the error when it could not run.

    Raises
    ------
    MetaAnalysisError
        An unknown analysis, method or test, a level outside (0, 1), or
        (as :class:`~msc_meta.records.RecordError`) a bad records folder. An
        analysis that cannot run on valid records (no study reports its
        outcome) does not raise: its entry holds the error.

    Notes
    -----
    Warnings are recorded with :func:`warnings.catch_warnings` around each
    analysis, so none escapes and none is lost: the pre-specified analyses
    all have k < 5 and raise :class:`~msc_meta.FewStudiesWarning`.

    Examples
    --------
    >>> entries = run_all(analyses=["acr20_ifng_addon_w12"])
    >>> e = entries[0]
    >>> e.ok, e.analysis.k, round(e.result.transform(e.result.estimate), 2)
    (True, 1, 1.75)
    >>> sorted({w.category for w in e.warnings})
    ['FewStudiesWarning']
    """
    method, level = check_model(method, test, level)
    specs = select(analyses)
    recs = load(records)
    return [run_one(s, recs, method, test, level) for s in specs]
