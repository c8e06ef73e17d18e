"""Trial records: the schema of ``data/``, loading, validation and writing.

A set of records is five tidy CSV tables described by a Frictionless
``datapackage.json`` (shipped inside the package, so user files are checked
against the same schema as the bundled MSC-RA evidence):

``studies``
    one row per trial report (design, intervention, where each was read);
``arms``
    one row per arm (dose cohorts are arms);
``outcomes``
    one reported (or derived) number per row, with its source and location;
``sources``
    one row per source;
``risk_of_bias``
    one row per study × risk-of-bias domain, with the tool, the judgement in
    the tool's own words, its support and source (optional: a folder without
    ``risk_of_bias.csv`` loads with an empty table).

:func:`load_records` reads a folder of these files, checks every field against
the schema and the cross-table rules (ids, references, counts within their
denominators, percentages reproduced by their counts, derivations that
reproduce), and returns a :class:`TrialRecords`. Problems raise
:class:`RecordError`, which names the file, the line, the column and the
problem. Files are only read, never written, by loading.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ._errors import MetaAnalysisError
from ._validation import is_missing
from .conversions import counts_from_percent
from .risk_of_bias import (
    OVERALL,
    RobError,
    RobOverallWarning,
    RobToolWarning,
    overall_from_domains,
    rob_tool,
    tool_for_design,
)

#: The tables of a set of records, in the order they are checked.
TABLES = ("sources", "studies", "arms", "outcomes", "risk_of_bias")

#: Tables a folder of records may leave out (they load empty).
OPTIONAL_TABLES = ("risk_of_bias",)

_TRUE = {"true", "True", "TRUE", "1"}
_FALSE = {"false", "False", "FALSE", "0"}


class RecordError(MetaAnalysisError):
    """A problem in a trial-record file (a ``ValueError``).

    Parameters
    ----------
    file : str
        The file (e.g. ``outcomes.csv``).
    problem : str
        What is wrong and what is allowed.
    line : int, optional
        The line of the file (1 is the header), when the problem is in a row.
    column : str, optional
        The column, when the problem is in a field.
    row_id : str, optional
        The identifier of the row, shown in the message.

    Attributes
    ----------
    file : str
        The file (e.g. ``outcomes.csv``).
    line : int or None
        The line of the file (1 is the header), when the problem is in a row.
    column : str or None
        The column, when the problem is in a field.
    problem : str
        What is wrong and what is allowed.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        line: int | None = None,
        column: str | None = None,
        row_id: str | None = None,
    ) -> None:
        self.file, self.line, self.column, self.problem = file, line, column, problem
        where = file
        if line is not None:
            where += f", line {line}"
        if row_id:
            where += f" ({row_id})"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")


# --------------------------------------------------------------------------- schema


def bundled_data_dir() -> Path:
    """Folder of the bundled MSC-RA records (inside an installed wheel, or ``data/``)."""
    packaged = resources.files("msc_meta._data").joinpath("msc_ra")
    if packaged.is_dir():
        return Path(str(packaged))
    repo = Path(__file__).resolve().parent.parent / "data"
    if (repo / "datapackage.json").is_file():
        return repo
    raise FileNotFoundError(
        "the bundled MSC-RA records are missing: neither msc_meta/_data/msc_ra (wheel) "
        "nor data/ (source checkout) holds datapackage.json"
    )


def schema() -> dict[str, Any]:
    """The Frictionless data package descriptor that defines the record tables."""
    with (bundled_data_dir() / "datapackage.json").open(encoding="utf-8") as fh:
        out: dict[str, Any] = json.load(fh)
    return out


