"""Packaging: fast import, public names, typed, the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources

import pytest

import msc_meta as mm
from msc_meta.cli import main

PUBLIC = [
    "effect_sizes", "meta_analysis", "mantel_haenszel", "peto", "datasets", "conversions",
    "MetaAnalysisError", "ConvergenceWarning", "ZeroCellWarning", "FewStudiesWarning",
    "BoundaryWarning", "DroppedStudiesWarning", "EffectSizes", "MetaAnalysisResult",
]  # fmt: skip


def test_import_loads_no_heavy_module() -> None:
    """``import msc_meta`` must stay fast: numpy, pandas, scipy and matplotlib load lazily."""
    code = (
        "import sys, msc_meta; "
        "heavy = [m for m in ('pandas', 'scipy', 'matplotlib', 'statsmodels', 'numpy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", PUBLIC)
def test_public_names_exist(name: str) -> None:
    assert getattr(mm, name) is not None
    assert name in dir(mm)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mm.nope  # noqa: B018


def test_errors_are_value_errors_and_warnings_are_named() -> None:
    assert issubclass(mm.MetaAnalysisError, ValueError)
    for w in (mm.ConvergenceWarning, mm.ZeroCellWarning, mm.FewStudiesWarning, mm.BoundaryWarning):
        assert issubclass(w, mm.MetaAnalysisWarning) and issubclass(w, UserWarning)


def test_py_typed_is_shipped() -> None:
    assert resources.files("msc_meta").joinpath("py.typed").is_file()


def test_cli_demo_prints_the_bcg_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--method", "DL"]) == 0
    out = capsys.readouterr().out
    assert "tau^2 estimator: DL" in out and "-0.7141" in out


def test_cli_pool_reads_a_csv(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "es.csv"
    f.write_text("study,effect,variance\nA,0.1,0.04\nB,0.3,0.09\nC,-0.2,0.05\n")
    before = f.read_bytes()
    assert main(["pool", str(f), "--method", "PM", "--test", "knha"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Studies \(k\)\s+: 3\n", out)
    assert "Hartung-Knapp" in out
    assert f.read_bytes() == before


def test_cli_bad_input_exits_nonzero_with_message(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "bad.csv"
    f.write_text("effect,variance\n0.1,-0.04\n0.3,0.09\n")
    assert main(["pool", str(f)]) == 2
    assert "variance[0]" in capsys.readouterr().err
    assert main(["pool", str(tmp_path / "missing.csv")]) == 2
    assert main(["demo", "--method", "XYZ"]) == 2
    assert "valid" in capsys.readouterr().err


def test_python_dash_m_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "msc_meta", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("msc-meta ")
