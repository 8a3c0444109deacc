"""The document store (texts on disk) and the streamed ingest -> extract -> write path."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

import dedup.engines.local as local
import dedup.output as output
from dedup import languages, paraphrase
from dedup.canonical import composed_paragraphs
from dedup.config import PipelineOptions
from dedup.ingest.decode import decode_text, decompress, strip_compression
from dedup.ingest.discover import InputFile
from dedup.ingest.read import _read_json, _streamed_format, read_input
from dedup.records import Document, SourceRecord
from dedup.store import DocumentStore, document_heads

TEXTS = {
    "c": "Plain ASCII text about a council vote.",
    "a": "Accents, quotes and dashes: déjà vu — “twice” ☃ 😀",
    "b": "A lone surrogate from JSON \ud800 survives the round trip.",
    "d": "",
}


def _store(folder: Path | None = None) -> DocumentStore:
    store = DocumentStore(folder)
    for doc_id, text in TEXTS.items():
        store.append(
            Document(doc_id, "in/corpus.jsonl", text, title=f"title {doc_id}", published="2024-01-02")
        )
    return store.seal()


def test_store_reads_back_every_text_in_doc_id_order(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert [d.doc_id for d in store] == ["a", "b", "c", "d"]
    assert [d.text for d in store] == [TEXTS[k] for k in "abcd"]
    assert store[-1].doc_id == "d" and [d.doc_id for d in store[1:3]] == ["b", "c"]
    assert store[2] == Document("c", "in/corpus.jsonl", TEXTS["c"], title="title c", published="2024-01-02")
    with pytest.raises(IndexError):
        store[4]
    # Metadata without the text, and the file left no name behind in its folder.
    heads = document_heads(store)
    assert [h.text for h in heads] == [""] * 4 and (heads[0].doc_id, heads[0].title) == ("a", "title a")
    assert [h.doc_id for h in heads] == ["a", "b", "c", "d"]
    assert heads == [store.head(i) for i in range(len(store))]
    assert list(tmp_path.iterdir()) == []


def test_word_counts_travel_with_documents_and_follow_their_text() -> None:
    """A document counts its words once; a store keeps the count each document came with (a
    made-up one here, to see it is not counted again); a new text is counted anew."""
    doc = Document("a", "p", "one two\nthree ")
    assert doc.n_words == 3
    store = DocumentStore()
    store.append(doc)
    store.append(Document("b", "p", "").with_text("four words in here", n_words=99))
    store.seal()
    first, second = store
    assert first == doc and first.n_words == 3
    assert second.text == "four words in here" and second.n_words == 99
    second.text = "just two"
    assert second.n_words == 2
    assert second.with_text("a b c d").n_words == 4


def test_store_is_append_then_read_only() -> None:
    store = DocumentStore()
    store.append(Document("x", "p", "text"))
    with pytest.raises(RuntimeError):
        store[0]
    store.seal()
    with pytest.raises(RuntimeError):
        store.append(Document("y", "p", "text"))


def _texts_in_child(store: DocumentStore, queue: multiprocessing.Queue) -> None:
    queue.put([store[i].text for i in reversed(range(len(store)))])


def test_forked_workers_read_the_parents_store() -> None:
    store = _store()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_texts_in_child, args=(store, queue))
    child.start()
    texts = queue.get(timeout=60)
    child.join(timeout=60)
    assert texts == [TEXTS[k] for k in "dcba"]
    assert store[0].text == TEXTS["a"]  # the child's reads moved no shared file position


def _whole_file_records(path: Path) -> list:
    """What the whole-file path reads from ``path`` (the reference for the streamed path)."""
    item = InputFile(str(path), path.name)
    data = decompress(path.read_bytes(), path.name)
    return list(_read_json(item, decode_text(data), strip_compression(path.name)))


JSONL = (
    '{"id": "one", "title": "T1", "text": "First article — with a dash."}\n'
    "\n"
    "not json\n"
    '["a list"]\n'
    '{"id": "two", "html": "<p>Second</p>", "date": "2024-05-06"}\r\n'
    '{"text": "no id, so the line names it"}\n'
)


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("plain.jsonl", lambda b: b),
        ("bom.jsonl", lambda b: b"\xef\xbb\xbf" + b),
        ("packed.jsonl.gz", gzip.compress),
        ("packed.jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_json_lines_stream_to_the_same_records_as_whole_files(tmp_path: Path, name: str, encode) -> None:
    path = tmp_path / name
    path.write_bytes(encode(JSONL.encode("utf-8")))
    item = InputFile(str(path), name)
    assert _streamed_format(item) == "json"
    streamed = list(read_input(item))
    assert streamed == _whole_file_records(path)
    assert [getattr(r, "doc_id", None) for r in streamed if isinstance(r, SourceRecord)] == [
        "one",
        "two",
        f"{name.removesuffix('.gz').removesuffix('.zst')}#L6",
    ]


def test_files_that_cannot_stream_take_the_whole_file_path(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.jsonl"  # Windows-1252: not UTF-8, so read whole and detected
    legacy.write_bytes(
        '{"id": "x", "text": "Il a dit déjà vu, à Paris, encore une fois."}\n'.encode("cp1252")
    )
    array = tmp_path / "array.json"
    array.write_text('[{"id": "y", "text": "An article in a JSON array."}]', encoding="utf-8")
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(JSONL.encode("utf-8"))[:-12])
    for path in (legacy, array, truncated):
        assert _streamed_format(InputFile(str(path), path.name)) is None, path.name
    (record,) = read_input(InputFile(str(legacy), legacy.name))
    assert "déjà vu" in record.content
    (record,) = read_input(InputFile(str(array), array.name))
    assert record.doc_id == "y"
    (reject,) = read_input(InputFile(str(truncated), truncated.name))
    assert reject.reason == "corrupt_compressed"


def test_parquet_streams_from_its_path(tmp_path: Path) -> None:
    path = tmp_path / "batch.parquet"
    rows = [{"id": f"p{i}", "text": f"article number {i}"} for i in range(5000)]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=1000)
    item = InputFile(str(path), path.name)
    assert _streamed_format(item) == "parquet"
    assert [r.doc_id for r in read_input(item)] == [f"p{i}" for i in range(5000)]


def test_extraction_streams_in_batches_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 7 through a pool of 2 (each next batch read while this one is extracted)
    give every result, in order, as one serial pass does."""
    records = [
        SourceRecord("in.jsonl", f"r{i:03d}", " ".join(["word"] * (i % 40)) or "x", "text")
        for i in range(100)
    ]
    serial = list(local.extracted(records, PipelineOptions(workers=1, min_words=20)))
    monkeypatch.setattr(local, "EXTRACT_BATCH", 7)
    monkeypatch.setattr(local, "MIN_ITEMS_FOR_POOL", 2)
    pooled = list(local.extracted(iter(records), PipelineOptions(workers=2, min_words=20)))
    assert pooled == serial
    assert len(pooled) == 100
    assert 0 < sum(isinstance(r, Document) for r in pooled) < 100  # documents and rejects both
    # Tasks of 3 text records, and of EXTRACT_CHUNK in a batch that holds a page.
    monkeypatch.setattr(local, "EXTRACT_TEXT_CHUNK", 3)
    page = SourceRecord("in/page.html", "r050", "<html><body><p>A page.</p></body></html>", "html")
    records[50] = page
    serial = list(local.extracted(records, PipelineOptions(workers=1, min_words=20)))
    assert list(local.extracted(iter(records), PipelineOptions(workers=2, min_words=20))) == serial


