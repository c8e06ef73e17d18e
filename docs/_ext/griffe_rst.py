"""Griffe extension: render the reStructuredText bits of numpydoc docstrings as Markdown.

The docstrings of msc_meta follow numpydoc, whose Notes and References use a few
reStructuredText constructs that Markdown does not know. mkdocstrings would print them
verbatim, so this extension rewrites them (in the rendered copy only; the source is not
touched) before the docstrings are parsed:

* ``:math:`x``` becomes ``$x$`` and a ``.. math::`` block becomes ``$$ ... $$`` (rendered
  by MathJax through ``pymdownx.arithmatex``); a block with ``&`` or ``\\`` is wrapped in
  ``aligned``, as Sphinx wraps it in ``split``;
* ``:func:`~msc_meta.x.f``` and the other cross-reference roles become inline code;
* ``.. [1] text`` reference entries become list items;
* ``See Also`` entries, and definition lists (a ````term```` line over indented text)
  before the first section, become lists;
* simple tables (``=====  =====`` borders) become Markdown tables;
* ``#:`` comments above module attributes become their docstrings;
* ``array-like`` in parameter types becomes ``array_like`` (griffe reads types as Python).

Loaded by ``mkdocs.yml`` (``extensions: - docs/_ext/griffe_rst.py``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|exc|obj|const|py:\w+):`~?([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_DIRECTIVE = re.compile(r"^(\s*)\.\. math::\s*(.*)$")
_CITATION = re.compile(r"^(\s*)\.\. \[(\w+)\]\s+(.*)$")
_TABLE_BORDER = re.compile(r"^\s*=+(\s+=+)+\s*$")


def _role(match: re.Match[str]) -> str:
    target = match.group(1)
    if match.group(0).split("`", 1)[1].startswith("~"):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _math_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH_DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        base = len(m.group(1))
        body: list[str] = [m.group(2)] if m.group(2).strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            body.append(lines[i].strip())
            i += 1
        while body and not body[-1]:
            body.pop()
        # blank lines separate equations, as in Sphinx
        equations: list[list[str]] = [[]]
        for line in body:
            if line:
                equations[-1].append(line)
            elif equations[-1]:
                equations.append([])
        pad = " " * base
        for eq in equations:
            if not eq:
                continue
            text = "\n".join(eq)
            if "&" in text or "\\\\" in text:
                eq = ["\\begin{aligned}", *eq, "\\end{aligned}"]
            out += ["", pad + "$$", *(pad + e for e in eq), pad + "$$", ""]
        # swallow the blank line that followed the block (one was added above)
        while i < len(lines) and not lines[i].strip() and out and not out[-1].strip():
            i += 1
    return out


def _citations(lines: list[str]) -> list[str]:
    out: list[str] = []
    in_citation = False
    for line in lines:
        m = _CITATION.match(line)
        if m:
            out.append(f"{m.group(1)}- [{m.group(2)}] {m.group(3)}")
            in_citation = True
        elif in_citation and line.strip() and _indent(line) > 0:
            out.append("  " + line.strip())
        else:
            in_citation = False
            out.append(line)
    return out


def _tables(lines: list[str]) -> list[str]:
    """Simple reST tables (border, header, border, rows, border) to Markdown tables."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _TABLE_BORDER.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        border = lines[i]
        spans = [(m.start(), m.end()) for m in re.finditer(r"=+", border)]
        j = i + 1
        rows: list[list[str]] = []
        borders = 1
        while j < len(lines) and borders < 3:
            if _TABLE_BORDER.match(lines[j]):
                borders += 1
            elif lines[j].strip():
                cells = []
                for n, (start, _end) in enumerate(spans):
                    stop = spans[n + 1][0] if n + 1 < len(spans) else len(lines[j])
                    cells.append(lines[j][start:stop].strip())
                rows.append(cells)
            j += 1
        if borders < 3 or not rows:  # not a table after all
            out.append(lines[i])
            i += 1
            continue
        header, body = rows[0], rows[1:]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" for _ in header) + "|")
        out += ["| " + " | ".join(r) + " |" for r in body]
        i = j
    return out


def _is_heading(lines: list[str], i: int) -> bool:
    return (
        i + 1 < len(lines)
        and bool(lines[i].strip())
        and bool(re.fullmatch(r"\s*-{3,}\s*", lines[i + 1]))
    )


def _see_also(lines: list[str]) -> list[str]:
    """Entries of a See Also section (``name : text`` or ``a, b``) to a list."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not (lines[i].strip() == "See Also" and _is_heading(lines, i)):
            out.append(lines[i])
            i += 1
            continue
        out += [lines[i], lines[i + 1]]
        i += 2
        while i < len(lines) and not _is_heading(lines, i):
            line = lines[i]
            if line.strip() and _indent(line) == 0:
                names, _, desc = line.partition(" : ")
                refs = ", ".join(f"`{n.strip()}`" for n in names.split(",") if n.strip())
                out.append(f"- {refs}" + (f": {desc.strip()}" if desc else ""))
            elif line.strip():
                out.append("  " + line.strip())
            else:
                out.append(line)
            i += 1
    return out


def _definition_lists(lines: list[str]) -> list[str]:
    """``term`` lines followed by indented text, before the first section, to a list.

    reST reads them as a definition list; Markdown would read the indented text as code.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _is_heading(lines, i):
            return out + lines[i:]
        line = lines[i]
        is_term = (
            re.fullmatch(r"``[^`]+``", line.strip()) is not None
            and _indent(line) == 0
            and i + 1 < len(lines)
            and _indent(lines[i + 1]) > 0
            and bool(lines[i + 1].strip())
        )
        if not is_term:
            out.append(line)
            i += 1
            continue
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > 0:
            body.append(lines[i].strip())
            i += 1
        out.append(f"- {line.strip()}: " + " ".join(body))
    return out


def rst_to_markdown(text: str) -> str:
    """Rewrite the reST constructs of a numpydoc docstring as Markdown (see module doc)."""
    lines = text.splitlines()
    lines = _tables(lines)
    lines = _definition_lists(lines)
    lines = _see_also(lines)
    lines = _math_blocks(lines)
    lines = _citations(lines)
    text = "\n".join(lines)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    text = _ROLE.sub(_role, text)
    text = re.sub(
        r"^(\s*[\w*, ]+ : .*)$",
        lambda m: m.group(1).replace("array-like", "array_like"),
        text,
        flags=re.M,
    )
    return text


def _comment_docstring(obj: griffe.Object) -> str:
    """The ``#:`` comment lines just above an attribute (Sphinx's attribute docs)."""
    if obj.filepath is None or obj.lineno is None or isinstance(obj.filepath, list):
        return ""
    source = obj.lines_collection[obj.filepath]
    found: list[str] = []
    i = obj.lineno - 2  # 0-based index of the line above
    while i >= 0 and source[i].lstrip().startswith("#:"):
        found.insert(0, source[i].lstrip()[2:].strip())
        i -= 1
    return "\n".join(found)


class RstToMarkdown(griffe.Extension):
    """Convert every docstring of the loaded package before mkdocstrings parses it."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Walk the package once it is fully loaded."""
        self._walk(pkg, set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is None and obj.is_attribute:
            comment = _comment_docstring(obj)
            if comment:
                obj.docstring = griffe.Docstring(comment, lineno=obj.lineno, parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)  # type: ignore[arg-type]
