from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHashLSH
from scipy import sparse

from conftest import SEEDS
from dedup import verify as verify_module
from dedup.candidates import CandidatePairs, bucket_pairs, candidate_pairs, find_candidates, size_cap
from dedup.cluster import cluster_stories, cut_dendrogram, split_component
from dedup.config import LSHView, MinHashOptions, PipelineOptions
from dedup.fingerprint import minhash_signatures, set_jaccard
from dedup.records import Document
from dedup.text import word_ngrams
from dedup.verify import ENGINE_VECTOR_DTYPE, Verifier, shingle_jaccards, tfidf_matrix
from dedup.weights import TermWeights


def test_numpy_banding_proposes_what_datasketch_lsh_proposes() -> None:
    rng = np.random.default_rng(3)
    options = MinHashOptions()
    vocabulary = [f"w{i}" for i in range(60)]
    sets = [set(rng.choice(vocabulary, 8, replace=False).tolist()) for _ in range(80)]
    signatures = minhash_signatures(sets, options)
    for bands, rows in ((128, 1), (32, 4)):
        view = LSHView(name="v", kind="keywords", bands=bands, rows=rows)
        lsh = MinHashLSH(num_perm=options.num_perm, params=(bands, rows))
        expected = set()
        for i, row in enumerate(signatures):
            sketch = LeanMinHash(seed=options.seed, hashvalues=row, scheme=options.scheme)
            expected.update((j, i) for j in lsh.query(sketch))
            lsh.insert(i, sketch, check_duplication=False)
        assert set(candidate_pairs({"v": signatures}, (view,), options)) == expected


def test_oversized_buckets_are_skipped() -> None:
    options = MinHashOptions()
    signatures = minhash_signatures([{"same"}] * 5, options)
    view = LSHView(name="v", kind="keywords", bands=128, rows=1, max_bucket=4)
    assert candidate_pairs({"v": signatures}, (view,), options) == {}


def test_two_tight_groups_stay_apart_when_their_cross_similarity_is_low() -> None:
    sim = np.full((6, 6), 0.12)
    sim[:3, :3] = sim[3:, 3:] = 0.6
    np.fill_diagonal(sim, 1.0)
    # Above the absolute threshold, but far below each group's own cohesion.
    assert sorted(sorted(g) for g in cut_dendrogram(sim, 0.1, 0.5)) == [[0, 1, 2], [3, 4, 5]]
    assert sorted(sorted(g) for g in cut_dendrogram(sim, 0.1, 0.0)) == [[0, 1, 2, 3, 4, 5]]


def test_a_single_document_joins_on_the_threshold_alone() -> None:
    sim = np.full((4, 4), 0.12)
    sim[:3, :3] = 0.6
    np.fill_diagonal(sim, 1.0)
    assert sorted(sorted(g) for g in cut_dendrogram(sim, 0.1, 0.5)) == [[0, 1, 2, 3]]


# --- candidates as arrays ---------------------------------------------------------------------


def _random_sets(seed: int, n: int, vocabulary: int = 60, size: int = 8) -> list[set[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocabulary)]
    return [set(rng.choice(words, size, replace=False).tolist()) for _ in range(n)]


def test_find_candidates_returns_sorted_arrays_with_view_masks() -> None:
    options = MinHashOptions()
    a = minhash_signatures(_random_sets(1, 70), options)
    b = minhash_signatures(_random_sets(2, 70), options)
    views = (
        LSHView(name="a", kind="keywords", bands=128, rows=1),
        LSHView(name="b", kind="keywords", bands=32, rows=4),
    )
    found = find_candidates({"a": a, "b": b}, views, options)
    assert found.pairs.dtype == np.int64 and found.pairs.shape == (len(found), 2)
    assert np.all(found.pairs[:, 0] < found.pairs[:, 1])
    codes = found.pairs[:, 0] * found.n_docs + found.pairs[:, 1]
    assert np.all(np.diff(codes) > 0)  # sorted, unique
    for view, signatures in (("a", a), ("b", b)):
        alone = find_candidates({view: signatures}, tuple(v for v in views if v.name == view), options)
        assert set(map(tuple, found.pairs[found.mask(view)].tolist())) == set(
            map(tuple, alone.pairs.tolist())
        )
    # The dict form (what the engines used) is the same pairs with the same view names.
    assert found.to_dict() == candidate_pairs({"a": a, "b": b}, views, options)
    assert CandidatePairs.from_dict(found.n_docs, found.to_dict()).to_dict() == found.to_dict()


