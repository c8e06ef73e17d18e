"""The report's caveats, rule by rule: each on a constructed case where it fires and one
where it does not, and all of them together on the bundled records.

Records are the bundled MSC-RA records with one table changed; analyses are
:class:`~msc_meta.running.ReportEntry` objects of the pre-specified specs, with a small
stand-in for the result (the rules read only its ``k`` and its input frame).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from msc_meta import caveats as cv
from msc_meta._errors import MetaAnalysisError
from msc_meta.analyses import ANALYSES, SMALL_K
from msc_meta.datasets import load_msc_ra
from msc_meta.records import TrialRecords
from msc_meta.running import FURTHER_ANALYSES, MIN_K_FUNNEL, FurtherAnalysis, ReportEntry, run_all


@pytest.fixture(scope="module")
def records() -> TrialRecords:
    return load_msc_ra()


def _entry(
    name: str = "acr20_msc_vs_control_w4",
    k: int = 2,
    study_ids: tuple[str, ...] = (),
    source_rows: tuple[str, ...] = (),
) -> ReportEntry:
    """A ran analysis of spec ``name`` whose result has ``k`` studies (a stand-in)."""
    frame = pd.DataFrame(
        {
            "study_id": list(study_ids) or ["x"],
            "source_rows": [";".join(source_rows)] * max(len(study_ids), 1),
        }
    )
    analysis: Any = SimpleNamespace(k=k, input=SimpleNamespace(frame=frame))
    return ReportEntry(spec=ANALYSES[name], analysis=analysis)


def _failed(name: str = "acr20_msc_vs_control_w4") -> ReportEntry:
    return ReportEntry(
        spec=ANALYSES[name], analysis=None, error=MetaAnalysisError("no study reports it")
    )


def _with(records: TrialRecords, **tables: pd.DataFrame) -> TrialRecords:
    return dataclasses.replace(records, **tables)


def _headings(items: list[tuple[str, str]]) -> list[str]:
    return [h for h, _ in items]


def test_rules_are_run_in_order_and_each_is_documented() -> None:
    assert len(set(cv.RULES)) == len(cv.RULES)
    for rule in cv.RULES:
        assert rule.__doc__ and rule.__doc__.split()[0] in {"Fires", "Always"}, rule.__name__


def test_bundled_records_give_the_report_caveats(records: TrialRecords) -> None:
    items = cv.caveats(records, run_all(records))
    assert _headings(items) == [
        "Few studies",
        "No funnel plots",
        "Sensitivity and small-study analyses",
        "Uncontrolled designs",
        "Non-randomised comparison",
        "Single-group analyses",
        "Add-on comparisons",
        "Derived numbers",
        "What was read",
        "Overlapping reports",
        "Overlapping reports",
        "Overlapping reports",
        "Overlapping reports",
        "Completers only",
        "Identical rows",
        "Conflicting sources",
    ]
    assert cv.caveats(records, []) == [i for r in cv.RULES for i in r(records, [])]


def test_few_studies(records: TrialRecords) -> None:
    (item,) = cv.few_studies(records, [_entry(k=1), _entry("acr20_ifng_addon_w12", k=SMALL_K)])
    assert item[0] == "Few studies"
    assert item[1].startswith(f"1 of 2 analyses pool fewer than {SMALL_K} studies")
    assert "acr20_ifng_addon_w12 k = 5" in item[1]
    assert cv.few_studies(records, [_entry(k=SMALL_K), _failed()]) == []


def test_no_funnel_plots(records: TrialRecords) -> None:
    (item,) = cv.no_funnel_plots(records, [_entry(k=MIN_K_FUNNEL - 1), _entry(k=MIN_K_FUNNEL)])
    assert item[0] == "No funnel plots" and "1 of 2 analyses have fewer studies" in item[1]
    assert cv.no_funnel_plots(records, [_entry(k=MIN_K_FUNNEL)]) == []
    assert cv.no_funnel_plots(records, [_failed()]) == []


def test_further_analyses_not_run(records: TrialRecords) -> None:
    """Fires when an analysis that ran has further analyses not run; says what cannot be shown."""
    (item,) = cv.further_analyses_not_run(records, run_all(records))
    assert item[0] == "Sensitivity and small-study analyses"
    n = len(ANALYSES)
    assert f"Leave-one-out for {n} of {n}" in item[1]
    assert f"Meta-regression for {n} of {n} analyses" in item[1]
    assert "whether a single study drives a pooled estimate" in item[1]
    assert "advice" not in item[1] and "recommend" not in item[1]
    # only the meta-regression not run: only what it would show is named
    ran = FurtherAnalysis("leave_one_out", "Leave-one-out", True)
    no_mods = FurtherAnalysis("meta_regression", "Meta-regression", False, reason="none")
    entry = dataclasses.replace(_entry(k=12), further=(ran, no_mods))
    (item,) = cv.further_analyses_not_run(records, [entry])
    assert "Meta-regression for 1 of 1 analyses" in item[1]
    assert "what explains differences between studies" in item[1]
    assert "single study" not in item[1]
    # does not fire: everything ran, or nothing ran, or no further analyses recorded
    assert cv.further_analyses_not_run(records, [dataclasses.replace(entry, further=(ran,))]) == []
    assert cv.further_analyses_not_run(records, [_failed(), _entry(k=2)]) == []
    # every further analysis says what it would have shown
    named = set().union(*(keys for keys, _ in cv._WOULD_SHOW))
    assert named == {key for key, _, _ in FURTHER_ANALYSES}


def test_uncontrolled_designs(records: TrialRecords) -> None:
    (item,) = cv.uncontrolled_designs(records, [])
    assert item[1].startswith("3 of 8 reports have no concurrent control group: Wang 2019")
    st = records.studies.assign(controlled="yes")
    assert cv.uncontrolled_designs(_with(records, studies=st), []) == []


def test_non_randomised(records: TrialRecords) -> None:
    (item,) = cv.non_randomised(records, [])
    assert item == (
        "Non-randomised comparison",
        "Wang 2013: a control group without random allocation; differences between its "
        "groups may reflect who was allocated to them.",
    )
    st = records.studies.assign(randomised="yes")
    assert cv.non_randomised(_with(records, studies=st), []) == []


def test_single_group_analyses(records: TrialRecords) -> None:
    (item,) = cv.single_group_analyses(records, [_entry("acr20_msc_single_group_w4"), _entry()])
    assert item[1].startswith("1 analyses (acr20_msc_single_group_w4) pool")
    assert cv.single_group_analyses(records, [_entry()]) == []
    assert cv.single_group_analyses(records, [_failed("acr20_msc_single_group_w4")]) == []


def test_addon_comparisons(records: TrialRecords) -> None:
    (item,) = cv.addon_comparisons(records, [_entry("acr20_ifng_addon_w12"), _entry()])
    assert item[1].startswith("acr20_ifng_addon_w12 compare arms that both received MSC")
    assert cv.addon_comparisons(records, [_entry()]) == []


def test_derived_numbers(records: TrialRecords) -> None:
    out = records.outcomes
    derived = str(out.loc[out["derived"].fillna(False).astype(bool), "row_id"].iloc[0])
    read = str(out.loc[~out["derived"].fillna(False).astype(bool), "row_id"].iloc[0])
    (used,) = cv.derived_numbers(records, [_entry(source_rows=(read, derived))])
    assert "Analyses using derived numbers: acr20_msc_vs_control_w4;" in used[1]
    (unused,) = cv.derived_numbers(records, [_entry(source_rows=(read,))])
    assert unused[1].endswith("No analysis here uses them.")
    assert unused[1].startswith(f"52 of {len(out)} numbers in the records are derived")
    none = _with(records, outcomes=out.assign(derived=False))
    assert cv.derived_numbers(none, [_entry(source_rows=(derived,))]) == []


def test_what_was_read_always_fires(records: TrialRecords) -> None:
    (item,) = cv.what_was_read(records, [])
    assert item[1].startswith(f"{len(records.sources)} sources by kind: abstract 12, registry 9")


def test_overlapping_reports(records: TrialRecords) -> None:
    items = cv.overlapping_reports(records, [])
    assert len(items) == 4  # Wang 2013/2019 and He 2020/Yang 2018 once, two outside the records
    assert items[0][1].startswith("Wang 2013 and Wang 2019 may report overlapping patients.")
    assert items[0][1].endswith("no analysis here pools them together.")
    both = _entry(study_ids=("wang2013", "wang2019"))
    pooled = cv.overlapping_reports(records, [both])[0][1]
    assert pooled.endswith(
        "pooled together here in acr20_msc_vs_control_w4 (see its OverlapWarning)."
    )
    st = records.studies.assign(overlaps_with=None)
    assert cv.overlapping_reports(_with(records, studies=st), [both]) == []


def test_completers_only(records: TrialRecords) -> None:
    (item,) = cv.completers_only(records, [])
    assert item[1].startswith("He 2020 analysed fewer patients than were randomised (")
    arms = records.arms.assign(n_analysed=records.arms["n_randomised"])
    assert cv.completers_only(_with(records, arms=arms), []) == []


def test_identical_rows(records: TrialRecords) -> None:
    (item,) = cv.identical_rows(records, [])
    assert "the EULAR good moderate and ACR20 percentages are identical in all 6 cells" in item[1]
    assert "not through a transcription error" in item[1]
    assert "possibly a copy error" not in item[1]
    out = records.outcomes.copy()
    first = out.index[(out["statistic"] == "percent") & (out["qualifier"] == "=")][0]
    out.loc[first, "value_text"] = "99.9"
    assert cv.identical_rows(_with(records, outcomes=out), []) == []


def test_analyses_not_run(records: TrialRecords) -> None:
    assert cv.analyses_not_run(records, [_entry()]) == []
    (item,) = cv.analyses_not_run(records, [_entry(), _failed()])
    assert item == ("Analyses not run", "acr20_msc_vs_control_w4: no study reports it")


def test_words_and_records_of() -> None:
    assert cv.words("single_arm") == "single arm"
    assert cv.words(None) == "not recorded" and cv.words(float("nan")) == "not recorded"
    assert cv.records_of(pd.DataFrame({"a": [1, 2]})) == [{"a": 1}, {"a": 2}]


def test_conflicting_sources(records: TrialRecords) -> None:
    row = "shadmanfar2018_any_ae_msc_count"
    # bundled: the 0/15 of Shadmanfar 2018 is contested and no analysis uses it
    (unused,) = cv.conflicting_sources(records, [_entry("any_ae_msc_vs_control")])
    assert unused[0] == "Conflicting sources"
    assert f"Shadmanfar 2018: any AE = 0/15 (row {row})" in unused[1]
    assert "EC-R1 reports 'pain /articular swelling and other minor adverse events'" in unused[1]
    assert (
        "No analysis here uses it (any_ae_msc_vs_control leaves Shadmanfar 2018 out)" in unused[1]
    )
    # fires with the analysis's name when an analysis uses the row
    entry = _entry("any_ae_msc_vs_control", study_ids=("shadmanfar2018",), source_rows=(row,))
    (used,) = cv.conflicting_sources(records, [entry])
    assert "Used in any_ae_msc_vs_control" in used[1]
    assert "ConflictingSourcesWarning" in used[1]
    # does not fire without a recorded conflict
    out = records.outcomes.assign(conflicts=None)
    assert cv.conflicting_sources(_with(records, outcomes=out), [entry]) == []
