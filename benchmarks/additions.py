"""Sentence additions on a labelled benchmark made from real articles.

    python benchmarks/additions.py [--data ../shared/data/stories] [--json bench-results/additions.json]

For a base article of a story, a variant keeps 60-75% of its sentences, rewords some of the
kept ones (synonyms, clause order, contractions, number and date formats, merged and split
sentences) and inserts 1-2 sentences from ANOTHER outlet's article of the same story that
the base does not already say (a strict lexical test: most of the inserted sentence's content
words are absent from the base). The inserted sentences are the gold additions. The base is
the canonical; we run ``dedup.canonical`` on the pair and score the reported ``sentence``
additions: precision and recall micro-averaged over all variants and macro (mean per
variant), and how many reworded sentences were wrongly reported. A naive rule ("a sentence
whose best canonical sentence shares under half its words is new") is scored alongside.
Everything is deterministic (fixed seeds).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import regex as re

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.canonical import SentenceTable, StoryAligner, variant_additions  # noqa: E402
from dedup.config import PipelineOptions  # noqa: E402
from dedup.extract import extract_document  # noqa: E402
from dedup.records import Document, SourceRecord  # noqa: E402
from dedup.text import content_tokens, split_sentences  # noqa: E402
from dedup.weights import TermWeights  # noqa: E402

SEED = 20251124
# An inserted sentence is new when at most this share of its content words (5-letter
# prefixes, so inflections count as present) occur anywhere in the base ...
MAX_KNOWN_SHARE = 0.5
# ... and at least this many of them are absent.
MIN_NEW_WORDS = 4
MIN_WORDS, MAX_WORDS = 8, 60
# A reported sentence matches a gold or reworded sentence when it holds this share of its words.
MATCH_SHARE = 0.6

# Captions and fragments without terminal punctuation would run into their neighbour.
WHOLE_SENTENCE = re.compile(r"""["'(]?[\p{Lu}\p{N}].*[.!?]["')]?""")
SYNONYMS = {
    "said": "stated",
    "says": "states",
    "told": "informed",
    "about": "around",
    "major": "big",
    "big": "large",
    "large": "big",
    "people": "individuals",
    "help": "assist",
    "helped": "assisted",
    "began": "started",
    "start": "begin",
    "buy": "purchase",
    "show": "indicate",
    "shows": "indicates",
    "showed": "indicated",
    "also": "additionally",
    "however": "but",
    "many": "numerous",
    "important": "significant",
    "attack": "assault",
    "attacks": "assaults",
    "killed": "slain",
    "announced": "declared",
    "asked": "requested",
    "used": "utilised",
    "use": "utilise",
    "try": "attempt",
    "tried": "attempted",
    "need": "require",
    "needs": "requires",
    "enough": "sufficient",
    "quickly": "rapidly",
    "near": "close to",
    "before": "prior to",
    "after": "following",
    "because": "since",
    "whether": "if",
    "children": "kids",
    "country": "nation",
    "officials": "authorities",
    "government": "administration",
    "meeting": "talks",
    "called": "described",
    "warned": "cautioned",
    "criticized": "slammed",
    "support": "backing",
    "fight": "battle",
    "increase": "rise",
    "decision": "ruling",
    "plan": "proposal",
    "several": "a number of",
    "leader": "head",
    "leaders": "heads",
    "rules": "regulations",
    "law": "legislation",
    "car": "vehicle",
    "home": "house",
    "wanted": "sought",
    "want": "wish",
    "think": "believe",
    "believe": "think",
    "made": "produced",
    "get": "obtain",
    "received": "got",
    "including": "among them",
    "agreed": "consented",
    "added": "continued",
    "noted": "observed",
}
CONTRACTIONS = {
    "do not": "don't",
    "does not": "doesn't",
    "did not": "didn't",
    "is not": "isn't",
    "are not": "aren't",
    "was not": "wasn't",
    "will not": "won't",
    "would not": "wouldn't",
    "could not": "couldn't",
    "cannot": "can't",
    "it is": "it's",
    "we are": "we're",
    "they are": "they're",
    "I am": "I'm",
    "have not": "haven't",
    "has not": "hasn't",
}
NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
MONTHS = "January February March April May June July August September October November December".split()


def _case_like(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def swap_synonyms(sentence: str, rng: random.Random) -> str:
    """Replace up to four words by a synonym."""
    words = sentence.split(" ")
    slots = [i for i, w in enumerate(words) if re.sub(r"\W", "", w).lower() in SYNONYMS]
    for i in rng.sample(slots, min(4, len(slots))):
        core = re.sub(r"\W", "", words[i])
        words[i] = words[i].replace(core, _case_like(SYNONYMS[core.lower()], core))
    return " ".join(words)


def contract(sentence: str, rng: random.Random) -> str:
    """Contractions one way or the other ("do not" <-> "don't")."""
    pairs = list(CONTRACTIONS.items())
    if rng.random() < 0.5:
        pairs = [(b, a) for a, b in pairs]
    for a, b in pairs:
        sentence = re.sub(rf"\b{re.escape(a)}\b", b, sentence)
    return sentence


def reformat_numbers(sentence: str, rng: random.Random) -> str:
    """Digits <-> words for small numbers, thousands separators, "percent" <-> "%"."""

    def small(m: re.Match) -> str:
        return NUMBER_WORDS[int(m[0])]

    def word(m: re.Match) -> str:
        return str(NUMBER_WORDS.index(m[0].lower()))

    if rng.random() < 0.5:
        sentence = re.sub(r"(?<![\d.,$])\b([2-9]|1[0-2])\b(?![\d.,%])", small, sentence)
    else:
        sentence = re.sub(r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b", word, sentence)
    sentence = re.sub(r"\b(\d{1,3}),(\d{3})\b", r"\1\2", sentence)
    return re.sub(r"(\d) percent\b", r"\1%", sentence)


def reformat_dates(sentence: str, rng: random.Random) -> str:
    """ "July 24, 2025" <-> "24 July 2025"; abbreviated months spelt out."""
    month = "|".join(MONTHS)
    sentence = re.sub(rf"\b({month}) (\d{{1,2}}), (\d{{4}})\b", r"\2 \1 \3", sentence)
    sentence = re.sub(rf"\b(\d{{1,2}}) ({month}) (\d{{4}})\b", r"\2 \1, \3", sentence)
    abbreviations = {m[:3] + ".": m for m in MONTHS if len(m) > 4}
    for short, full in abbreviations.items():
        sentence = sentence.replace(short, full)
    return sentence


def reorder_clauses(sentence: str, rng: random.Random) -> str:
    """Move an attribution or a leading clause: "A, X said." -> "X said A."."""
    m = re.fullmatch(r"(.{20,}?),\s+(\p{Lu}[\w.' -]{0,40}?|he|she|they)\s+(said|says|added)\.", sentence)
    if m:
        body = m[1].strip('"')
        return f"{_case_like(m[2], 'X')} {m[3]} {body[:1].lower() + body[1:]}."
    m = re.fullmatch(r"((?:On|In|At|After|Before|During|Since|When|While) [^,]{3,60}), (.{15,})\.", sentence)
    if m:
        return f"{m[2][:1].upper() + m[2][1:]} {m[1][:1].lower() + m[1][1:]}."
    return sentence


def trim(sentence: str, rng: random.Random) -> str:
    """Drop a trailing clause or an apposition, as subeditors trim for length."""
    m = re.fullmatch(
        r"(.{40,}?), (?:which|who|where|while|as|after|including|saying) [^\"]{10,}?([.!?]?)", sentence
    )
    if m:
        return m[1] + (m[2] or ".")
    m = re.fullmatch(r"(.{25,}?), [^,\"]{8,50}, (.{20,})", sentence)
    return f"{m[1]} {m[2]}" if m else sentence


REWORDINGS: list[Callable[[str, random.Random], str]] = [
    swap_synonyms,
    contract,
    reformat_numbers,
    reformat_dates,
    reorder_clauses,
    trim,
]


def reword(sentence: str, rng: random.Random) -> str:
    """One to three light rewordings of a sentence."""
    for fn in rng.sample(REWORDINGS, rng.randint(1, 3)):
        sentence = fn(sentence, rng)
    return sentence


def split_sentence(sentence: str) -> list[str] | None:
    """ "A; b." or "A, but b." -> two sentences, when both halves are long enough."""
    m = re.fullmatch(r"(.{40,}?)(?:;|, but|, and) (\p{L}.{30,})", sentence)
    if not m or '"' in sentence:
        return None
    return [m[1].strip() + ".", m[2][:1].upper() + m[2][1:]]


def merge_sentences(a: str, b: str) -> str:
    """Two sentences joined into one."""
    if a.endswith(".") and not b.startswith(('"', "I ")):
        return f"{a[:-1]}, and {b[:1].lower()}{b[1:]}"
    return f"{a} {b}"


def _prefixes(words: Sequence[str]) -> set[str]:
    return {w[:5] for w in words}


def is_new_to(sentence: str, base_prefixes: set[str]) -> bool:
    """The strict test that an inserted sentence says something the base does not."""
    words = set(content_tokens(sentence))
    if (
        not WHOLE_SENTENCE.fullmatch(sentence)
        or not MIN_WORDS <= len(sentence.split()) <= MAX_WORDS
        or not words
    ):
        return False
    known = sum(1 for w in words if w[:5] in base_prefixes)
    return known / len(words) <= MAX_KNOWN_SHARE and len(words) - known >= MIN_NEW_WORDS


@dataclass
class Variant:
    base: Document
    text: str
    gold: list[str]  # inserted sentences
    reworded: list[str]  # kept sentences in reworded form (including merged and split ones)
    dataset: str = ""
    reported: list[str] = field(default_factory=list)
    naive: list[str] = field(default_factory=list)


def make_variant(base: Document, others: Sequence[Document], rng: random.Random) -> Variant | None:
    """Drop, reword and insert, keeping the base's paragraphs; None if no sentence is new."""
    paragraphs = [split_sentences(p) for p in base.text.splitlines() if p.strip()]
    sentences = [(p, s) for p, sents in enumerate(paragraphs) for s in sents]
    if len(sentences) < 6:
        return None
    base_prefixes = _prefixes(content_tokens(base.text))
    pool = sorted({s for doc in others for s in split_sentences(doc.text) if is_new_to(s, base_prefixes)})
    if not pool:
        return None
    drop = rng.uniform(0.25, 0.40)
    kept = sorted(rng.sample(range(len(sentences)), round(len(sentences) * (1 - drop))))
    out: list[tuple[int, str]] = []
    reworded: list[str] = []
    i = 0
    while i < len(kept):
        p, sentence = sentences[kept[i]]
        roll = rng.random()
        if roll < 0.08 and i + 1 < len(kept) and sentences[kept[i + 1]][0] == p:
            sentence = merge_sentences(sentence, sentences[kept[i + 1]][1])
            i += 1
            reworded.append(sentence)
            out.append((p, sentence))
        elif roll < 0.16 and (halves := split_sentence(sentence)):
            reworded.extend(halves)
            out.extend((p, h) for h in halves)
        elif roll < 0.6:
            changed = reword(sentence, rng)
            if changed != sentence:
                reworded.append(changed)
            out.append((p, changed))
        else:
            out.append((p, sentence))
        i += 1
    gold = rng.sample(pool, min(len(pool), rng.choice((1, 2))))
    for sentence in gold:
        # After a sentence that ends, so that the splitter sees the boundary.
        slots = [0] + [k + 1 for k, (_, prev) in enumerate(out) if WHOLE_SENTENCE.fullmatch(prev)]
        at = rng.choice(slots)
        out.insert(at, (out[min(at, len(out) - 1)][0], sentence))
    lines: dict[int, list[str]] = defaultdict(list)
    for p, sentence in out:
        lines[p].append(sentence)
    return Variant(base, "\n".join(" ".join(lines[p]) for p in sorted(lines)), gold, reworded)


def load_set(path: Path) -> list[tuple[str, Document]]:
    """(story, document) pairs of a labelled JSONL, cleaned as the pipeline cleans them."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        record = SourceRecord(
            source_path=path.name,
            doc_id=str(row["id"]),
            content=row["text"],
            content_type="text",
            title=row.get("title"),
            site=row.get("source"),
        )
        doc = extract_document(record, min_words=1)
        if isinstance(doc, Document):
            out.append((str(row["story"]), doc))
    return out


def build_variants(path: Path, per_set: int) -> tuple[list[Variant], TermWeights]:
    """Up to ``per_set`` variants, one per base article, and the set's term weights."""
    rows = load_set(path)
    weights = TermWeights.fit([content_tokens(d.text) for _, d in rows])
    stories: dict[str, list[Document]] = defaultdict(list)
    for story, doc in rows:
        stories[story].append(doc)
    variants = []
    for story in sorted(stories):
        docs = stories[story]
        for base in docs:
            others = [d for d in docs if d.site != base.site and d.doc_id != base.doc_id]
            rng = random.Random(SEED ^ zlib.crc32(base.doc_id.encode()))
            variant = make_variant(base, others, rng)
            if variant is not None:
                variant.dataset = path.stem
                variants.append(variant)
    rng = random.Random(SEED)
    if len(variants) > per_set:
        variants = sorted(rng.sample(variants, per_set), key=lambda v: v.base.doc_id)
    return variants, weights


def naive_additions(base: SentenceTable, variant: SentenceTable) -> list[str]:
    """The baseline: a sentence whose best canonical sentence shares under half its words."""
    out = []
    for s, terms in enumerate(variant.terms):
        words = set(terms)
        best = max((len(words & set(c)) / len(words) for c in base.terms), default=0.0) if words else 1.0
        if best < 0.5 and len(variant.sentences[s].split()) >= 6:
            out.append(variant.sentences[s])
    return out


def _matches(reported: str, target: str) -> bool:
    words = set(content_tokens(target))
    return bool(words) and len(words & set(content_tokens(reported))) / len(words) >= MATCH_SHARE


def score(variants: Sequence[Variant], reported: Callable[[Variant], list[str]]) -> dict[str, float]:
    """Micro and macro precision/recall of sentence additions, and reworded sentences reported."""
    tp_r = n_r = tp_g = n_g = paraphrases = 0
    precisions, recalls = [], []
    for v in variants:
        got = reported(v)
        correct = [r for r in got if any(_matches(r, g) for g in v.gold)]
        found = [g for g in v.gold if any(_matches(r, g) for r in got)]
        paraphrases += sum(1 for r in got if r not in correct and any(_matches(r, w) for w in v.reworded))
        tp_r, n_r, tp_g, n_g = tp_r + len(correct), n_r + len(got), tp_g + len(found), n_g + len(v.gold)
        precisions.append(len(correct) / len(got) if got else 1.0)
        recalls.append(len(found) / len(v.gold))
    return {
        "variants": len(variants),
        "gold": n_g,
        "reported": n_r,
        "precision": tp_r / n_r if n_r else 1.0,
        "recall": tp_g / n_g if n_g else 1.0,
        "macro_precision": sum(precisions) / len(precisions) if precisions else 1.0,
        "macro_recall": sum(recalls) / len(recalls) if recalls else 1.0,
        "paraphrases_reported": paraphrases,
        "reworded_sentences": sum(len(v.reworded) for v in variants),
    }


def run(variants: Sequence[Variant], weights: TermWeights, options: PipelineOptions) -> None:
    """Fill each variant's reported additions (ours and the naive rule's)."""
    for v in variants:
        tables = [SentenceTable.of(v.base.text), SentenceTable.of(v.text)]
        aligner = StoryAligner(tables, weights)
        alignment = variant_additions(1, 0, aligner, options)
        v.reported = [a.text for a in alignment.additions if a.kind == "sentence"]
        v.naive = naive_additions(*tables)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "stories")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "additions.json")
    parser.add_argument("--per-set", type=int, default=200, help="variants per labelled set")
    parser.add_argument("--show-errors", action="store_true", help="print every wrong or missed sentence")
    args = parser.parse_args()

    options = PipelineOptions()
    results: dict[str, dict[str, dict[str, float]]] = {}
    every: list[Variant] = []
    for path in sorted(args.data.glob("*.jsonl")):
        variants, weights = build_variants(path, args.per_set)
        run(variants, weights, options)
        every.extend(variants)
        results[path.stem] = {
            "newsdedup": score(variants, lambda v: v.reported),
            "naive": score(variants, lambda v: v.naive),
        }
    results["all"] = {
        "newsdedup": score(every, lambda v: v.reported),
        "naive": score(every, lambda v: v.naive),
    }

    header = (
        f"{'set':<12} {'method':<10} {'variants':>8} {'gold':>5} {'reported':>8} {'P':>6} {'R':>6} "
        f"{'macroP':>7} {'macroR':>7} {'paraphr':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, by_method in results.items():
        for method, r in by_method.items():
            print(
                f"{name:<12} {method:<10} {r['variants']:>8} {r['gold']:>5} {r['reported']:>8} "
                f"{r['precision']:>6.3f} {r['recall']:>6.3f} {r['macro_precision']:>7.3f} "
                f"{r['macro_recall']:>7.3f} {r['paraphrases_reported']:>4}/{r['reworded_sentences']}"
            )
    if args.show_errors:
        for v in every:
            for r in v.reported:
                if not any(_matches(r, g) for g in v.gold):
                    print(f"FP {v.base.doc_id}: {r}")
            for g in v.gold:
                if not any(_matches(r, g) for r in v.reported):
                    print(f"FN {v.base.doc_id}: {g}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
