"""Trial-record schema: loading, validation errors, round trip, no writes on load."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import msc_meta as mm
from msc_meta.records import RecordError, TrialRecords, load_records, schema

SOURCES = """source_id,url,kind,study_ids,description,evidence_file,evidence_key
X-S1,https://example.org/a,abstract,trial1,Abstract of trial 1,sheet.md,S1
X-S2,https://example.org/t2,full_text_table,trial1;trial2,Table 2,sheet.md,S2
"""
STUDIES_HEADER = (
    "study_id,label,citation,year,doi,pmid,registration,registration_status,design,randomised,"
    "controlled,comparator,blinding,phase,country,centres,msc_source,donor,route,dose,n_infusions,"
    "co_therapy,follow_up,follow_up_weeks,n_enrolled,overlaps_with,design_source,dose_source,"
    "n_infusions_source,follow_up_source,n_enrolled_source,notes\n"
)
STUDIES = STUDIES_HEADER + (
    'trial1,Trial 2020,"A, B. Trial one. J 2020;1:1-2",2020,10.1/x,123,NCT0,reported,'
    "randomised_controlled,yes,yes,placebo,open,1/2,Nowhere,,UC,allogeneic,intravenous,"
    "1e6 cells/kg,1,DMARDs,12 weeks,12,40,,X-S1: abstract,X-S1: abstract,X-S1: abstract,"
    "X-S1: abstract,X-S1: abstract,\n"
    'trial2,Trial 2021,"C. Trial two. J 2021;2:3-4",2021,,,,not_found,single_arm,no,no,none,'
    "open,1,Nowhere,,BM,autologous,intra-articular,4e7 cells,,,,,10,,X-S2: header,,,,,\n"
)
ARMS = """arm_id,study_id,label,arm_type,msc,intervention,dose,dose_per_infusion,dose_unit,dose_source,n_randomised,n_analysed,n_source,notes
t1_msc,trial1,MSC,msc,true,MSC + DMARDs,1e6 cells/kg,1000000,cells/kg,X-S1: abstract,20,20,X-S1: abstract,
t1_pbo,trial1,Placebo,placebo,false,saline,,,,,20,19,X-S1: abstract,
t2_msc,trial2,MSC,msc,true,MSC,4e7 cells,40000000,cells,X-S2: header,10,10,X-S2: header,
"""
OUTCOMES = """row_id,study_id,arm_id,outcome,timepoint_weeks,timepoint_label,statistic,qualifier,value,denominator,unit,source_id,location,derived,derivation_method,derived_from,derivation,notes
t1_acr20_msc_pct,trial1,t1_msc,ACR20,12,month 3,percent,=,55.0,20,%,X-S2,Table 2,false,,,,
t1_acr20_msc_n,trial1,t1_msc,ACR20,12,month 3,count,=,11,20,patients,X-S2,Table 2,true,count_from_percent,t1_acr20_msc_pct,55.0% × 20 = 11,
t1_acr20_pbo_n,trial1,t1_pbo,ACR20,12,month 3,count,=,4,19,patients,X-S2,Table 2,false,,,,
t1_acr20_pbo_pct,trial1,t1_pbo,ACR20,12,month 3,percent,=,21.1,19,%,X-S2,Table 2,false,,,,
t1_ae_msc,trial1,t1_msc,any_AE,12,12 weeks,count,=,3,20,patients,X-S1,abstract,false,,,,
t1_ae_pbo,trial1,t1_pbo,any_AE,12,12 weeks,count,=,2,20,patients,X-S1,abstract,false,,,,
t1_ae_all,trial1,,any_AE,12,12 weeks,count,=,5,40,patients,X-S1,abstract,true,sum,t1_ae_msc;t1_ae_pbo,3 + 2,
t2_das_mean,trial2,t2_msc,DAS28_ESR,4,4 weeks,change_mean,=,-1.2,10,DAS28 points,X-S2,Table 2,false,,,,
t2_das_sd,trial2,t2_msc,DAS28_ESR,4,4 weeks,change_sd,=,0.9,10,DAS28 points,X-S2,Table 2,false,,,,
t2_das_p,trial2,t2_msc,DAS28_ESR,4,4 weeks,p_value,<,0.05,10,,X-S2,Table 2,false,,,,
"""
_ROB_HEADER = "rob_id,study_id,tool,comparison,domain,judgement,support,source_id,location,notes\n"
_ROB_T1 = "".join(
    f't1_{d.lower()},trial1,RoB 2,MSC vs placebo,{d},{j},"{s}",X-S1,abstract,\n'
    for d, j, s in (
        ("D1", "Some concerns", "'randomised'; the method of sequence generation is not stated"),
        ("D2", "Low", "'double-blind, placebo-controlled'"),
        ("D3", "No information", "the abstract does not give numbers lost to follow-up"),
        ("D4", "Low", "'double-blind'"),
        ("D5", "No information", "no protocol or registry record was readable"),
        ("overall", "Some concerns", "D1 some concerns; D3 and D5 no information"),
    )
)
ROB = _ROB_HEADER + _ROB_T1
FILES = {
    "sources": SOURCES,
    "studies": STUDIES,
    "arms": ARMS,
    "outcomes": OUTCOMES,
    "risk_of_bias": ROB,
}


def _write(folder: Path, **changes: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **changes}.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def _replace(name: str, old: str, new: str) -> dict[str, str]:
    text = FILES[name]
    assert old in text, old
    return {name: text.replace(old, new, 1)}


def test_valid_records_load_with_types(tmp_path: Path) -> None:
    rec = load_records(_write(tmp_path / "r"))
    assert isinstance(rec, TrialRecords)
    assert (len(rec.studies), len(rec.arms), len(rec.outcomes), len(rec.sources)) == (2, 3, 10, 2)
    assert len(rec.risk_of_bias) == 6 and set(rec.risk_of_bias["domain"]) >= {"D1", "overall"}
    assert str(rec.studies["year"].dtype) == "Int64"
    assert rec.outcomes["value"].dtype == "float64"
    assert str(rec.outcomes["derived"].dtype) == "boolean"
    assert rec.outcomes.loc[0, "value_text"] == "55.0"  # printed precision kept
    assert rec.studies.loc[1, "doi"] is None
    assert "2 studies" in repr(rec) and "<table" in rec._repr_html_()


def test_load_never_modifies_the_files(tmp_path: Path) -> None:
    folder = _write(tmp_path / "r")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    load_records(folder)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} == before
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes


def test_round_trip_load_write_load_is_identical(tmp_path: Path) -> None:
    first = load_records(_write(tmp_path / "a"))
    written = first.write(tmp_path / "b")
    second = load_records(written)
    for name in ("studies", "arms", "outcomes", "sources", "risk_of_bias"):
        pd.testing.assert_frame_equal(first.table(name), second.table(name))
    # and the text itself survives a second round trip unchanged
    second.write(tmp_path / "c")
    for name in ("studies", "arms", "outcomes", "sources", "risk_of_bias"):
        assert (tmp_path / "b" / f"{name}.csv").read_text() == (
            tmp_path / "c" / f"{name}.csv"
        ).read_text()


BAD: list[tuple[str, Callable[[], dict[str, str]], str]] = [
    (
        "missing column",
        lambda: {"arms": ARMS.replace(",n_analysed", "", 1)},
        r"arms\.csv: missing column\(s\): n_analysed",
    ),
    (
        "unknown column",
        lambda: {"sources": SOURCES.replace("evidence_key", "evidence_key,extra", 1)},
        r"sources\.csv: unknown column\(s\): extra",
    ),
    (
        "wrong type: integer",
        lambda: _replace("studies", "2020,10.1/x", "twenty,10.1/x"),
        r"studies\.csv, line 2 \(trial1\), column 'year': 'twenty' is not a whole number",
    ),
    (
        "wrong type: number",
        lambda: _replace("outcomes", "change_mean,=,-1.2", "change_mean,=,about -1"),
        r"outcomes\.csv, line 9 \(t2_das_mean\), column 'value': 'about -1' is not a number",
    ),
    (
        "wrong type: boolean",
        lambda: _replace("arms", "msc,true,MSC + DMARDs", "msc,yes,MSC + DMARDs"),
        r"arms\.csv, line 2 \(t1_msc\), column 'msc': 'yes' is not true or false",
    ),
    (
        "value outside its enum",
        lambda: _replace("studies", "UC,allogeneic", "cord,allogeneic"),
        r"studies\.csv, line 2 \(trial1\), column 'msc_source': 'cord' is not allowed; allowed: UC, UCB, BM, adipose",
    ),
    (
        "required value missing",
        lambda: _replace(
            "outcomes", "X-S1,abstract,false,,,,\nt1_ae_pbo", "X-S1,,false,,,,\nt1_ae_pbo"
        ),
        r"outcomes\.csv, line 6 \(t1_ae_msc\), column 'location': a value is required",
    ),
    (
        "duplicate id",
        lambda: _replace("arms", "t2_msc,trial2", "t1_msc,trial2"),
        r"arms\.csv, line 4, column 'arm_id': duplicate id 't1_msc' \(first on line 2\)",
    ),
    (
        "events larger than the denominator",
        lambda: _replace("outcomes", "count,=,3,20", "count,=,23,20"),
        r"outcomes\.csv, line 6 \(t1_ae_msc\), column 'value': count 23 is larger than its denominator 20",
    ),
    (
        "percent that does not match its count",
        lambda: _replace("outcomes", "percent,=,21.1,19", "percent,=,22.1,19"),
        r"line 4 \(t1_acr20_pbo_n\), column 'value': count 4/19 = 21.05% does not match the percent 22\.1",
    ),
    (
        "derived count that does not follow from its percent",
        lambda: _replace("outcomes", "count,=,11,20,patients", "count,=,12,20,patients"),
        r"line 3 \(t1_acr20_msc_n\), column 'value': count 12 does not follow from 55\.0% of 20",
    ),
    (
        "sum that does not add up",
        lambda: _replace("outcomes", "count,=,5,40", "count,=,6,40"),
        r"line 8 \(t1_ae_all\), column 'value': value 6 is not the sum of derived_from \(5\)",
    ),
    (
        "derived without a derivation",
        lambda: _replace(
            "outcomes", "true,sum,t1_ae_msc;t1_ae_pbo,3 + 2", "true,,t1_ae_msc;t1_ae_pbo,"
        ),
        r"line 8 \(t1_ae_all\), column 'derivation_method': a derived number needs",
    ),
    (
        "outcome pointing at an unknown study",
        lambda: _replace("outcomes", "t1_ae_pbo,trial1", "t1_ae_pbo,trial9"),
        r"outcomes\.csv, line 7 \(t1_ae_pbo\), column 'study_id': study_id 'trial9' is not in studies\.csv",
    ),
    (
        "outcome pointing at an unknown arm",
        lambda: _replace("outcomes", "trial1,t1_pbo,any_AE", "trial1,t1_xyz,any_AE"),
        r"line 7 \(t1_ae_pbo\), column 'arm_id': arm_id 't1_xyz' is not in arms\.csv",
    ),
    (
        "outcome pointing at another study's arm",
        lambda: _replace("outcomes", "trial1,t1_pbo,any_AE", "trial1,t2_msc,any_AE"),
        r"column 'arm_id': arm_id 't2_msc' belongs to study 'trial2', not 'trial1'",
    ),
    (
        "outcome pointing at an unknown source",
        lambda: _replace(
            "outcomes",
            "patients,X-S1,abstract,false,,,,\nt1_ae_pbo",
            "patients,X-S9,abstract,false,,,,\nt1_ae_pbo",
        ),
        r"line 6 \(t1_ae_msc\), column 'source_id': source_id 'X-S9' is not in sources\.csv",
    ),
    (
        "arm of an unknown study",
        lambda: _replace("arms", "t2_msc,trial2", "t2_msc,trial3"),
        r"arms\.csv, line 4 \(t2_msc\), column 'study_id': study_id 'trial3' is not in studies\.csv",
    ),
    (
        "study naming an unknown source",
        lambda: _replace("studies", "X-S2: header", "X-S7: header"),
        r"studies\.csv, line 3 \(trial2\), column 'design_source': names source 'X-S7'",
    ),
    (
        "risk of bias: unknown tool",
        lambda: _replace("risk_of_bias", "t1_d2,trial1,RoB 2", "t1_d2,trial1,RoB 3"),
        r"risk_of_bias\.csv, line 3 \(t1_d2\), column 'tool': tool='RoB 3' is not a registered "
        r"risk-of-bias tool; allowed: RoB 2, ROBINS-I, NIH case series",
    ),
    (
        "risk of bias: a word of another tool",
        lambda: _replace("risk_of_bias", "D4,Low", "D4,Serious"),
        r"line 5 \(t1_d4\), column 'judgement': judgement='Serious' is not a RoB 2 judgement "
        r"for domain 'D4'; allowed: Low, Some concerns, High, No information",
    ),
    (
        "risk of bias: a domain the tool does not have",
        lambda: _replace("risk_of_bias", "MSC vs placebo,D5,", "MSC vs placebo,D7,"),
        r"line 6 \(t1_d5\), column 'domain': domain='D7' is not a domain of RoB 2",
    ),
    (
        "risk of bias: a domain missing",
        lambda: {"risk_of_bias": "".join(ROB.splitlines(keepends=True)[:-2])},
        r"risk_of_bias\.csv, line 2, column 'domain': study 'trial1', RoB 2 \(MSC vs placebo\) "
        r"lacks domain\(s\) D5, overall",
    ),
    (
        "risk of bias: a domain twice",
        lambda: {
            "risk_of_bias": ROB + ROB.splitlines(keepends=True)[1].replace("t1_d1", "t1_d1b")
        },
        r"line 8 \(t1_d1b\), column 'domain': domain 'D1' of RoB 2 is assessed twice",
    ),
    (
        "risk of bias: unknown study",
        lambda: _replace("risk_of_bias", "t1_d3,trial1", "t1_d3,trial9"),
        r"line 4 \(t1_d3\), column 'study_id': study_id 'trial9' is not in studies\.csv",
    ),
    (
        "risk of bias: unknown source",
        lambda: _replace("risk_of_bias", "X-S1,abstract,\n", "X-S1;X-S9,abstract,\n"),
        r"line 2 \(t1_d1\), column 'source_id': source_id names 'X-S9'",
    ),
    (
        "risk of bias: support missing",
        lambda: _replace("risk_of_bias", "\"'double-blind'\"", ""),
        r"risk_of_bias\.csv, line 5 \(t1_d4\), column 'support'",
    ),
    (
        "percent above 100",
        lambda: _replace("outcomes", "percent,=,55.0,20", "percent,=,155.0,20"),
        r"line 2 \(t1_acr20_msc_pct\), column 'value': a percent must lie in \[0, 100\]",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_records_raise_naming_file_line_column(
    tmp_path: Path, case: str, change: Callable[[], dict[str, str]], message: str
) -> None:
    folder = _write(tmp_path / "bad", **change())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(RecordError, match=message) as info:
        load_records(folder)
    assert isinstance(info.value, ValueError) and isinstance(info.value, mm.MetaAnalysisError)
    assert info.value.file.endswith(".csv")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # never modified


def test_missing_file_and_not_a_folder(tmp_path: Path) -> None:
    folder = _write(tmp_path / "r")
    (folder / "arms.csv").unlink()
    with pytest.raises(RecordError, match=r"arms\.csv: file not found"):
        load_records(folder)
    with pytest.raises(RecordError, match="is not a folder of record files"):
        load_records(tmp_path / "nowhere")


def test_risk_of_bias_is_optional(tmp_path: Path) -> None:
    folder = _write(tmp_path / "r")
    (folder / "risk_of_bias.csv").unlink()
    rec = load_records(folder)
    assert rec.risk_of_bias.empty
    assert list(rec.risk_of_bias.columns) == [
        f["name"]
        for r in schema()["resources"]
        if r["name"] == "risk_of_bias"
        for f in r["schema"]["fields"]
    ]
    built = TrialRecords(
        studies=rec.studies, arms=rec.arms, outcomes=rec.outcomes, sources=rec.sources
    )
    assert built.risk_of_bias.empty and "0 risk-of-bias rows" in repr(built)


def test_schema_describes_every_column() -> None:
    desc = schema()
    assert {r["name"] for r in desc["resources"]} == {
        "studies",
        "arms",
        "outcomes",
        "sources",
        "risk_of_bias",
        "grade_judgements",  # read by msc_meta.certainty.read_judgements, not a record table
    }
    for resource in desc["resources"]:
        for f in resource["schema"]["fields"]:
            assert f.get("description"), (resource["name"], f["name"])
            assert f.get("type") in {"string", "integer", "number", "boolean"}


def test_write_refuses_the_bundled_folder(tmp_path: Path) -> None:
    rec = load_records(_write(tmp_path / "r"))
    from msc_meta.records import bundled_data_dir

    with pytest.raises(mm.MetaAnalysisError, match="bundled records"):
        rec.write(bundled_data_dir())


def test_outcome_conflicts_column_is_optional_and_names_known_sources(tmp_path: Path) -> None:
    rec = load_records(_write(tmp_path / "none"))  # the fixture has no conflicts column
    assert rec.outcomes["conflicts"].isna().all()
    header = OUTCOMES.splitlines()[0]
    with_col = OUTCOMES.replace(header, header.replace(",notes", ",conflicts,notes"), 1)
    lines = with_col.splitlines(keepends=True)
    lines = [
        ln if i == 0 else ln.rstrip("\n")[: ln.rstrip("\n").rfind(",")] + ",," + "\n"
        for i, ln in enumerate(lines)
    ]
    ok = lines[:]
    ok[5] = ok[5].replace(",,\n", ",X-S2: 'two patients had an AE' (Table 2),\n")
    rec = load_records(_write(tmp_path / "ok", outcomes="".join(ok)))
    assert rec.outcomes.loc[4, "conflicts"] == "X-S2: 'two patients had an AE' (Table 2)"
    bad = lines[:]
    bad[5] = bad[5].replace(",,\n", ",X-S9: 'two',\n")
    with pytest.raises(
        RecordError,
        match=r"outcomes\.csv, line 6 \(t1_ae_msc\), column 'conflicts': conflicts entry "
        r"\"X-S9: 'two'\" must read 'source_id: what that source says'",
    ):
        load_records(_write(tmp_path / "bad", outcomes="".join(bad)))
