"""msc_meta: meta-analysis of clinical-trial results, validated against metafor.

Submodules are imported on first use (PEP 562), so ``import msc_meta`` stays
fast; ``msc_meta.meta_analysis`` and friends load numpy, scipy and pandas only
when they are first touched.

Examples
--------
>>> import msc_meta as mm
>>> es = mm.effect_sizes("RR", events_t=[4, 6], n_t=[123, 306],
...                      events_c=[11, 29], n_c=[139, 303])
>>> res = mm.meta_analysis(es, method="REML")
>>> round(float(res.estimate), 4)
-1.325
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    BoundaryWarning,
    ConvergenceWarning,
    DroppedStudiesWarning,
    FewStudiesWarning,
    LargePlotWarning,
    MetaAnalysisError,
    MetaAnalysisWarning,
    MultimodalLikelihoodWarning,
    ZeroCellWarning,
)

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily)
_LAZY: dict[str, str] = {
    "effect_sizes": "effects",
    "EffectSizes": "effects",
    "MEASURES": "effects",
    "meta_analysis": "pooling",
    "meta_analysis_many": "batch",
    "BatchResult": "batch",
    "batch": "",
    "MetaAnalysisResult": "results",
    "BinaryPooledResult": "results",
    "mantel_haenszel": "binary",
    "subgroup_analysis": "moderators",
    "meta_regression": "moderators",
    "MetaRegressionResult": "moderators",
    "fail_safe_n": "bias",
    "selection_model": "bias",
    "SelectionModel": "bias",
    "FailSafeN": "bias",
    "RankTest": "bias",
    "RegressionTest": "bias",
    "TrimAndFill": "bias",
    "bias": "",
    "SubgroupResult": "moderators",
    "peto": "binary",
    "TAU2_METHODS": "tau2",
    "heterogeneity_table": "heterogeneity_display",
    "HeterogeneityTable": "heterogeneity_display",
    "describe_heterogeneity": "heterogeneity_display",
    "conversions": "",
    "datasets": "",
    "records": "",
    "analyses": "",
    "coverage": "",
    "moderators": "",
    "sensitivity": "",
    "plots": "",
    "heterogeneity": "",
    "heterogeneity_display": "",
    "tau2": "",
    "effects": "",
    "pooling": "",
    "binary": "",
    "results": "",
    "certainty": "",
    "rate_certainty": "certainty",
    "summary_of_findings": "certainty",
    "CertaintyRating": "certainty",
    "SummaryOfFindings": "certainty",
}

__all__ = [
    "MEASURES",
    "TAU2_METHODS",
    "BatchResult",
    "BinaryPooledResult",
    "BoundaryWarning",
    "CertaintyRating",
    "ConvergenceWarning",
    "DroppedStudiesWarning",
    "EffectSizes",
    "FailSafeN",
    "FewStudiesWarning",
    "HeterogeneityTable",
    "LargePlotWarning",
    "MetaAnalysisError",
    "MetaAnalysisResult",
    "MetaAnalysisWarning",
    "MetaRegressionResult",
    "MultimodalLikelihoodWarning",
    "RankTest",
    "RegressionTest",
    "SelectionModel",
    "SubgroupResult",
    "SummaryOfFindings",
    "TrimAndFill",
    "ZeroCellWarning",
    "__version__",
    "conversions",
    "datasets",
    "describe_heterogeneity",
    "effect_sizes",
    "fail_safe_n",
    "heterogeneity_table",
    "mantel_haenszel",
    "meta_analysis",
    "meta_analysis_many",
    "meta_regression",
    "peto",
    "rate_certainty",
    "selection_model",
    "subgroup_analysis",
    "summary_of_findings",
]

if TYPE_CHECKING:  # pragma: no cover
    from . import conversions, datasets
    from .batch import BatchResult, meta_analysis_many
    from .bias import (
        FailSafeN,
        RankTest,
        RegressionTest,
        SelectionModel,
        TrimAndFill,
        fail_safe_n,
        selection_model,
    )
    from .binary import mantel_haenszel, peto
    from .certainty import CertaintyRating, SummaryOfFindings, rate_certainty, summary_of_findings
    from .effects import MEASURES, EffectSizes, effect_sizes
    from .heterogeneity_display import (
        HeterogeneityTable,
        describe_heterogeneity,
        heterogeneity_table,
    )
    from .moderators import (
        MetaRegressionResult,
        SubgroupResult,
        meta_regression,
        subgroup_analysis,
    )
    from .pooling import meta_analysis
    from .results import BinaryPooledResult, MetaAnalysisResult
    from .tau2 import TAU2_METHODS


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'msc_meta' has no attribute {name!r}") from None
    if module == "":
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public API: ``__all__`` and the submodules (not the helpers this file imports)."""
    return sorted(set(__all__) | set(_LAZY))