def _fields(descriptor: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {r["name"]: r["schema"]["fields"] for r in descriptor["resources"]}


def empty_table(name: str) -> pd.DataFrame:
    """An empty record table with the columns of the schema (all text).

    Parameters
    ----------
    name : str
        One of :data:`TABLES`.

    Returns
    -------
    pandas.DataFrame
        No rows; the schema's columns, in order.
    """
    cols = [f["name"] for f in _fields(schema())[name]]
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, eq=False)
class TrialRecords:
    """Validated trial records: four DataFrames and where they came from.

    Columns are typed from the schema: integers as pandas ``Int64``, numbers as
    float, booleans as ``boolean``, text as ``object`` (``None`` when missing).
    ``outcomes`` has one extra column, ``value_text``: the value exactly as
    written in the file, whose decimals give the printed precision.

    Attributes
    ----------
    studies : pandas.DataFrame
        One row per trial report (``studies.csv``).
    arms : pandas.DataFrame
        One row per arm of a study (``arms.csv``).
    outcomes : pandas.DataFrame
        One row per reported or derived number, with its source and location
        (``outcomes.csv``).
    sources : pandas.DataFrame
        One row per source document (``sources.csv``).
    risk_of_bias : pandas.DataFrame
        One row per study × risk-of-bias domain (``risk_of_bias.csv``); empty
        when the records have no assessments.
    path : pathlib.Path or None
        The folder the records were read from (``None`` when built in memory).
    """

    studies: pd.DataFrame
    arms: pd.DataFrame
    outcomes: pd.DataFrame
    sources: pd.DataFrame
    risk_of_bias: pd.DataFrame = field(default_factory=lambda: empty_table("risk_of_bias"))
    path: Path | None = field(default=None)

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return (
            f"<TrialRecords{where}: {len(self.studies)} studies, {len(self.arms)} arms, "
            f"{len(self.outcomes)} outcome rows, {len(self.sources)} sources, "
            f"{len(self.risk_of_bias)} risk-of-bias rows>"
        )

    def table(self, name: str) -> pd.DataFrame:
        """One of the tables by name.

        Parameters
        ----------
        name : {"sources", "studies", "arms", "outcomes", "risk_of_bias"}
            The table.

        Returns
        -------
        pandas.DataFrame
            The table.
        """
        if name not in TABLES:
            raise MetaAnalysisError(
                f"table={name!r} is not a record table; valid: {', '.join(TABLES)}"
            )
        frame: pd.DataFrame = getattr(self, name)
        return frame

    def _repr_html_(self) -> str:
        cols = ["label", "design", "msc_source", "route", "n_enrolled"]
        return (
            f"<p>{len(self.studies)} studies, {len(self.arms)} arms, "
            f"{len(self.outcomes)} outcome rows, {len(self.sources)} sources</p>"
            + self.studies[cols].to_html(index=False, border=0)
        )

    def write(self, path: str | Path) -> Path:
        """Write the CSV files (and the schema) to the folder ``path``.

        The files are written exactly as :func:`load_records` reads them, so
        loading what was written gives identical frames. Refuses to overwrite
        the bundled records.

        Parameters
        ----------
        path : str or pathlib.Path
            The folder (created if missing).

        Returns
        -------
        pathlib.Path
            The folder written to.
        """
        return save_records(self, path)


# --------------------------------------------------------------------------- parsing


def _read_csv(path: Path, file: str) -> pd.DataFrame:

    if not path.is_file():
        raise RecordError(file, f"file not found at {path}")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RecordError(file, f"cannot be read as UTF-8 CSV: {exc}") from None


