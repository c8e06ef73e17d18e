"""The README's Python examples run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import msc_meta as mm

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(BLOCKS) >= 2
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[0], str(README), "exec"), namespace)
    assert "Random-effects model (tau^2 estimator: REML)" in capsys.readouterr().out
    # the MSC-RA example is a single study and says so
    with pytest.warns(mm.FewStudiesWarning, match="k = 1"):
        for code in BLOCKS[1:]:
            exec(compile(code, str(README), "exec"), namespace)
    assert "acr20_ifng_addon_w12" in capsys.readouterr().out
