"""Datasets shipped with msc_meta.

``load_bcg()`` returns the BCG vaccine trials of Colditz et al. (1994), the
standard worked example of metafor, Stata's ``metan`` and many textbooks.
The curated MSC-RA evidence base (``load_msc_ra``) arrives with its records.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def load_bcg() -> pd.DataFrame:
    """The BCG vaccine trials (Colditz et al. 1994): 13 two-arm trials.

    Returns
    -------
    DataFrame
        Columns ``trial, study, author, year, tpos, tneg, cpos, cneg, n_t,
        n_c, ablat, alloc``: tuberculosis cases (``pos``) and non-cases
        (``neg``) among vaccinated (``t``) and control (``c``) participants,
        group sizes, absolute latitude of the trial site and the method of
        allocation.

    References
    ----------
    .. [1] Colditz GA, Brewer TF, Berkey CS, et al. (1994). Efficacy of BCG
       vaccine in the prevention of tuberculosis: meta-analysis of the
       published literature. JAMA 271(9):698-702.

    Examples
    --------
    >>> bcg = load_bcg()
    >>> len(bcg), int(bcg["tpos"].sum())
    (13, 1065)
    """
    import pandas as pd

    with resources.files("msc_meta._data").joinpath("bcg.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)