def _parse_field(
    raw: pd.Series, spec: Mapping[str, Any], file: str, ids: list[str | None]
) -> pd.Series:
    """Check one column against its field spec and return it typed."""
    name, kind = spec["name"], spec.get("type", "string")
    cons = spec.get("constraints", {})
    required = bool(cons.get("required"))
    values: list[Any] = []
    for i, text in enumerate(raw.tolist()):
        line, rid = i + 2, ids[i]
        text = text.strip() if isinstance(text, str) else text
        if text == "":
            if required:
                raise RecordError(
                    file,
                    "a value is required here (the cell is empty)",
                    line=line,
                    column=name,
                    row_id=rid,
                )
            values.append(None)
            continue
        if kind == "integer":
            if not re.fullmatch(r"[+-]?\d+", text):
                raise RecordError(
                    file, f"{text!r} is not a whole number", line=line, column=name, row_id=rid
                )
            val: Any = int(text)
        elif kind == "number":
            try:
                val = float(text)
            except ValueError:
                raise RecordError(
                    file, f"{text!r} is not a number", line=line, column=name, row_id=rid
                ) from None
            if not math.isfinite(val):
                raise RecordError(
                    file, f"{text!r} is not a finite number", line=line, column=name, row_id=rid
                )
        elif kind == "boolean":
            if text in _TRUE:
                val = True
            elif text in _FALSE:
                val = False
            else:
                raise RecordError(
                    file, f"{text!r} is not true or false", line=line, column=name, row_id=rid
                )
        else:
            val = text
        if "enum" in cons and val not in cons["enum"]:
            allowed = ", ".join(map(str, cons["enum"]))
            raise RecordError(
                file,
                f"{text!r} is not allowed; allowed: {allowed}",
                line=line,
                column=name,
                row_id=rid,
            )
        if "pattern" in cons and not re.fullmatch(cons["pattern"], str(val)):
            raise RecordError(
                file,
                f"{text!r} does not match the pattern {cons['pattern']}",
                line=line,
                column=name,
                row_id=rid,
            )
        if "minimum" in cons and val < cons["minimum"]:
            raise RecordError(
                file,
                f"{text} is below the minimum {cons['minimum']}",
                line=line,
                column=name,
                row_id=rid,
            )
        if "maximum" in cons and val > cons["maximum"]:
            raise RecordError(
                file,
                f"{text} is above the maximum {cons['maximum']}",
                line=line,
                column=name,
                row_id=rid,
            )
        values.append(val)
    if cons.get("unique"):
        seen: dict[Any, int] = {}
        for i, val in enumerate(values):
            if val is None:
                continue
            if val in seen:
                raise RecordError(
                    file,
                    f"duplicate id {val!r} (first on line {seen[val]})",
                    line=i + 2,
                    column=name,
                )
            seen[val] = i + 2
    if kind == "integer":
        return pd.Series(values, dtype="Int64", name=name)
    if kind == "number":
        return pd.Series(
            [math.nan if v is None else v for v in values], dtype="float64", name=name
        )
    if kind == "boolean":
        return pd.Series(values, dtype="boolean", name=name)
    return pd.Series(values, dtype=object, name=name)


def _parse_table(raw: pd.DataFrame, fields: list[dict[str, Any]], file: str) -> pd.DataFrame:

    names = [f["name"] for f in fields]
    # a column marked "optional" in the schema may be left out of the file: it reads as empty
    absent = [f["name"] for f in fields if f.get("optional") and f["name"] not in raw.columns]
    if absent:
        raw = raw.assign(**{n: "" for n in absent})
    missing = [n for n in names if n not in raw.columns]
    if missing:
        raise RecordError(
            file, f"missing column(s): {', '.join(missing)}; the schema needs: {', '.join(names)}"
        )
    extra = [c for c in raw.columns if c not in names]
    if extra:
        raise RecordError(
            file,
            f"unknown column(s): {', '.join(map(str, extra))}; the schema has: {', '.join(names)}",
        )
    key = names[0]
    ids = [str(v) if v else None for v in raw[key].tolist()]
    out = pd.DataFrame({f["name"]: _parse_field(raw[f["name"]], f, file, ids) for f in fields})
    return out


# --------------------------------------------------------------------------- cross-table rules


