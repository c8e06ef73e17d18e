"""The report page's templates: package data, autoescaped, and a page that says what failed.

The whole page is checked end to end in ``test_report.py`` and in a browser in
``test_report_browser.py``; here, the pieces the templates add.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from pathlib import Path

import pandas as pd
import pytest

from msc_meta import _report_page, report
from msc_meta._errors import MetaAnalysisError
from msc_meta.analyses import ANALYSES
from msc_meta.certainty import CERTAINTY_LEVELS, summary_of_findings
from msc_meta.datasets import load_msc_ra
from msc_meta.records import TrialRecords, load_records
from msc_meta.running import ReportEntry, run_all


@pytest.fixture(scope="module")
def records() -> TrialRecords:
    return load_msc_ra()


def test_templates_and_css_are_package_data() -> None:
    folder = importlib.resources.files("msc_meta").joinpath("templates")
    for name in ("report.html.j2", "_macros.html.j2", "report.css"):
        assert folder.joinpath(name).is_file(), name


def test_record_text_is_escaped(records: TrialRecords) -> None:
    entry = run_all(records, analyses=["acr20_ifng_addon_w12"])[0]
    spec = dataclasses.replace(entry.spec, title="<script>alert('x')</script> & co")
    built = _report_page.Built(dataclasses.replace(entry, spec=spec), [], [], {})
    article = _report_page.analysis_html(built, records)
    assert "<script>" not in article
    assert "<h3>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co</h3>" in article


def test_an_analysis_that_did_not_run_shows_its_error(records: TrialRecords) -> None:
    entry = ReportEntry(
        spec=ANALYSES["acr20_msc_vs_control_w4"],
        analysis=None,
        error=MetaAnalysisError("no study reports <ACR20>"),
    )
    article = _report_page.analysis_html(_report_page.Built(entry, [], ["a problem"], {}), records)
    assert (
        "<div class='callout error'><strong>This analysis could not be run</strong>"
        "no study reports &lt;ACR20&gt;</div>" in article
    )
    assert "<li>a problem</li>" in article and "<h4>Numbers</h4>" not in article
    assert article.endswith("</article>")


def test_page_constants_stay_importable_from_report() -> None:
    assert report.PNG_DPI == _report_page.PNG_DPI == 300
    assert report.DIGITS == 2 and report.REPORT_TITLE == _report_page.REPORT_TITLE
    assert report.run_all is run_all and report.ReportEntry is ReportEntry


def _page(tmp_path: Path, records: TrialRecords) -> str:
    out = tmp_path / "out"
    page = report.build_report(
        out, records=records, analyses=["acr20_ifng_addon_w12"], formats="png"
    )
    return page.read_text(encoding="utf-8")


def test_evidence_map_and_risk_of_bias_sections(tmp_path: Path, records: TrialRecords) -> None:
    html = _page(tmp_path, records)
    out = tmp_path / "out"
    assert (out / "figures" / "evidence_map.png").is_file()
    assert "<section id='evidence-map'><h2>What the records hold</h2>" in html
    assert "alt='Evidence map'" in html
    if records.risk_of_bias.empty:
        assert "The records hold no risk-of-bias assessments." in html
    else:
        assert (out / "figures" / "rob_traffic_light.png").is_file()
        assert (out / "figures" / "rob_summary.png").is_file()
        assert (out / "tables" / "risk_of_bias.csv").is_file()
        for tool in set(records.risk_of_bias["tool"]):
            assert f"<strong>{tool}</strong>" in html
        assert "alt='Risk of bias: traffic-light plot'" in html


def test_records_without_risk_of_bias_say_so(tmp_path: Path, records: TrialRecords) -> None:
    bare = TrialRecords(
        studies=records.studies,
        arms=records.arms,
        outcomes=records.outcomes,
        sources=records.sources,
    )
    folder = bare.write(tmp_path / "records")
    html = _page(tmp_path, load_records(folder))
    assert "The records hold no risk-of-bias assessments." in html
    assert not (tmp_path / "out" / "figures" / "rob_summary.png").exists()


def test_summary_of_findings_near_the_top_with_the_bundled_judgements(
    tmp_path: Path, records: TrialRecords
) -> None:
    html = _page(tmp_path, records)
    out = tmp_path / "out"
    sof = pd.read_csv(out / "tables" / "summary_of_findings.csv")
    assert list(sof["analysis"]) == ["acr20_ifng_addon_w12"]
    assert set(sof["certainty"]) <= set(CERTAINTY_LEVELS)
    assert sof["reasons"].str.len().min() > 20
    # the GRADE section comes first, before the summary of the analyses
    assert html.index("<section id='certainty'>") < html.index("<section id='summary'>")
    assert "<table class='sof'>" in html
    # He 2020's "Some concerns" rests only on missing information: the rule rates down
    # itself, no curator row is needed for it
    assert "curator override" not in sof["reasons"].iloc[0]
    assert "counted as no information" in sof["reasons"].iloc[0]
    assert "Curator judgements: read from grade_judgements.csv beside the records" in html


def test_report_and_library_apply_the_same_bundled_judgements(
    tmp_path: Path, records: TrialRecords
) -> None:
    name = "acr20_msc_vs_control_w4"
    page = report.build_report(tmp_path / "out", records=records, analyses=[name], formats="png")
    sof = pd.read_csv(tmp_path / "out" / "tables" / "summary_of_findings.csv")
    library = summary_of_findings(run_all(records, analyses=[name]), records).to_frame()
    assert sof["certainty"].tolist() == library["certainty"].tolist() == ["very low"]
    assert "curator override" in sof["reasons"].iloc[0]
    assert "the rule gave 0" in sof["reasons"].iloc[0]
    assert "1 step overridden, from grade_judgements.csv" in page.read_text(encoding="utf-8")


def test_judgements_given_replace_the_bundled_ones(tmp_path: Path, records: TrialRecords) -> None:
    empty = tmp_path / "none.csv"
    empty.write_text("analysis,domain,downgrade,reason,source\n", encoding="utf-8")
    page = report.build_report(
        tmp_path / "out",
        records=records,
        judgements=empty,
        analyses=["acr20_ifng_addon_w12"],
        formats="png",
    )
    sof = pd.read_csv(tmp_path / "out" / "tables" / "summary_of_findings.csv")
    assert "curator override" not in sof["reasons"].iloc[0]
    assert "Curator judgements: read from " in page.read_text(encoding="utf-8")
    assert "none.csv; none concerns these analyses" in page.read_text(encoding="utf-8")
    with pytest.raises(MetaAnalysisError, match=r"judgements='.*nowhere\.csv': no such file"):
        report.build_report(
            tmp_path / "out2",
            records=records,
            judgements=tmp_path / "nowhere.csv",
            analyses=["acr20_ifng_addon_w12"],
            formats="png",
        )
