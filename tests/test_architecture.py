"""The module-level import graph of the package: no cycles, no import up a layer.

Issue 8 hoisted the imports that sat inside functions by habit. What stays lazy is listed in
:data:`LAZY`: matplotlib (the plotting modules import it inside functions, so
``import msc_meta`` stays fast) and the plot and refit methods on result classes, which call
up into ``plots`` and the fitting functions (statsmodels' ``plot_forest`` convention).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "msc_meta"

#: Layers from the bottom up: a module may import (at module level) only from its own or a
#: lower layer. Every module of the package is in exactly one layer (a test checks it).
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(m if m == "msc_meta" else f"msc_meta.{m}" for m in layer.split())
    for layer in (
        # the package itself loads its submodules lazily (PEP 562): it imports only _errors
        "msc_meta _data _errors _format _inference _templates _validation risk_of_bias",
        "tau2 effects conversions conversions._common conversions.change_scores"
        " conversions.groups conversions.medians conversions.percentages"
        " conversions.standard_errors",
        "heterogeneity _batch_types _batch_scan _batch_iterative _batch_tau2",
        "results _refit",
        "pooling binary",
        "moderators _metareg sensitivity bias heterogeneity_display batch gosh",
        "records datasets analyses running certainty caveats coverage _batch_dask",
        "plots plots._common plots._forest_rows plots._forest_draw plots.forest plots.funnel"
        " plots.diagnostics plots.regplot plots.sensitivity plots.gosh plots.rob"
        " plots.evidence_map",
        "report _report_page _report_tables _manifest cli __main__",
    )
)

#: (importing module, imported module) pairs allowed inside functions, with the reason.
LAZY: dict[tuple[str, str], str] = {
    ("msc_meta.results", "msc_meta.plots"): "result.forest_plot() and .funnel_plot() draw "
    "with plots, which imports results (statsmodels' plot_forest convention)",
    ("msc_meta.moderators", "msc_meta.plots"): "SubgroupResult.forest_plot() and "
    "MetaRegressionResult.regplot(), likewise",
    ("msc_meta.moderators", "msc_meta.plots.regplot"): "MetaRegressionResult.regplot() (the "
    "function plots.regplot, named as its module)",
    ("msc_meta.results", "msc_meta.sensitivity"): "result.leave_one_out(), .cumulative() and "
    ".influence() refit through sensitivity, which imports results",
    ("msc_meta.sensitivity", "msc_meta.plots"): "InfluenceResult.plot() draws with plots, "
    "which imports sensitivity",
    ("msc_meta.results", "msc_meta.bias"): "result.egger_test(), .begg_test() and "
    ".trim_and_fill() delegate to bias, which imports results (a layer up)",
    ("msc_meta.bias", "msc_meta.plots"): "TrimAndFill.funnel_plot(), as the result classes",
    ("msc_meta.results", "msc_meta.gosh"): "result.gosh() fits subsets through the batch "
    "engine (gosh, layer 6), which imports results",
    ("msc_meta.gosh", "msc_meta.plots.gosh"): "GoshResult.plot() draws with plots, which "
    "imports gosh",
    ("msc_meta.batch", "msc_meta._batch_dask"): "meta_analysis_many() of a Dask input: Dask "
    "is imported only then, so import msc_meta never needs it",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package's modules that an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "msc_meta"]
    if node.level:
        base = module.split(".")
        if MODULES[module].name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    if target.split(".")[0] != "msc_meta":
        return []
    subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return subs or [target]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside functions) of the package's own modules."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top: set[str] = set()
    inner: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # annotations only
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                (inner if in_function else top).update(_targets(module, child))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(tree, False)
    return top - {module}, inner - {module}


def _layer(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if module in layer:
            return i
    raise AssertionError(f"{module} is in no layer of LAYERS")


def test_every_module_is_in_exactly_one_layer() -> None:
    placed = [m for layer in LAYERS for m in layer]
    assert sorted(placed) == sorted(set(placed)), "a module is in two layers"
    assert set(placed) == set(MODULES), set(MODULES) ^ set(placed)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_level_imports_do_not_go_up_a_layer(module: str) -> None:
    top, _ = _imports(module)
    if module == "msc_meta":
        return  # the package's __init__ re-exports the public API from every layer
    upward = sorted(t for t in top if _layer(t) > _layer(module))
    assert not upward, f"{module} (layer {_layer(module)}) imports {upward} from a higher layer"


def test_module_level_import_graph_has_no_cycle() -> None:
    graph = {m: _imports(m)[0] for m in MODULES}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if t not in MODULES:
                continue
            if state.get(t) == 1:
                cycle = [*path[path.index(t) :], t] if t in path else [m, t]
                raise AssertionError(" -> ".join(cycle))
            if t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_inside_functions_are_the_listed_lazy_ones(module: str) -> None:
    _, inner = _imports(module)
    unlisted = sorted(t for t in inner if (module, t) not in LAZY)
    assert not unlisted, (
        f"{module} imports {unlisted} inside a function; hoist it or list it in LAZY"
    )


def test_lazy_list_has_no_stale_entries() -> None:
    used = {(m, t) for m in MODULES for t in _imports(m)[1]}
    assert set(LAZY) <= used, sorted(set(LAZY) - used)
