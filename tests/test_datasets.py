"""The bundled MSC-RA records: schema-valid, source-traced, derivations reproduce, shipped in wheels."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.conversions import counts_from_percent
from msc_meta.records import bundled_data_dir

ROOT = Path(__file__).resolve().parent.parent
TRIALS = {
    "wang2013": "Wang 2013",
    "wang2019": "Wang 2019",
    "he2020": "He 2020",
    "park2018": "Park 2018",
    "ghoryani2019": "Ghoryani 2019",
    "shadmanfar2018": "Shadmanfar 2018",
    "alvarogracia2017": "Álvaro-Gracia 2017",
    "yang2018": "Yang 2018",  # added from supplement 2 (issue 11)
}


@pytest.fixture(scope="module")
def rec() -> mm.records.TrialRecords:
    return mm.datasets.load_msc_ra()


def test_eight_trials_each_with_arms(rec: mm.records.TrialRecords) -> None:
    assert dict(zip(rec.studies["study_id"], rec.studies["label"], strict=True)) == TRIALS
    for sid in TRIALS:
        assert (rec.arms["study_id"] == sid).any(), sid


@pytest.mark.slow
def test_frictionless_validates_the_data_package() -> None:
    """An independent validator (frictionless) agrees the files match their descriptor."""
    from frictionless import validate

    report = validate(str(ROOT / "data" / "datapackage.json"))
    assert report.valid, [e.message for t in report.tasks for e in t.errors][:5]


def test_descriptor_lists_exactly_the_csv_columns() -> None:
    desc = json.loads((ROOT / "data" / "datapackage.json").read_text(encoding="utf-8"))
    for res in desc["resources"]:
        header = pd.read_csv(ROOT / "data" / res["path"], nrows=0).columns.tolist()
        assert header == [f["name"] for f in res["schema"]["fields"]], res["name"]


def test_every_outcome_row_has_a_source_and_a_location(rec: mm.records.TrialRecords) -> None:
    out = rec.outcomes
    assert out["source_id"].notna().all() and out["location"].notna().all()
    assert (out["location"].str.len() > 5).all()
    assert set(out["source_id"]) <= set(rec.sources["source_id"])
    assert rec.sources["url"].str.startswith("http").all()


def test_every_derived_count_reproduces_from_its_percent(rec: mm.records.TrialRecords) -> None:
    out = rec.outcomes.set_index("row_id")
    derived = out[out["derivation_method"] == "count_from_percent"]
    assert len(derived) >= 40
    for rid, row in derived.iterrows():
        pct = out.loc[row["derived_from"]]
        conv = counts_from_percent(pct["value_text"], int(row["denominator"]))
        assert int(conv.count) == int(row["value"]), rid
        assert conv.exact, rid  # the only count that reproduces the printed percent


def test_every_derived_sum_reproduces(rec: mm.records.TrialRecords) -> None:
    out = rec.outcomes.set_index("row_id")
    for rid, row in out[out["derivation_method"] == "sum"].iterrows():
        parts = [p.strip() for p in row["derived_from"].split(";")]
        assert sum(out.loc[p, "value"] for p in parts) == row["value"], rid


def test_statement_derivations_quote_their_statement(rec: mm.records.TrialRecords) -> None:
    out = rec.outcomes
    for _, row in out[out["derivation_method"] == "statement"].iterrows():
        assert "'" in row["derivation"] or '"' in row["derivation"], row["row_id"]


def test_read_numbers_are_not_marked_derived(rec: mm.records.TrialRecords) -> None:
    read = rec.outcomes[~rec.outcomes["derived"].astype(bool)]
    assert read["derivation_method"].isna().all() and read["derived_from"].isna().all()


def test_readme_lists_what_is_missing_for_every_trial() -> None:
    text = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for label in TRIALS.values():
        assert label in text
    assert text.lower().count("missing") >= len(TRIALS)


def test_he2020_table2_known_cells(rec: mm.records.TrialRecords) -> None:
    """Spot check against the extraction sheet: ACR20 at month 3, 53.3% vs 93.3% of 30."""
    out = rec.outcomes
    sel = out[
        (out["study_id"] == "he2020")
        & (out["outcome"] == "ACR20")
        & (out["timepoint_weeks"] == 12)
    ]
    pct = sel[sel["statistic"] == "percent"].set_index("arm_id")["value_text"].to_dict()
    assert pct == {"he2020_msc": "53.3", "he2020_msc_ifng": "93.3"}


@pytest.mark.slow
def test_wheel_ships_the_records_and_loads_them(tmp_path: Path) -> None:
    """Build a wheel, import msc_meta from it (not from the checkout) and load the records."""
    out = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    wheel = next((tmp_path / "dist").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for f in (
        "outcomes.csv",
        "studies.csv",
        "arms.csv",
        "sources.csv",
        "datapackage.json",
        "README.md",
    ):
        assert f"msc_meta/_data/msc_ra/{f}" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import msc_meta, msc_meta.datasets as d; r = d.load_msc_ra(); "
        "print(msc_meta.__file__); print(len(r.studies), len(r.outcomes))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    where, counts = run.stdout.splitlines()
    assert where.startswith(str(site))
    assert counts == f"8 {len(mm.datasets.load_msc_ra().outcomes)}"


def test_bundled_dir_in_checkout_is_data() -> None:
    assert bundled_data_dir() == ROOT / "data"


def test_bundled_records_round_trip_and_are_not_modified(tmp_path: Path) -> None:
    folder = ROOT / "data"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    first = mm.datasets.load_msc_ra()
    second = mm.records.load_records(first.write(tmp_path / "copy"))
    for name in ("studies", "arms", "outcomes", "sources"):
        pd.testing.assert_frame_equal(first.table(name), second.table(name))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_issue_11_fidelity_fixes(rec: mm.records.TrialRecords) -> None:
    """The re-check of supplement 2: identifiers, read vs implied counts, the conflict, Yang."""
    st = rec.studies.set_index("study_id")
    assert st.loc["wang2013", "doi"] == "10.1089/scd.2013.0023"
    assert "EA-S2" in st.loc["wang2013", "notes"]  # the title page it was read on
    assert st.loc["wang2019", "pmid"] == "31908418"
    assert "https://www.pubmed.gov/31908418/" in set(rec.sources["url"])
    out = rec.outcomes.set_index("row_id")
    # "Eight AEs from 6 patients" is printed: read, not derived
    assert not out.loc["alvarogracia2017_grade3_ae_events_w24_total", "derived"]
    assert out.loc["alvarogracia2017_grade3_ae_events_w24_total", "value"] == 8
    implied = [
        "alvarogracia2017_grade3_ae_events_w24_c",
        "alvarogracia2017_serious_grade3_ae_events_w24_b",
        "alvarogracia2017_serious_grade3_ae_events_w24_c",
        "alvarogracia2017_serious_grade3_ae_events_w24_placebo",
    ]
    assert (out.loc[implied, "derivation_method"] == "statement").all()
    assert (out.loc[implied, "value"] == 0).all()
    # the 2021 review's adverse events conflict with Shadmanfar's 0/15, and say so
    conflict = out.loc["shadmanfar2018_any_ae_msc_count", "conflicts"]
    assert conflict.startswith("EC-R1") and "articular swelling" in conflict
    assert "10.1186/s13287-021-02613-1" in rec.sources.set_index("source_id").loc["EC-R1", "url"]
    # He 2020: identical in the published table itself
    assert "published table itself" in st.loc["he2020", "notes"]
    # Yang 2018: added, its overlap with He 2020 flagged
    assert st.loc["yang2018", "overlaps_with"] == "he2020"
    assert st.loc["yang2018", "randomised"] == "yes"
