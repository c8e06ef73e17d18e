"""Shared test setup: the hypothesis profiles and the BCG fixtures.

Hypothesis profiles, chosen by the ``HYPOTHESIS_PROFILE`` environment variable
(default ``ci``, so that ``make test`` and CI run the thorough profile wherever they run;
``make test-fast`` chooses ``dev``):

- ``ci``: deterministic (derandomized, no example database, no deadline) with
  60 examples per property; tests that need another count say so with
  ``@settings(max_examples=...)``, which keeps the rest of the profile.
- ``dev``: 20 random examples per property, failures remembered in
  ``.hypothesis/`` and replayed first; for the edit-test loop (``make test-fast``).

The BCG fixtures are the vaccine trials of :func:`msc_meta.datasets.load_bcg`
(Colditz et al. 1994, k = 13), as metafor's ``dat.bcg``. They are module-scoped:
each test module gets its own copies, as when each module built them itself.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import settings

import msc_meta as mm

settings.register_profile("ci", max_examples=60, derandomize=True, database=None, deadline=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def bcg() -> pd.DataFrame:
    """The BCG trials as :func:`msc_meta.datasets.load_bcg` returns them."""
    return mm.datasets.load_bcg()


@pytest.fixture(scope="module")
def bcg_rr(bcg: pd.DataFrame) -> mm.EffectSizes:
    """Log risk ratios of the BCG trials, labelled by study."""
    return mm.effect_sizes(
        "RR", data=bcg, events_t="tpos", n_t="n_t", events_c="cpos", n_c="n_c", labels="study"
    )


@pytest.fixture(scope="module")
def bcg_reml(bcg_rr: mm.EffectSizes) -> mm.MetaAnalysisResult:
    """The REML random-effects model of the BCG log risk ratios (metafor's ``rma`` default)."""
    return mm.meta_analysis(bcg_rr, method="REML")


@pytest.fixture(scope="module")
def bcg_sub(bcg_rr: mm.EffectSizes, bcg: pd.DataFrame) -> mm.SubgroupResult:
    """REML subgroups of the BCG log risk ratios by method of allocation."""
    return mm.subgroup_analysis(bcg_rr, groups=bcg["alloc"], method="REML")
