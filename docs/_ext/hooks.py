"""MkDocs hooks: fill generated sections of the pages from the code and the data.

Markers in the Markdown sources are replaced at build time, so the pages cannot drift
from what they describe:

* ``<!-- include: PATH -->``: the file at ``PATH`` (relative to the repository), without
  its first-level title and with its headings one level deeper;
* ``<!-- schema -->``: one table per resource of ``data/datapackage.json``;
* ``<!-- analyses -->``: the pre-specified analyses of ``msc_meta.analyses.ANALYSES``,
  with the studies that contribute to each and why the others do not;
* ``<!-- measures -->``: the effect-size registry ``msc_meta.effects.MEASURES``;
* ``<!-- reference-counts -->``: versions and case counts of the metafor reference file;
* ``img/evidence_map.png``: the evidence map of the bundled records
  (``msc_meta.plots.evidence_map``), drawn when the site is built, so it shows the records
  as they are.

The site needs no network to be read: MathJax comes from the ``django-static-mathjax``
package of the dev extras (no Django needed; its ``mathjax/static/mathjax/es5`` folder is
MathJax 3 as the MathJax project publishes it) and is added to the site under
``javascripts/mathjax/``; code is highlighted at build time by Pygments, whose style sheet
is written to ``css/pygments.css``.

Loaded by ``mkdocs.yml`` (``hooks: - docs/_ext/hooks.py``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

#: Where MathJax goes in the site (``mkdocs.yml`` loads ``javascripts/mathjax/tex-mml-chtml.js``).
MATHJAX_DEST = "javascripts/mathjax"

#: The parts of MathJax's ``es5`` folder that the site does not load: the other combined
#: components and the SVG output. ``tex-mml-chtml.js`` loads the rest on demand (TeX
#: extensions, fonts, the menu and its accessibility tools).
_MATHJAX_UNUSED = re.compile(
    r"^(tex-chtml.*|tex-svg.*|tex-mml-svg|mml-chtml|mml-svg|node-main)\.js$|^output/svg|^adaptors/"
)

_MARKER = re.compile(
    r"<!--\s*(include:\s*(?P<path>\S+)|schema|analyses|measures|reference-counts)\s*-->"
)


def _root(config: Any) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _include(root: Path, rel: str) -> str:
    """The file without its first-level title, its headings one level deeper."""
    lines = (root / rel).read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out, fenced = [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(out).strip() + "\n"


def _constraints(field: dict[str, Any]) -> str:
    cons = field.get("constraints", {})
    parts = []
    if "enum" in cons:
        parts.append("one of " + ", ".join(f"`{v}`" for v in cons["enum"]))
    if "pattern" in cons:
        parts.append(f"pattern `{cons['pattern']}`")
    if "minimum" in cons:
        parts.append(f"≥ {cons['minimum']}")
    if "maximum" in cons:
        parts.append(f"≤ {cons['maximum']}")
    if cons.get("unique"):
        parts.append("unique")
    return "; ".join(parts)


def _schema(root: Path) -> str:
    descriptor = json.loads((root / "data" / "datapackage.json").read_text(encoding="utf-8"))
    out = []
    for res in descriptor["resources"]:
        schema = res["schema"]
        out.append(f"### `{res['path']}`\n")
        out.append(_cell(res.get("description", "")) + "\n")
        keys = [f"primary key `{schema['primaryKey']}`"] if "primaryKey" in schema else []
        for fk in schema.get("foreignKeys", []):
            ref = fk["reference"]
            keys.append(f"`{fk['fields']}` → `{ref['resource']}.{ref['fields']}`")
        if keys:
            out.append("Keys: " + "; ".join(keys) + ".\n")
        out.append("| column | type | required | allowed values | unit | meaning |")
        out.append("|---|---|---|---|---|---|")
        for f in schema["fields"]:
            required = "yes" if f.get("constraints", {}).get("required") else ""
            out.append(
                f"| `{f['name']}` | {f.get('type', 'string')} | {required} | "
                f"{_cell(_constraints(f))} | {_cell(f.get('unit', ''))} | "
                f"{_cell(f.get('description', ''))} |"
            )
        out.append("")
    return "\n".join(out)


def _analyses() -> str:
    from msc_meta.analyses import ANALYSES, analysis_input
    from msc_meta.datasets import load_msc_ra

    records = load_msc_ra()
    labels = dict(zip(records.studies["study_id"], records.studies["label"], strict=True))
    out = []
    for spec in ANALYSES.values():
        inp = analysis_input(records, spec)
        when = (
            "end of follow-up"
            if spec.timepoint_weeks is None
            else f"{spec.timepoint_weeks:g} weeks"
        )
        contributing = ", ".join(inp.frame["study"]) if inp.k else "none"
        out.append(f"### `{spec.name}`\n")
        out.append(f"**{_cell(spec.title)}**\n")
        out.append("| | |\n|---|---|")
        rows = [
            ("comparison", spec.comparison),
            ("kind", f"`{spec.kind}`"),
            ("outcome, time point", f"`{spec.outcome}`, {when}"),
            (
                "arms",
                ", ".join(f"`{a}`" for a in spec.experimental)
                + (" vs " + ", ".join(f"`{a}`" for a in spec.control) if spec.control else ""),
            ),
            ("measure", f"`{spec.measure}`"),
            ("τ² estimator, test", f"`{spec.method}`, `{spec.test}`"),
            (f"studies contributing (k = {inp.k})", contributing),
        ]
        out += [f"| {k} | {_cell(v)} |" for k, v in rows]
        out.append("")
        out.append(f"*Rationale.* {spec.rationale}\n")
        if len(inp.excluded):
            out.append("Not contributing:\n")
            out += [
                f"- {labels.get(r.study_id, r.study_id)}: {r.reason}"
                for r in inp.excluded.itertuples()
            ]
            out.append("")
    return "\n".join(out)


#: The pooling functions behind the registry's ``pooled_by`` names.
_POOLING = {
    "inverse-variance": "meta_analysis",
    "mantel-haenszel": "mantel_haenszel",
    "peto": "peto",
}


def _measures() -> str:
    from msc_meta.effects import MEASURES

    out = [
        "| code | measure | arguments | zero-cell `add` | pooled on | shown as | no effect "
        "| pooled by | reference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in MEASURES.values():
        args = "`" + " ".join(m.arguments) + "`"
        if m.optional:
            args += " (optional `" + " ".join(m.optional) + "`)"
        add = f"{m.default_add:g}" if m.family in ("binary2", "binary1") else "–"
        name = m.description + (" (log scale)" if m.is_ratio else "")
        scale = "as shown" if m.scale == "raw" else f"{m.scale} scale"
        null = "–" if m.display_null is None else f"{m.display_null:g}"
        pooled = ", ".join(f"`{f}`" for p, f in _POOLING.items() if p in m.pooled_by)
        out.append(
            f"| `{m.code}` | {_cell(name)} | {args} | {add} | {scale} | {_cell(m.display_name)} "
            f"| {null} | {pooled} | {_cell(m.reference)} |"
        )
    return "\n".join(out) + "\n"


def _reference_counts(root: Path) -> str:
    ref = json.loads(
        (root / "tests" / "reference" / "metafor_reference.json").read_text(encoding="utf-8")
    )
    counts = ref["counts"]
    calls = {
        "escalc": "escalc",
        "rma": "rma + predict + confint",
        "mh": "rma.mh",
        "peto": "rma.peto",
    }
    lines = [
        f"The reference file now in the repository was written on {ref['generated']} by "
        f"{ref['r_version']} with metafor {ref['metafor_version']} (metadat "
        f"{ref['metadat_version']}). It holds {sum(counts.values())} cases:",
        "",
        "| kind | cases | metafor call |",
        "|---|---:|---|",
    ]
    lines += [f"| `{k}` | {n} | `{calls.get(k, k)}` |" for k, n in counts.items()]
    return "\n".join(lines) + "\n"


#: Where the evidence map of the bundled records goes in the site (docs/data.md shows it).
EVIDENCE_MAP = "img/evidence_map.png"


def _evidence_map_png() -> bytes:
    """The evidence map of the bundled records as PNG bytes (100 dpi, DejaVu Sans)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from msc_meta.datasets import load_msc_ra
    from msc_meta.plots import evidence_map

    with plt.rc_context({"font.family": "DejaVu Sans", "font.size": 10.0}):
        fig = evidence_map(load_msc_ra()).figure
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
    return out.getvalue()