def _check_references(t: Mapping[str, pd.DataFrame]) -> None:
    studies = set(t["studies"]["study_id"])
    arms = dict(zip(t["arms"]["arm_id"], t["arms"]["study_id"], strict=True))
    sources = set(t["sources"]["source_id"])
    for i, sid in enumerate(t["arms"]["study_id"]):
        if sid not in studies:
            raise RecordError(
                "arms.csv",
                f"study_id {sid!r} is not in studies.csv",
                line=i + 2,
                column="study_id",
                row_id=t["arms"]["arm_id"].iloc[i],
            )
    out = t["outcomes"]
    for i, row in enumerate(_records_of(out)):
        rid = row["row_id"]
        if row["study_id"] not in studies:
            raise RecordError(
                "outcomes.csv",
                f"study_id {row['study_id']!r} is not in studies.csv",
                line=i + 2,
                column="study_id",
                row_id=rid,
            )
        if row["arm_id"] is not None:
            if row["arm_id"] not in arms:
                raise RecordError(
                    "outcomes.csv",
                    f"arm_id {row['arm_id']!r} is not in arms.csv",
                    line=i + 2,
                    column="arm_id",
                    row_id=rid,
                )
            if arms[row["arm_id"]] != row["study_id"]:
                raise RecordError(
                    "outcomes.csv",
                    f"arm_id {row['arm_id']!r} belongs to study {arms[row['arm_id']]!r}, not {row['study_id']!r}",
                    line=i + 2,
                    column="arm_id",
                    row_id=rid,
                )
        if row["source_id"] not in sources:
            raise RecordError(
                "outcomes.csv",
                f"source_id {row['source_id']!r} is not in sources.csv",
                line=i + 2,
                column="source_id",
                row_id=rid,
            )
        for part in _split(row.get("conflicts")):
            src, sep, quote = part.partition(":")
            if src.strip() not in sources or not sep or not quote.strip():
                raise RecordError(
                    "outcomes.csv",
                    f"conflicts entry {part!r} must read 'source_id: what that source says', "
                    "with a source_id of sources.csv",
                    line=i + 2,
                    column="conflicts",
                    row_id=rid,
                )
    for i, row in enumerate(_records_of(t["sources"])):
        for sid in _split(row["study_ids"]):
            if sid not in studies:
                raise RecordError(
                    "sources.csv",
                    f"study_ids names {sid!r}, which is not in studies.csv",
                    line=i + 2,
                    column="study_ids",
                    row_id=row["source_id"],
                )
    for i, row in enumerate(_records_of(t["studies"])):
        for col in (
            "design_source",
            "dose_source",
            "n_infusions_source",
            "follow_up_source",
            "n_enrolled_source",
        ):
            text = row[col]
            if text is None:
                continue
            for part in text.split(";"):
                src = part.split(":")[0].strip()
                if src not in sources:
                    raise RecordError(
                        "studies.csv",
                        f"names source {src!r}, which is not in sources.csv",
                        line=i + 2,
                        column=col,
                        row_id=row["study_id"],
                    )


def _check_risk_of_bias(t: Mapping[str, pd.DataFrame]) -> None:
    """Studies and sources exist; tool, domain and judgement are the tool's; domains complete."""
    file = "risk_of_bias.csv"
    studies = set(t["studies"]["study_id"])
    sources = set(t["sources"]["source_id"])
    seen: dict[tuple[str, str, str], set[str]] = {}
    first_line: dict[tuple[str, str, str], int] = {}
    words_of: dict[tuple[str, str, str], dict[str, tuple[str, int, str]]] = {}
    for i, row in enumerate(_records_of(t["risk_of_bias"])):
        line, rid = i + 2, row["rob_id"]
        if row["study_id"] not in studies:
            raise RecordError(
                file,
                f"study_id {row['study_id']!r} is not in studies.csv",
                line=line,
                column="study_id",
                row_id=rid,
            )
        for src in _split(row["source_id"]):
            if src not in sources:
                raise RecordError(
                    file,
                    f"source_id names {src!r}, which is not in sources.csv",
                    line=line,
                    column="source_id",
                    row_id=rid,
                )
        try:
            tool = rob_tool(row["tool"])
        except RobError as exc:
            raise RecordError(file, str(exc), line=line, column="tool", row_id=rid) from None
        try:
            tool.level(row["domain"], row["judgement"])
        except RobError as exc:
            column = "domain" if row["domain"] not in tool.domains else "judgement"
            raise RecordError(file, str(exc), line=line, column=column, row_id=rid) from None
        key = (row["study_id"], row["tool"], row["comparison"])
        domains = seen.setdefault(key, set())
        first_line.setdefault(key, line)
        if row["domain"] in domains:
            raise RecordError(
                file,
                f"domain {row['domain']!r} of {row['tool']} is assessed twice for study "
                f"{row['study_id']!r}, comparison {row['comparison']!r}; one row per domain",
                line=line,
                column="domain",
                row_id=rid,
            )
        domains.add(row["domain"])
        words_of.setdefault(key, {})[row["domain"]] = (row["judgement"], line, rid)
    design = {
        row["study_id"]: tool_for_design(row["randomised"] == "yes", row["controlled"] == "yes")
        for row in _records_of(t["studies"])
    }
    for key, domains in seen.items():
        if design[key[0]] != key[1]:
            warnings.warn(
                f"{file}, line {first_line[key]}: study {key[0]!r} is assessed with {key[1]}, "
                f"but its design (studies.csv: randomised, controlled) calls for "
                f"{design[key[0]]} (risk_of_bias.tool_for_design); kept",
                RobToolWarning,
                stacklevel=4,
            )
        missing = [d for d in rob_tool(key[1]).domains if d not in domains]
        if missing:
            raise RecordError(
                file,
                f"study {key[0]!r}, {key[1]} ({key[2]}) lacks domain(s) {', '.join(missing)}; "
                f"every domain and {OVERALL!r} needs a row (use the tool's 'no information' "
                "word where the sources say nothing)",
                line=first_line[key],
                column="domain",
            )
        got = words_of[key]
        allowed = overall_from_domains(key[1], {d: w[0] for d, w in got.items() if d != OVERALL})
        word, line, rid = got[OVERALL]
        if word not in allowed:
            warnings.warn(
                f"{file}, line {line} ({rid}): the overall judgement {word!r} of study "
                f"{key[0]!r}, {key[1]} ({key[2]}) differs from the tool's rule for its domains, "
                f"which gives {' or '.join(map(repr, allowed))} (risk_of_bias.overall_from_domains); "
                "kept as the curator's override; say why in notes",
                RobOverallWarning,
                stacklevel=4,
            )


