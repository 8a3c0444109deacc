"""The whole pipeline through the CLI, with Parquet read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dedup.cli import main
from dedup.output import TABLE_FILES
from dedup.records import OUTPUT_SCHEMAS, SCHEMA_VERSION
from dedup.text import split_sentences


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def seeds_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import SEEDS

    out = tmp_path_factory.mktemp("run") / "out"
    code, output = run_cli("run", str(SEEDS), "--out", str(out), "-q")
    assert code == 0, output
    return out


def read(out: Path, table: str) -> list[dict]:
    return pq.read_table(out / TABLE_FILES[table]).to_pylist()


def test_outputs_have_the_documented_schemas(seeds_out: Path) -> None:
    for name, schema in OUTPUT_SCHEMAS.items():
        table = pq.read_table(seeds_out / TABLE_FILES[name])
        assert table.schema.equals(schema, check_metadata=False), name
    manifest = json.loads((seeds_out / "manifest.json").read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["parameters"]["minhash"] == {
        "num_perm": 128,
        "seed": 1,
        "scheme": "affine32",
        "hashfunc": "sha1_hash32",
    }


def test_seeds_form_one_story_of_five(seeds_out: Path) -> None:
    docs = read(seeds_out, "documents")
    assert len(docs) == 5
    assert len({d["cluster_id"] for d in docs}) == 1
    (cluster,) = read(seeds_out, "clusters")
    assert cluster["size"] == 5
    assert sorted(cluster["doc_ids"]) == sorted(d["doc_id"] for d in docs)
    assert sum(d["is_canonical"] for d in docs) == 1
    assert cluster["canonical_doc_id"] == next(d["doc_id"] for d in docs if d["is_canonical"])
    assert read(seeds_out, "rejects") == []


def test_members_relation_and_similarity_to_the_canonical(seeds_out: Path, tmp_path: Path) -> None:
    """Copies of the canonical seed: one in capitals with doubled spaces is an exact copy, one
    without its last paragraphs a near copy; a member's similarity to the canonical is the score
    of its verified pair, whichever of the two documents became the canonical."""
    from conftest import SEEDS

    canonical = next(d for d in read(seeds_out, "documents") if d["is_canonical"])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for seed in SEEDS.glob("*.txt"):
        (corpus / seed.name).write_bytes(seed.read_bytes())
    text = (SEEDS / canonical["doc_id"]).read_text(encoding="utf-8")
    (corpus / "copy-shouted.txt").write_text(text.upper().replace(" ", "  "), encoding="utf-8")
    (corpus / "copy-trimmed.txt").write_text("\n".join(text.splitlines()[:-6]), encoding="utf-8")
    code, output = run_cli("run", str(corpus), "--out", str(tmp_path / "out"), "-q")
    assert code == 0, output
    docs = {d["doc_id"]: d for d in read(tmp_path / "out", "documents")}
    assert docs[canonical["doc_id"]]["is_canonical"]
    assert docs["copy-shouted.txt"]["relation"] == "exact"
    assert docs["copy-trimmed.txt"]["relation"] == "near_copy"
    scores = {frozenset((p["doc_a"], p["doc_b"])): p["similarity"] for p in read(tmp_path / "out", "pairs")}
    members = [d for d in docs.values() if not d["is_canonical"]]
    for member in members:
        assert member["similarity_to_canonical"] == scores[frozenset((member["doc_id"], canonical["doc_id"]))]


def test_members_known_from_verified_pairs_equal_members_scored_afresh(tmp_path: Path) -> None:
    """Canonicalisation reads a member's similarity and 5-gram Jaccard (its relation) from the
    verified pair with the canonical when there is one: the same values as scoring the pair
    and comparing the shingles afresh, as it does for members without such a pair."""
    from conftest import SEEDS
    from dedup.config import PipelineOptions
    from dedup.engines.local import Grouping, _StoryContext, group_documents, ingest_to_store

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    texts = {seed.name: seed.read_text(encoding="utf-8") for seed in SEEDS.glob("*.txt")}
    for name, text in texts.items():
        (corpus / name).write_text(text, encoding="utf-8")
    options = PipelineOptions(paraphrase_model="none", workers=1)
    _, seeds, _ = ingest_to_store([str(corpus)], options)
    body = seeds[0].text  # cleaned: the seeds' trailing comments and bios are gone
    paragraphs = body.splitlines()
    (corpus / "copy-shouted.txt").write_text(body.upper().replace(" ", "  "), encoding="utf-8")
    trimmed = "\n".join(paragraphs[: len(paragraphs) * 3 // 4])
    (corpus / "copy-trimmed.txt").write_text(trimmed, encoding="utf-8")
    _, docs, _ = ingest_to_store([str(corpus)], options)
    grouping = group_documents(docs, options)
    (story,) = [s for s in grouping.stories if len(s) > 1]
    unpaired = Grouping([], grouping.stories, 0, grouping.verifier, grouping.weights, grouping.tokens)
    known, afresh = (_StoryContext(docs, g, options, "coverage") for g in (grouping, unpaired))
    seen: set[str] = set()
    for c in story:
        others = [o for o in story if o != c]
        assert known.relations_to(c, others) == afresh.relations_to(c, others)
        assert known.similarity_to(c, others).tolist() == afresh.similarity_to(c, others).tolist()
        seen.update(known.relations_to(c, others))
    assert seen == {"exact", "near_copy", "rewrite"}
    assert len(grouping.edges) > 0  # the known values were read from pairs


def test_seed_texts_are_clean(seeds_out: Path) -> None:
    for doc in read(seeds_out, "documents"):
        for junk in (
            "Listen to the article",
            "Fact Checker",
            "Watching costs and grades",
            "See what people",
            "years of experience",
            "Global concern",
        ):
            assert junk not in doc["text"], (doc["doc_id"], junk)


def test_seed_003_additions(seeds_out: Path) -> None:
    additions = [a for a in read(seeds_out, "additions") if a["doc_id"].startswith("003_")]
    said = " || ".join(a["text"] for a in additions)
    assert "July 24" in said
    assert "40 banned groups" in said or any(a["kind"] == "number" and a["text"] == "40" for a in additions)
    assert "28" in said
    for a in read(seeds_out, "additions"):
        assert "Watching costs" not in a["sentence"] and "journalist with" not in a["sentence"]
        assert "Listen to the article" not in a["sentence"]


def test_composed_text_contains_canonical_and_additions(seeds_out: Path) -> None:
    (cluster,) = read(seeds_out, "clusters")
    docs = {d["doc_id"]: d for d in read(seeds_out, "documents")}
    canonical = docs[cluster["canonical_doc_id"]]
    composed = cluster["composed_text"]
    position = 0
    for sentence in split_sentences(canonical["text"]):  # every canonical sentence, in order
        position = composed.index(sentence, position) + len(sentence)
    assert len(composed) > len(canonical["text"])
    for added in cluster["composed_additions"]:
        assert added["text"] in cluster["composed_text"]
        assert added["doc_ids"] and set(added["doc_ids"]) <= set(docs)


def test_rerun_is_byte_identical(seeds_out: Path, tmp_path: Path) -> None:
    from conftest import SEEDS

    out = tmp_path / "again"
    assert run_cli("run", str(SEEDS), "--out", str(out), "-q")[0] == 0
    for name in TABLE_FILES.values():
        assert (out / name).read_bytes() == (seeds_out / name).read_bytes(), name


def test_mixed_directory_accounts_for_every_input(mixed_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run_cli("run", str(mixed_dir), "--out", str(out), "-q")
    assert code == 0, output
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["input_records"] == 16
    assert counts["documents"] == 8 and counts["rejects"] == 8
    assert manifest["accounting_ok"]
    docs = read(out, "documents")
    rejects = read(out, "rejects")
    assert len(docs) == 8 and len(rejects) == 8
    assert {r["reason"] for r in rejects} >= {
        "binary",
        "empty",
        "undecodable",
        "malformed_json",
        "no_article",
        "malformed_parquet",
        "missing_text",
    }
    by_id = {d["doc_id"]: d for d in docs}
    # The bridge story arrives as HTML, Markdown, JSONL text, JSONL html and Parquet: one story.
    bridge = {by_id[i]["cluster_id"] for i in ("web/bridge.html", "notes.md", "j1", "j3", "p1")}
    assert len(bridge) == 1
    assert by_id["wire.txt"]["cluster_id"] == by_id["copy.txt"]["cluster_id"]
    assert by_id["wire.txt"]["cluster_id"] not in bridge


def test_previous_outputs_and_foreign_files_survive(seeds_out: Path, tmp_path: Path) -> None:
    from conftest import SEEDS

    out = tmp_path / "out"
    out.mkdir()
    (out / ".gitkeep").write_text("")
    assert run_cli("run", str(SEEDS), "--out", str(out), "-q")[0] == 0
    assert (out / ".gitkeep").exists()
    assert not list(tmp_path.glob(".out.*"))  # no staging folder left behind


def test_usage_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    code, output = run_cli("run", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in output
    code, output = run_cli("run")
    assert code == 2
    (tmp_path / "empty").mkdir()
    code, output = run_cli("run", str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert code == 1 and "no input files" in output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from conftest import SEEDS

    code, output = run_cli("run", str(SEEDS), "--out", str(blocker))
    assert code == 1 and "not a directory" in output


def test_out_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    from conftest import SEEDS

    # /proc refuses new folders even to root, so this fails on every Linux machine.
    code, output = run_cli("run", str(SEEDS), "--out", "/proc/newsdedup-test/out")
    assert code == 1 and "cannot create" in output


def test_console_script_help_and_schema() -> None:
    exe = Path(sys.executable).with_name("dedup")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "run" in result.stdout and "show" in result.stdout and "schema" in result.stdout
    result = subprocess.run([str(exe), "schema"], capture_output=True, text=True, check=True)
    for table in OUTPUT_SCHEMAS:
        assert f"{table}.parquet" in result.stdout


def test_show_prints_the_story(seeds_out: Path) -> None:
    (cluster,) = read(seeds_out, "clusters")
    code, output = run_cli("show", cluster["cluster_id"], "--out", str(seeds_out))
    assert code == 0
    assert "CANONICAL" in output and output.count("VARIANT") == 4 and "July 24" in output
    code, output = run_cli("show", "nope", "--out", str(seeds_out))
    assert code == 2


def _labelled_jsonl(path: Path) -> Path:
    from conftest import ARTICLE_PARAGRAPHS, SEEDS

    wire = (SEEDS / "004_e447452caba537a9.txt").read_text(encoding="utf-8")
    rewrite = (SEEDS / "001_499202b887901f4b.txt").read_text(encoding="utf-8")
    rows = [
        {"id": "b1", "story": "bridge", "title": "Bridge shut", "text": "\n".join(ARTICLE_PARAGRAPHS)},
        {"id": "b2", "story": "bridge", "title": "Bridge closed", "text": "\n".join(ARTICLE_PARAGRAPHS[1:])},
        {"id": "p1", "story": "pakistan", "title": "Pakistan urges platforms", "text": wire},
        {"id": "p2", "story": "pakistan", "title": "Pakistan demands action", "text": rewrite},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_scores_a_grouping_against_labels(tmp_path: Path) -> None:
    labels = _labelled_jsonl(tmp_path / "labels.jsonl")
    code, output = run_cli("eval", str(labels), "--json")
    assert code == 0, output
    scores = json.loads(output)
    assert scores["ari"] == 1.0 and scores["n_gold_stories"] == 2 and scores["n_predicted_stories"] == 2
    out = tmp_path / "out"
    assert run_cli("run", str(labels), "--out", str(out), "-q")[0] == 0
    code, output = run_cli("eval", str(labels), str(out))
    assert code == 0 and "adjusted Rand index  1.0000" in output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    assert run_cli("eval", str(bad), str(out))[0] == 2


def test_plain_text_runs_never_load_the_html_extractor(tmp_path: Path) -> None:
    """trafilatura and its dependencies (0.15 s of start-up) load only for corpora with pages,
    warcio only for archives; a corpus with a page still extracts it."""
    from conftest import SEEDS

    page = tmp_path / "pages"
    page.mkdir()
    body = " ".join(SEEDS.joinpath("001_499202b887901f4b.txt").read_text(encoding="utf-8").split()[:300])
    (page / "story.html").write_text(f"<html><body><article><p>{body}</p></article></body></html>")
    script = (
        "import sys\n"
        "from dedup.config import PipelineOptions\n"
        "from dedup.engines.local import run_pipeline\n"
        "result = run_pipeline(sys.argv[1:], PipelineOptions(paraphrase_model='none', workers=1))\n"
        "print(len(result.documents), 'trafilatura' in sys.modules, 'warcio' in sys.modules)\n"
    )
    for inputs, expected in (([str(SEEDS)], "5 False False"), ([str(SEEDS), str(page)], "6 True False")):
        run = subprocess.run([sys.executable, "-c", script, *inputs], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == expected.split()


def test_a_job_runs_with_fewer_collections_and_restores_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cyclic collector runs at RUN_GC_THRESHOLDS while a job runs (its default thresholds
    cost 6% of a run's CPU), and the caller's thresholds are back afterwards, failure or not."""
    import gc

    from conftest import SEEDS
    from dedup import job
    from dedup.config import PipelineOptions
    from dedup.processes import RUN_GC_THRESHOLDS

    seen = []
    real = job.run_pipeline

    def watched(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "run_pipeline", watched)
    before = gc.get_threshold()
    assert before != RUN_GC_THRESHOLDS
    options = PipelineOptions(paraphrase_model="none", workers=1)
    job.run_job([str(SEEDS)], tmp_path / "out", options)
    assert seen == [RUN_GC_THRESHOLDS]
    assert gc.get_threshold() == before

    def failing(*args, **kwargs):
        raise RuntimeError("stage failed")

    monkeypatch.setattr(job, "run_pipeline", failing)
    with pytest.raises(RuntimeError):
        job.run_job([str(SEEDS)], tmp_path / "again", options, force=True)
    assert gc.get_threshold() == before
