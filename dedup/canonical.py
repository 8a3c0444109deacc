"""Canonicalise: per story, choose a representative, align every variant's sentences to it,
record what each variant adds, and compose one text with all additions in place.

Alignment is IDF-weighted containment over light-stemmed content words: a variant sentence
aligns with the canonical sentence (or pair of adjacent sentences, for merged/split sentences)
that holds most of its distinctive words. Rewording keeps names, numbers and rare words, so
it survives paraphrase; what finds no counterpart is a candidate sentence addition. A
candidate that states no new number, date or name gets a semantic second opinion when a
paraphrase model is configured (dedup/paraphrase.py): if its meaning is that of a canonical
sentence, it is a paraphrase, aligned with that sentence. Facts inside aligned sentences that
the canonical never states are fact additions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, count
from operator import itemgetter

import numpy as np
import xxhash
from scipy import sparse

from dedup.candidates import segment_ranges, sorted_unique
from dedup.config import PipelineOptions
from dedup.extract.boilerplate import is_heading
from dedup.facts import Fact, extract_facts, extract_figures
from dedup.languages import ENGLISH, language_of, language_stopwords
from dedup.paraphrase import NONE, CanonicalEmbeddings, encoder
from dedup.records import Addition, ComposedAddition, Document, Member, Story
from dedup.text import content_words, split_sentences, tokens
from dedup.weights import TermWeights

CANONICAL_POLICIES = ("coverage", "longest", "earliest")
ONLY_VERSION = "only version"  # the canonical_reason of a single-document story
# A sentence whose distinctive words the canonical states almost all of, spread over several
# sentences, restates the story (a summary or lede), it does not add to it.
RESTATED_CONTAINMENT = 0.85
# An added sentence that still shares this much with one canonical sentence is placed after
# it in the composed text (it elaborates that sentence); otherwise after the variant's
# previous aligned sentence.
PLACEMENT_CONTAINMENT = 0.3


# Verbs of attribution: rewrites swap "said" for "stated", "noted" or "added" freely, so they
# say nothing about which sentence is which ("said" and "told" are stopwords already).
ATTRIBUTION = frozenset(
    {"stated", "noted", "added", "adding", "explained", "remarked", "continued", "informed", "asserted"}
)


# Derivational endings that rewrites swap ("accusation"/"accuse", "failure"/"fail",
# "terrorism"/"terrorist", "documentary"/"document"), stripped after inflections.
DERIVATIONS = ("ation", "ition", "ure", "ism", "ist", "ary", "ive", "ion")


@lru_cache(maxsize=1 << 18)
def stem(token: str) -> str:
    """Suffix stripping so that the forms a rewrite picks align: 'urged'/'urges'/'urging' ->
    'urg', 'uses'/'using'/'used' -> 'us', 'countries' -> 'country', 'failure' -> 'fail'.
    Deliberately light (no 'ment', 'ity'): 'government' and 'governor' must stay apart."""
    if token.isdigit() or len(token) <= 2:
        return token
    if token.endswith(("ies", "ied")) and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "shes", "ches", "xes", "zes")):
        token = token[:-2]
    elif len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    if token.endswith("eed"):  # "agreed" -> "agree", but "need", "speed" stay
        token = token[:-1] if len(token) > 5 else token
    elif token.endswith(("ing", "ed")):
        base = token[: -3 if token.endswith("ing") else -2]
        if len(base) == 2:  # "using", "used": the base lost its "e"
            token = base
        elif len(base) >= 3:
            token = base[:-1] if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "ls" else base
    for suffix in DERIVATIONS:
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            token = token[: -len(suffix)]
            break
    return token[:-1] if len(token) > 2 and token.endswith("e") else token


def story_id(doc_ids: Sequence[str]) -> str:
    """Content-derived story id: stable across runs, input order and engines."""
    return "s" + xxhash.xxh64_hexdigest(min(doc_ids).encode("utf-8"))


def paragraph_sentences(text: str) -> list[list[str]]:
    """The sentences of each non-empty line (paragraph) of a text."""
    return [list(_line_sentences(line)) for line in text.splitlines() if line.strip()]


# A story's versions repeat most of each other's paragraphs and sentences (copies, trims,
# reorderings): each is split and tokenised once per worker, not once per version.
@lru_cache(maxsize=1 << 16)
def _line_sentences(line: str) -> tuple[str, ...]:
    return tuple(split_sentences(line))


@lru_cache(maxsize=1 << 17)
def _sentence_tokens(sentence: str) -> tuple[str, ...]:
    """A sentence's tokens (or a name's: a story's versions repeat their names too)."""
    return tuple(tokens(sentence))


