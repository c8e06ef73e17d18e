"""Convert what papers report into what a meta-analysis needs.

Trial reports rarely give every arm's mean, SD and sample size, or every
effect's standard error. The functions here recover them from what *is*
reported, with the formula, the source and a worked example in each
docstring:

===============================  =================================================
function                         from -> to
===============================  =================================================
:func:`se_from_sd`               SD and n -> SE of a mean
:func:`sd_from_se`               SE of a mean and n -> SD
:func:`se_from_ci`               confidence interval -> SE (log scale for ratios)
:func:`sd_from_ci`               CI of a group mean and n -> SD
:func:`se_from_pvalue`           estimate and P value -> SE
:func:`se_from_t`                estimate and t (or z) statistic -> SE
:func:`mean_sd_from_median`      median with range and/or quartiles -> mean, SD
:func:`counts_from_percent`      percentage of n -> whole count, with a check
:func:`combine_groups`           two arms' n, mean, SD -> one arm
:func:`combine_groups_many`      several arms' n, mean, SD -> one arm
:func:`combine_events`           two arms' events and n -> one arm
:func:`change_sd`                SDs before and after, correlation -> SD of change
:func:`correlation_from_change`  SDs before, after and of change -> correlation
===============================  =================================================

Every function takes scalars or array-likes (one value per study or arm) and
is vectorised with numpy: all-scalar input gives a ``float``, anything else a
1-d array. A ``NaN`` marks a missing value and gives ``NaN`` in the same row;
impossible values raise :class:`~msc_meta.MetaAnalysisError`, naming the
argument and the row (0-based, in brackets), echoing the value and saying what
is allowed.

Ratio measures (OR, RR, HR) are handled on the log scale, as everywhere in
msc_meta: ``se_from_ci(..., ratio=True)`` returns the SE of the *log* ratio.

The functions live in topic modules (:mod:`~msc_meta.conversions.standard_errors`,
:mod:`~msc_meta.conversions.medians`, :mod:`~msc_meta.conversions.percentages`,
:mod:`~msc_meta.conversions.groups`, :mod:`~msc_meta.conversions.change_scores`);
import them from here, ``msc_meta.conversions``.
"""

from __future__ import annotations

from .change_scores import change_sd, correlation_from_change, sd_from_change
from .groups import (
    CombinedEvents,
    CombinedGroup,
    combine_events,
    combine_groups,
    combine_groups_many,
)
from .medians import MeanSD, mean_sd_from_median
from .percentages import CountFromPercent, counts_from_percent
from .standard_errors import (
    sd_from_ci,
    sd_from_se,
    se_from_ci,
    se_from_pvalue,
    se_from_sd,
    se_from_t,
)

__all__ = [
    "CombinedEvents",
    "CombinedGroup",
    "CountFromPercent",
    "MeanSD",
    "change_sd",
    "combine_events",
    "combine_groups",
    "combine_groups_many",
    "correlation_from_change",
    "counts_from_percent",
    "mean_sd_from_median",
    "sd_from_change",
    "sd_from_ci",
    "sd_from_se",
    "se_from_ci",
    "se_from_pvalue",
    "se_from_sd",
    "se_from_t",
]
