"""The main job: ``msc-meta report`` end to end on the bundled records.

The command runs once for the module (in a fresh working folder, output ``results``); the
tests then check the files, the page, that nothing was written outside the output folder,
and that every number in the tables is the number ``run_analysis`` gives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import msc_meta as mm
from msc_meta import _report_page, cli, report
from msc_meta.analyses import ANALYSES, run_analysis
from msc_meta.plots import ForestData, forest_data
from msc_meta.records import TrialRecords, bundled_data_dir
from msc_meta.report import (
    FIGURE_FORMATS,
    MIN_K_FUNNEL,
    PNG_DPI,
    RECORD_FIGURES,
    REPORT_TITLE,
    ReportEntry,
    build_report,
    check_out_dir,
    run_all,
)

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"

#: Numbers go to CSV with Python's shortest round-trip repr, so they read back identical;
#: the tolerance only absorbs a last-bit difference of the CSV parser.
ROUNDTRIP = 1e-15

#: Extensions of the files the report writes; none may appear or change outside its folder.
WRITTEN_KINDS = {".png", ".pdf", ".svg", ".csv", ".html", ".part"}

#: Folders skipped when looking for stray files (tools' caches and the virtual environment).
SKIP_DIRS = {".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}


# --------------------------------------------------------------------------- helpers


def record_figures(formats: tuple[str, ...] | list[str]) -> list[str]:
    """The figures of the bundled records the report writes (evidence map, risk of bias)."""
    has_rob = not mm.datasets.load_msc_ra().risk_of_bias.empty
    return [
        f"{stem}.{f}"
        for stem in RECORD_FIGURES
        if stem == "evidence_map" or has_rob
        for f in formats
    ]


def record_tables() -> list[str]:
    """The shared tables of the report: summary of findings, studies, risk of bias, warnings."""
    has_rob = not mm.datasets.load_msc_ra().risk_of_bias.empty
    return [
        "summary_of_findings.csv",
        "studies.csv",
        "warnings.csv",
        *(["risk_of_bias.csv"] if has_rob else []),
    ]


def _tree_hash(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _written_kinds(root: Path) -> dict[str, int]:
    """Files of the kinds the report writes under ``root``, with their modification times."""
    out: dict[str, int] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for f in files:
            p = Path(folder) / f
            if p.suffix in WRITTEN_KINDS:
                out[str(p)] = p.stat().st_mtime_ns
    return out


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str


def _main(argv: list[str]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    return Run(rc, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _quiet_run(name: str, **kwargs: object) -> mm.analyses.AnalysisResult:
    # every pre-specified analysis has k < 5: the FewStudiesWarning is expected
    with pytest.warns(mm.FewStudiesWarning):
        return run_analysis(name, **kwargs)  # type: ignore[arg-type]


@dataclass
class FullRun:
    run: Run
    work: Path
    out: Path
    data_before: dict[str, str]
    data_after: dict[str, str]
    repo_before: dict[str, int]
    repo_after: dict[str, int]


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> FullRun:
    work = tmp_path_factory.mktemp("work")
    data_before = _tree_hash(DATA)
    repo_before = _written_kinds(REPO)
    with _cwd(work):
        run = _main(["report", "--out", "results"])
    return FullRun(
        run=run,
        work=work,
        out=work / "results",
        data_before=data_before,
        data_after=_tree_hash(DATA),
        repo_before=repo_before,
        repo_after=_written_kinds(REPO),
    )


@pytest.fixture(scope="module")
def page(full: FullRun) -> str:
    return (full.out / "report.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the full run


@pytest.mark.slow
def test_command_succeeds_with_progress_and_says_where(full: FullRun) -> None:
    assert full.run.rc == 0, full.run.stderr
    lines = full.run.stderr.strip().splitlines()
    n = len(ANALYSES)
    for i, name in enumerate(ANALYSES, start=1):
        assert any(line.startswith(f"[{i}/{n}] {name}: k = ") for line in lines), name
    assert "Traceback" not in full.run.stderr
    report = (full.out / "report.html").resolve()
    assert full.run.stdout.startswith(f"report: {report} (")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ANALYSES))
def test_every_analysis_has_its_figures_and_tables(full: FullRun, name: str) -> None:
    for fmt in FIGURE_FORMATS:
        f = full.out / "figures" / f"{name}_forest.{fmt}"
        assert f.is_file() and f.stat().st_size > 1000, f
        # below MIN_K_FUNNEL studies no funnel plot is drawn
        assert not (full.out / "figures" / f"{name}_funnel.{fmt}").exists()
    head = {
        "png": b"\x89PNG\r\n\x1a\n",
        "pdf": b"%PDF-",
    }
    for fmt, magic in head.items():
        assert (full.out / "figures" / f"{name}_forest.{fmt}").read_bytes().startswith(magic)
    svg = (full.out / "figures" / f"{name}_forest.svg").read_text(encoding="utf-8")
    assert "<svg" in svg[:1000]
    for table in ("effect_sizes", "not_contributing"):
        assert (full.out / "tables" / f"{name}_{table}.csv").is_file()


@pytest.mark.slow
def test_png_figures_are_300_dpi(full: FullRun) -> None:
    data = (full.out / "figures" / "acr20_ifng_addon_w12_forest.png").read_bytes()
    i = data.index(b"pHYs")
    ppm_x = int.from_bytes(data[i + 4 : i + 8], "big")
    assert ppm_x == round(PNG_DPI / 0.0254)


@pytest.mark.slow
def test_shared_tables_and_nothing_else(full: FullRun) -> None:
    for name in ("heterogeneity.csv", "studies.csv", "warnings.csv"):
        assert (full.out / "tables" / name).is_file()
    top = sorted(p.name for p in full.out.iterdir())
    assert top == ["figures", "msc-meta-manifest.json", "report.html", "tables"]
    expected = {f"{n}_forest.{f}" for n in ANALYSES for f in FIGURE_FORMATS}
    expected |= set(record_figures(FIGURE_FORMATS))
    assert {p.name for p in (full.out / "figures").iterdir()} == expected
    for name in record_tables():
        assert (full.out / "tables" / name).is_file(), name
    assert not list(full.out.rglob("*.part"))  # no half-written file left behind


@pytest.mark.slow
def test_nothing_written_outside_the_output_folder(full: FullRun) -> None:
    # the working folder holds only the output folder
    assert sorted(p.name for p in full.work.iterdir()) == ["results"]
    # data/ is byte for byte unchanged
    assert full.data_after == full.data_before
    # no figure, table or page appeared or changed anywhere in the repository
    changed = {p for p, t in full.repo_after.items() if full.repo_before.get(p) != t} | (
        set(full.repo_before) - set(full.repo_after)
    )
    assert changed == set()


@pytest.mark.slow
def test_page_has_every_analysis_the_caveats_and_versions(full: FullRun, page: str) -> None:
    assert f"<title>{html.escape(REPORT_TITLE)}</title>" in page
    for spec in ANALYSES.values():
        assert f"<h3>{html.escape(spec.title)}</h3>" in page
        assert f"id='analysis-{spec.name}'" in page
        assert html.escape(spec.comparison) in page
    for heading in (
        "Few studies",
        "No funnel plots",
        "Uncontrolled designs",
        "Non-randomised comparison",
        "Single-group analyses",
        "Add-on comparisons",
        "Derived numbers",
        "What was read",
        "Overlapping reports",
        "Completers only",
        "Identical rows",
    ):
        assert f"<strong>{heading}.</strong>" in page, heading
    assert "Wang 2013 and Wang 2019 may report overlapping patients" in page
    assert "companion Ghoryani-group report with 13 patients" in page
    assert "He 2020 analysed fewer patients than were randomised" in page
    assert "EULAR good moderate and ACR20 percentages are identical in all 6 cells" in page
    # the warnings of every analysis are shown with it
    assert page.count("<strong>Warnings raised by the library</strong>") == len(ANALYSES)
    assert page.count("<code>FewStudiesWarning</code>") == len(ANALYSES)
    # why there is no funnel plot
    assert f"No funnel plot: k = 1 is below {MIN_K_FUNNEL}" in page
    assert "Sterne" in page
    # neutral: what the data show, no advice
    assert "gives no treatment advice" in page
    assert f"msc_meta {mm.__version__}" in page
    assert "data package msc-ra-evidence 0.1.0" in page


@pytest.mark.slow
def test_study_table_lists_every_study_with_what_is_missing(page: str) -> None:
    studies = mm.datasets.load_msc_ra().studies
    for label in studies["label"]:
        assert f"<td>{html.escape(label)}</td>" in page
    # Ghoryani 2019 has no outcome number in the records; Wang 2013 has no arm sizes
    assert "<td class=num>0 (0 derived)</td>" in page
    assert "N randomised (2 of 2 arms)" in page
    assert "<th>MSC source</th>" in page and "<th>Donor</th>" in page


@pytest.mark.slow
def test_page_is_self_contained(full: FullRun, page: str) -> None:
    srcs = re.findall(r"""\bsrc=['"]([^'"]*)['"]""", page)
    assert len(srcs) == len(ANALYSES) + len(record_figures(["png"]))
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    hrefs = re.findall(r"""\bhref=['"]([^'"]*)['"]""", page)
    assert hrefs
    ids = set(re.findall(r"""\bid=['"]([^'"]*)['"]""", page))
    for h in hrefs:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", h, re.I), f"external link {h}"
        assert not h.startswith("/"), h
        if h.startswith("#"):
            assert h[1:] in ids, h
        else:
            target = (full.out / h).resolve()
            assert target.is_file() and full.out.resolve() in target.parents, h
    assert "<link" not in page and "<script" not in page and "@import" not in page


@pytest.mark.slow
def test_numbers_in_the_tables_are_the_library_numbers(full: FullRun) -> None:
    het = pd.read_csv(full.out / "tables" / "heterogeneity.csv").set_index("analysis")
    assert list(het.index) == list(ANALYSES)
    for name in ANALYSES:
        res = _quiet_run(name)
        r = res.result
        es = pd.read_csv(full.out / "tables" / f"{name}_effect_sizes.csv")
        studies = es[es["kind"] == "study"]
        assert list(studies["study"]) == list(r.labels)
        assert studies["effect"].to_numpy() == pytest.approx(r.effect, rel=ROUNDTRIP)
        assert studies["variance"].to_numpy() == pytest.approx(r.variance, rel=ROUNDTRIP)
        assert studies["weight"].to_numpy() == pytest.approx(r.weights, rel=ROUNDTRIP)
        display = [float(r.transform(float(x))) for x in r.effect]
        assert studies["effect_display"].to_numpy() == pytest.approx(display, rel=ROUNDTRIP)
        # arm data and conversions as the analysis input has them
        for arg in mm.MEASURES[res.spec.measure].arguments:
            assert studies[arg].to_numpy() == pytest.approx(
                res.input.frame[arg].to_numpy(dtype=float), rel=ROUNDTRIP
            )
        assert list(studies["conversions"]) == list(res.input.frame["conversions"])
        pooled = es[es["kind"] == "pooled"].iloc[0]
        assert (pooled["effect"], pooled["ci_low"], pooled["ci_high"]) == pytest.approx(
            (r.estimate, r.ci_low, r.ci_high), rel=ROUNDTRIP
        )
        row = het.loc[name]
        assert row["k"] == r.k
        assert (row["estimate"], row["ci_low"], row["ci_high"]) == pytest.approx(
            (r.estimate, r.ci_low, r.ci_high), rel=ROUNDTRIP
        )
        assert (row["pi_low"], row["pi_high"]) == pytest.approx(
            (r.pi_low, r.pi_high), rel=ROUNDTRIP
        )
        assert row["estimate_display"] == pytest.approx(
            float(r.transform(r.estimate)), rel=ROUNDTRIP
        )
        assert (row["tau2"], row["i2"], row["h2"], row["q"], row["df"]) == pytest.approx(
            (r.tau2, r.i2, r.h2, r.q, r.q_df), rel=ROUNDTRIP
        )
        assert (row["method"], row["test"]) == (r.method, r.test)
        excluded = pd.read_csv(full.out / "tables" / f"{name}_not_contributing.csv")
        assert list(excluded["study_id"]) == list(res.input.excluded["study_id"])
        assert list(excluded["reason"]) == list(res.input.excluded["reason"])


@pytest.mark.slow
def test_numbers_on_the_page_are_the_library_numbers(page: str) -> None:
    for name in ANALYSES:
        r = _quiet_run(name).result
        t = r.transform
        text = f"{t(r.estimate):.2f} [{t(r.ci_low):.2f}, {t(r.ci_high):.2f}]".replace("-", "−")
        assert text in page, (name, text)


@pytest.mark.slow
def test_warnings_table_records_each_analysis(full: FullRun) -> None:
    w = pd.read_csv(full.out / "tables" / "warnings.csv")
    assert set(w["analysis"]) == set(ANALYSES)
    assert set(w["category"]) == {"FewStudiesWarning"}


@pytest.mark.slow
def test_studies_table_has_one_row_per_study(full: FullRun) -> None:
    st = pd.read_csv(full.out / "tables" / "studies.csv")
    rec = mm.datasets.load_msc_ra()
    assert list(st["study_id"]) == list(rec.studies["study_id"])
    assert list(st["n_enrolled"]) == list(rec.studies["n_enrolled"])
    assert st.set_index("study_id").loc["ghoryani2019", "outcome_rows"] == 0
    expected = [
        "label",
        "design",
        "randomised",
        "controlled",
        "msc_source",
        "donor",
        "route",
        "dose",
        "n_enrolled",
        "missing",
    ]
    assert set(expected) <= set(st.columns)


# --------------------------------------------------------------------------- options


@pytest.mark.slow
def test_python_dash_m_subset_png_only(tmp_path: Path) -> None:
    out = tmp_path / "sub"
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "msc_meta",
            "report",
            "--out",
            str(out),
            "--analyses",
            "acr20_ifng_addon_w12",
            "--formats",
            "png",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"report: {(out / 'report.html').resolve()}")
    assert "[1/1] acr20_ifng_addon_w12: k = 1, risk ratio 1.75 [1.24, 2.48]" in proc.stderr
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        ["acr20_ifng_addon_w12_forest.png", *record_figures(["png"])]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert html.escape(ANALYSES["acr20_ifng_addon_w12"].title) in page
    assert html.escape(ANALYSES["acr20_msc_vs_control_w4"].title) not in page


@pytest.mark.slow
def test_method_and_test_override(tmp_path: Path) -> None:
    names = ["acr20_msc_single_group_w4", "das28_change_msc_single_group_w4"]
    run = _main(
        [
            "report",
            "--out",
            str(tmp_path / "dl"),
            "--analyses",
            *names,
            "--method",
            "DL",
            "--test",
            "z",
            "--formats",
            "svg,pdf",
        ]
    )
    assert run.rc == 0, run.stderr
    figs = sorted(p.name for p in (tmp_path / "dl" / "figures").iterdir())
    assert figs == sorted(
        [f"{n}_forest.{f}" for n in names for f in ("svg", "pdf")] + record_figures(["svg", "pdf"])
    )
    het = pd.read_csv(tmp_path / "dl" / "tables" / "heterogeneity.csv").set_index("analysis")
    assert list(het.index) == names
    for name in names:
        r = _quiet_run(name, method="DL", test="z").result
        row = het.loc[name]
        assert (row["method"], row["test"]) == ("DL", "z")
        assert (row["estimate"], row["tau2"], row["i2"]) == pytest.approx(
            (r.estimate, r.tau2, r.i2), rel=ROUNDTRIP
        )
    page = (tmp_path / "dl" / "report.html").read_text(encoding="utf-8")
    assert "this run: τ² estimator DL and test z for every analysis" in page
    # the page still embeds PNG images though no PNG file was asked for
    assert page.count("data:image/png;base64,") == 2 + len(record_figures(["png"]))
    assert "figures/acr20_msc_single_group_w4_forest.png" not in page


@pytest.mark.slow
def test_rerun_writes_identical_figures(tmp_path: Path) -> None:
    kw = {"analyses": ["acr20_ifng_addon_w12"], "formats": ("pdf", "svg", "png")}
    a = build_report(tmp_path / "a", **kw)  # type: ignore[arg-type]
    b = build_report(tmp_path / "b", **kw)  # type: ignore[arg-type]
    for fmt in ("pdf", "svg", "png"):
        rel = f"figures/acr20_ifng_addon_w12_forest.{fmt}"
        assert (a.parent / rel).read_bytes() == (b.parent / rel).read_bytes(), fmt


@pytest.mark.slow
def test_progress_callable_gets_one_line_per_analysis(tmp_path: Path) -> None:
    lines: list[str] = []
    names = ["acr20_msc_vs_control_w4", "any_ae_msc_vs_control"]
    path = build_report(tmp_path / "p", analyses=names, formats="png", progress=lines.append)
    assert path == (tmp_path / "p" / "report.html").resolve()
    assert lines[0].startswith("[1/2] acr20_msc_vs_control_w4: k = 1, risk ratio")
    assert lines[1].startswith("[2/2] any_ae_msc_vs_control: k = 1, risk ratio")
    assert lines[2].startswith(f"wrote {path}")
    assert len(lines) == 3


# --------------------------------------------------------------------------- run_all


@pytest.mark.slow
def test_run_all_records_warnings_per_analysis() -> None:
    entries = run_all()  # no warning escapes (pytest turns any into an error)
    assert [e.name for e in entries] == list(ANALYSES)
    for e in entries:
        assert isinstance(e, ReportEntry) and e.ok and e.error is None
        assert any(w.category == "FewStudiesWarning" for w in e.warnings)
        ref = _quiet_run(e.name).result
        assert e.result is not None
        assert (e.result.estimate, e.result.ci_low, e.result.tau2) == (
            ref.estimate,
            ref.ci_low,
            ref.tau2,
        )
    one = next(e for e in entries if e.name == "acr20_ifng_addon_w12")
    assert "k = 1" in str(one.warnings[0]) and "k=1" in repr(one)


def test_run_all_options_and_bad_input() -> None:
    entries = run_all(analyses=["acr20_msc_single_group_w4"], method="PM", test="t", level=0.9)
    r = entries[0].result
    assert r is not None and (r.method, r.test, r.level) == ("PM", "t", 0.9)
    with pytest.raises(mm.MetaAnalysisError, match="not pre-specified; valid: acr20_msc"):
        run_all(analyses=["nope"])
    with pytest.raises(mm.MetaAnalysisError, match="method='XX'"):
        run_all(method="XX")
    with pytest.raises(mm.MetaAnalysisError, match="test='XX'"):
        run_all(test="XX")
    with pytest.raises(mm.MetaAnalysisError, match="level"):
        run_all(level=1.5)
    with pytest.raises(mm.MetaAnalysisError, match="analyses is empty"):
        run_all(analyses=[])
    with pytest.raises(mm.MetaAnalysisError, match="records is a int"):
        run_all(records=3)  # type: ignore[arg-type]


@pytest.fixture
def records_without_he2020_acr20(tmp_path: Path) -> Path:
    rec = mm.datasets.load_msc_ra()
    o = rec.outcomes
    keep = ~((o["study_id"] == "he2020") & (o["outcome"] == "ACR20"))
    sub = TrialRecords(
        studies=rec.studies,
        arms=rec.arms,
        outcomes=o[keep].reset_index(drop=True),
        sources=rec.sources,
    )
    return sub.write(tmp_path / "records")


@pytest.mark.slow
def test_an_analysis_that_cannot_run_is_reported_not_fatal(
    tmp_path: Path, records_without_he2020_acr20: Path
) -> None:
    entries = run_all(records_without_he2020_acr20)
    bad = {e.name: e for e in entries if not e.ok}
    assert set(bad) == {"acr20_msc_single_group_w12", "acr20_ifng_addon_w12"}
    assert all("no study reports ACR20" in str(e.error) for e in bad.values())
    out = tmp_path / "out"
    run = _main(["report", "--out", str(out), "--records", str(records_without_he2020_acr20)])
    assert run.rc == 0, run.stderr
    assert "[6/7] acr20_ifng_addon_w12: not run (analysis 'acr20_ifng_addon_w12'" in run.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("This analysis could not be run") == 2
    assert "<strong>Analyses not run.</strong>" in page
    assert f"the records in {records_without_he2020_acr20}" in page
    assert not (out / "figures" / "acr20_ifng_addon_w12_forest.png").exists()
    assert (out / "figures" / "acr20_msc_single_group_w4_forest.png").is_file()
    het = pd.read_csv(out / "tables" / "heterogeneity.csv")
    assert len(het) == 5


# --------------------------------------------------------------------------- bad input


def _bad(argv: list[str], match: str) -> Run:
    run = _main(argv)
    assert run.rc == 2
    assert run.stdout == ""
    msg = run.stderr.strip()
    assert "\n" not in msg and "Traceback" not in msg, msg
    assert msg.startswith("msc-meta report: ")
    assert re.search(match, msg), msg
    return run


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--analyses", "nope"], r"analysis 'nope' is not pre-specified; valid: acr20_msc"),
        (
            ["--method", "XX"],
            r"method='XX' is not a known tau\^2 estimator; valid \(any case\): EE",
        ),
        (
            ["--test", "XX"],
            r"test='XX' is not a known test; valid \(any case\): z, t, knha, adhoc, hksj",
        ),
        (["--formats", "png,gif"], r"figure format 'gif' is not supported; valid: png, pdf, svg"),
        (["--formats", ","], r"formats is empty"),
        (["--judgements", "nowhere.csv"], r"judgements='nowhere\.csv': no such file"),
        (["--level", "1.5"], r"level"),
    ],
)
def test_bad_options_exit_with_one_line(tmp_path: Path, extra: list[str], match: str) -> None:
    out = tmp_path / "out"
    _bad(["report", "--out", str(out), *extra], match)
    assert not out.exists()


@pytest.mark.slow
def test_method_and_test_codes_in_any_case_and_aliases(tmp_path: Path) -> None:
    # as meta_analysis: metafor's codes in any case, and hksj for knha
    out = tmp_path / "out"
    args = ["--analyses", "acr20_msc_single_group_w4", "--formats", "png"]
    code = cli.main(["report", "--out", str(out), *args, "--method", "reml", "--test", "HKSJ"])
    assert code == 0
    table = pd.read_csv(out / "tables" / "heterogeneity.csv")
    assert list(table["method"]) == ["REML"] and list(table["test"]) == ["knha"]


@pytest.mark.parametrize("where", [".", "sub", "sub/deeper"])
def test_output_in_the_bundled_data_is_refused(where: str) -> None:
    before = _tree_hash(DATA)
    target = (DATA / where).resolve()
    _bad(["report", "--out", str(target)], r"the records folder .* choose another folder")
    assert _tree_hash(DATA) == before
    assert not (DATA / "sub").exists()


def test_output_in_the_records_folder_is_refused(
    tmp_path: Path, records_without_he2020_acr20: Path
) -> None:
    rec = records_without_he2020_acr20
    before = _tree_hash(rec)
    for out in (rec, rec / "results"):
        _bad(
            ["report", "--records", str(rec), "--out", str(out)],
            r"out_dir=.* the records folder",
        )
    assert _tree_hash(rec) == before


def test_records_inside_where_the_report_writes_is_refused(tmp_path: Path) -> None:
    rec = mm.datasets.load_msc_ra()
    copy = rec.write(tmp_path / "out" / "tables" / "records")
    mine = mm.records.load_records(copy)
    with pytest.raises(mm.MetaAnalysisError, match="lies in tables/"):
        check_out_dir(tmp_path / "out", mine)


def test_output_that_is_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "report"
    f.write_text("keep me", encoding="utf-8")
    _bad(["report", "--out", str(f)], r"exists and is not a folder")
    assert f.read_text(encoding="utf-8") == "keep me"


def test_bad_records_folder(tmp_path: Path) -> None:
    _bad(
        ["report", "--out", str(tmp_path / "o"), "--records", str(tmp_path / "missing")],
        r"is not a folder of record files",
    )
    broken = mm.datasets.load_msc_ra().write(tmp_path / "broken")
    text = (broken / "studies.csv").read_text(encoding="utf-8")
    (broken / "studies.csv").write_text(text.replace(",172,", ",many,", 1), encoding="utf-8")
    _bad(
        ["report", "--out", str(tmp_path / "o"), "--records", str(broken)],
        r"studies\.csv, line 2 \(wang2013\), column 'n_enrolled': 'many' is not a whole number",
    )
    assert not (tmp_path / "o").exists()


def test_bundled_data_dir_is_the_repository_data() -> None:
    # the refusal above protects the files the package reads
    assert bundled_data_dir().resolve() == DATA.resolve()


@pytest.mark.slow
def test_funnel_plot_from_min_k_funnel_studies(tmp_path: Path, bcg_rr: mm.EffectSizes) -> None:
    """With k >= MIN_K_FUNNEL (BCG, k = 13) a funnel plot is drawn beside the forest plot."""
    entry = run_all(analyses=["acr20_msc_vs_control_w4"])[0]
    assert entry.analysis is not None
    big = mm.meta_analysis(bcg_rr, method="REML", test="knha")
    assert big.k >= MIN_K_FUNNEL
    analysis = dataclasses.replace(entry.analysis, result=big)
    writer = report._Writer(tmp_path.resolve())
    figs, caught, problems = report._figures(
        dataclasses.replace(entry, analysis=analysis), writer, ("png", "svg")
    )
    assert [f.kind for f in figs] == ["forest", "funnel"]
    assert caught == () and problems == []
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert names == [
        "acr20_msc_vs_control_w4_forest.png",
        "acr20_msc_vs_control_w4_forest.svg",
        "acr20_msc_vs_control_w4_funnel.png",
        "acr20_msc_vs_control_w4_funnel.svg",
    ]


def test_output_in_the_package_data_is_refused(tmp_path: Path) -> None:
    pkg_data = Path(mm.__file__).resolve().parent / "_data"
    before = _tree_hash(pkg_data)
    _bad(["report", "--out", str(pkg_data / "results")], r"the package's data folder")
    assert _tree_hash(pkg_data) == before


# --------------------------------------------------------------------------- figures as read


@pytest.fixture(scope="module")
def entries() -> dict[str, ReportEntry]:
    return {e.name: e for e in run_all()}


def _forest_data(entry: ReportEntry) -> ForestData:
    assert entry.result is not None
    return forest_data(entry.result, **report.forest_options(entry.spec))


def _gid(fig: Any, gid: str) -> list[Any]:
    return [a for a in fig.findobj() if a.get_gid() == gid]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ANALYSES))
def test_every_forest_plot_has_direction_labels_and_its_null_line(
    entries: dict[str, ReportEntry], name: str
) -> None:
    import matplotlib.pyplot as plt

    spec = ANALYSES[name]
    fig = report._draw(entries[name], "forest")
    try:
        left, right = spec.direction_labels
        texts = [t.get_text() for t in _gid(fig, "forest-direction")]
        assert texts == [f"← {left}", f"{right} →"]
        nulls = _gid(fig, "forest-null")
        if spec.null_value is None:  # a single-group proportion: no natural null
            assert nulls == []
        else:
            (line,) = nulls
            assert line.get_segments()[0][0, 0] == spec.null_value
    finally:
        plt.close(fig)
    # the single-group mean change of DAS28 has its line at 0 (no change)
    assert ANALYSES["das28_change_msc_single_group_w4"].null_value == 0.0


@pytest.mark.slow
def test_left_and_right_columns_round_alike(entries: dict[str, ReportEntry], page: str) -> None:
    fd = _forest_data(entries["das28_change_msc_single_group_w4"])
    he = fd.studies.set_index("label").loc["He 2020"]
    assert (he["arm"], he["estimate_text"]) == ("\u22120.69 (0.64)", "\u22120.69")
    # the report's table has the same decimals
    assert "\u22120.69 (SD 0.64), n = 30" in page


@pytest.mark.slow
@pytest.mark.parametrize("name", ["acr20_msc_single_group_w4", "das28_change_msc_single_group_w4"])
def test_prediction_interval_of_two_studies_is_drawn_as_the_table_reports_it(
    entries: dict[str, ReportEntry], name: str, page: str, full: FullRun
) -> None:
    r = entries[name].result
    assert r is not None and r.k == 2
    fd = _forest_data(entries[name])
    pi = fd.rows[fd.rows["kind"] == "prediction"].iloc[0]
    lo, hi = float(r.transform(r.pi_low)), float(r.transform(r.pi_high))
    assert (pi["ci_low"], pi["ci_high"]) == pytest.approx((lo, hi))
    table = pd.read_csv(full.out / "tables" / f"{name}_effect_sizes.csv")
    row = table[table["kind"] == "prediction"].iloc[0]
    assert (row["ci_low_display"], row["ci_high_display"]) == pytest.approx((lo, hi))
    text = f"[{lo:.2f}, {hi:.2f}]".replace("-", "\u2212")
    assert text in page


@pytest.mark.slow
def test_a_single_study_is_described_one_way(
    entries: dict[str, ReportEntry], page: str, full: FullRun
) -> None:
    from msc_meta.results import NOT_APPLICABLE_K1, SINGLE_STUDY

    name = "acr20_ifng_addon_w12"
    r = entries[name].result
    assert r is not None and r.k == 1
    # the summary, the tidy frame, the forest plot and the report say the same
    text = str(r.summary())
    assert f"Model                         : {SINGLE_STUDY}" in text
    assert f"95% PI                        : {NOT_APPLICABLE_K1}" in text
    assert "RE model" not in text
    assert r.to_frame()["study"].tolist() == ["He 2020", SINGLE_STUDY]
    fd = _forest_data(entries[name])
    assert fd.rows.loc[fd.rows["kind"] == "pooled_re", "label"].item() == SINGLE_STUDY
    assert "prediction" not in set(fd.rows["kind"])
    table = pd.read_csv(full.out / "tables" / f"{name}_effect_sizes.csv")
    assert table["study"].tolist() == ["He 2020", SINGLE_STUDY]
    article = page[page.index(f"id='analysis-{name}'") :]
    article = article[: article.index("</article>")]
    assert (
        f"<dd>{html.escape(SINGLE_STUDY)}: its own estimate, z (normal) interval</dd>" in article
    )
    assert f"<td>{NOT_APPLICABLE_K1}</td>" in article


@pytest.mark.slow
def test_studies_not_estimable_are_listed_in_the_analysis_table(
    entries: dict[str, ReportEntry],
) -> None:
    e = entries["acr20_msc_vs_control_w4"]
    assert e.analysis is not None and e.result is not None
    result = dataclasses.replace(e.result, not_estimable=("Lost 2001",))
    entry = dataclasses.replace(e, analysis=dataclasses.replace(e.analysis, result=result))
    built = _report_page.Built(entry, [], [], {})
    article = _report_page.analysis_html(built, mm.datasets.load_msc_ra())
    assert "<tr><td>Lost 2001</td><td></td><td></td><td class=num>not estimable</td>" in article
    fd = _forest_data(entry)
    assert fd.rows.loc[fd.rows["kind"] == "not_estimable", "label"].tolist() == ["Lost 2001"]


@pytest.mark.slow
def test_forest_figures_fill_the_content_width_and_link_to_the_full_size_file(
    page: str, full: FullRun
) -> None:
    for name in ANALYSES:
        rel = f"figures/{name}_forest.png"
        assert (full.out / rel).is_file()
        assert f"<figure><a class='full-size' href='{rel}' title='Full-size figure'>" in page
    assert page.count("<img class='forest' ") == len(ANALYSES)
    assert "figure img.forest { display: block; width: 100%; }" in page
