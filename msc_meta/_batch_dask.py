"""The batch engine on Dask: :func:`~msc_meta.meta_analysis_many` of Dask arrays and DataFrames.

Loaded by :func:`~msc_meta.meta_analysis_many` only when it is given a Dask collection, so
``import msc_meta`` never needs Dask. Each block of rows (a chunk of a Dask array, a partition
of a Dask DataFrame) is fitted by the in-memory engine, lazily, as one task; the result is a
:class:`DaskBatchResult` whose fields are Dask arrays, and whose :meth:`~DaskBatchResult.compute`
gives the in-memory :class:`~msc_meta.batch.BatchResult`, equal to fitting the whole input in
memory: exactly for an array in the same (C) memory layout, else to the last bits of the
sums over studies.
"""

# Dask ships no type hints (ignore_missing_imports): its functions are untyped calls here.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import dataclasses
from typing import Any

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.base import compute
from dask.delayed import Delayed, delayed

from ._errors import MetaAnalysisError
from .batch import _INTERVALS, _SCALARS, BatchResult, _long_to_wide, meta_analysis_many
from .results import MetaAnalysisResult

#: The per-row fields of a result, in :class:`BatchResult` order (inputs last).
_FIELDS = (*_SCALARS, *_INTERVALS, "effect", "variance")


@dataclasses.dataclass(frozen=True)
class DaskBatchResult(BatchResult):
    """A lazy :class:`~msc_meta.batch.BatchResult`: the same fields, as Dask arrays.

    Returned by :func:`~msc_meta.meta_analysis_many` for Dask inputs. Nothing is computed
    until :meth:`compute` (or ``.compute()`` of a field, or :meth:`to_frame`), on whatever
    scheduler is active (a ``dask.distributed.Client`` if one is connected).

    Attributes
    ----------
    blocks : tuple of dask.delayed.Delayed
        One in-memory :class:`~msc_meta.batch.BatchResult` per block of rows, in order.
    """

    blocks: tuple[Delayed, ...]

    def __len__(self) -> int:
        m = self.estimate.shape[0]
        if np.isnan(m):
            raise TypeError(
                "the number of meta-analyses of a long Dask input is known after compute()"
            )
        return int(m)

    def __getitem__(self, i: int) -> MetaAnalysisResult:
        """The full :func:`~msc_meta.meta_analysis` result of row ``i`` (computes that row only).

        Parameters
        ----------
        i : int
            Row number (negative counts from the end).

        Returns
        -------
        MetaAnalysisResult
            The row fitted by :func:`~msc_meta.meta_analysis`.
        """
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"a BatchResult is indexed by one row number, not {type(i).__name__}")
        row = range(len(self))[i]
        y, v = compute(self.effect[row : row + 1], self.variance[row : row + 1])
        return _fit(y, v, None, self)[0]

    def compute(self, **kwargs: Any) -> BatchResult:
        """Fit every block and gather the in-memory result.

        Parameters
        ----------
        **kwargs : Any
            Passed to :func:`dask.compute` (e.g. ``scheduler=``).

        Returns
        -------
        BatchResult
            The rows of every block, in order.
        """
        (parts,) = compute(list(self.blocks), **kwargs)
        return concat(parts)

    def to_frame(self) -> Any:
        """One row per meta-analysis, as a lazy Dask DataFrame (one partition per block).

        Returns
        -------
        dask.dataframe.DataFrame
            The columns of :meth:`msc_meta.batch.BatchResult.to_frame`; indexed by the group
            labels of a long input, else by row number.
        """
        lazy: Any = self.estimate  # a Dask array
        starts = np.cumsum([0, *lazy.chunks[0][:-1]])
        frames = [delayed(_frame)(b, s) for b, s in zip(self.blocks, starts, strict=True)]
        meta = _fit(np.zeros((1, 1)), np.ones((1, 1)), None, self).to_frame().iloc[:0]
        return dd.from_delayed(frames, meta=meta, verify_meta=False)

    def summary(self) -> str:
        """Computes the result and summarizes it (:meth:`msc_meta.batch.BatchResult.summary`).

        Returns
        -------
        str
            A few lines of plain text.
        """
        return self.compute().summary()

    def _repr_html_(self) -> str:
        return f"<pre>lazy {type(self).__name__}: {self.estimate!r}</pre>"


def concat(parts: list[BatchResult]) -> BatchResult:
    """The in-memory results of consecutive blocks of rows as one :class:`BatchResult`."""
    first = parts[0]
    k_max = max(p.effect.shape[1] for p in parts)
    values: dict[str, Any] = {}
    for name in _FIELDS:
        arrays = [getattr(p, name) for p in parts]
        if name in ("effect", "variance"):  # blocks of a long input differ in k_max
            arrays = [
                np.pad(a, ((0, 0), (0, k_max - a.shape[1])), constant_values=np.nan)
                for a in arrays
            ]
        values[name] = np.concatenate(arrays)
    labels = [p.groups for p in parts if p.groups is not None]
    groups = labels[0].append(labels[1:]) if labels else None
    return dataclasses.replace(first, **values, groups=groups)


