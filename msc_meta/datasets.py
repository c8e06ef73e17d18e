"""Datasets shipped with msc_meta.

``load_bcg()`` returns the BCG vaccine trials of Colditz et al. (1994), the
standard worked example of metafor, Stata's ``metan`` and many textbooks.
``load_msc_ra()`` returns the curated, source-traced records of the eight
MSC-RA trial reports (see ``data/README.md``).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from .records import TrialRecords, bundled_data_dir, load_records


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
    with resources.files("msc_meta._data").joinpath("bcg.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def load_msc_ra() -> TrialRecords:
    """The curated MSC-RA evidence base: eight trial reports, validated.

    Returns
    -------
    TrialRecords
        ``.studies`` (one row per trial), ``.arms`` (one row per arm or dose
        cohort), ``.outcomes`` (one reported or derived number per row, with
        its source and location) and ``.sources`` DataFrames.

    Notes
    -----
    The records come from the extraction sheets of abstracts, registry
    records, one full-text table (He 2020, Table 2) and secondary reviews;
    no full text could be read. What is missing is listed per trial in
    ``data/README.md``. Works from an installed wheel (the files ship inside
    the package) as well as from a source checkout.

    Examples
    --------
    >>> rec = load_msc_ra()
    >>> sorted(rec.studies["study_id"])[:3]
    ['alvarogracia2017', 'ghoryani2019', 'he2020']
    """
    return load_records(bundled_data_dir())
