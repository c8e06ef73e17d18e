"""The zero-cell ``to`` rule (metafor's ``escalc``), decided in one place for effect sizes and MH/Peto."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import msc_meta as mm
from msc_meta.binary import _study_level, _Tables
from msc_meta.effects import ZERO_CELL_RULES, zero_cell_targets

HAS_ZERO = np.array([True, False, False, True])
KEPT = np.array([True, True, False, False])  # the third and fourth studies are dropped
NO_ZERO = np.zeros(4, dtype=bool)


def test_rules_are_metafors() -> None:
    assert ZERO_CELL_RULES == ("only0", "all", "if0all", "none")


def test_only0_targets_the_studies_with_a_zero_cell() -> None:
    assert zero_cell_targets(HAS_ZERO, "only0").tolist() == [True, False, False, True]
    assert zero_cell_targets(HAS_ZERO, "only0", KEPT).tolist() == [True, False, False, False]


def test_all_targets_every_study() -> None:
    assert zero_cell_targets(HAS_ZERO, "all").tolist() == [True] * 4
    assert zero_cell_targets(NO_ZERO, "all").tolist() == [True] * 4
    assert zero_cell_targets(HAS_ZERO, "all", KEPT).tolist() == KEPT.tolist()


def test_if0all_targets_every_study_only_if_one_has_a_zero_cell() -> None:
    assert zero_cell_targets(HAS_ZERO, "if0all").tolist() == [True] * 4
    assert zero_cell_targets(NO_ZERO, "if0all").tolist() == [False] * 4
    assert zero_cell_targets(HAS_ZERO, "if0all", KEPT).tolist() == KEPT.tolist()
    # a zero cell only in a dropped study does not count
    only_dropped = np.array([False, False, True, False])
    assert zero_cell_targets(only_dropped, "if0all", KEPT).tolist() == [False] * 4


def test_none_targets_no_study() -> None:
    assert zero_cell_targets(HAS_ZERO, "none").tolist() == [False] * 4
    assert zero_cell_targets(HAS_ZERO, "none", KEPT).tolist() == [False] * 4


def test_the_inputs_are_not_modified() -> None:
    has_zero, kept = HAS_ZERO.copy(), KEPT.copy()
    for to in ZERO_CELL_RULES:
        zero_cell_targets(has_zero, to, kept)[:] = True
    assert has_zero.tolist() == HAS_ZERO.tolist() and kept.tolist() == KEPT.tolist()


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(mm.MetaAnalysisError, match="to='some'"):
        zero_cell_targets(HAS_ZERO, "some")


@pytest.mark.parametrize("drop00", [False, True])
@pytest.mark.parametrize("to", ZERO_CELL_RULES)
def test_effect_sizes_and_mantel_haenszel_correct_the_same_studies(to: str, drop00: bool) -> None:
    # study 2 has a zero cell, study 4 is a double zero (dropped when drop00)
    a, n1 = np.array([4.0, 0.0, 6.0, 0.0]), np.array([20.0, 25.0, 30.0, 10.0])
    c, n2 = np.array([8.0, 5.0, 9.0, 0.0]), np.array([22.0, 24.0, 28.0, 12.0])
    tables = _Tables(a=a, b=n1 - a, c=c, d=n2 - c)
    study = _study_level("OR", tables, ("1", "2", "3", "4"), add=0.5, to=to, drop00=drop00)
    counts = {"events_t": a, "n_t": n1, "events_c": c, "n_c": n2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.ZeroCellWarning)
        es = mm.effect_sizes("OR", **counts, to=to, drop00=drop00)
        plain = mm.effect_sizes("OR", **counts, add=0.0, drop00=drop00)
    # the studies whose counts effect_sizes changed are those MH names as corrected
    changed = ~np.isclose(es["variance"], plain["variance"], equal_nan=True) | (
        np.isfinite(es["variance"]) & ~np.isfinite(plain["variance"])
    )
    kept = ~study.dropped
    assert (changed & kept).tolist() == (study.corrected & ~np.isnan(study.effect)).tolist()
