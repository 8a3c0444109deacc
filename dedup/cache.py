"""The cache folder: what is derived once per machine and reused by every later run (the
paraphrase model exported to ONNX, the function words of other languages)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_ENV = "NEWSDEDUP_CACHE_DIR"


def cache_dir() -> Path:
    """``$NEWSDEDUP_CACHE_DIR``, else ``$XDG_CACHE_HOME/newsdedup``, else ``~/.cache/newsdedup``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsdedup"


@contextmanager
def written_in_place(target: Path) -> Iterator[Path]:
    """A temporary file beside ``target`` for the block to write, renamed onto ``target`` when
    the block ends without error (removed otherwise): concurrent runs never read half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    os.close(fd)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the cache is readable as any cache
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