@lru_cache(maxsize=64)
def _unmatched_in(language: int) -> frozenset[str]:
    """Tokens that never count as a sentence's words in a document of ``language``: its
    stopwords, as the fingerprint leaves them out of its content words (``dedup.languages``),
    and attribution verbs."""
    return language_stopwords(language) | ATTRIBUTION


@lru_cache(maxsize=1 << 17)
def _sentence_words(
    sentence: str, language: int = ENGLISH
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A sentence's content words without attribution verbs, as written and stemmed, and its
    distinct stems in sorted order (its columns in the aligner's matrices); ``language``:
    that of its document."""
    words = tuple(content_words(_sentence_tokens(sentence), _unmatched_in(language)))
    terms = tuple(map(stem, words))
    return words, terms, tuple(sorted(set(terms)))


def composed_paragraphs(text: str) -> str:
    """A text as ``compose`` writes it with nothing added: its paragraphs, one a line, each its
    sentences joined by one space. For a normalised text (single spaces, stripped lines) that
    is its non-empty lines, so no sentence split is needed."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@dataclass(slots=True)
class SentenceTable:
    """A document's sentences, their paragraph numbers and their content words, as written
    (``words``, for term weights) and stemmed (``terms``, for matching)."""

    sentences: list[str]
    paragraphs: list[int]
    words: list[tuple[str, ...]]
    terms: list[tuple[str, ...]]
    distinct_terms: list[tuple[str, ...]]  # each sentence's distinct terms, sorted
    language: int = ENGLISH  # read from its words (``dedup.languages.language_of``)

    @classmethod
    def of(cls, text: str) -> SentenceTable:
        sentences, paragraphs = [], []
        for p, paragraph in enumerate(paragraph_sentences(text)):
            sentences.extend(paragraph)
            paragraphs.extend([p] * len(paragraph))
        # The document's language, read from all its words, decides which are function words.
        language = language_of(list(chain.from_iterable(map(_sentence_tokens, sentences))))
        read = [_sentence_words(sentence, language) for sentence in sentences]
        words, terms, distinct = zip(*read, strict=True) if read else ((), (), ())
        return cls(sentences, paragraphs, list(words), list(terms), list(distinct), language)


# Above this many sentences in one story, alignments are computed pair by pair instead of in
# one dense story-wide product (whose size grows with the square of the sentence count).
MAX_STORY_SENTENCES_DENSE = 4000


def _windows(indptr: np.ndarray, terms: np.ndarray, sizes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each pair of adjacent sentences of one document as one row, for the documents whose
    sentences are the consecutive rows (``indptr``, ``terms``: CSR, terms ascending in each
    row; ``sizes`` rows a document): the union of the two rows' terms, ascending, as
    (indptr, terms)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    firsts = segment_ranges(np.cumsum(sizes) - sizes, np.maximum(sizes - 1, 0))
    width = int(terms.max()) + 1 if len(terms) else 1
    # Rows i and i + 1 are adjacent in the CSR: a window's entries are one contiguous run.
    begin = indptr[firsts]
    lengths = indptr[firsts + 2] - begin
    positions = segment_ranges(begin, lengths)
    window_of = np.repeat(np.arange(len(firsts), dtype=np.int64), lengths)
    codes = sorted_unique(window_of * width + terms[positions])
    rows, columns = np.divmod(codes, width)
    return np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=len(firsts))))), columns


