"""Forest, funnel, diagnostic and risk-of-bias plots (matplotlib, imported only when drawing).

Every plotting function takes a result and an optional matplotlib ``Axes``
(``ax=``) and returns the ``Axes`` it drew on; none changes matplotlib's
global settings. The data behind each plot come from a separate function
(:func:`forest_data`, :func:`funnel_data`, :func:`galbraith_data`,
:func:`labbe_data`, :func:`baujat_data`, :func:`regplot_data`,
:func:`refit_forest_data`, :func:`influence_data`, :func:`gosh_data`,
:func:`rob_traffic_light_data`, :func:`rob_summary_data`, :func:`evidence_map_data`), so
they can be checked, or drawn with another library, without drawing. The risk-of-bias figures
(:mod:`msc_meta.plots.rob`) draw a risk-of-bias table (robvis' traffic-light and summary
plots), and ``forest_plot(..., rob=table)`` adds its columns to a forest plot.
"""

from __future__ import annotations

from .diagnostics import (
    baujat_data,
    baujat_plot,
    galbraith_data,
    galbraith_plot,
    labbe_data,
    labbe_plot,
)
from .evidence_map import STATE_STYLES, StateStyle, evidence_map, evidence_map_data
from .forest import ForestColumn, ForestData, forest_data, forest_plot
from .funnel import funnel_data, funnel_plot
from .gosh import gosh_data, gosh_plot
from .regplot import RegplotData, regplot, regplot_data
from .rob import (
    LEVEL_STYLES,
    LevelStyle,
    rob_forest_data,
    rob_summary,
    rob_summary_data,
    rob_traffic_light,
    rob_traffic_light_data,
)
from .sensitivity import (
    cumulative_forest_plot,
    influence_data,
    influence_plot,
    leave_one_out_plot,
    refit_forest_data,
)

__all__ = [
    "LEVEL_STYLES",
    "STATE_STYLES",
    "ForestColumn",
    "ForestData",
    "LevelStyle",
    "RegplotData",
    "StateStyle",
    "baujat_data",
    "baujat_plot",
    "cumulative_forest_plot",
    "evidence_map",
    "evidence_map_data",
    "forest_data",
    "forest_plot",
    "funnel_data",
    "funnel_plot",
    "galbraith_data",
    "galbraith_plot",
    "gosh_data",
    "gosh_plot",
    "influence_data",
    "influence_plot",
    "labbe_data",
    "labbe_plot",
    "leave_one_out_plot",
    "refit_forest_data",
    "regplot",
    "regplot_data",
    "rob_forest_data",
    "rob_summary",
    "rob_summary_data",
    "rob_traffic_light",
    "rob_traffic_light_data",
]