def test_read_batches_bound_records_and_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches end at EXTRACT_BATCH records or before EXTRACT_BATCH_CHARS characters, whichever
    comes first; a record longer than the bound is a batch alone; only the last is not full."""
    monkeypatch.setattr(local, "EXTRACT_BATCH", 4)
    monkeypatch.setattr(local, "EXTRACT_BATCH_CHARS", 100)
    sizes = [10, 10, 10, 10, 10, 60, 50, 250, 30, 30]
    records = [SourceRecord("in.jsonl", f"r{i}", "x" * n, "text") for i, n in enumerate(sizes)]
    batches = list(local.read_batches(iter(records)))
    assert [[r.doc_id for r in batch] for batch, _ in batches] == [
        ["r0", "r1", "r2", "r3"],  # four records
        ["r4", "r5"],  # 10 + 60 + 50 would pass 100 characters
        ["r6"],
        ["r7"],  # longer than the bound: alone
        ["r8", "r9"],
    ]
    assert [full for _, full in batches] == [True, True, True, True, False]
    assert list(local.read_batches(iter([]))) == []


def test_extraction_calls_meanwhile_once_before_any_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """``meanwhile`` runs once, before any result is read, with or without a pool: once the
    first two batches are submitted (the workers must not run out of pages while the parent
    loads), or all there is; and once when there is nothing to extract."""
    records = [SourceRecord("in.jsonl", f"r{i:02d}", f"word {i} " * 30, "text") for i in range(20)]
    monkeypatch.setattr(local, "EXTRACT_BATCH", 7)
    monkeypatch.setattr(local, "MIN_ITEMS_FOR_POOL", 2)
    for workers, n_records, read_by_then in ((1, 20, 14), (2, 20, 14), (2, 5, 5)):
        calls: list[tuple[int, int]] = []
        results: list = []
        read: list[SourceRecord] = []

        def counted(records: list[SourceRecord] = records[:n_records], read: list = read) -> Iterator:
            for record in records:
                read.append(record)
                yield record

        def note(results: list = results, calls: list = calls, read: list = read) -> None:
            calls.append((len(results), len(read)))

        for out in local.extracted(counted(), PipelineOptions(workers=workers), note):
            results.append(out)
        assert calls == [(0, read_by_then)], workers
        assert [d.doc_id for d in results] == [r.doc_id for r in records[:n_records]]
    calls = []
    assert list(local.extracted(iter([]), PipelineOptions(workers=2), lambda: calls.append(0))) == []
    assert calls == [0]


@pytest.mark.skipif(not paraphrase.semantic_available(), reason="the 'semantic' extra is not installed")
def test_the_paraphrase_model_is_loaded_while_several_workers_extract() -> None:
    """With several workers the parent loads the model while they extract; with one (the
    parent extracts) or with no model, only canonicalisation loads it, if a story needs it.
    So with the function words of other languages: with one worker, only a document that is
    not plainly English loads them."""
    model = PipelineOptions(paraphrase_model=paraphrase.MODEL_NAME)
    paraphrase.encoder.cache_clear()
    languages.function_words.cache_clear()
    local.load_later_stages(replace(model, workers=1))
    assert languages.function_words.cache_info().currsize == 0
    for options in (replace(model, workers=1), PipelineOptions(workers=2, paraphrase_model="none")):
        local.load_later_stages(options)
        assert paraphrase.encoder.cache_info().currsize == 0
    assert languages.function_words.cache_info().currsize == 1
    local.load_later_stages(replace(model, workers=2))
    assert paraphrase.encoder.cache_info().currsize == 1


def test_single_version_stories_are_made_once_the_verifier_is_gone(
    seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 1M articles the run's peak memory was the verifier and 800k single-version stories
    together: the stories are made once the grouping's scoring parts are let go."""
    verifiers: list[weakref.ref] = []

    class TrackedVerifier(local.Verifier):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            verifiers.append(weakref.ref(self))

    alive_when_made: list[int] = []
    make = local.with_single_version_stories

    def tracked_make(*args: object) -> list:
        alive_when_made.append(sum(ref() is not None for ref in verifiers))
        return make(*args)

    monkeypatch.setattr(local, "Verifier", TrackedVerifier)
    monkeypatch.setattr(local, "with_single_version_stories", tracked_make)
    (seeds_dir / "lone.txt").write_text(
        "The city library will stay open until midnight during exam weeks, the council said on "
        "Monday, after students asked for more places to study late in the evening.",
        encoding="utf-8",
    )
    result = local.run_pipeline([str(seeds_dir)], PipelineOptions(workers=1, paraphrase_model="none"))
    assert len(verifiers) == 1 and alive_when_made == [0]
    assert sorted(len(s.members) for s in result.stories) == [1, 5]