def mathjax_dir() -> Path:
    """The ``es5`` folder of MathJax 3 shipped by the ``django-static-mathjax`` package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            "MathJax is not installed: the docs need the package django-static-mathjax "
            '(pip install -e ".[dev]")'
        )
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise PluginError(f"MathJax's tex-mml-chtml.js is not in {es5}")
    return es5


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Add MathJax and the Pygments style sheet to the site, so it needs no network."""
    from pygments.formatters import HtmlFormatter

    es5 = mathjax_dir()
    for path in sorted(es5.rglob("*")):
        rel = path.relative_to(es5).as_posix()
        if path.is_file() and not _MATHJAX_UNUSED.search(rel):
            files.append(File.generated(config, f"{MATHJAX_DEST}/{rel}", abs_src_path=str(path)))
    css = HtmlFormatter(style="default").get_style_defs(".highlight")
    files.append(File.generated(config, "css/pygments.css", content=css))
    files.append(File.generated(config, EVIDENCE_MAP, content=_evidence_map_png()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    """Replace the markers of a page by their generated content."""
    root = _root(config)

    def fill(m: re.Match[str]) -> str:
        if m.group("path"):
            return _include(root, m.group("path"))
        kind = m.group(1).strip()
        if kind == "schema":
            return _schema(root)
        if kind == "analyses":
            return _analyses()
        if kind == "reference-counts":
            return _reference_counts(root)
        return _measures()

    return _MARKER.sub(fill, markdown)
