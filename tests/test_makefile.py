"""The two commands set up what they need, once: ``make run`` the runtime, ``make test`` the dev extras.

Checked with ``make -n`` (print the commands, run none) on a copy of the Makefile and
pyproject.toml, with the virtual environment's files faked, so that nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """An empty folder with the Makefile and pyproject.toml: a fresh clone, as make sees it."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    os.utime(tmp_path / "pyproject.toml", (time.time() - 100, time.time() - 100))
    return tmp_path


def _dry(clone: Path, target: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    out = subprocess.run(
        ["make", "-n", target], cwd=clone, capture_output=True, text=True, check=True, env=env
    )
    return out.stdout.splitlines()


def _installs(lines: list[str]) -> list[str]:
    return [line for line in lines if "pip install" in line and "--upgrade pip" not in line]


def _fake_venv(clone: Path, *stamps: str) -> None:
    (clone / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    (clone / ".venv" / "bin" / "python").touch()
    for stamp in stamps:
        (clone / ".venv" / stamp).touch()


def test_run_on_a_fresh_clone_installs_the_runtime_only_and_says_so(clone: Path) -> None:
    lines = _dry(clone, "run")
    assert any("-m venv .venv" in line for line in lines)
    installs = _installs(lines)
    assert len(installs) == 1 and installs[0].endswith(" -e ."), installs
    assert not any("[dev]" in line for line in lines)
    said = " ".join(line for line in lines if line.startswith("echo"))
    for word in ("runtime dependencies", "numpy", "matplotlib", "MB", "once"):
        assert word in said, said
    assert lines[-1] == ".venv/bin/msc-meta report --out results"


@pytest.mark.parametrize("target", ["test", "test-fast", "lint", "typecheck", "pytest", "docs"])
def test_test_targets_install_the_dev_extras(clone: Path, target: str) -> None:
    installs = _installs(_dry(clone, target))
    assert installs and installs[0].endswith(' -e ".[dev]"'), installs


def test_run_then_test(clone: Path) -> None:
    _fake_venv(clone, ".installed-run")  # after `make run`
    assert _installs(_dry(clone, "run")) == []
    assert _installs(_dry(clone, "test"))[0].endswith(' -e ".[dev]"')


def test_test_then_run(clone: Path) -> None:
    _fake_venv(clone, ".installed-dev", ".installed-run")  # after `make test`
    assert _installs(_dry(clone, "run")) == []
    assert _installs(_dry(clone, "test")) == []


def test_a_changed_pyproject_redoes_both(clone: Path) -> None:
    _fake_venv(clone, ".installed-dev", ".installed-run")
    (clone / "pyproject.toml").touch()
    os.utime(clone / "pyproject.toml", (time.time() + 100, time.time() + 100))
    assert _installs(_dry(clone, "run"))[0].endswith(" -e .")
    assert _installs(_dry(clone, "test"))[0].endswith(' -e ".[dev]"')


def test_test_fast_lints_and_deselects_the_slow_tests(clone: Path) -> None:
    _fake_venv(clone, ".installed-dev", ".installed-run")
    lines = _dry(clone, "test-fast")
    assert any(line.startswith(".venv/bin/ruff check") for line in lines), lines
    pytest_lines = [line for line in lines if "-m pytest" in line]
    assert len(pytest_lines) == 1 and '-m "not slow"' in pytest_lines[0], lines
    assert pytest_lines[0].startswith("HYPOTHESIS_PROFILE=dev "), lines  # fewer examples
    # the full suite stays the full suite
    assert not any("not slow" in line for line in _dry(clone, "test"))