def meta_analysis_many_dask(
    effect: Any,
    variance: Any,
    se: Any,
    data: Any,
    group: str | None,
    **options: Any,
) -> DaskBatchResult:
    """:func:`~msc_meta.meta_analysis_many` of Dask inputs: one lazy task per block of rows."""
    # the options are checked now, not at compute time, by a fit of one 1-study row
    probe = meta_analysis_many(np.zeros((1, 1)), np.ones((1, 1)), **options)
    options["progress"] = False  # Dask shows progress (its bar or the dashboard), not each task
    if data is not None:
        # every block as wide as the largest group, as in memory (sums then run alike)
        width = data.groupby(group).size().max()
        blocks = [
            delayed(_fit_long)(p, group, effect, variance, width, options)
            for p in _by_group(data, group)
        ]
        lengths: tuple[float, ...] = (np.nan,) * len(blocks)
        k_shape: Any = np.nan
    else:
        Y = _rows(effect, "effect")
        S = _rows(se if se is not None else variance, "se" if se is not None else "variance", Y)
        V = S * S if se is not None else S
        blocks = [
            delayed(_fit_wide)(y, s, se is not None, options)
            for y, s in zip(Y.to_delayed().ravel(), S.to_delayed().ravel(), strict=True)
        ]
        lengths = Y.chunks[0]
        k_shape = Y.shape[1]
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if data is None and name in ("effect", "variance"):
            values[name] = Y if name == "effect" else V
            continue
        sample = getattr(probe, name)
        tail = (k_shape,) if name in ("effect", "variance") else sample.shape[1:]
        values[name] = da.concatenate(
            [
                da.from_delayed(delayed(getattr)(b, name), shape=(n, *tail), dtype=sample.dtype)
                for b, n in zip(blocks, lengths, strict=True)
            ],
            allow_unknown_chunksizes=True,  # a long input's blocks have unknown row counts
        )
    groups = None
    if data is not None:  # the labels as the blocks give them (a shuffle reorders groups)
        labels = [delayed(np.asarray)(delayed(getattr)(b, "groups"), dtype=object) for b in blocks]
        groups = da.concatenate(
            [da.from_delayed(x, shape=(np.nan,), dtype=object) for x in labels],
            allow_unknown_chunksizes=True,
        )
    return DaskBatchResult(
        **values,
        method=probe.method,
        test=probe.test,
        level=probe.level,
        groups=groups,
        tol=probe.tol,
        max_iter=probe.max_iter,
        blocks=tuple(blocks),
    )


def _rows(x: Any, name: str, like: Any = None) -> Any:
    """An m x k Dask array chunked along rows only: its own row chunks (``like``'s if given)."""
    a = da.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise MetaAnalysisError(f"{name} must be 2-D (meta-analyses x studies); it is {a.ndim}-D")
    return a.rechunk({0: like.chunks[0] if like is not None else a.chunks[0], 1: -1})


def _by_group(data: Any, group: str | None) -> list[Any]:
    """Partitions of a long Dask DataFrame in which no group is split across partitions."""
    if data.known_divisions and data.index.name == group and group not in data.columns:
        data = data.reset_index()  # indexed (sorted) by group: no group spans two partitions
    else:  # a shuffle, then each group's studies back in their order (sums in the same order)
        data = data.map_partitions(_number, meta=_number(data._meta)).shuffle(on=group)
        data = data.map_partitions(_in_order, meta=data._meta.drop(columns=list(_ORDER)))
    return list(data.to_delayed())


#: Columns of a long input's (partition, line) numbers, kept across a shuffle.
_ORDER = ("_msc_partition_", "_msc_line_")


def _number(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    n = partition_info["number"] if partition_info else 0
    return part.assign(**{_ORDER[0]: n, _ORDER[1]: np.arange(len(part))})


def _in_order(part: pd.DataFrame) -> pd.DataFrame:
    return part.sort_values(list(_ORDER), kind="stable").drop(columns=list(_ORDER))


def _fit(Y: Any, V: Any, se: Any, like: BatchResult) -> BatchResult:
    return meta_analysis_many(
        Y, V, se=se, method=like.method, test=like.test, level=like.level, tol=like.tol,
        max_iter=like.max_iter, progress=False,
    )  # fmt: skip


def _fit_wide(Y: Any, S: Any, is_se: bool, options: dict[str, Any]) -> BatchResult:
    if is_se:
        return meta_analysis_many(Y, se=S, **options)
    return meta_analysis_many(Y, S, **options)


def _fit_long(
    part: pd.DataFrame,
    group: str,
    effect: str,
    variance: str,
    width: int,
    options: dict[str, Any],
) -> BatchResult:
    Y, V, groups = _long_to_wide(part, group, effect, variance)
    pad = ((0, 0), (0, int(width) - Y.shape[1]))
    Y, V = (np.pad(a, pad, constant_values=np.nan) for a in (Y, V))
    if len(Y) == 0:  # a shuffle can leave a partition empty: a result of no rows
        one = meta_analysis_many(np.zeros((1, 1)), np.ones((1, 1)), **options)
        empty = {name: getattr(one, name)[:0] for name in _FIELDS}
        return dataclasses.replace(one, **empty, groups=groups)
    result = meta_analysis_many(Y, V, **options)
    return dataclasses.replace(result, groups=groups)


def _frame(result: BatchResult, start: int) -> pd.DataFrame:
    frame = result.to_frame()
    if result.groups is None:
        frame.index = pd.RangeIndex(start, start + len(frame))
    return frame