def test_candidate_pairs_select_and_relabel() -> None:
    pairs = np.array([[0, 3], [1, 2], [2, 5], [4, 5]])
    found = CandidatePairs.from_pairs(6, pairs[::-1, ::-1], ("v",))  # any order, either way round
    assert found.pairs.tolist() == pairs.tolist()
    new = found.select(found.pairs[:, 1] >= 3)
    assert new.pairs.tolist() == [[0, 3], [2, 5], [4, 5]]
    near = np.array([0, 2, 3, 4, 5])
    mapping = np.full(6, -1)
    mapping[near] = np.arange(len(near))
    local = new.relabel(mapping, len(near))
    assert local.n_docs == 5 and local.pairs.tolist() == [[0, 2], [1, 4], [3, 4]]
    backwards = new.relabel(np.array([5, 4, 3, 2, 1, 0]), 6)  # order and i < j restored
    assert backwards.pairs.tolist() == [[0, 1], [0, 3], [2, 5]]


def test_band_pair_budget_skips_the_largest_buckets_first() -> None:
    # One band: buckets of sizes 2, 3 and 10 (1, 3 and 45 pairs).
    values = np.array([1] * 2 + [2] * 3 + [3] * 10 + [4, 5], dtype=np.uint32)[:, None]
    assert len(bucket_pairs(values, 1, 1, max_bucket=1000)) == 49
    assert size_cap(np.array([2, 3, 10, 1, 1]), 1000, 10) == 9
    assert len(bucket_pairs(values, 1, 1, max_bucket=1000, max_band_pairs=10)) == 4
    assert len(bucket_pairs(values, 1, 1, max_bucket=1000, max_band_pairs=3)) == 1
    assert len(bucket_pairs(values, 1, 1, max_bucket=5)) == 4


# --- the verifier -----------------------------------------------------------------------------


def _reference_tfidf(token_lists, weights, vocabulary):  # the scipy formulation verify.py replaced
    rows = np.repeat(np.arange(len(token_lists)), [len(toks) for toks in token_lists])
    cols = np.fromiter(
        (vocabulary.setdefault(t, len(vocabulary)) for toks in token_lists for t in toks), np.int64, len(rows)
    )
    width = max(len(vocabulary), 1)
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(token_lists), width))
    counts.sum_duplicates()
    idf = np.zeros(width)
    idf[: len(vocabulary)] = [weights.idf(t) for t in vocabulary]
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    return _reference_normalise(counts)


def _reference_normalise(matrix):
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ matrix


def _reference_cosines(matrix, pairs):
    return np.asarray(matrix[pairs[:, 0]].multiply(matrix[pairs[:, 1]]).sum(axis=1)).ravel()


def _corpus(seed: int, n: int):
    rng = np.random.default_rng(seed)
    words = [f"t{i}" for i in range(200)]
    bodies = [rng.choice(words, int(rng.integers(0, 80))).tolist() for _ in range(n)]
    bodies[3] = list(bodies[2])  # an exact copy
    titles = [rng.choice(words, int(rng.integers(0, 8))).tolist() for _ in range(n)]
    days = ["2024-01-01", "2024-01-03", "2024-02-20", "2024-09-30", None, "not a date"]
    published = [days[int(rng.integers(len(days)))] for _ in range(n)]
    return bodies, titles, published


