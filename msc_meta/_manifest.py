"""The list of files that ``msc-meta report`` wrote into its folder, so that a rerun can tidy up.

The report writes ``msc-meta-manifest.json`` into its output folder last, listing every file
it wrote there (path relative to the folder, size in bytes, SHA-256). The next run into the
same folder removes the files on that list that it does not write again, but only those still
as the earlier run left them (same size and SHA-256): a listed file that was changed since is
kept, and from then on is not the report's any more. A file that is not on the list is never
touched, and neither is anything outside the folder, whatever the list says. An unreadable
list removes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

#: The manifest's file name, at the top of the output folder.
MANIFEST_FILE = "msc-meta-manifest.json"

_CHUNK = 1 << 20


def sha256(data: bytes) -> str:
    """Return the SHA-256 of ``data`` as 64 hexadecimal digits.

    Parameters
    ----------
    data : bytes
        The content of a file.

    Returns
    -------
    str
        The hexadecimal digest.
    """
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    """One written file.

    Attributes
    ----------
    path : str
        Path relative to the output folder, with ``/`` separators.
    size : int
        Size in bytes.
    sha256 : str
        SHA-256 of the content, hexadecimal.
    """

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Cleanup:
    """What a run did with the files of the run before it.

    Attributes
    ----------
    removed : tuple of str
        Files removed: listed by the earlier run, unchanged, not written again.
    kept_changed : tuple of str
        Files listed by the earlier run and not written again, kept because
        they changed since.
    problems : tuple of str
        Messages: an unreadable manifest, a file that could not be removed.
    """

    removed: tuple[str, ...] = ()
    kept_changed: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """One line of text for each kind of thing done, for progress output."""
        out: list[str] = []
        if self.removed:
            n = len(self.removed)
            out.append(
                f"removed {n} file{'s' if n != 1 else ''} of an earlier run that this run did "
                f"not write: {', '.join(self.removed)}"
            )
        if self.kept_changed:
            n = len(self.kept_changed)
            out.append(
                f"kept {n} file{'s' if n != 1 else ''} of an earlier run that "
                f"{'were' if n != 1 else 'was'} changed since: {', '.join(self.kept_changed)}"
            )
        out.extend(self.problems)
        return out


def _entry(item: Any) -> FileEntry | None:
    """A manifest item as written by :class:`RunFiles`, or ``None`` for anything else."""
    if not isinstance(item, dict):
        return None
    path, size, digest = item.get("path"), item.get("size"), item.get("sha256")
    if not (isinstance(path, str) and isinstance(digest, str)):
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    pure = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or pure.is_absolute()
        or pure.as_posix() != path
        or any(part in ("", ".", "..") for part in pure.parts)
    ):
        return None
    return FileEntry(path, size, digest)


def read_manifest(root: Path) -> tuple[dict[str, FileEntry], tuple[str, ...]]:
    """Read the manifest in ``root``: the listed files and any problem reading it.

    Parameters
    ----------
    root : Path
        The output folder (resolved).

    Returns
    -------
    dict of str to FileEntry, tuple of str
        The files listed (none when there is no manifest or it cannot be read), and a
        message for a manifest that exists but cannot be read.
    """
    path = root / MANIFEST_FILE
    if not path.exists():
        return {}, ()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        items = doc["files"]
        if not isinstance(items, list):
            raise TypeError("'files' is not a list")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        return {}, (
            f"the list of files of an earlier run, {path}, could not be read ({exc}); "
            "no file of an earlier run was removed",
        )
    entries = [e for e in map(_entry, items) if e is not None]
    return {e.path: e for e in entries}, ()


class RunFiles:
    """The files one run writes into ``root``; :meth:`finish` tidies up and writes the list.

    Parameters
    ----------
    root : Path
        The output folder, resolved (no symbolic link in it).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: dict[str, FileEntry] = {}

    def add(self, path: Path, data: bytes) -> None:
        """Record that ``path`` (inside the folder) was written with ``data``."""
        rel = path.relative_to(self.root).as_posix()
        self.entries[rel] = FileEntry(rel, len(data), sha256(data))

    def _ours(self, old: FileEntry) -> Path | None:
        """The file ``old`` names, if it is still a regular file inside the folder."""
        p = self.root / old.path
        try:
            if p.is_symlink() or not p.is_file() or p.resolve() != p:
                return None
        except OSError:
            return None
        return p

    def finish(self) -> Cleanup:
        """Remove the earlier run's unchanged files that this run did not write; write the list.

        Returns
        -------
        Cleanup
            The files removed, the listed files kept because they changed since, and
            problems met (an unreadable list, a file that could not be removed).
        """
        previous, problems = read_manifest(self.root)
        removed: list[str] = []
        kept: list[str] = []
        issues = list(problems)
        for rel, old in sorted(previous.items()):
            if rel in self.entries or rel == MANIFEST_FILE:
                continue
            p = self._ours(old)
            if p is None:
                continue
            try:
                same = p.stat().st_size == old.size and _file_sha256(p) == old.sha256
                if not same:
                    kept.append(rel)
                    continue
                p.unlink()
            except OSError as exc:
                issues.append(f"could not remove {rel} of an earlier run: {exc.strerror or exc}")
                continue
            removed.append(rel)
        self._write()
        return Cleanup(tuple(removed), tuple(kept), tuple(issues))

    def _write(self) -> None:
        doc = {
            "about": "files written here by 'msc-meta report'; its next run into this folder "
            "removes those it does not write again, if unchanged (same sha256)",
            "files": [
                {"path": e.path, "size": e.size, "sha256": e.sha256}
                for e in sorted(self.entries.values(), key=lambda e: e.path)
            ],
        }
        path = self.root / MANIFEST_FILE
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