def _csr(indptr: np.ndarray, terms: np.ndarray, values: np.ndarray | None, width: int) -> sparse.csr_matrix:
    """The rows as a sparse matrix; ``values`` None for the 0/1 pattern."""
    data = np.ones(len(terms)) if values is None else values
    return sparse.csr_matrix((data, terms, indptr), shape=(len(indptr) - 1, width))


# Products of shared_weight listed at once (32 bytes each): a story of thousands of versions of
# one text shares many terms between every pair of its sentences, and is taken a block of rows
# at a time.
SHARED_PRODUCTS_PER_PASS = 1 << 22


def shared_weight(
    a: tuple[np.ndarray, np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Dense (rows of a, rows of b): cell (i, j) adds a's values of the terms that row i of a
    and row j of b share. ``a`` is (indptr, terms, values), ``b`` (indptr, terms), CSR with
    each row's terms distinct and ascending.

    Every cell is the one of the sparse product ``A @ B.T`` (B as 0/1), to the bit: scipy's
    product adds, from 0.0, row i's values in its stored (ascending) term order, and so does
    ``np.bincount`` here, its products being listed term by term (a block of a's rows at a
    time, each cell's products all in one block). For a story's few hundred sentences this
    costs a fraction of building the sparse matrices."""
    (a_indptr, a_terms, a_values), (b_indptr, b_terms) = a, b
    n_a, n_b = len(a_indptr) - 1, len(b_indptr) - 1
    out = np.zeros((n_a, n_b))
    a_rows = np.repeat(np.arange(n_a, dtype=np.int64), np.diff(a_indptr))
    b_rows = np.repeat(np.arange(n_b, dtype=np.int64), np.diff(b_indptr))
    b_by_term = np.argsort(b_terms, kind="stable")
    b_sorted = b_terms[b_by_term]
    a_by_term = np.argsort(a_terms, kind="stable")
    term = a_terms[a_by_term]
    first = np.searchsorted(b_sorted, term, side="left")
    count = np.searchsorted(b_sorted, term, side="right") - first
    # Rows r0..r1 - 1 of a per pass, at most SHARED_PRODUCTS_PER_PASS products (or one row).
    entry_rows = a_rows[a_by_term]
    per_row = np.cumsum(np.bincount(entry_rows, weights=count, minlength=n_a))
    r0 = 0
    while r0 < n_a:
        done = per_row[r0 - 1] if r0 else 0.0
        r1 = max(int(np.searchsorted(per_row, done + SHARED_PRODUCTS_PER_PASS, side="right")), r0 + 1)
        whole = r0 == 0 and r1 == n_a
        chosen = slice(None) if whole else np.flatnonzero((entry_rows >= r0) & (entry_rows < r1))
        # One product per (entry of a, entry of b) sharing a term, term by term.
        left = np.repeat(a_by_term[chosen], count[chosen])
        right = b_by_term[segment_ranges(first[chosen], count[chosen])]
        cells = (a_rows[left] - r0) * n_b + b_rows[right]
        sums = np.bincount(cells, weights=a_values[left], minlength=(r1 - r0) * n_b)
        out[r0:r1] = sums.reshape(r1 - r0, n_b)  # (not -1: b may have no rows)
        r0 = r1
    return out


def _with_merged(shared: np.ndarray, merged: np.ndarray) -> np.ndarray:
    """Each cell's shared weight with a canonical sentence, or with that sentence and the next
    (``merged``) when that is well above it: adjacent canonical pairs catch a variant
    sentence that merges two."""
    return np.where(merged > shared * 1.25, merged, shared)


# Rows of the story-wide scores built per pass: bounds the temporary matrices' memory.
SCORE_ROWS_PER_PASS = 512


def _story_scores(shared: np.ndarray, merged: np.ndarray, window_columns: np.ndarray) -> np.ndarray:
    """``_with_merged`` for every sentence against every sentence of the story, in place of
    ``shared``: window w (``merged``'s column w) starts at sentence ``window_columns[w]``; a
    document's last sentence starts no window (its merged weight is 0, never above)."""
    for r0 in range(0, len(shared), SCORE_ROWS_PER_PASS):
        block = shared[r0 : r0 + SCORE_ROWS_PER_PASS]
        starting = np.zeros_like(block)
        starting[:, window_columns] = merged[r0 : r0 + SCORE_ROWS_PER_PASS]
        block[:] = _with_merged(block, starting)
    return shared


class StoryAligner:
    """Sentence-level IDF-weighted containment between the documents of one story."""

    def __init__(self, tables: Sequence[SentenceTable], weights: TermWeights) -> None:
        self.tables = tables
        # A stem weighs as its most common written form: weights are fitted on words as
        # written, and a stem such as "stat" or "individu" would otherwise look like a rare name.
        # The (word, stem) pairs are weighed in bulk; a dict built from them in descending
        # weight keeps each stem's last, i.e. lowest, weight.
        words = chain.from_iterable(chain.from_iterable(table.words for table in tables))
        stems = chain.from_iterable(chain.from_iterable(table.terms for table in tables))
        forms = list(set(zip(words, stems, strict=True)))
        weighed = weights.idf_array(list(map(itemgetter(0), forms)))
        descending = np.argsort(weighed, kind="stable")[::-1]
        form_stems = np.empty(len(forms), dtype=object)
        form_stems[:] = list(map(itemgetter(1), forms))
        self.idf: dict[str, float] = dict(
            zip(form_stems[descending].tolist(), weighed[descending].tolist(), strict=True)
        )
        # One row per sentence of the story, documents one after the other; columns are terms
        # in order of first appearance (never the hash seed's set order).
        rows = [distinct for table in tables for distinct in table.distinct_terms]
        in_rows = list(chain.from_iterable(rows))
        vocabulary: defaultdict[str, int] = defaultdict(count().__next__)  # numbered as first seen
        cols = np.fromiter(map(vocabulary.__getitem__, in_rows), dtype=np.int64, count=len(in_rows))
        vals = np.array(list(map(self.idf.__getitem__, in_rows)), dtype=np.float64)
        indptr = np.concatenate([[0], np.cumsum(list(map(len, rows)))]).astype(np.int64)
        sizes = [len(table.terms) for table in tables]
        n_rows, width = int(sum(sizes)), max(len(vocabulary), 1)
        # One row per sentence: idf of each distinct term, terms ascending in each row (the
        # order sums are taken in, as the sparse matrices of earlier versions stored them:
        # float sums in another order could differ in the last bit).
        entry_rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
        ascending = np.argsort(entry_rows * width + cols, kind="stable")
        self._rows = (indptr, cols[ascending], vals[ascending])
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._window_offsets = np.concatenate([[0], np.cumsum([max(n - 1, 0) for n in sizes])]).astype(
            np.int64
        )
        # Each sentence's weight: its values added by np.add.reduceat, as scipy's ``sum(axis=1)``
        # of a CSR matrix adds them (the bits earlier versions had).
        mass = np.zeros(n_rows)
        nonempty = np.flatnonzero(np.diff(indptr))
        if len(nonempty):
            mass[nonempty] = np.add.reduceat(self._rows[2], indptr[nonempty])
        self.mass = [mass[self._offsets[d] : self._offsets[d + 1]] for d in range(len(tables))]
        self.term_sets = [set().union(*table.terms) for table in tables]
        self._windows = _windows(indptr, self._rows[1], sizes)
        # Choosing the canonical aligns every pair of versions: below a size bound, one product
        # over all the story's sentences (and adjacent-sentence windows) serves them all.
        self._scores: np.ndarray | None = None
        self._stated: dict[int, tuple[dict[str, set[str]], set[str]]] = {}
        self._embedded: dict[tuple[str, int], CanonicalEmbeddings] = {}
        self._floored_mass = [np.maximum(m, 1e-9) for m in self.mass]
        if 0 < n_rows <= MAX_STORY_SENTENCES_DENSE:
            self._scores = _story_scores(
                shared_weight(self._rows, self._rows[:2]),
                shared_weight(self._rows, self._windows),
                segment_ranges(self._offsets[:-1], np.maximum(np.diff(self._offsets) - 1, 0)),
            )
        else:  # pair by pair, on sparse matrices
            self._sparse = (
                _csr(*self._rows, width),
                _csr(*self._rows[:2], None, width),
                _csr(*self._windows, None, width),
            )

    def align(self, v: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        """For each sentence of document v: best containment score in document c and the
        index of the canonical sentence it aligns with."""
        nv, nc = len(self.mass[v]), len(self.mass[c])
        if nv == 0 or nc == 0:
            return np.zeros(nv), np.full(nv, -1)
        rows = slice(self._offsets[v], self._offsets[v] + nv)
        columns = slice(self._offsets[c], self._offsets[c] + nc)
        if self._scores is not None:  # a slice of the story-wide scores
            shared = self._scores[rows, columns]
        else:
            windows = slice(self._window_offsets[c], self._window_offsets[c] + nc - 1)
            weighted, present, adjacent = self._sparse
            shared = (weighted[rows] @ present[columns].T).toarray()
            merged = (weighted[rows] @ adjacent[windows].T).toarray()
            if nc > 1:
                merged = np.hstack([merged, np.zeros((nv, 1))])
                shared = _with_merged(shared, merged)
        best = shared.argmax(axis=1)
        return shared[np.arange(nv), best] / self._floored_mass[v], best

    def stated(self, c: int) -> tuple[dict[str, set[str]], set[str]]:
        """The dates and numbers (normalised keys by kind) and the tokens document c states,
        computed once: names and quotes are stated when their words are (``_fact_is_stated``)."""
        if c not in self._stated:
            keys: dict[str, set[str]] = {"date": set(), "number": set()}
            for sentence in self.tables[c].sentences:
                for fact in extract_figures(sentence, counting_words=True):
                    keys[fact.kind].add(fact.key)
            self._stated[c] = (keys, {t for s in self.tables[c].sentences for t in _sentence_tokens(s)})
        return self._stated[c]

    def paraphrases(
        self, v: int, c: int, sentences: Sequence[int], model: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best cosine of each of v's ``sentences`` with a sentence of c, and which; c's
        embeddings are computed once per story."""
        if not sentences:
            return np.zeros(0), np.zeros(0, dtype=int)
        embedder = encoder(model)
        if (model, c) not in self._embedded:
            self._embedded[model, c] = CanonicalEmbeddings.of(self.tables[c].sentences, embedder)
        texts = [self.tables[v].sentences[s] for s in sentences]
        return self._embedded[model, c].best(embedder.encode(texts))

    def coverage(self, v: int, c: int, threshold: float) -> float:
        """Share of v's distinctive-word mass in sentences that align with c."""
        scores, _ = self.align(v, c)
        mass = self.mass[v]
        total = mass.sum()
        return float(mass[scores >= threshold].sum() / total) if total > 0 else 0.0

    def doc_containment(self, v: int, s: int, c: int) -> float:
        """Share of sentence s of v's word mass found anywhere in document c."""
        terms = set(self.tables[v].terms[s])
        total = sum(self.idf[t] for t in terms)
        found = sum(self.idf[t] for t in terms if t in self.term_sets[c])
        return found / total if total > 0 else 1.0


def choose_canonical(
    docs: Sequence[Document], aligner: StoryAligner, options: PipelineOptions, policy: str = "coverage"
) -> tuple[int, str]:
    """Position of the representative among ``docs`` and why it won.

    ``coverage`` (default): the mean of two shares, each averaged over the other versions:
    completeness, how much of each other version's distinctive content the candidate
    contains (in aligned sentences), and centrality, how much of the candidate the other
    versions confirm. A complete original scores high on both; a trimmed copy is incomplete;
    a rewrite or re-report carries its own unconfirmed material; a page that is mostly
    boilerplate is confirmed by nobody. Scores equal to 3 decimals go to the earliest
    ``published``, then the smallest ``doc_id``. ``longest`` and ``earliest`` are simpler
    policies.
    """
    k = len(docs)

    def tie_break(i: int) -> tuple[str, str]:
        return (docs[i].published or "9999", docs[i].doc_id)

    if k == 1:
        return 0, ONLY_VERSION
    if policy == "longest":
        best = min(range(k), key=lambda i: (-docs[i].n_words, *tie_break(i)))
        return best, f"policy=longest n_words={docs[best].n_words}"
    if policy == "earliest":
        best = min(range(k), key=tie_break)
        return best, f"policy=earliest published={docs[best].published}"
    if policy != "coverage":
        raise ValueError(f"unknown canonical policy {policy!r}; choose from {CANONICAL_POLICIES}")
    completeness, centrality, scores = [], [], []
    for m in range(k):
        others = [o for o in range(k) if o != m]
        completeness.append(float(np.mean([aligner.coverage(o, m, options.align_threshold) for o in others])))
        centrality.append(float(np.mean([aligner.coverage(m, o, options.align_threshold) for o in others])))
        scores.append((completeness[m] + centrality[m]) / 2)
    best = min(range(k), key=lambda i: (-round(scores[i], 3), *tie_break(i)))
    runner_up = max((s for i, s in enumerate(scores) if i != best), default=0.0)
    return best, (
        f"policy=coverage score={scores[best]:.3f} completeness={completeness[best]:.3f} "
        f"centrality={centrality[best]:.3f} runner_up={runner_up:.3f}"
    )


def _fact_is_stated(fact: Fact, canonical_keys: dict[str, set[str]], canonical_tokens: set[str]) -> bool:
    if fact.kind == "date":
        keys = canonical_keys["date"]
        # "July 24" and "July 24, 2025" are one date when the canonical has either form.
        return fact.key in keys or any(k.endswith(fact.key) or fact.key.endswith(k) for k in keys if "-" in k)
    if fact.kind == "number":
        return fact.key in canonical_keys["number"]
    if fact.kind == "entity":
        return all(w in canonical_tokens for w in _sentence_tokens(fact.text))
    if fact.kind == "quote":
        words = fact.key.split()
        found = sum(1 for w in words if w in canonical_tokens)
        return found >= 0.7 * len(words)
    return False


@dataclass(slots=True)
class VariantAlignment:
    additions: list[Addition]
    # (sentence index in the variant, canonical sentence index it follows, -1 = before all)
    placed_sentences: list[tuple[int, int]]


# Fact kinds that make a candidate sentence an addition whatever its wording: a number, a date,
# a name or a quote the canonical never states is news. Additions from another outlet of the same
# story are close in meaning to the canonical (same people, same event) and mostly carry one.
NEW_FACT_KINDS = frozenset({"number", "date", "entity", "quote"})


def candidate_additions(
    v: int, c: int, aligner: StoryAligner, options: PipelineOptions, scores: np.ndarray | None = None
) -> list[int]:
    """Sentences of v the lexical aligner finds no counterpart for in c (``scores``: the
    alignment of v with c, if already computed), long enough to report, not headings and not
    restating c's words elsewhere."""
    if scores is None:
        scores, _ = aligner.align(v, c)
    return [
        s
        for s, sentence in enumerate(aligner.tables[v].sentences)
        if scores[s] < options.align_threshold
        and len(sentence.split()) >= options.min_addition_words
        and not is_heading(sentence)  # subheadings of HTML pages are structure, not news
        and aligner.doc_containment(v, s, c) < RESTATED_CONTAINMENT
    ]


def paraphrase_scores(
    v: int, c: int, aligner: StoryAligner, candidates: Sequence[int], options: PipelineOptions
) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate sentence of v: its best cosine with a sentence of c, and which.

    -1 (never a paraphrase, never embedded) for a candidate that states a new number, date,
    name or quote, and for every candidate of a variant that is not a rewrite of c: one with
    less than ``paraphrase_min_coverage`` of its word mass aligned with c is an independent
    report of the story (seed 003), whose every sentence is close in topic to c. Also -1 when
    v or c is not in English: the model was trained, and its threshold measured, on English."""
    scores, follows = np.full(len(candidates), -1.0), np.full(len(candidates), -1)
    if (
        not candidates
        or options.paraphrase_model == NONE
        or aligner.tables[v].language != ENGLISH
        or aligner.tables[c].language != ENGLISH
        or aligner.coverage(v, c, options.align_threshold) < options.paraphrase_min_coverage
    ):
        return scores, follows
    keys, stated_tokens = aligner.stated(c)
    judged = [
        k
        for k, s in enumerate(candidates)
        if not any(
            fact.kind in NEW_FACT_KINDS and not _fact_is_stated(fact, keys, stated_tokens)
            for fact in extract_facts(aligner.tables[v].sentences[s], language=aligner.tables[v].language)
        )
    ]
    if judged:
        found = aligner.paraphrases(v, c, [candidates[k] for k in judged], options.paraphrase_model)
        scores[judged], follows[judged] = found
    return scores, follows


def variant_additions(v: int, c: int, aligner: StoryAligner, options: PipelineOptions) -> VariantAlignment:
    """What variant v says that canonical c does not, in the variant's reading order.

    A sentence is an addition when the lexical aligner finds no counterpart for it and, with
    a paraphrase model, it states a new fact, or v is not a rewrite of c, or its meaning is
    not that of a canonical sentence either; a paraphrase counts as aligned with the sentence
    it restates."""
    variant = aligner.tables[v]
    scores, best = aligner.align(v, c)
    aligned = scores >= options.align_threshold
    candidates = candidate_additions(v, c, aligner, options, scores)
    if candidates and options.paraphrase_model != NONE:
        similarity, follows = paraphrase_scores(v, c, aligner, candidates, options)
        best = best.copy()
        for s, cosine, i in zip(candidates, similarity, follows, strict=True):
            if cosine >= options.paraphrase_threshold:
                aligned[s], best[s] = True, i
        candidates = [s for s in candidates if not aligned[s]]
    canonical_sentences = set(aligner.tables[c].sentences)

    additions: list[Addition] = []
    placed: list[tuple[int, int]] = []
    anchor = -1
    is_candidate = set(candidates)
    for s, sentence in enumerate(variant.sentences):
        if s in is_candidate:
            additions.append(Addition("sentence", sentence, sentence))
            placed.append((s, int(best[s]) if scores[s] >= PLACEMENT_CONTAINMENT else anchor))
            continue
        if aligned[s]:
            anchor = int(best[s])
        if sentence in canonical_sentences:
            continue  # copied word for word: every fact in it is stated (most wire reprints)
        seen: set[tuple[str, str]] = set()
        for fact in extract_facts(sentence, language=variant.language):
            if (fact.kind, fact.key) in seen or _fact_is_stated(fact, *aligner.stated(c)):
                continue
            seen.add((fact.kind, fact.key))
            additions.append(Addition(fact.kind, fact.text, sentence))
    return VariantAlignment(additions, placed)


# Two added sentences from different variants say the same thing when their IDF-weighted
# Jaccard (shared weight over union weight) reaches this.
SAME_ADDITION_JACCARD = 0.5


def _weighted_jaccard(term_lists: Sequence[list[str]], idf: Mapping[str, float]) -> np.ndarray:
    """All-pairs IDF-weighted Jaccard of term sets, with one sparse product."""
    vocabulary: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for r, terms in enumerate(term_lists):
        for term in sorted(set(terms)):
            rows.append(r)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
            vals.append(idf[term])
    weighted = sparse.csr_matrix((vals, (rows, cols)), shape=(len(term_lists), max(len(vocabulary), 1)))
    shared = (weighted @ (weighted > 0).astype(np.float64).T).toarray()
    mass = np.asarray(weighted.sum(axis=1)).ravel()
    union = mass[:, None] + mass[None, :] - shared
    return np.divide(shared, union, out=(union == 0).astype(np.float64), where=union > 0)


def compose(
    canonical: SentenceTable,
    variants: Sequence[tuple[str, SentenceTable, VariantAlignment]],
    idf: Mapping[str, float],
) -> tuple[str, list[ComposedAddition]]:
    """The canonical text with every variant's sentence additions after the canonical
    sentence they follow in their variant; one copy of each (the first variant's wording),
    with the doc_ids carrying it."""
    placed = [
        (doc_id, table, s, anchor)
        for doc_id, table, alignment in variants
        for s, anchor in alignment.placed_sentences
    ]
    similar = (
        _weighted_jaccard([table.terms[s] for _, table, s, _ in placed], idf) if placed else np.zeros((0, 0))
    )
    kept: list[int] = []  # positions in ``placed`` that enter the composed text
    inserted: dict[int, list[ComposedAddition]] = {}
    added: dict[int, ComposedAddition] = {}
    for k, (doc_id, table, s, anchor) in enumerate(placed):
        match = next((j for j in kept if similar[k, j] >= SAME_ADDITION_JACCARD), None)
        if match is not None:
            if doc_id not in added[match].doc_ids:
                added[match].doc_ids.append(doc_id)
            continue
        kept.append(k)
        added[k] = ComposedAddition(text=table.sentences[s], doc_ids=[doc_id])
        inserted.setdefault(anchor, []).append(added[k])

    paragraphs: list[list[str]] = []
    lead = [item.text for item in inserted.get(-1, [])]
    if lead:
        paragraphs.append(lead)
    last_paragraph = None
    for i, sentence in enumerate(canonical.sentences):
        if canonical.paragraphs[i] != last_paragraph:
            paragraphs.append([])
            last_paragraph = canonical.paragraphs[i]
        paragraphs[-1].append(sentence)
        paragraphs[-1].extend(item.text for item in inserted.get(i, []))
    text = "\n".join(" ".join(p) for p in paragraphs)
    return text, [added[k] for k in kept]


def single_version_story(index: int, doc_id: str) -> Story:
    """The story of one document: its own canonical, nothing to align or add (its text is
    read from the documents when the tables are written)."""
    return Story(
        cluster_id=story_id([doc_id]),
        canonical_index=index,
        canonical_reason=ONLY_VERSION,
        members=[Member(index, 1.0, "canonical")],
        composed_text=None,
        composed_additions=[],
    )


def canonicalise_story(
    member_indices: Sequence[int],
    docs: Sequence[Document],
    weights: TermWeights,
    similarity_to: Callable[[int, Sequence[int]], np.ndarray],
    relations_to: Callable[[int, Sequence[int]], list[str]],
    options: PipelineOptions,
    policy: str = "coverage",
) -> Story:
    """Everything the outputs say about one story. ``similarity_to(c, others)`` gives the
    verifier similarity of the canonical to other members, ``relations_to(c, others)`` their
    relation labels."""
    members = list(member_indices)
    if len(members) == 1:  # most stories of a corpus: nothing to align, the text as composed
        return single_version_story(members[0], docs[members[0]].doc_id)
    story_docs = [docs[i] for i in members]
    by_text: dict[str, SentenceTable] = {}  # exact copies share one table
    for d in story_docs:
        if d.text not in by_text:
            by_text[d.text] = SentenceTable.of(d.text)
    tables = [by_text[d.text] for d in story_docs]
    aligner = StoryAligner(tables, weights)
    c, reason = choose_canonical(story_docs, aligner, options, policy)
    canonical_index = members[c]
    others = [m for m in members if m != canonical_index]
    sims = dict(zip(others, similarity_to(canonical_index, others).tolist(), strict=True)) if others else {}
    relations = dict(zip(others, relations_to(canonical_index, others), strict=True))

    story_members = [Member(canonical_index, 1.0, "canonical")]
    variants = []
    for pos, m in enumerate(members):
        if m == canonical_index:
            continue
        alignment = variant_additions(pos, c, aligner, options)
        story_members.append(Member(m, float(sims[m]), relations[m], alignment.additions))
        variants.append((docs[m].doc_id, tables[pos], alignment))
    composed_text, composed_additions = compose(tables[c], variants, aligner.idf)
    return Story(
        cluster_id=story_id([d.doc_id for d in story_docs]),
        canonical_index=canonical_index,
        canonical_reason=reason,
        members=story_members,
        composed_text=composed_text,
        composed_additions=composed_additions,
    )