def test_verifier_vectors_and_scores_are_bit_identical_to_the_scipy_formulation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bodies, titles, published = _corpus(5, 60)
    weights = TermWeights.fit(bodies, language=None)
    options = PipelineOptions(paraphrase_model="none")
    reference = _reference_tfidf(bodies, weights, {})
    ours = tfidf_matrix(bodies, weights)
    for field in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(ours, field), getattr(reference, field))
    vocabulary: dict[str, int] = {}
    body = _reference_tfidf(bodies, weights, vocabulary)
    title = _reference_tfidf(titles, weights, vocabulary)
    body.resize((len(bodies), len(vocabulary)))
    title.resize((len(bodies), len(vocabulary)))
    combined = _reference_normalise(body.tocsr() + options.title_weight * title.tocsr()).tocsr()
    verifier = Verifier(bodies, titles, published, weights, options)
    i, j = np.triu_indices(len(bodies), 1)
    pairs = np.stack([np.concatenate([i, j]), np.concatenate([j, i])], axis=1)  # both orders
    apart = np.abs(verifier.days[pairs[:, 0]] - verifier.days[pairs[:, 1]])
    expected = _reference_cosines(combined, pairs) * verifier.date_factor(apart)
    assert np.array_equal(verifier.similarity(pairs), expected)
    scores = verifier.scores(pairs)
    assert np.array_equal(scores.similarity, expected)
    assert np.array_equal(scores.body, _reference_cosines(body.tocsr(), pairs))
    assert np.array_equal(scores.title, _reference_cosines(title.tocsr(), pairs))
    import dedup.verify

    monkeypatch.setattr(dedup.verify, "BODY_PAIRS_PER_PASS", 7)  # body rows rebuilt 7 pairs at a time
    assert np.array_equal(verifier.body_cosines(pairs), scores.body)
    docs = np.array([0, 2, 3, 7, 11, 40, 59])
    rows = combined[docs]
    factor = verifier.date_factor(np.abs(verifier.days[docs][:, None] - verifier.days[docs][None, :]))
    assert np.array_equal(verifier.similarity_matrix(docs), (rows @ rows.T).toarray() * factor)
    many = verifier.similarity_matrices([docs, np.array([1, 5, 6]), np.array([4])])
    assert np.array_equal(many[0], verifier.similarity_matrix(docs))
    assert np.array_equal(many[1], verifier.similarity_matrix(np.array([1, 5, 6])))
    # float32 storage: the same scores to float32 precision.
    small = Verifier(bodies, titles, published, weights, options, dtype=np.float32)
    assert np.allclose(small.similarity(pairs), expected, rtol=1e-6, atol=1e-7)
    assert small.nbytes < verifier.nbytes


