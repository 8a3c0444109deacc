"""Extraction quality and speed: the pipeline's extraction stage vs bare trafilatura, side by side.

    python benchmarks/extraction.py [--data ../shared/data/extraction] [--procs 2] [--json PATH]

Sets (see each folder's SOURCE.txt for provenance and the metric):
  - zyte: 181 news/blog pages with ground-truth bodies; word 4-gram shingle precision/recall
    per page, macro-averaged, F1 of the two means (the benchmark's own evaluate.py);
  - trafilatura: 990 pages with must-contain / must-not-contain snippets, micro-averaged.
Every page goes through both extractors in the same worker, in alternating order, so machine
noise hits both alike; speed is reported as the ratio of summed per-page times.
The stage is measured with min_words=1 (the pipeline rejects shorter bodies as "no_article").
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import statistics
import sys
import time
import warnings
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.extract import extract_document  # noqa: E402
from dedup.ingest.decode import DecodeError, decode_text  # noqa: E402
from dedup.records import Document, SourceRecord  # noqa: E402

_WORD = re.compile(r"\w+")


def load_pages(data: Path) -> dict[str, list[dict]]:
    zyte = data / "zyte"
    truth = json.loads((zyte / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {"zyte": [], "trafilatura": []}
    for key in sorted(truth):
        raw = gzip.decompress((zyte / "html" / f"{key}.html.gz").read_bytes())
        pages["zyte"].append(
            {"id": key, "raw": raw, "url": truth[key]["url"], "truth": truth[key]["articleBody"]}
        )
    traf = data / "trafilatura"
    evaldata = json.loads((traf / "evaldata.json").read_text(encoding="utf-8"))
    index = json.loads((traf / "file_index.json").read_text(encoding="utf-8"))
    for url in sorted(evaldata):
        raw = gzip.decompress((traf / index[url]).read_bytes())
        pages["trafilatura"].append({"id": url, "raw": raw, "url": url, "item": evaldata[url]})
    return pages


def bare(page: dict, set_name: str) -> str:
    # What each benchmark's own runner feeds trafilatura: decoded text (zyte), raw bytes (trafilatura).
    html = page["raw"].decode("utf-8") if set_name == "zyte" else page["raw"]
    return trafilatura.extract(html) or ""


def ours(page: dict) -> str:
    try:
        html = decode_text(page["raw"], html=True)
    except DecodeError:
        return ""
    doc = extract_document(SourceRecord(page["id"], page["id"], html, "html", url=page["url"]), min_words=1)
    return doc.text if isinstance(doc, Document) else ""


def _work(task: tuple[str, int, dict]) -> tuple[str, str, str, float, float]:
    set_name, k, page = task
    logging.disable(logging.CRITICAL)
    warnings.filterwarnings("ignore")
    runs = [("bare", lambda: bare(page, set_name)), ("ours", lambda: ours(page))]
    if k % 2:
        runs.reverse()
    out, seconds = {}, {}
    for name, fn in runs:
        started = time.perf_counter()
        out[name] = fn()
        seconds[name] = time.perf_counter() - started
    return page["id"], out["bare"], out["ours"], seconds["bare"], seconds["ours"]


# --- metrics, as each benchmark's own evaluator defines them --------------------------------


def _shingles(text: str) -> Counter:
    words = _WORD.findall(text or "")
    return Counter(tuple(words[i : i + 4]) for i in range(max(1, len(words) - 3)) if words[i : i + 4])


def zyte_scores(pages: list[dict], texts: dict[str, str]) -> dict[str, float]:
    precisions, recalls = [], []
    for page in pages:
        truth, pred = _shingles(page["truth"]), _shingles(texts[page["id"]])
        tp = sum((truth & pred).values())
        fp = sum((pred - truth).values())
        fn = sum((truth - pred).values())
        if fp == fn == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    p, r = statistics.mean(precisions), statistics.mean(recalls)
    return {"f1": 2 * p * r / (p + r), "precision": p, "recall": r}


def snippet_scores(pages: list[dict], texts: dict[str, str]) -> dict[str, float]:
    def norm(text: str) -> str:
        return " ".join(text.split())

    tp = fp = fn = 0
    for page in pages:
        text = norm(texts[page["id"]])
        found = sum(1 for s in page["item"]["with"] if norm(s) in text)
        tp += found
        fn += len(page["item"]["with"]) - found
        fp += sum(1 for s in page["item"]["without"] if norm(s) in text)
    return {"f1": 2 * tp / (2 * tp + fp + fn), "precision": tp / (tp + fp), "recall": tp / (tp + fn)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "extraction")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "extraction.json")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"extraction data not found at {args.data} (pass --data)")
    pages = load_pages(args.data)
    scorers = {"zyte": zyte_scores, "trafilatura": snippet_scores}
    rows = []
    print(f"{'set':<12} {'extractor':<26} {'F1':>7} {'P':>7} {'R':>7} {'pages/s':>8} {'speed':>6}")
    for set_name, set_pages in pages.items():
        with Pool(args.procs) as pool:
            results = pool.map(_work, [(set_name, k, p) for k, p in enumerate(set_pages)], chunksize=4)
        texts = {"bare": {r[0]: r[1] for r in results}, "ours": {r[0]: r[2] for r in results}}
        seconds = {"bare": sum(r[3] for r in results), "ours": sum(r[4] for r in results)}
        for name, label in (("bare", "trafilatura.extract"), ("ours", "newsdedup extract stage")):
            scores = scorers[set_name](set_pages, texts[name])
            row = {
                "set": set_name,
                "extractor": label,
                **{k: round(v, 4) for k, v in scores.items()},
                "pages_per_second_per_core": round(len(set_pages) / seconds[name], 1),
                "speed_vs_bare": round(seconds["bare"] / seconds[name], 3),
            }
            rows.append(row)
            print(
                f"{set_name:<12} {label:<26} {row['f1']:>7.4f} {row['precision']:>7.4f} "
                f"{row['recall']:>7.4f} {row['pages_per_second_per_core']:>8.1f} "
                f"{row['speed_vs_bare']:>5.2f}x"
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