def test_text_tables_written_in_batches_equal_whole_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 2 rows: several row groups, same rows; a one-version story's composed text
    is its document's, read back when written."""
    options = PipelineOptions(workers=1, paraphrase_model="none")
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    extra = tmp_path / "in"
    extra.mkdir()
    for seed in sorted(seeds.iterdir())[:2]:
        (extra / seed.name).write_bytes(seed.read_bytes())
    (extra / "lone.txt").write_text(
        "Springfield opened a new public library on Saturday with a reading room for children.\n\n"
        "The building, a former post office, took two years to restore and cost $3 million.",
        encoding="utf-8",
    )
    result = local.run_pipeline([str(extra)], options)
    whole = {
        name: output.as_table(t)
        for name, t in output.build_tables(
            result.documents, result.stories, result.rejects, result.grouping.edges
        ).items()
    }
    monkeypatch.setattr(output, "BATCH_ROWS", 2)
    tables = output.build_tables(result.documents, result.stories, result.rejects, result.grouping.edges)
    for name in ("documents", "clusters"):
        output.write_table(tables[name], tmp_path / f"{name}.parquet")
        written = pq.ParquetFile(tmp_path / f"{name}.parquet")
        assert written.metadata.num_row_groups == -(-whole[name].num_rows // 2)
        assert written.read().equals(whole[name])
    clusters = {r["size"]: r for r in whole["clusters"].to_pylist()}
    lone = next(d for d in result.documents if d.doc_id == "lone.txt")
    assert clusters[1]["composed_text"] == composed_paragraphs(lone.text) != ""
    assert clusters[1]["canonical_doc_id"] == "lone.txt"


def test_a_table_written_by_a_forked_process_is_the_same_and_its_failure_fails_the_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    result = local.run_pipeline([str(seeds)], PipelineOptions(workers=1, paraphrase_model="none"))
    tables = output.build_tables(result.documents, result.stories, result.rejects, result.grouping.edges)
    real_write_table = output.write_table

    def recording_write_table(table: output.Table, path: Path) -> None:
        if os.getpid() != parent:
            (tmp_path / f"forked-{path.name}").touch()
        real_write_table(table, path)

    parent = os.getpid()
    monkeypatch.setattr(output, "write_table", recording_write_table)
    output.publish(tmp_path / "one", tables, {"run": 1}, workers=1)
    output.publish(tmp_path / "two", tables, {"run": 1}, workers=2)
    assert sorted(p.name for p in tmp_path.glob("forked-*")) == ["forked-documents.parquet"]
    for name in output.OWNED_FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name

    def failing_in_the_child(table: output.Table, path: Path) -> None:
        if os.getpid() != parent:
            raise OSError(28, "No space left on device")
        real_write_table(table, path)

    monkeypatch.setattr(output, "write_table", failing_in_the_child)
    with pytest.raises(OSError, match="No space left"):
        output.publish(tmp_path / "two", tables, {"run": 2}, workers=2)
    assert json.loads((tmp_path / "two" / output.MANIFEST_FILE).read_text()) == {"run": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_spilled_array_reads_back_what_was_appended_by_slices_and_ranges() -> None:
    from dedup.store import SpilledArray

    rng = np.random.default_rng(3)
    parts = [rng.integers(-(1 << 31), 1 << 31, size, dtype=np.int64) for size in (0, 5, 1000, 1, 77)]
    spilled = SpilledArray(np.int32)
    for part in parts:
        spilled.append(part)
    expected = np.concatenate(parts).astype(np.int32)
    assert len(spilled) == len(expected)
    assert spilled[:].tolist() == expected.tolist()
    assert spilled[3:900].tolist() == expected[3:900].tolist() and len(spilled[900:900]) == 0
    starts, lengths = np.array([1000, 0, 40, 1082]), np.array([3, 2, 0, 1])
    assert spilled.ranges(starts, lengths).tolist() == [*expected[1000:1003], *expected[0:2], expected[1082]]
    spilled.append(np.array([7]))  # appended after reads: read back too
    assert spilled[len(expected) :].tolist() == [7]
    with pytest.raises(OSError, match="short read"):
        spilled.ranges(np.array([len(expected)]), np.array([5]))
    spilled.close()


def _spilled_in_child(spilled, queue) -> None:
    queue.put(spilled[:].tolist())


def test_forked_readers_of_a_flushed_spilled_array_leave_its_file_as_it_was() -> None:
    """Flushed before the fork, a child's reads write nothing: a child holding a copy of an
    unflushed write buffer would write the tail a second time when it flushed it."""
    import os

    from dedup.store import SpilledArray

    spilled = SpilledArray(np.int32)
    spilled.append(np.arange(100))
    spilled.flush()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_spilled_in_child, args=(spilled, queue)) for _ in range(2)]
    for child in children:
        child.start()
    assert [queue.get(timeout=60) for _ in children] == [list(range(100))] * 2
    for child in children:
        child.join(timeout=60)
    spilled.flush()
    assert os.fstat(spilled._file.fileno()).st_size == 400
    spilled.close()