def _shuffled_seed_articles(n: int) -> list[Document]:
    """The seeds' paragraphs (real words, names, numbers), shuffled into n articles and titles."""
    rng = np.random.default_rng(8)
    paragraphs = [
        p for f in sorted(SEEDS.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n") if p
    ]
    return [
        Document(
            f"d{i:03d}",
            "x",
            "\n".join(rng.choice(paragraphs, int(rng.integers(1, 12))).tolist()),
            title=str(rng.choice(paragraphs))[:80],
            published=["2025-07-20", "2025-09-01", None][i % 3],
        )
        for i in range(n)
    ]


def test_a_verifier_built_on_two_processes_is_the_one_built_in_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The engine builds the verifier's vectors a block at a time on forked workers: the same
    arrays, bit for bit, as one process building them as one block, blocks computed elsewhere."""
    from dedup.engines.local import DocumentFeatures

    docs = _shuffled_seed_articles(120)
    features = DocumentFeatures.of(docs, workers=2)
    weights = features.weights()
    options = PipelineOptions()
    published = [d.published for d in docs]
    whole = Verifier(features.content, features.titles, published, weights, options, ENGINE_VECTOR_DTYPE)
    monkeypatch.setattr(verify_module, "MIN_BLOCK_DOCS", 16)  # 120 documents: 4 blocks of 30
    built_by = tmp_path / "pids"
    combine = verify_module._combine

    def recorded(*args):
        with built_by.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return combine(*args)

    monkeypatch.setattr(verify_module, "_combine", recorded)
    serial = Verifier(features.content, features.titles, published, weights, options, ENGINE_VECTOR_DTYPE)
    assert built_by.read_text().split() == [str(os.getpid())] * 4
    built_by.unlink()
    parallel = features.verifier(docs, weights, options, workers=2)
    pids = built_by.read_text().split()
    assert len(pids) == 4 and str(os.getpid()) not in pids
    for built in (serial, parallel):
        for name in ("combined", "title"):
            a, b = getattr(whole, name), getattr(built, name)
            assert a.shape == b.shape
            for part in ("data", "indices", "indptr"):
                assert getattr(a, part).tobytes() == getattr(b, part).tobytes()
        for name in ("idf", "body_counts", "body_inverse_norms", "body_guarded", "days"):
            assert getattr(whole, name).tobytes() == getattr(built, name).tobytes()


def test_a_verifier_over_encoded_ids_equals_one_over_word_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verifier built from the tokenising workers' ids (terms renumbered by first appearance
    with one sort, IDF read by id) holds the same vectors, bit for bit, as the one built from
    word lists, and so scores every pair the same. Chunks of 16 documents: a chunk's title words
    then take ids before the next chunk's body words, which the verifier numbers first."""
    from dedup.engines import local
    from dedup.engines.local import DocumentFeatures

    monkeypatch.setattr(local, "FINGERPRINT_CHUNK", 16)
    docs = _shuffled_seed_articles(120)
    features = DocumentFeatures.of(docs, workers=2)
    weights = features.weights()
    assert weights.vocabulary is features.content.vocabulary  # the id path is the one taken
    options = PipelineOptions()
    published = [d.published for d in docs]
    by_ids = Verifier(features.content, features.titles, published, weights, options)
    by_words = Verifier(list(features.content), list(features.titles), published, weights, options)
    for name in ("combined", "title"):
        a, b = getattr(by_ids, name), getattr(by_words, name)
        assert a.shape == b.shape
        for part in ("data", "indices", "indptr"):
            assert getattr(a, part).tobytes() == getattr(b, part).tobytes()
    for name in ("idf", "body_counts", "body_inverse_norms", "body_guarded"):
        assert getattr(by_ids, name).tobytes() == getattr(by_words, name).tobytes()
    pairs = np.array([(i, j) for i in range(0, 120, 7) for j in range(i + 1, 120, 5)])
    assert by_ids.similarity(pairs).tobytes() == by_words.similarity(pairs).tobytes()


def test_verify_takes_array_candidates_and_keeps_the_dict_form() -> None:
    bodies, titles, published = _corpus(9, 40)
    weights = TermWeights.fit(bodies, language=None)
    verifier = Verifier(bodies, titles, published, weights, PipelineOptions(paraphrase_model="none"))
    i, j = np.triu_indices(len(bodies), 1)
    found = CandidatePairs.from_pairs(len(bodies), np.stack([i, j], axis=1), ("keywords",))
    edges = verifier.verify(found, bodies)
    assert edges and edges == verifier.verify(found.to_dict(), bodies)
    for e in edges:
        assert e.views == ("keywords",)
        assert e.shingle_jaccard == set_jaccard(word_ngrams(bodies[e.a], 5), word_ngrams(bodies[e.b], 5))


def test_the_body_guard_parts_long_articles_that_share_only_a_headline() -> None:
    # Two long articles on different events under the same headline, and a short teaser of the
    # first (too short for its body to say anything): the headline may join the teaser, never
    # the two long bodies.
    background = [[f"w{k}" for k in range(i, i + 120)] for i in range(0, 2400, 120)]
    first = [f"a{k}" for k in range(140)] + ["shared", "common"]
    second = [f"b{k}" for k in range(140)] + ["shared", "common"]
    teaser = first[:30]
    headline = ["markets", "tumble", "rates", "decision", "looms"]
    bodies = [first, second, teaser, *background]
    titles = [headline, headline, headline, *[[f"h{i}"] for i in range(len(background))]]
    published = [None] * len(bodies)
    weights = TermWeights.fit(bodies, language=None)
    unguarded = Verifier(
        bodies, titles, published, weights, PipelineOptions(paraphrase_model="none", min_body_similarity=0)
    )
    options = PipelineOptions(paraphrase_model="none")
    verifier = Verifier(bodies, titles, published, weights, options)
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    # The headline alone lifts the long pair over the threshold; the guard parts it.
    assert unguarded.similarity(pairs)[0] >= options.threshold
    guarded = verifier.similarity(pairs)
    assert guarded[0] == 0.0
    assert guarded[1] >= options.threshold and guarded[1] == unguarded.similarity(pairs)[1]
    assert verifier.scores(pairs).similarity.tolist() == guarded.tolist()
    found = CandidatePairs.from_pairs(len(bodies), pairs, ("keywords",))
    assert {(e.a, e.b) for e in verifier.verify(found, bodies)} == {(0, 2), (1, 2)}
    # Clustering's dense matrices agree with the pair scores.
    docs = np.array([0, 1, 2])
    matrix = verifier.similarity_matrix(docs)
    assert matrix[0, 1] == matrix[1, 0] == 0.0 and matrix[0, 2] == pytest.approx(guarded[1], abs=1e-12)
    assert np.array_equal(verifier.similarity_matrices([docs])[0], verifier.similarity_matrix(docs))


def test_shingle_jaccards_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    words = [f"x{i}" for i in range(30)]
    texts = [rng.choice(words, int(rng.integers(0, 40))).tolist() for _ in range(40)]
    texts[1] = list(texts[0])
    texts[2] = [*texts[0][:20], "new", *texts[0][20:]]
    texts[5] = ["a", "b"]  # shorter than a 5-gram: its words
    texts[6] = ["b", "a", "b"]
    texts[7] = []
    texts[8] = []
    pairs = np.array([(a, b) for a in range(len(texts)) for b in range(len(texts)) if a != b])
    expected = [set_jaccard(word_ngrams(texts[a], 5), word_ngrams(texts[b], 5)) for a, b in pairs.tolist()]
    assert shingle_jaccards(texts, pairs).tolist() == expected
    # Every hash equal (collisions everywhere): the exact fallback gives the same values.
    monkeypatch.setattr(verify_module, "_mix", lambda x: x.__imul__(0))
    assert shingle_jaccards(texts, pairs).tolist() == expected
    # Small blocks: documents read block by block, components kept whole where they fit.
    monkeypatch.setattr(verify_module, "SHINGLE_BLOCK_DOCS", 3)
    assert shingle_jaccards(texts, pairs[:50]).tolist() == expected[:50]


def test_shingle_jaccards_on_forked_workers_equal_those_of_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The local engine computes verified pairs' 5-gram Jaccards in runs of pairs on forked
    workers that read the spilled token ids: the same values, in the pairs' order."""
    from dedup.engines import local
    from dedup.store import SpilledArray

    rng = np.random.default_rng(6)
    paragraphs = [
        p for f in sorted(SEEDS.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n") if p
    ]
    docs = [Document(f"d{i:03d}", "x", "\n".join(rng.choice(paragraphs, 6).tolist())) for i in range(90)]
    tokens = local.DocumentFeatures.of(docs, workers=2).tokens
    assert isinstance(tokens.ids, SpilledArray)
    pairs = np.array([(i, j) for i in range(90) for j in range(i + 1, 90, 3)])
    expected = shingle_jaccards(list(tokens), pairs)
    monkeypatch.setattr(local, "MIN_PAIRS_FOR_POOL", 10)
    forked = []
    monkeypatch.setattr(local, "fork_pool", lambda n: forked.append(n) or local.ProcessPoolExecutor(n))
    assert local.parallel_shingle_jaccards(tokens, pairs, workers=2).tolist() == expected.tolist()
    assert forked == [2]
    assert local.parallel_shingle_jaccards(tokens, pairs[:5], workers=2).tolist() == expected[:5].tolist()


# --- clustering of oversized components -------------------------------------------------------


def _blocks_similarity(block: np.ndarray, inside: float, bridge: float):
    def similarity_matrix(docs: np.ndarray) -> np.ndarray:
        same = block[docs][:, None] == block[docs][None, :]
        return np.where(same, inside, bridge)

    return similarity_matrix


def test_an_oversized_component_is_split_on_its_weakest_links_then_cut() -> None:
    # Three tight stories of 10 documents, chained by two weak bridges: one component of 30.
    block = np.repeat(np.arange(3), 10)
    links, sims = [], []
    for b in range(3):
        for i in range(10):
            for j in range(i + 1, 10):
                links.append((10 * b + i, 10 * b + j))
                sims.append(0.8)
    links += [(9, 10), (19, 20)]
    sims += [0.3, 0.3]
    similarity_matrix = _blocks_similarity(block, 0.8, 0.3)
    expected = [list(range(0, 10)), list(range(10, 20)), list(range(20, 30))]
    # Average linkage alone would keep the bridges' stories apart too; the split must not need it.
    parts = split_component(np.array(links), np.array(sims), 30, 12)
    assert [p.tolist() for p in parts] == expected
    got = cluster_stories(30, links, 0.09, 0.5, similarity_matrix, np.array(sims), max_component=12)
    assert got == expected
    # Without similarities they are read from the similarity matrix: the same split.
    assert cluster_stories(30, links, 0.09, 0.5, similarity_matrix, max_component=12) == expected


def test_a_giant_chain_is_split_deterministically_into_parts_that_fit() -> None:
    rng = np.random.default_rng(4)
    n = 300
    links = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)
    sims = rng.choice([0.2, 0.4, 0.6, 0.9], n - 1)  # ties on purpose
    parts = split_component(links, sims, n, 40)
    assert all(len(p) <= 40 for p in parts)
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))
    shuffled = rng.permutation(n - 1)
    again = split_component(links[shuffled][:, ::-1], sims[shuffled], n, 40)
    assert [p.tolist() for p in parts] == [p.tolist() for p in again]
    # Each part is a component at the loosest level where it fits: raising the threshold to the
    # next level would split no part that is connected and fits already.
    for p in parts:
        inside = np.isin(links[:, 0], p) & np.isin(links[:, 1], p)
        assert inside.sum() == len(p) - 1  # a chain's part is connected
    # Clustering never returns a story larger than the cap.
    stories = cluster_stories(
        n, links, 0.09, 0.5, lambda docs: np.full((len(docs), len(docs)), 0.5), sims, max_component=40
    )
    assert max(map(len, stories)) <= 40 and sorted(d for s in stories for d in s) == list(range(n))


