"""One options object passed through every stage, recorded whole in the manifest.

Defaults were measured on labelled story sets (benchmarks/grouping.py); the README explains
each and what moving it does.
"""

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
    """One way of looking at a document for candidate generation, banded as ``bands`` x ``rows``
    (P(candidate) = 1 - (1 - J^rows)^bands for Jaccard J of the view's sets).

    ``keywords``: the ``top_k`` most distinctive content words among the first ``lead_words``
    (title words get ``title_bonus``). Rewrites keep a story's names, places and numbers but few
    of its word sequences, so this view finds copies and rewrites alike.
    ``shingles``: word ``ngram``-grams of the whole text: classic near-duplicate detection.
    Buckets holding more than ``max_bucket`` documents are skipped (see dedup/candidates.py).
    """

    name: str
    kind: str
    bands: int
    rows: int
    top_k: int = 25
    lead_words: int = 300
    title_bonus: float = 6.0
    ngram: int = 5
    max_bucket: int = 1000


KEYWORDS_VIEW = LSHView(name="keywords", kind="keywords", bands=128, rows=1)
# Available, off by default: on the labelled sets it proposed no pair the keyword view missed.
SHINGLES_VIEW = LSHView(name="shingles", kind="shingles", bands=16, rows=8, ngram=5)


@dataclass(frozen=True)
class PipelineOptions:
    minhash: MinHashOptions = field(default_factory=MinHashOptions)
    views: tuple[LSHView, ...] = (KEYWORDS_VIEW,)
    # Verifier: cosine of L2(L2(body) + title_weight * L2(title)) over IDF-weighted content words,
    # multiplied by date_penalty when both dates are known and more than date_window_days apart,
    # by date_far_penalty when more than date_far_days apart (months: a later event about the
    # same people; the window is wide enough for crawl dates a few weeks late).
    title_weight: float = 1.0
    date_window_days: int = 3
    date_penalty: float = 0.5
    date_far_days: int = 120
    date_far_penalty: float = 0.4
    # One threshold: verified pairs at or above it are edges; average linkage inside each
    # connected component is cut at the same similarity. In the middle of the range where both
    # labelled sets stay >= 0.90 ARI (0.06-0.105, thanks to the cohesion test below).
    threshold: float = 0.09
    # Body guard: two long bodies (each at least body_guard_words content words) whose body
    # cosine is below min_body_similarity are different stories, whatever their headlines
    # share ("Stocks fall as..."): their similarity is 0. Short bodies (a caption, a teaser)
    # still join on the title. On basil it removes 26 false edges and no true one; at 0.05
    # daily batches of giveme5w1h (tests/test_incremental.py) drift from one run.
    min_body_similarity: float = 0.04
    body_guard_words: int = 100
    # Two groups merge only if their mean cross similarity is at least this share of the looser
    # group's mean internal similarity (dedup/cluster.py).
    cohesion_ratio: float = 0.5
    # Relation labels against the canonical: exact word 5-gram Jaccard at or above this = near copy.
    near_copy_jaccard: float = 0.6
    # Extraction.
    min_words: int = 15
    # Sentence alignment: a variant sentence with a best match below this is a sentence addition.
    align_threshold: float = 0.45
    min_addition_words: int = 6
    # Semantic second opinion on sentence additions (dedup/paraphrase.py): a candidate addition
    # stating no new fact whose best cosine with a canonical sentence reaches the threshold
    # (measured in benchmarks/additions.py and on the seeds) is a paraphrase, not an addition.
    # "auto" = all-MiniLM-L6-v2 when the semantic extra is installed, else "none" (lexical
    # only); resolved when the options are made, so the manifest and run key record the model
    # actually used.
    paraphrase_model: str = "auto"
    paraphrase_threshold: float = 0.6875
    # ... judged only in rewrites of the canonical: variants with at least this share of their
    # word mass aligned with it (an independent report is close in topic everywhere).
    paraphrase_min_coverage: float = 0.5
    workers: int = 0

    def __post_init__(self) -> None:
        from dedup.paraphrase import resolve_model

        object.__setattr__(self, "paraphrase_model", resolve_model(self.paraphrase_model))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