def _records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts (plain Python access, typed loosely)."""
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(";") if p.strip()]


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _reproduces(count: float, denominator: int, percent_text: str) -> bool:
    """Whether count/denominator, rounded to the printed decimals, gives the printed percent."""
    if denominator == 0:
        return False
    d = _decimals(percent_text)
    exact = Fraction(int(count)) * 100 / denominator
    half = Fraction(1, 2 * 10**d)
    return abs(exact - Fraction(percent_text)) <= half


def _check_values(t: Mapping[str, pd.DataFrame]) -> None:
    out = t["outcomes"]
    orows = _records_of(out)
    by_id = {rid: i for i, rid in enumerate(out["row_id"])}
    for i, row in enumerate(orows):
        line, rid = i + 2, row["row_id"]
        stat, val, den = row["statistic"], row["value"], row["denominator"]
        if stat in ("count", "n") and val != int(val):
            raise RecordError(
                "outcomes.csv",
                f"a {stat} must be a whole number; got {row['value_text']}",
                line=line,
                column="value",
                row_id=rid,
            )
        if stat in ("count", "events", "n") and val < 0:
            raise RecordError(
                "outcomes.csv",
                f"a {stat} cannot be negative; got {row['value_text']}",
                line=line,
                column="value",
                row_id=rid,
            )
        if stat == "count" and den is not None and not is_missing(den) and val > den:
            raise RecordError(
                "outcomes.csv",
                f"count {row['value_text']} is larger than its denominator {den}",
                line=line,
                column="value",
                row_id=rid,
            )
        if stat == "percent" and not 0 <= val <= 100:
            raise RecordError(
                "outcomes.csv",
                f"a percent must lie in [0, 100]; got {row['value_text']}",
                line=line,
                column="value",
                row_id=rid,
            )
        if stat == "p_value" and not 0 <= val <= 1:
            raise RecordError(
                "outcomes.csv",
                f"a p-value must lie in [0, 1]; got {row['value_text']}",
                line=line,
                column="value",
                row_id=rid,
            )
        if stat in ("sd", "se", "change_sd", "change_se") and val < 0:
            raise RecordError(
                "outcomes.csv",
                f"a {stat} cannot be negative; got {row['value_text']}",
                line=line,
                column="value",
                row_id=rid,
            )
        # derivations
        method = row["derivation_method"]
        if row["derived"]:
            if method is None or row["derivation"] is None:
                raise RecordError(
                    "outcomes.csv",
                    "a derived number needs derivation_method and derivation",
                    line=line,
                    column="derivation_method",
                    row_id=rid,
                )
        elif method is not None or row["derived_from"] is not None:
            raise RecordError(
                "outcomes.csv",
                "a number read in the source (derived = false) has no "
                "derivation_method or derived_from",
                line=line,
                column="derived",
                row_id=rid,
            )
        parents = _split(row["derived_from"])
        for p in parents:
            if p not in by_id:
                raise RecordError(
                    "outcomes.csv",
                    f"derived_from names {p!r}, which is not a row_id",
                    line=line,
                    column="derived_from",
                    row_id=rid,
                )
        if method == "count_from_percent":
            if len(parents) != 1:
                raise RecordError(
                    "outcomes.csv",
                    "count_from_percent needs exactly one derived_from row (the percent)",
                    line=line,
                    column="derived_from",
                    row_id=rid,
                )
            parent = orows[by_id[parents[0]]]
            if parent["statistic"] != "percent":
                raise RecordError(
                    "outcomes.csv",
                    f"derived_from {parents[0]!r} is a {parent['statistic']}, not a percent",
                    line=line,
                    column="derived_from",
                    row_id=rid,
                )
            if den is None or is_missing(den):
                raise RecordError(
                    "outcomes.csv",
                    "count_from_percent needs the denominator",
                    line=line,
                    column="denominator",
                    row_id=rid,
                )
            try:
                conv = counts_from_percent(parent["value_text"], int(den))
            except MetaAnalysisError as exc:
                raise RecordError(
                    "outcomes.csv",
                    f"the percent {parent['value_text']} of {den} gives no count: {exc}",
                    line=line,
                    column="value",
                    row_id=rid,
                ) from None
            if int(conv.count) != int(val):
                raise RecordError(
                    "outcomes.csv",
                    f"count {row['value_text']} does not follow from {parent['value_text']}% of {den} "
                    f"(that gives {int(conv.count)})",
                    line=line,
                    column="value",
                    row_id=rid,
                )
        if method == "sum":
            total = sum(float(orows[by_id[p]]["value"]) for p in parents)
            if not parents or not math.isclose(total, val, rel_tol=1e-12, abs_tol=1e-12):
                raise RecordError(
                    "outcomes.csv",
                    f"value {row['value_text']} is not the sum of derived_from ({total:g})",
                    line=line,
                    column="value",
                    row_id=rid,
                )
    _check_percent_matches_count(out)


def _check_percent_matches_count(out: pd.DataFrame) -> None:
    """A count and a percent of the same study, arm, outcome and time must agree."""
    keys = ["study_id", "arm_id", "outcome", "timepoint_label"]
    percents = out[out["statistic"] == "percent"]
    counts = out[out["statistic"] == "count"]
    index = {tuple(r[k] for k in keys): r for r in _records_of(percents)}
    for i, row in zip(counts.index, _records_of(counts), strict=True):
        hit = index.get(tuple(row[k] for k in keys))
        den = row["denominator"]
        if hit is None or is_missing(den):
            continue
        prow = hit
        if not is_missing(prow["denominator"]) and int(prow["denominator"]) != int(den):
            continue
        if not _reproduces(row["value"], int(den), prow["value_text"]):
            raise RecordError(
                "outcomes.csv",
                f"count {row['value_text']}/{int(den)} = {100 * row['value'] / int(den):.4g}% does not "
                f"match the percent {prow['value_text']} of row {prow['row_id']!r} at its printed precision",
                line=int(i) + 2,
                column="value",
                row_id=row["row_id"],
            )


# --------------------------------------------------------------------------- public API


def _resolve_dir(path: str | Path) -> Path:
    p = Path(path)
    if p.is_file() and p.name == "datapackage.json":
        return p.parent
    if not p.is_dir():
        raise RecordError(
            str(p),
            "is not a folder of record files (studies.csv, arms.csv, outcomes.csv, sources.csv)",
        )
    return p


def validate_tables(
    raw: Mapping[str, pd.DataFrame], descriptor: Mapping[str, Any] | None = None
) -> dict[str, pd.DataFrame]:
    """Check raw (all-text) tables against the schema and the cross-table rules.

    Parameters
    ----------
    raw : mapping of str to pandas.DataFrame
        The tables by name (``sources``, ``studies``, ``arms``, ``outcomes``
        and, optionally, ``risk_of_bias``), every cell as text.
    descriptor : mapping, optional
        A Frictionless data package descriptor; default: :func:`schema`.

    Returns
    -------
    dict of str to pandas.DataFrame
        The typed tables.

    Raises
    ------
    RecordError
        On the first problem, naming the file, line and column.
    """
    fields = _fields(descriptor or schema())
    typed: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        file = f"{name}.csv"
        if name not in raw and name in OPTIONAL_TABLES:
            typed[name] = empty_table(name)
            continue
        typed[name] = _parse_table(raw[name], fields[name], file)
    typed["outcomes"]["value_text"] = [str(v).strip() for v in raw["outcomes"]["value"]]
    _check_references(typed)
    _check_values(typed)
    _check_risk_of_bias(typed)
    return typed


def load_records(path: str | Path) -> TrialRecords:
    """Load and validate a folder of trial records.

    Parameters
    ----------
    path : str or Path
        A folder with ``studies.csv``, ``arms.csv``, ``outcomes.csv`` and
        ``sources.csv`` and optionally ``risk_of_bias.csv`` (or the path of its
        ``datapackage.json``), following the schema of :func:`schema`.

    Returns
    -------
    TrialRecords
        The typed tables (``studies``, ``arms``, ``outcomes``, ``sources``,
        ``risk_of_bias``) and the folder they were read from.

    Raises
    ------
    RecordError
        A missing file or column, a value of the wrong type or outside its
        allowed values, a duplicate id, a reference to an unknown study, arm or
        source, a count larger than its denominator, a percentage that its
        count does not reproduce, or a derivation that does not reproduce. The
        message names the file, line, column and problem.

    Notes
    -----
    The files are opened read-only; nothing is ever written back.

    Examples
    --------
    >>> from msc_meta.records import bundled_data_dir, load_records
    >>> rec = load_records(bundled_data_dir())
    >>> len(rec.studies)
    8
    """
    folder = _resolve_dir(path)
    raw = {
        name: _read_csv(folder / f"{name}.csv", f"{name}.csv")
        for name in TABLES
        if name not in OPTIONAL_TABLES or (folder / f"{name}.csv").is_file()
    }
    typed = validate_tables(raw)
    return TrialRecords(
        studies=typed["studies"],
        arms=typed["arms"],
        outcomes=typed["outcomes"],
        sources=typed["sources"],
        risk_of_bias=typed["risk_of_bias"],
        path=folder,
    )


def _format_cell(value: Any, kind: str) -> str:
    if value is None or is_missing(value):
        return ""
    if kind == "boolean":
        return "true" if bool(value) else "false"
    if kind == "integer":
        return str(int(value))
    if kind == "number":
        return repr(float(value)) if not float(value).is_integer() else str(int(value))
    return str(value)


def save_records(records: TrialRecords, path: str | Path) -> Path:
    """Write ``records`` as CSV files (and the schema) into the folder ``path``.

    Numbers in ``outcomes.value`` are written as ``value_text`` (as printed),
    so the printed precision survives. Refuses to write into the bundled
    records' folder.

    Parameters
    ----------
    records : TrialRecords
        The records to write.
    path : str or pathlib.Path
        The folder (created if missing).

    Returns
    -------
    pathlib.Path
        The folder written to.
    """
    folder = Path(path)
    try:
        if folder.resolve() == bundled_data_dir().resolve():
            raise MetaAnalysisError(
                f"path={str(path)!r} is the bundled records' folder; write elsewhere"
            )
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = schema()
    fields = _fields(descriptor)
    for name in TABLES:
        frame = records.table(name)
        cols: dict[str, list[str]] = {}
        for f in fields[name]:
            kind = f.get("type", "string")
            if name == "outcomes" and f["name"] == "value" and "value_text" in frame.columns:
                cols["value"] = [str(v) for v in frame["value_text"]]
            else:
                cols[f["name"]] = [_format_cell(v, kind) for v in frame[f["name"]].tolist()]
        pd.DataFrame(cols).to_csv(
            folder / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n"
        )
    with (folder / "datapackage.json").open("w", encoding="utf-8") as fh:
        json.dump(descriptor, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    return folder


def iter_missing(records: TrialRecords) -> Iterable[tuple[str, str, str]]:
    """Study-level gaps: ``(study_id, table, column)`` for every empty cell of studies and arms.

    Parameters
    ----------
    records : TrialRecords
        The records to look through.

    Yields
    ------
    tuple of (str, str, str)
        The study, the table (``studies`` or ``arms``) and the column (for
        arms, ``arm_id.column``). Notes and ``*_source`` columns are skipped.
    """
    for name, key in (("studies", "study_id"), ("arms", "arm_id")):
        frame = records.table(name)
        for _, row in frame.iterrows():
            sid = row["study_id"] if name == "arms" else row[key]
            for col in frame.columns:
                if col in ("notes",) or col.endswith("_source"):
                    continue
                if is_missing(row[col]):
                    yield (str(sid), name, f"{col}" if name == "studies" else f"{row[key]}.{col}")
