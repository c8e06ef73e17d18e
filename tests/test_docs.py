"""The documentation is true to the code.

Every ``python`` block of ``docs/*.md`` runs, in order, in one namespace per page; when a
``text`` block follows it directly, that is the block's printed output and must match
exactly (trailing spaces aside). Every ``console`` line ``$ msc-meta ...`` runs through
``msc_meta.cli.main`` and must succeed. The API page documents every public module.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGE = Path(__file__).resolve().parent.parent / "msc_meta"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)
PAGES = sorted(p.name for p in DOCS.glob("*.md"))


def _blocks(page: str) -> list[tuple[str, str]]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_pages_are_found() -> None:
    assert {"index.md", "getting-started.md", "methods.md", "data.md", "api.md"} <= set(PAGES)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run_and_print_what_the_page_shows(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from msc_meta import cli

    monkeypatch.chdir(tmp_path)  # files the examples write land here
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    blocks = _blocks(page)
    for i, (lang, code) in enumerate(blocks):
        where = f"{page}, code block {i + 1}"
        if lang == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, where, "exec"), namespace)
            if i + 1 < len(blocks) and blocks[i + 1][0] == "text":
                assert _normalise(out.getvalue()) == _normalise(blocks[i + 1][1]), where
        elif lang == "console":
            for line in code.splitlines():
                if not line.startswith("$ msc-meta "):
                    continue
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    status = cli.main(shlex.split(line[len("$ msc-meta ") :]))
                assert status == 0, f"{where}: {line!r} exited with {status}"


def test_api_page_documents_every_public_module() -> None:
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: (msc_meta[\w.]*)", api, re.M))
    modules = {
        f"msc_meta.{p.stem}"
        for p in PACKAGE.glob("*.py")
        if not p.stem.startswith("_") and p.stem != "__main__"
    }
    modules |= {f"msc_meta.{p.name}" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    missing = sorted(
        m for m in modules if m not in documented and not m.split(".")[-1].startswith("_")
    )
    assert not missing, f"docs/api.md lacks: {', '.join(missing)}"