def test_small_components_scored_together_give_the_same_stories() -> None:
    bodies, titles, published = _corpus(11, 80)
    weights = TermWeights.fit(bodies, language=None)
    verifier = Verifier(bodies, titles, published, weights, PipelineOptions(paraphrase_model="none"))
    i, j = np.triu_indices(len(bodies), 1)
    pairs = np.stack([i, j], axis=1)
    sims = verifier.similarity(pairs)
    links = pairs[sims >= 0.3]
    one_by_one = cluster_stories(len(bodies), links, 0.3, 0.5, verifier.similarity_matrix)
    together = cluster_stories(
        len(bodies),
        links,
        0.3,
        0.5,
        verifier.similarity_matrix,
        sims[sims >= 0.3],
        verifier.similarity_matrices,
    )
    assert together == one_by_one
    assert one_by_one == sorted(sorted(s) for s in one_by_one)


def test_shingle_jaccards_of_a_component_larger_than_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    words = [f"y{i}" for i in range(12)]
    texts = [rng.choice(words, int(rng.integers(3, 30))).tolist() for _ in range(25)]
    chain = np.stack([np.arange(24), np.arange(1, 25)], axis=1)  # one component of 25
    pairs = np.concatenate([chain, np.array([[0, 24], [3, 17]])])
    expected = [set_jaccard(word_ngrams(texts[a], 5), word_ngrams(texts[b], 5)) for a, b in pairs.tolist()]
    monkeypatch.setattr(verify_module, "SHINGLE_BLOCK_DOCS", 6)
    monkeypatch.setattr(verify_module, "_ENTRY_BITS", 3)  # and the argsort path for big blocks
    assert shingle_jaccards(texts, pairs).tolist() == expected


