"""Documents whose texts live on disk: what lets a run hold a million articles.

Texts are most of a corpus's bytes, and each stage after extraction reads them only a few
times (tokenising, canonicalising a story, writing the documents table). The store keeps
every document's metadata in memory and appends its text, UTF-8 encoded, to a temporary
file; a document is read back with one ``pread``, so forked workers share the file and
random access (a story's members) costs one small read.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from array import array
from collections.abc import Sequence
from typing import overload

import numpy as np

from dedup.records import Document


class DocumentStore(Sequence[Document]):
    """An append-only, then read-only, sequence of documents with their texts on disk.

    The temporary file is unlinked as soon as it is created, so nothing is left behind by a
    crash or a kill, and the space is freed when the store is garbage-collected. ``folder``
    is where it goes (default: the system's temporary folder, ``TMPDIR``).
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=folder, prefix="newsdedup-texts-")  # noqa: SIM115 (the store owns it)
        self._heads: list[Document] = []  # each document with an empty text
        # Machine integers, not Python ones (36 bytes each): 8 and 4 bytes a document.
        self._offsets = array("q", [0])  # text i is bytes offsets[i]:offsets[i + 1] of the file
        self._word_counts = array("i")  # each text's, as extraction counted it
        self._order: np.ndarray | None = None  # position -> append index, once sealed

    def append(self, doc: Document) -> None:
        if self._order is not None:
            raise RuntimeError("documents cannot be added to a store once it is sealed")
        data = doc.text.encode("utf-8", errors="surrogatepass")
        self._file.write(data)
        self._offsets.append(self._offsets[-1] + len(data))
        self._word_counts.append(doc.n_words)
        # Every record of a file carries the same path: one string for all of them.
        self._heads.append(dataclasses.replace(doc, text="", source_path=sys.intern(doc.source_path)))

    def seal(self) -> DocumentStore:
        """Finish appending; positions then follow doc_id (stage outputs never depend on the
        order of the inputs)."""
        self._file.flush()
        ids = [d.doc_id for d in self._heads]
        self._order = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
        return self

    def __len__(self) -> int:
        return len(self._heads)

    @overload
    def __getitem__(self, index: int) -> Document: ...

    @overload
    def __getitem__(self, index: slice) -> list[Document]: ...

    def __getitem__(self, index: int | slice) -> Document | list[Document]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        slot = self._slot(index)
        return self._heads[slot].with_text(self._text(slot), self._word_counts[slot])

    def head(self, index: int) -> Document:
        """Document ``index`` without its text (``text`` is empty): metadata at no I/O."""
        return self._heads[self._slot(index)]

    def heads(self) -> list[Document]:
        """Every document without its text, in doc_id order (``head`` of each index)."""
        if self._order is None:
            raise RuntimeError("a store is read only once it is sealed")
        return list(map(self._heads.__getitem__, self._order.tolist()))

    def _slot(self, index: int) -> int:
        """Where document ``index`` (in doc_id order) was appended."""
        if self._order is None:
            raise RuntimeError("a store is read only once it is sealed")
        if not -len(self) <= index < len(self):
            raise IndexError("document index out of range")
        return int(self._order[index])

    def _text(self, slot: int) -> str:
        start, stop = self._offsets[slot], self._offsets[slot + 1]
        return os.pread(self._file.fileno(), stop - start, start).decode("utf-8", errors="surrogatepass")

    def close(self) -> None:
        self._file.close()


def document_heads(docs: Sequence[Document]) -> Sequence[Document]:
    """``docs`` for readers of metadata only: a store's heads (no text read), else ``docs``."""
    if isinstance(docs, DocumentStore):
        return docs.heads()
    return docs


class SpilledArray:
    """A one-dimensional array kept in an unlinked temporary file, not in memory: appended to,
    then read by slices and runs of slices (one ``pread`` each, so forked workers share it).
    The page cache holds what is read often; the heap holds none of it."""

    def __init__(self, dtype: type, folder: str | os.PathLike[str] | None = None) -> None:
        self.dtype = np.dtype(dtype)
        self._file = tempfile.TemporaryFile(dir=folder, prefix="newsdedup-ids-")  # noqa: SIM115 (owned)
        self._size = 0
        self._flushed = True

    def append(self, values: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(values, dtype=self.dtype).data)
        self._size += len(values)
        self._flushed = False

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index: slice) -> np.ndarray:
        start, stop, step = index.indices(self._size)
        if step != 1:
            raise IndexError("a spilled array is read by contiguous slices")
        return self._read(start, max(stop - start, 0))

    def ranges(self, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``array[start : start + length]`` for every (start, length), concatenated."""
        parts = [self._read(s, n) for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=self.dtype)

    def flush(self) -> None:
        """Write what is buffered to the file: call before forking readers, which would each
        inherit the buffer (reads flush it too, but only in the reading process)."""
        if not self._flushed:
            self._file.flush()
            self._flushed = True

    def _read(self, start: int, count: int) -> np.ndarray:
        self.flush()
        size = self.dtype.itemsize
        data = os.pread(self._file.fileno(), count * size, start * size)
        if len(data) != count * size:
            raise OSError(f"short read from a spilled array: {len(data)} of {count * size} bytes")
        return np.frombuffer(data, dtype=self.dtype)

    def close(self) -> None:
        self._file.close()
