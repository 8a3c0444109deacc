"""Line-level precision/recall of the plain-text cleaner against hand-labelled articles.

    python benchmarks/cleaner.py [--data ../shared/data] [--show-errors] [--json PATH]

The fixture (benchmarks/fixtures/cleaner_labels.json) holds only references and labels: the
seeds are read from seeds/, the other texts from <data>/stories/<source>.jsonl at run time
(publishers' texts are never committed). Every non-empty line is labelled "article" or
"boilerplate"; line numbers are 0-based indexes into ``text.splitlines()``. A line counts as
removed when the cleaner lists it in ``CleanedText.dropped`` (the title included); positive =
boilerplate. Reported: precision/recall/F1 of "removed" overall and per source, and per rule
the lines each rule removed and how many of them were article (false positives).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.extract.text import clean_plain_text  # noqa: E402
from dedup.text import normalize  # noqa: E402

FIXTURE = ROOT / "benchmarks" / "fixtures" / "cleaner_labels.json"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
SEED_DIR = ROOT / "seeds"


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, removed: bool, boilerplate: bool) -> None:
        if removed and boilerplate:
            self.tp += 1
        elif removed:
            self.fp += 1
        elif boilerplate:
            self.fn += 1
        else:
            self.tn += 1

    def scores(self) -> dict[str, float | int]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": p, "recall": r, "f1": f1} | {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
        }


@dataclass
class Result:
    overall: Counts = field(default_factory=Counts)
    by_source: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    by_rule: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[dict] = field(default_factory=list)
    documents: int = 0


def load_fixture(path: Path = FIXTURE) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["documents"]


def load_texts(docs: list[dict], data: Path | None) -> dict[tuple[str, str], str]:
    """Texts for the fixture's documents; shared sources only when ``data`` is given."""
    texts: dict[tuple[str, str], str] = {}
    wanted: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        if doc["source"] == "seeds":
            texts["seeds", doc["id"]] = (SEED_DIR / doc["id"]).read_text(encoding="utf-8")
        else:
            wanted[doc["source"]].add(doc["id"])
    if data is None:
        return texts
    for source, ids in wanted.items():
        with (data / "stories" / f"{source}.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row["id"] in ids:
                    texts[source, row["id"]] = row["text"]
    return texts


def removed_lines(text: str) -> dict[int, str]:
    """Line number (0-based, ``text.splitlines()``) -> rule, for every line the cleaner dropped.
    The cleaner reports normalised lines; each is matched to the first not yet matched
    original line with the same normalised text, so repeated lines map one to one."""
    cleaned = clean_plain_text(text)
    positions: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(text.splitlines()):
        key = normalize(line)
        if key:
            positions[key].append(i)
    out: dict[int, str] = {}
    for rule, line in cleaned.dropped:
        slots = positions.get(line)
        if not slots:
            raise ValueError(f"dropped line not found in the source text: {line[:80]!r}")
        out[slots.pop(0)] = rule
    return out


def evaluate(docs: list[dict], texts: dict[tuple[str, str], str]) -> Result:
    result = Result()
    for doc in docs:
        key = (doc["source"], doc["id"])
        if key not in texts:
            continue
        text = texts[key]
        if hashlib.sha256(text.encode()).hexdigest()[:16] != doc["sha256_16"]:
            raise SystemExit(f"{doc['source']}/{doc['id']}: text differs from the labelled version")
        lines = text.splitlines()
        removed = removed_lines(text)
        result.documents += 1
        for i, label in doc["labels"]:
            boilerplate = label == "boilerplate"
            rule = removed.get(i)
            result.overall.add(rule is not None, boilerplate)
            result.by_source[doc["source"]].add(rule is not None, boilerplate)
            if rule is not None:
                result.by_rule[rule]["tp" if boilerplate else "fp"] += 1
            if (rule is not None) != boilerplate:
                result.errors.append(
                    {
                        "source": doc["source"],
                        "id": doc["id"],
                        "line": i,
                        "error": "fp" if rule else "fn",
                        "rule": rule,
                        "text": lines[i],
                    }
                )
    return result


def report(result: Result, show_errors: bool) -> str:
    rows = [f"{'scope':<22}{'P':>8}{'R':>8}{'F1':>8}{'TP':>6}{'FP':>6}{'FN':>6}{'lines':>7}"]

    def row(name: str, c: Counts) -> str:
        s = c.scores()
        n = c.tp + c.fp + c.fn + c.tn
        return (
            f"{name:<22}{s['precision']:>8.4f}{s['recall']:>8.4f}{s['f1']:>8.4f}"
            f"{c.tp:>6}{c.fp:>6}{c.fn:>6}{n:>7}"
        )

    rows.append(row(f"all ({result.documents} docs)", result.overall))
    for source in sorted(result.by_source):
        rows.append(row(f"  {source}", result.by_source[source]))
    rows.append("")
    rows.append(f"{'rule':<22}{'removed':>8}{'TP':>6}{'FP':>6}{'P':>8}")
    for rule in sorted(result.by_rule, key=lambda r: -sum(result.by_rule[r].values())):
        c = result.by_rule[rule]
        n = c["tp"] + c["fp"]
        rows.append(f"  {rule:<20}{n:>8}{c['tp']:>6}{c['fp']:>6}{c['tp'] / n:>8.4f}")
    if show_errors:
        rows.append("")
        rows.append(f"errors ({len(result.errors)}): FP = article removed, FN = boilerplate kept")
        for e in result.errors:
            rule = f" [{e['rule']}]" if e["rule"] else ""
            where = f"{e['source']}/{e['id'][:12]}:{e['line']}"
            rows.append(f"  {e['error'].upper()} {where}{rule} {e['text'][:100]!r}")
    return "\n".join(rows)


def to_json(result: Result) -> dict:
    return {
        "documents": result.documents,
        "overall": result.overall.scores(),
        "by_source": {k: v.scores() for k, v in sorted(result.by_source.items())},
        "by_rule": {k: dict(v) for k, v in sorted(result.by_rule.items())},
        # References only: the texts stay with their publishers.
        "errors": [{k: v for k, v in e.items() if k != "text"} for e in result.errors],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder (holds stories/)")
    ap.add_argument("--show-errors", action="store_true", help="list every misclassified line")
    ap.add_argument("--json", type=Path, default=ROOT / "bench-results" / "cleaner.json")
    args = ap.parse_args(argv)
    if not (args.data / "stories").is_dir():
        print(
            f"error: {args.data / 'stories'} not found. The labelled articles other than the seeds "
            "are read from the shared data set at run time; pass --data or run from a checkout "
            "next to ../shared (tests/test_cleaner_fixture.py covers the seeds without it).",
            file=sys.stderr,
        )
        return 2
    docs = load_fixture()
    texts = load_texts(docs, args.data)
    missing = [f"{d['source']}/{d['id']}" for d in docs if (d["source"], d["id"]) not in texts]
    if missing:
        print(f"error: {len(missing)} labelled documents not found, e.g. {missing[0]}", file=sys.stderr)
        return 2
    result = evaluate(docs, texts)
    print(report(result, args.show_errors))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(to_json(result), indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
