"""Scale: our full pipeline against the MinHash loop a user would write, on one machine.

Builds a synthetic corpus (JSONL: id, title, text, date) from the real sentences of the
labelled story sets, then times, in one invocation and on the same corpus,

- ``naive``: per document ``datasketch.MinHash(num_perm=128)`` over word 5-grams
  (``update_batch``), ``MinHashLSH(threshold=0.5)`` query + insert, union-find. MinHash and
  LSH only: no extraction, no verification, no canonical text, no output tables;
- ``ours``: ``dedup run corpus.jsonl --out DIR`` (every stage, Parquet outputs).

Each runs in its own process under ``/usr/bin/time -v`` (wall time; CPU time of the process
tree, i.e. the work done, which the naive loop does on one core and ours on all; peak RSS of
the process tree's largest process). The machine is shared, so compare the ratio of the two within one
invocation, not absolute times across invocations; ``--rounds N`` runs each contender N times,
alternating which goes first, and reports medians.

Corpus: every original takes ~650 words of real sentences, each drawn from a random real
story, with rare words (names, places, topical nouns) and numbers replaced by the article's
own, and a headline around one of its names; about 20% of the articles are planted versions
of a recent original: exact copies, trimmed copies, sentence-shuffled copies and light
rewordings. Each record carries its gold ``story`` (the original's id), which ``dedup run``
ignores; both contenders' groups are scored against it (adjusted Rand index), so speed is never
bought with quality. (Runs of consecutive real sentences made originals that drew on the same
real story share whole paragraphs, and invented names of 2 syllables collided: the corpus then
held "different" stories that were near-copies, and candidate pairs grew with their square.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_WORDS = 650
PLANTED_SHARE = 0.2
_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
# Words rarer than this (Zipf scale) are what makes an article's topic: names, places, topical
# nouns. They are replaced per article, so 169 real stories give many distinct synthetic ones.
RARE_ZIPF = 4.0
# Default corpus seed (benchmarks/spark_vs_local.py times the same corpus).
SEED = 13
_NUMBER = re.compile(r"\b\d+\b")
# 40 syllables, 4-5 per name: ~105M names, so invented names rarely collide across articles (a
# corpus where every name recurs in hundreds of unrelated articles is not a news corpus).
_SYLLABLES = (
    "ka lo mi ren ta vo shi bar del un cor pe lin dro sa mek tu fa gol ri "
    "zen ha quo bel nir tas ove pri gu wen sol dek ama rud fio lem tor bis yan ek"
).split()
_REWORDING = {
    "said": "stated",
    "says": "states",
    "people": "residents",
    "officials": "authorities",
    "government": "administration",
    "because": "since",
    "after": "following",
    "big": "large",
    "also": "additionally",
}


def load_story_sentences(data: Path) -> list[list[str]]:
    """Sentences of every real story (all its articles, in order)."""
    from dedup.text import split_sentences

    sentences: dict[str, list[str]] = defaultdict(list)
    for path in sorted(data.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            sentences[record["story"]].extend(split_sentences(record.get("text") or ""))
    return [s for _, s in sorted(sentences.items()) if s]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(4, 5))).capitalize()


@lru_cache(maxsize=1 << 16)
def _is_rare(word: str) -> bool:
    import wordfreq

    return wordfreq.zipf_frequency(word, "en") < RARE_ZIPF


def _own_words(text: str, rng: random.Random, names: dict[str, str]) -> str:
    """Replace rare words and numbers with words and numbers of this article only."""

    def name_of(match: re.Match[str]) -> str:
        word = match.group(0)
        if not _is_rare(word.lower()):
            return word
        key = word.lower()
        if key not in names:
            names[key] = _name(rng).lower()
        return names[key].capitalize() if word[0].isupper() else names[key]

    text = _WORD.sub(name_of, text)
    return _NUMBER.sub(lambda m: str(rng.randint(2, 9999)), text)


def _original(rng: random.Random, stories: list[list[str]]) -> tuple[str, list[list[str]]]:
    """A title and paragraphs of ~650 words: real sentences, each from a random real story.
    Runs of consecutive sentences would make two originals that drew on the same real story
    share whole paragraphs (only names changed): at 100k articles every run of the 169 stories
    recurs in hundreds of "different" stories, which no news corpus does."""
    picked: list[str] = []
    words = 0
    while words < TARGET_WORDS:
        sentence = rng.choice(rng.choice(stories))
        picked.append(sentence)
        words += len(sentence.split())
    names: dict[str, str] = {}
    picked = [_own_words(s, rng, names) for s in picked]
    paragraphs = [picked[i : i + 3] for i in range(0, len(picked), 3)]
    return _headline(rng, picked, set(names.values())), paragraphs


def _headline(rng: random.Random, sentences: list[str], own_names: set[str]) -> str:
    """6-12 words of the first sentence naming one of the article's own names (a headline names
    who or where; the first sentence's opening alone would give every article that drew the
    same real sentence first the same title)."""
    for sentence in sentences:
        words = sentence.split()
        named = [k for k, w in enumerate(words) if w.strip("“”\"',.()").lower() in own_names]
        if named and len(words) >= 6:
            start = max(0, min(named[0] - rng.randint(0, 3), len(words) - 6))
            return " ".join(words[start : start + rng.randint(6, 12)]).strip("“”\"',.")
    return " ".join(sentences[0].split()[: rng.randint(6, 12)]).strip("“”\"',.")


def _planted(rng: random.Random, title: str, paragraphs: list[list[str]]) -> tuple[str, list[list[str]]]:
    """A version of another article: exact, trimmed, sentence-shuffled or lightly reworded."""
    kind = rng.choice(("exact", "trimmed", "shuffled", "reworded"))
    if kind == "exact":
        return title, paragraphs
    if kind == "trimmed":
        keep = max(1, int(len(paragraphs) * rng.uniform(0.5, 0.9)))
        return title, paragraphs[:keep]
    sentences = [s for p in paragraphs for s in p]
    if kind == "shuffled":
        rng.shuffle(sentences)
    else:
        sentences = [
            " ".join(_REWORDING.get(w, w) for w in s.split() if rng.random() > 0.05) for s in sentences
        ]
    return title, [sentences[i : i + 4] for i in range(0, len(sentences), 4)]


def write_corpus(path: Path, n_docs: int, seed: int, data: Path) -> None:
    """Deterministic for a seed: the same corpus for both contenders and across runs."""
    stories = load_story_sentences(data)
    rng = random.Random(seed)
    made: list[tuple[str, str, list[list[str]]]] = []  # (story, title, paragraphs)
    first_day = date(2023, 1, 1)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n_docs):
            doc_id = f"doc{i:07d}"
            if made and rng.random() < PLANTED_SHARE:
                story, *original = rng.choice(made[-5000:])
                title, paragraphs = _planted(rng, *original)
            else:
                story = doc_id
                title, paragraphs = _original(rng, stories)
                made.append((story, title, paragraphs))
            record = {
                "id": doc_id,
                "title": title,
                "text": "\n\n".join(" ".join(p) for p in paragraphs),
                "date": (first_day + timedelta(days=rng.randrange(730))).isoformat(),
                "story": story,  # gold label (the original's id); dedup run ignores it
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def naive(corpus: Path) -> dict[str, int]:
    """The loop a user would write with datasketch: MinHash + LSH + union-find."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    with corpus.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            words = record["text"].lower().split()
            shingles = {" ".join(words[i : i + 5]) for i in range(max(len(words) - 4, 1))}
            m = MinHash(num_perm=128)
            m.update_batch([s.encode("utf-8") for s in shingles])
            key = record["id"]
            parent[key] = key
            for other in lsh.query(m):
                parent[find(other)] = find(key)
            lsh.insert(key, m)
    groups = {find(k) for k in parent}
    return {"documents": len(parent), "groups": len(groups), "labels": {k: find(k) for k in parent}}