def test_pair_dots_reuse_their_term_lookup_across_calls_widths_threads_and_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    real_ranges = verify_module.segment_ranges

    def expected(m: sparse.csr_matrix, pairs: np.ndarray) -> np.ndarray:
        return np.asarray(m[pairs[:, 0]].multiply(m[pairs[:, 1]]).sum(axis=1)).ravel()

    def fail_on_second_call(calls: Iterator[int]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
            if next(calls) == 1:  # a block's second rows are in the lookup by then
                raise MemoryError("simulated")
            return real_ranges(starts, lengths)

        return ranges

    monkeypatch.setattr(verify_module, "PAIRS_PER_THREAD", 10)
    monkeypatch.setattr(verify_module, "BLOCK_ROWS", 4)
    for width in (50, 3000, 20, 3000):  # a wider vocabulary, then narrower ones, on the same threads
        m = sparse.random(40, width, density=min(1.0, 32 / width), format="csr", random_state=rng)
        pairs = rng.integers(0, 40, size=(300, 2))
        assert np.array_equal(verify_module.pair_cosines(m, pairs), expected(m, pairs))
        # A call failing half-way through a block must not leave the lookup dirty for the next
        # call on the same thread (7 pairs: below PAIRS_PER_THREAD, so this thread).
        monkeypatch.setattr(verify_module, "segment_ranges", fail_on_second_call(iter(range(1000))))
        with pytest.raises(MemoryError):
            verify_module.pair_cosines(m, pairs[:7])
        monkeypatch.setattr(verify_module, "segment_ranges", real_ranges)
        assert np.array_equal(verify_module.pair_cosines(m, pairs[7:14]), expected(m, pairs[7:14]))


def test_first_appearances_equal_one_sort_whatever_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    bodies, titles = rng.integers(0, 300, 5000), rng.integers(0, 400, 700)
    distinct, first = np.unique(np.concatenate([bodies, titles]), return_index=True)
    expected = distinct[np.argsort(first)]
    for block in (7, 1000, 1 << 22):
        monkeypatch.setattr(verify_module, "APPEARANCE_BLOCK_IDS", block)
        assert verify_module._first_appearances((bodies, titles), 400).tolist() == expected.tolist()


def test_fingerprint_spans_cover_every_document_evenly_when_few() -> None:
    """Spans tile range(n) in order: FINGERPRINT_CHUNK documents each, or FINGERPRINT_MIN_SPANS
    (4) even ones when those are shorter, so two workers get equal shares of a small corpus."""
    from dedup.engines.local import FINGERPRINT_CHUNK, _spans

    for n in (0, 1, 3, 5, 1170, 2048, 2049, 10_000):
        spans = _spans(n)
        assert spans[0][0] == 0 and spans[-1][1] == n, n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans)), n
        assert max(b - a for a, b in spans) <= FINGERPRINT_CHUNK, n
    assert [b - a for a, b in _spans(1170)] == [293, 293, 293, 291]
    assert [b - a for a, b in _spans(5)] == [2, 2, 1]
    assert [b - a for a, b in _spans(2049)] == [512] * 4 + [1]
    assert _spans(0) == [(0, 0)]


