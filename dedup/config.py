"""One options object passed through every stage, recorded whole in the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class MinHashOptions:
    """MinHash parameters. Saved with every signature so saved state stays comparable:
    datasketch 2.0 changed its default permutation scheme (``legacy`` -> ``affine32``)."""

    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"
    hashfunc: str = "sha1_hash32"


@dataclass(frozen=True)
class LSHView:
    """One way of looking at a document for candidate generation.

    ``shingles``: word n-grams of the whole text (finds copies and trimmed copies).
    ``keywords``: the document's ``top_k`` most distinctive content words (finds rewrites,
    which keep the names, places and numbers of a story but few of its word sequences).
    """

    name: str
    kind: str
    threshold: float
    ngram: int = 5
    top_k: int = 0


@dataclass(frozen=True)
class PipelineOptions:
    minhash: MinHashOptions = field(default_factory=MinHashOptions)
    views: tuple[LSHView, ...] = (
        LSHView(name="shingles", kind="shingles", threshold=0.5, ngram=5),
        LSHView(name="keywords", kind="keywords", threshold=0.25, top_k=24),
    )
    # Verifier: combined similarity = (1 - title_weight) * body + title_weight * title.
    title_weight: float = 0.25
    # Pairs at or above this similarity are edges of the story graph.
    edge_threshold: float = 0.28
    # Average-linkage cut inside each connected component (stops one bridge doc chaining stories).
    linkage_threshold: float = 0.22
    # Relation labels against the canonical.
    near_copy_jaccard: float = 0.6
    # Extraction.
    min_words: int = 15
    # Sentence alignment: a variant sentence with a best match below this is a sentence addition.
    align_threshold: float = 0.45
    min_addition_words: int = 6
    workers: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