def gold_scores(corpus: Path, naive_labels: dict[str, str], out: Path) -> tuple[int, float, float]:
    """Number of gold stories, and the ARI of the naive loop's groups and of our stories
    against the corpus's gold labels."""
    import pyarrow.parquet as pq

    from dedup.evaluate import adjusted_rand_index

    gold: dict[str, str] = {}
    with corpus.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            gold[record["id"]] = record["story"]
    ours = pq.read_table(out / "documents.parquet", columns=["doc_id", "cluster_id"]).to_pydict()
    ids = sorted(gold)
    ours_labels = dict(zip(ours["doc_id"], ours["cluster_id"], strict=True))
    return (
        len(set(gold.values())),
        adjusted_rand_index([gold[i] for i in ids], [naive_labels[i] for i in ids]),
        adjusted_rand_index([gold[i] for i in ids], [ours_labels[i] for i in ids]),
    )


def measure(command: list[str]) -> dict[str, float]:
    """Wall seconds, CPU seconds (user + system, of the whole process tree) and peak RSS (MiB)
    of one command, in a fresh process tree. CPU seconds say how much work a contender did:
    a busy spell of the shared machine stretches wall time more than them."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{done.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    cpu = [re.search(rf"{kind} time \(seconds\): ([0-9.]+)", done.stderr) for kind in ("User", "System")]
    return {
        "seconds": seconds,
        "cpu_seconds": sum(float(m.group(1)) for m in cpu) if all(cpu) else float("nan"),
        "peak_rss_mib": int(rss.group(1)) / 1024 if rss else float("nan"),
    }


def run_size(
    n_docs: int,
    seed: int,
    data: Path,
    workdir: Path,
    log: Callable[[str], None],
    paraphrase_model: str,
    rounds: int = 1,
) -> dict:
    corpus = workdir / f"corpus-{n_docs}-seed{seed}.jsonl"
    if not corpus.exists():  # deterministic for (size, seed): a kept work folder reuses it
        started = time.perf_counter()
        write_corpus(corpus, n_docs, seed, data)
        log(f"{n_docs} docs: corpus written in {time.perf_counter() - started:.1f} s")
    labels_file = workdir / f"naive-labels-{n_docs}-seed{seed}.json"
    out = workdir / f"out-{n_docs}"
    commands = {
        "naive": [sys.executable, __file__, "--naive", str(corpus), "--labels", str(labels_file)],
        "ours": [
            str(Path(sys.executable).parent / "dedup"),
            *("run", str(corpus), "--out", str(out), "--force", "-q"),
            *("--paraphrase-model", paraphrase_model),
        ],
    }
    # Rounds alternate which contender goes first, so a slow spell of the shared machine does
    # not always fall on the same one; the table reports each contender's median round and the
    # median of the rounds' ratios.
    runs: dict[str, list[dict]] = {"naive": [], "ours": []}
    for r in range(rounds):
        for name in ("naive", "ours") if r % 2 == 0 else ("ours", "naive"):
            runs[name].append(measure(commands[name]))
            log(f"{n_docs} docs, round {r + 1}: {name} {runs[name][-1]['seconds']:.1f} s")
    result: dict = {"documents": n_docs, "rounds": rounds}
    for name in ("naive", "ours"):
        seconds = [run["seconds"] for run in runs[name]]
        result[name] = {
            "seconds": statistics.median(seconds),
            "seconds_per_round": seconds,
            "cpu_seconds": statistics.median(run["cpu_seconds"] for run in runs[name]),
            "peak_rss_mib": max(run["peak_rss_mib"] for run in runs[name]),
        }
    ratios = [o["seconds"] / n["seconds"] for o, n in zip(runs["ours"], runs["naive"], strict=True)]
    naive_labels = json.loads(labels_file.read_text(encoding="utf-8"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    scores = gold_scores(corpus, naive_labels, out)
    result["gold_stories"], result["naive"]["ari"], result["ours"]["ari"] = scores
    result["ours"]["stages"] = manifest.get("timings_seconds", {})  # of the last round
    result["ours"]["stories"] = manifest.get("counts", {}).get("clusters")
    for name in ("naive", "ours"):
        result[name]["docs_per_second"] = n_docs / result[name]["seconds"]
    result["time_ratio_ours_to_naive"] = statistics.median(ratios)
    result["time_ratio_per_round"] = ratios
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes, e.g. 1000000")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "stories")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "scale.json")
    parser.add_argument("--workdir", type=Path, help="keep corpora and outputs here (default: a temp dir)")
    parser.add_argument(
        "--paraphrase-model",
        default="auto",
        help="passed to dedup run; 'none' times the pipeline without the semantic paraphrase check",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each contender per size, alternating; medians reported"
    )
    parser.add_argument("--naive", type=Path, help=argparse.SUPPRESS)  # child process: run the loop
    parser.add_argument("--labels", type=Path, help=argparse.SUPPRESS)  # ... and write its groups here
    args = parser.parse_args()
    if args.naive:
        result = naive(args.naive)
        args.labels.write_text(json.dumps(result.pop("labels")), encoding="utf-8")
        print(json.dumps(result))
        return

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for n_docs in (int(s) for s in args.sizes.split(",")):
            results.append(
                run_size(n_docs, args.seed, args.data, workdir, log, args.paraphrase_model, args.rounds)
            )
    header = (
        f"{'docs':>9} {'contender':>9} {'seconds':>9} {'CPU s':>7} {'docs/s':>9} {'peak RSS':>10} "
        f"{'ours/naive':>10} {'ARI':>6}"
    )
    print(header)
    for r in results:
        for name in ("naive", "ours"):
            m = r[name]
            ratio = f"{r['time_ratio_ours_to_naive']:.2f}" if name == "ours" else ""
            print(
                f"{r['documents']:>9} {name:>9} {m['seconds']:>9.1f} {m['cpu_seconds']:>7.1f} "
                f"{m['docs_per_second']:>9.0f} "
                f"{m['peak_rss_mib']:>7.0f} MiB {ratio:>10} {m['ari']:>6.3f}"
            )
        stages = " ".join(f"{k}={v:.1f}" for k, v in r["ours"]["stages"].items())
        stories = f"{r['ours']['stories']} (gold: {r['gold_stories']})"
        print(f"{'':>9} ours stages (s): {stages}; stories: {stories}")
        if r["rounds"] > 1:
            per_round = ", ".join(f"{x:.2f}" for x in r["time_ratio_per_round"])
            print(f"{'':>9} ours/naive per round: {per_round} (median above)")
    # The curve: near-linear means time grows about as the corpus does.
    for small, large in itertools.pairwise(results):
        growth = {name: large[name]["seconds"] / small[name]["seconds"] for name in ("naive", "ours")}
        print(
            f"{small['documents']} -> {large['documents']} docs "
            f"({large['documents'] / small['documents']:.1f}x): "
            f"naive {growth['naive']:.1f}x the time, ours {growth['ours']:.1f}x"
        )
        large["time_growth_from_previous_size"] = growth
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"seed": args.seed, "results": results}, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