def test_canonicalisation_tasks_are_small_enough_to_balance_a_small_run() -> None:
    """Stories go to tasks in the order given, each story once. A large run is packed up to
    TASK_WORK (size squared); a small one into at least TASKS_PER_WORKER tasks a worker, since
    size squared is a rough cost (the web pages' 98 stories had made 3 tasks, one of them
    two thirds of the time)."""
    from dedup.engines.local import TASK_WORK, TASKS_PER_WORKER, work_batches

    def check(sizes: list[int], workers: int) -> list[list[int]]:
        stories = [list(range(size)) for size in sizes]
        order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
        batches = work_batches(stories, order, workers)
        assert [i for batch in batches for i in batch] == order
        assert all(batch for batch in batches)
        return batches

    pages = check([7, 7, 7, 6] + [3] * 20 + [2] * 74, workers=2)  # the pages' 731 work
    assert len(pages) >= TASKS_PER_WORKER * 2
    sizes = [2] * 3000 + [5] * 200  # 17,000 work: tasks of up to 256
    work = [sum(sizes[i] ** 2 for i in batch) for batch in check(sizes, workers=2)]
    assert max(work) <= TASK_WORK and min(work[:-1]) > TASK_WORK - 25
    assert len(check([2] * 100, workers=1)) < len(check([2] * 100, workers=4))
