"""Walk INPUT arguments into a sorted list of files, each with its document id."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class InputError(Exception):
    """A usage problem with the inputs themselves (missing path, nothing to read)."""


@dataclass(frozen=True, slots=True, order=True)
class InputFile:
    """A file to read. ``doc_id`` is its path relative to the INPUT directory it was found in
    (or its name when the INPUT was the file itself); ``source_path`` is where it lives."""

    source_path: str
    doc_id: str

    @property
    def path(self) -> Path:
        return Path(self.source_path)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def discover_inputs(inputs: list[str | os.PathLike[str]]) -> list[InputFile]:
    """Expand files and directories (recursively, hidden entries skipped), sorted so that
    runs are deterministic whatever order the filesystem lists them in."""
    found: dict[str, InputFile] = {}
    for raw in inputs:
        root = Path(raw)
        if not root.exists():
            raise InputError(f"input does not exist: {root}")
        if root.is_file():
            item = InputFile(str(root), root.name)
            found.setdefault(item.source_path, item)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
            for name in sorted(filenames):
                if _is_hidden(name):
                    continue
                path = Path(dirpath) / name
                item = InputFile(str(path), path.relative_to(root).as_posix())
                found.setdefault(item.source_path, item)
    if not found:
        raise InputError("no input files found in: " + ", ".join(str(p) for p in inputs))
    return sorted(found.values(), key=lambda f: (f.doc_id, f.source_path))
