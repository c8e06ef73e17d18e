"""The docstrings of the public API pass numpydoc's validation, one entry per parameter.

The API reference (``docs/api.md``) is rendered from these docstrings by mkdocstrings, which
reads them as numpydoc. Every public function, class, method and property is checked with
``numpydoc.validate.validate`` (with the Attributes section counting as the parameters of a
dataclass, whose fields are its constructor's arguments), plus two rules numpydoc lacks.

Error codes that fail (``CHECKED``), and why:

* ``GL08`` no docstring: mkdocstrings leaves an undocumented object out of the reference;
* ``GL06`` unknown section: its heading and content are not rendered as a section;
* ``PR01``, ``PR02``, ``PR03``: the documented parameters are those of the signature, in
  its order, none missing and none unknown;
* ``PR04``, ``PR05``, ``PR06``, ``PR10``: every parameter has a type, written as numpydoc
  reads it (``int``, ``bool``, ``str``, no trailing period, ``name : type``);
* ``PR07``: every parameter has a description.

Codes not checked: the summary and description style (``SS*``, ``ES01``, ``PR08``,
``PR09``, ``RT04``, ``RT05``), and the sections that not every object needs (``RT01``
for properties and procedures, ``YD01``, ``SA*``, ``EX01``).

Rules added here (numpydoc accepts both faults):

* ``one-name``: one parameter per entry. numpydoc allows ``tol, max_iter : float, int``,
  but the rendered reference then shows ``max_iter (float, int), default: 1e-10``: the
  type of both and the default of the first.
* ``default``: a parameter with a default in the signature says so in its type, as
  ``, default <value>`` (also read: ``default: <value>``, ``default=<value>``; the value
  must be the signature's) or, for a default of ``None``, ``, optional``; a parameter
  without a default says neither.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest
from numpydoc.docscrape import NumpyDocString, get_doc_object
from numpydoc.validate import Validator, validate

import msc_meta

#: The public submodules whose public names are checked, besides ``msc_meta.__all__``.
PUBLIC_MODULES = (
    "effects",
    "conversions",
    "tau2",
    "pooling",
    "batch",
    "gosh",
    "binary",
    "heterogeneity",
    "heterogeneity_display",
    "moderators",
    "sensitivity",
    "bias",
    "results",
    "records",
    "datasets",
    "analyses",
    "running",
    "certainty",
    "caveats",
    "coverage",
    "report",
    "plots",
    "cli",
)

#: numpydoc error codes that fail the test (see the module docstring).
CHECKED = frozenset(
    {"GL06", "GL08", "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR07", "PR10"}
)

_DEFAULT = re.compile(r",\s*default(?:: |=| )\s*(?P<value>.+)$")
_OPTIONAL = re.compile(r",\s*optional$")


def _ours(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "")).startswith("msc_meta")


def _public_objects() -> dict[str, Any]:
    """Every public function and class, by its importable dotted name."""
    found: dict[str, Any] = {}

    def add(obj: Any) -> None:
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and _ours(obj):
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj

    for name in msc_meta.__all__:
        add(getattr(msc_meta, name))
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(f"msc_meta.{modname}")
        exported = getattr(module, "__all__", None)
        if exported is not None:
            for name in exported:
                add(getattr(module, name))
        else:  # names defined in the module itself, not those it imports
            for name, obj in vars(module).items():
                if not name.startswith("_") and getattr(obj, "__module__", "") == module.__name__:
                    add(obj)
    return found


def _members(classes: dict[str, Any]) -> Iterator[str]:
    """Public methods and properties of the classes, named where they are defined."""
    for cls in classes.values():
        if not inspect.isclass(cls):
            continue
        for klass in cls.__mro__:
            if not _ours(klass):
                continue
            for name, attr in vars(klass).items():
                if name.startswith("_"):
                    continue
                if isinstance(attr, (staticmethod, classmethod, property)) or inspect.isfunction(
                    attr
                ):
                    yield f"{klass.__module__}.{klass.__qualname__}.{name}"


OBJECTS = _public_objects()
NAMES = sorted(set(OBJECTS) | set(_members(OBJECTS)))


class _Validator(Validator):  # type: ignore[misc]
    """numpydoc's validator, with a dataclass's Attributes as its parameters.

    A class whose constructor is not its own (an exception or a DataFrame subclass using
    the base class's ``__init__``) has no parameters to document.
    """

    def __init__(self, obj_name: str) -> None:
        super().__init__(get_doc_object(Validator._load_obj(obj_name)))

    def _dataclass(self) -> bool:
        return inspect.isclass(self.obj) and dataclasses.is_dataclass(self.obj)

    @property
    def doc_parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = self._doc_parameters(["Parameters"])
        if self._dataclass():
            # the Attributes as written (numpydoc's ClassDoc fills an empty one in)
            fields = {f.name for f in dataclasses.fields(self.obj) if f.init}
            for entry in NumpyDocString(self.clean_doc)["Attributes"]:
                for name in entry.name.split(", "):
                    if name in fields:
                        params[name] = (entry.type, entry.desc)
        return params

    @property
    def doc_all_parameters(self) -> dict[str, Any]:
        params = dict(self.doc_parameters)
        params.update(self._doc_parameters(["Other Parameters"]))
        return params

    @property
    def signature_parameters(self) -> tuple[str, ...]:
        if inspect.isclass(self.obj) and not _ours(getattr(self.obj, "__init__", None)):
            return ()
        params: tuple[str, ...] = super().signature_parameters
        return params


def _stated_default_matches(stated: str, default: Any) -> bool:
    text = stated.strip().strip("`")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):  # a name, as in ``default REML``
        return text == str(default)
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # pragma: no cover - not comparable this way
        return True


def _default_problems(name: str, obj: Any) -> list[str]:
    """The ``one-name`` and ``default`` rules on the Parameters section."""
    if not (inspect.isroutine(obj) or inspect.isclass(obj)):
        return []  # a property has no parameters
    doc = NumpyDocString(inspect.getdoc(obj) or "")
    entries = doc["Parameters"]
    problems = [
        f"one-name: {e.name!r} documents several parameters in one entry; give each its own"
        for e in entries
        if "," in e.name
    ]
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return problems
    if inspect.isclass(obj) and not _ours(getattr(obj, "__init__", None)):
        return problems
    for entry in entries:
        if "," in entry.name or entry.name.startswith("*"):
            continue
        param = signature.parameters.get(entry.name)
        if param is None or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        stated = _DEFAULT.search(entry.type)
        optional = _OPTIONAL.search(entry.type)
        if param.default is inspect.Parameter.empty:
            if stated or optional:
                problems.append(
                    f"default: {entry.name!r} has no default but its type says {entry.type!r}"
                )
        elif stated:
            if not _stated_default_matches(stated.group("value"), param.default):
                problems.append(
                    f"default: {entry.name!r} says {stated.group(0).strip(', ')!r}, "
                    f"the signature has {param.default!r}"
                )
        elif not (optional and param.default is None):
            problems.append(
                f"default: {entry.name!r} defaults to {param.default!r}; its type "
                f"{entry.type!r} should end with ', default {param.default!r}'"
                + (" or ', optional'" if param.default is None else "")
            )
    return problems


def test_every_public_module_is_covered() -> None:
    modules = {name.split(".")[1] for name in NAMES}
    assert set(PUBLIC_MODULES) - {"plots"} <= modules
    assert any(name.startswith("msc_meta.plots.") for name in NAMES)
    assert len(NAMES) > 100


@pytest.mark.parametrize("name", NAMES)
def test_docstring(name: str) -> None:
    result = validate(name, validator_cls=_Validator)
    errors = [f"{code} {msg}" for code, msg in result["errors"] if code in CHECKED]
    errors += _default_problems(name, Validator._load_obj(name))
    where = f"{result.get('file')}:{result.get('file_line')}"
    assert not errors, f"{name} ({where}):\n  " + "\n  ".join(errors)
