"""Sentence additions on a labelled benchmark made from real articles.

    python benchmarks/additions.py [--data ../shared/data/stories] [--json bench-results/additions.json]

For a base article of a story, a variant keeps 60-75% of its sentences, rewords about two
thirds of the kept ones as a rewrite desk would (synonyms and set phrases from a table of
news wording, "X said Y" <-> "Y, X said" <-> "According to X, Y", leading clauses moved,
trailing clauses and appositions trimmed, contractions, number and date formats, one
sentence split in two, two adjacent ones merged) and inserts 1-2 sentences from ANOTHER
outlet's article of the same story that the base does not already say (a strict lexical
test: most of the inserted sentence's content words, or their synonyms in the table, are
absent from the base). The inserted sentences are the gold additions. The base is the
canonical; we run ``dedup.canonical`` on the pair and score the reported ``sentence``
additions: precision, recall and F1 micro-averaged over all variants, macro (mean per
variant), and how many reworded sentences were wrongly reported. Three methods:
  - naive: a sentence whose best canonical sentence shares under half its words is new;
  - lexical: newsdedup's IDF-weighted alignment alone (``paraphrase_model="none"``);
  - semantic: lexical, then the sentence-embedding second opinion on its candidates
    (``paraphrase_model="all-MiniLM-L6-v2"`` at the default ``paraphrase_threshold``).
The paraphrase threshold is swept on the candidates of the lexical aligner; variants are
split in two halves by a hash of the base's id, the threshold with the best F1 on the
``dev`` half is reported on the ``test`` half and on all; each row also counts, on the real
seed story (seeds/), rewrite paraphrases still reported and real additions of the re-report
lost. Times are ratios of the semantic to
the lexical run in the same invocation (the one-time model load is reported apart).
Everything is deterministic (fixed seeds).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import regex as re

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.canonical import (  # noqa: E402
    SentenceTable,
    StoryAligner,
    candidate_additions,
    paraphrase_scores,
    variant_additions,
)
from dedup.config import PipelineOptions  # noqa: E402
from dedup.extract import extract_document  # noqa: E402
from dedup.paraphrase import MODEL_NAME, NONE, encoder, semantic_available  # noqa: E402
from dedup.records import Document, SourceRecord  # noqa: E402
from dedup.text import STOPWORDS, content_tokens, split_sentences  # noqa: E402
from dedup.weights import TermWeights  # noqa: E402

SEED = 20251124
# An inserted sentence is new when at most this share of its content words (5-letter
# prefixes, so inflections count as present; a word whose synonym in the table is present
# counts as present too) occur anywhere in the base ...
MAX_KNOWN_SHARE = 0.5
# ... and at least this many of them are absent.
MIN_NEW_WORDS = 4
MIN_WORDS, MAX_WORDS = 8, 60
# A reported sentence matches a gold or reworded sentence when it holds this share of its words.
MATCH_SHARE = 0.6
# Paraphrase thresholds swept (1.01: nothing is a paraphrase, i.e. lexical only).
SWEEP = [round(0.5 + 0.0125 * i, 4) for i in range(33)] + [1.01]

# Captions and fragments without terminal punctuation would run into their neighbour.
WHOLE_SENTENCE = re.compile(r"""["'(]?[\p{Lu}\p{N}].*[.!?]["')]?""")

# Wording a rewrite desk swaps: "word or phrase: alternative | alternative". Inflected forms
# are listed apiece so that a swap keeps the grammar.
SYNONYM_TABLE = """
said: stated | noted | remarked
says: states | notes | maintains
told: informed | assured
announced: declared | unveiled | disclosed
announce: declare | unveil
announcement: declaration | statement
urged: called on | pressed | pushed
urge: call on | press
urges: calls on | presses
warned: cautioned | issued a warning
warns: cautions
warning: caution | alert
asked: requested | pressed
ask: request
criticized: slammed | condemned | faulted
criticised: slammed | condemned | faulted
criticism: condemnation | censure
accused: charged | blamed
accusing: charging | blaming
claimed: asserted | alleged
claims: assertions | allegations
denied: rejected | refuted
deny: reject | refute
confirmed: verified | acknowledged
reported: disclosed | indicated
reports: accounts
killed: slain | left dead
kill: slay
died: perished | lost their lives
injured: wounded | hurt
wounded: injured | hurt
attack: assault | strike
attacks: assaults | strikes
attacked: assaulted | struck
arrested: detained | taken into custody
arrest: detention
investigation: probe | inquiry
investigating: probing | looking into
investigators: detectives | probers
began: started | commenced
begin: start | commence
started: began | launched
start: begin | launch
ended: concluded | finished
end: conclusion | close
continue: go on | carry on
continued: went on | persisted
helped: assisted | aided
support: backing | assistance
supported: backed | endorsed
supporters: backers | allies
opposed: resisted | objected to
oppose: resist | object to
decided: chose | resolved
decision: ruling | choice
plan: proposal | scheme
plans: proposals | intentions
planned: intended | scheduled
expected: anticipated | projected
believe: think | hold
believed: thought
think: believe
want: wish | seek
wanted: sought | wished
need: require
needs: requires
needed: required
try: attempt
tried: attempted
trying: attempting | seeking
use: utilise | employ
used: utilised | employed
using: utilising | employing
show: demonstrate | indicate
shows: demonstrates | indicates
showed: demonstrated | indicated
shown: demonstrated
made: produced | created
make: produce | create
get: obtain | receive
received: got | obtained
gave: provided | handed
give: provide | offer
took: seized | assumed
buy: purchase | acquire
bought: purchased | acquired
sold: marketed
pay: compensate
paid: compensated
find: discover | locate
found: discovered | located
looking: searching | seeking
meet: convene
met: convened | sat down
meeting: talks | session
talks: negotiations | discussions
agreed: consented | settled
agreement: deal | accord
deal: agreement | accord
released: issued | published
release: issue | publish
issued: released | put out
passed: approved | adopted
approved: passed | endorsed
signed: inked
rejected: dismissed | turned down
refused: declined
described: characterised | portrayed
called: described as | termed
explained: clarified | elaborated
insisted: maintained | stressed
stressed: emphasised | underlined
added: continued | went on
noted: observed | pointed out
suggested: proposed | hinted
raised: lifted | increased
increase: rise | jump
increased: rose | climbed
rose: climbed | increased
fell: dropped | declined
dropped: fell | declined
cut: reduce | trim
cuts: reductions
hit: struck
crashed: slammed | smashed
fired: launched | shot
launched: fired | sent up
fighting: battling | combating
fight: battle | combat
threat: menace | danger
threatened: menaced | endangered
concerns: worries | fears
concern: worry | alarm
worried: concerned | anxious
afraid: fearful | scared
fear: dread | worry
people: individuals | persons
person: individual
children: kids | youngsters
child: kid | youngster
officials: authorities | administrators
official: officer | representative
authorities: officials
government: administration | authorities
country: nation
countries: nations
nation: country
company: firm | business
companies: firms | businesses
firm: company | business
leader: head | chief
leaders: heads | chiefs
president: head of state
lawmakers: legislators | members of Congress
law: legislation | statute
laws: legislation | statutes
legislation: law | bill
bill: measure | legislation
rules: regulations
rule: regulation
police: law enforcement | officers
officers: police | agents
soldiers: troops | servicemen
troops: soldiers | forces
military: armed forces | army
weapons: arms
war: conflict
conflict: war | hostilities
election: vote | poll
vote: ballot
voters: electorate
campaign: drive | push
candidate: contender | nominee
crowd: throng | gathering
city: town | municipality
home: house | residence
house: home | residence
car: vehicle | automobile
cars: vehicles | automobiles
plane: aircraft | jet
aircraft: plane | jet
ship: vessel | boat
money: funds | cash
funds: money | financing
cost: price
costs: expenses
price: cost
prices: costs
jobs: positions | employment
workers: employees | staff
employees: workers | staff
staff: employees | personnel
report: account | study
statement: announcement | declaration
interview: conversation
speech: address | remarks
comments: remarks | statements
remarks: comments | statements
question: query
questions: queries
problem: issue | difficulty
problems: issues | difficulties
issue: matter | question
issues: matters | questions
result: outcome | consequence
results: outcomes | findings
effort: attempt | push
efforts: attempts | initiatives
move: step | measure
action: measures | steps
response: reply | reaction
information: details | data
evidence: proof
victims: casualties
accident: crash | collision
crash: accident | collision
fire: blaze
disaster: catastrophe
area: region | zone
region: area | zone
border: frontier
place: location
event: occasion
major: big | key | leading
big: large | huge
large: big | sizable
small: little | minor
huge: enormous | massive
important: significant | key
significant: important | notable
serious: grave | severe
recent: latest
recently: lately | of late
former: ex
top: senior | leading
senior: high-ranking | top
many: numerous | lots of
several: a number of | various
some: certain
nearly: almost | close to
almost: nearly | close to
approximately: roughly | some
more than: over | upwards of
at least: no fewer than | a minimum of
because: since | as
because of: due to | owing to
however: but | yet
also: additionally | too
although: though | even though
before: prior to | ahead of
after: following | once
during: amid | throughout
near: close to | next to
outside: beyond
quickly: rapidly | swiftly
immediately: at once | right away
later: afterward | subsequently
earlier: previously | before
now: currently | at present
currently: now | at present
often: frequently | regularly
again: once more
so far: to date | thus far
likely: probably
possible: potential
clear: obvious | evident
difficult: hard | tough
enough: sufficient
whether: if
including: such as | among them
according to: citing | as reported by
as well as: and | along with
in order to: to | so as to
a lot of: many | plenty of
on Monday: Monday
on Tuesday: Tuesday
on Wednesday: Wednesday
on Thursday: Thursday
on Friday: Friday
on Saturday: Saturday
on Sunday: Sunday
"""


def _parse_table(text: str) -> dict[str, list[str]]:
    table = {}
    for line in text.strip().splitlines():
        key, _, alternatives = line.partition(":")
        table[key.strip().lower()] = [a.strip() for a in alternatives.split("|") if a.strip()]
    return table


SYNONYMS = _parse_table(SYNONYM_TABLE)
_SYNONYM_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(k) for k in sorted(SYNONYMS, key=len, reverse=True)) + r")\b", re.I
)
_QUOTED = re.compile(r"[\"“][^\"“”]*[\"”]")


def _synonym_words() -> dict[str, set[str]]:
    """Content word -> the content words of its synonyms, both ways (for the "new" test)."""
    related: dict[str, set[str]] = defaultdict(set)
    for key, alternatives in SYNONYMS.items():
        for alternative in alternatives:
            for a in content_tokens(key):
                related[a].update(content_tokens(alternative))
            for b in content_tokens(alternative):
                related[b].update(content_tokens(key))
    return related


SYNONYM_WORDS = _synonym_words()
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
# Who says something: a name of up to four capitalised words, a pronoun or a generic source.
SPEAKER = (
    r"(?:\p{Lu}[\p{L}.'-]*(?:\s+\p{Lu}[\p{L}.'-]*){0,3}|he|she|they|officials|police|authorities"
    r"|the (?:\p{Ll}+\s+)?(?:spokesman|spokeswoman|spokesperson|official|minister|statement|report))"
)
_ATTRIBUTION_VERB = r"(said|says|added|stated|noted|told reporters|wrote)"


def _case_like(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless it opens a name ("The" -> "the", "Obama" stays)."""
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first.lower() in STOPWORDS or first == "The" else text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def swap_synonyms(sentence: str, rng: random.Random) -> str:
    """Replace two to five words or set phrases by an alternative; never inside a quotation
    nor in a name ("the White House", "President Obama" stay)."""
    quoted = [m.span() for m in _QUOTED.finditer(sentence)]
    slots = [
        m
        for m in _SYNONYM_RE.finditer(sentence)
        if not any(s <= m.start() < e for s, e in quoted) and (m.start() == 0 or not m[0][:1].isupper())
    ]
    chosen = sorted(rng.sample(slots, min(rng.randint(2, 5), len(slots))), key=lambda m: m.start())
    for m in reversed(chosen):
        alternative = _case_like(rng.choice(SYNONYMS[m[0].lower()]), m[0])
        head = sentence[: m.start()]
        article = re.search(r"\b([Aa]n?) $", head)
        if article:  # "a report" -> "an account"
            an = alternative[:1].lower() in "aeiou"
            head = head[: article.start(1)] + article[1][0] + ("n" if an else "") + " "
        sentence = head + alternative + sentence[m.end() :]
    return sentence


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
    """Move the attribution or a leading clause: "A, X said." <-> "X said A." <-> "According
    to X, A."; "On Monday, A." -> "A on Monday."."""
    m = re.fullmatch(rf"(?![\"“])(.{{20,}}?),\s+({SPEAKER})\s+{_ATTRIBUTION_VERB}\.", sentence)
    if m:
        if (
            m[3] in ("said", "says")
            and m[2][:1].isupper()
            and m[2].split()[0] != "The"
            and rng.random() < 0.4
        ):
            return f"According to {m[2]}, {_lower_first(m[1])}."
        return f"{_upper_first(m[2])} {m[3]} {_lower_first(m[1])}."
    m = re.fullmatch(rf"({SPEAKER})\s+(said|says)\s+(?:that\s+)?([^\"“]{{20,}})\.", sentence)
    if m and not m[1].lower().startswith(("the ", "he", "she", "they")):
        return f"{_upper_first(m[3])}, {m[1]} {m[2]}."
    m = re.fullmatch(r"((?:On|In|At|After|Before|During|Since|When|While) [^,]{3,60}), (.{15,})\.", sentence)
    if m:
        return f"{_upper_first(m[2])} {_lower_first(m[1])}."
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


FORMATS: list[Callable[[str, random.Random], str]] = [contract, reformat_numbers, reformat_dates]
STRUCTURE: list[Callable[[str, random.Random], str]] = [reorder_clauses, trim]


def reword(sentence: str, rng: random.Random) -> str:
    """A rewrite desk's rewording: synonyms (most often), clause order or trimming, formats."""
    steps = rng.sample(STRUCTURE, rng.randint(0, 2)) + rng.sample(FORMATS, rng.randint(0, 1))
    if rng.random() < 0.85 or not steps:
        steps.append(swap_synonyms)
    for fn in steps:
        sentence = fn(sentence, rng)
    return sentence


def split_sentence(sentence: str) -> list[str] | None:
    """ "A; b." / "A, but b." / "A, which b." -> two sentences, when both halves are long enough."""
    if '"' in sentence or "“" in sentence:
        return None
    m = re.fullmatch(r"(.{40,}?)(;|, but|, and|, while|, although|, which) (\p{L}.{30,})", sentence)
    if not m:
        return None
    second = {", while": "Meanwhile, ", ", although": "Still, ", ", which": "This "}.get(m[2], "")
    rest = m[3] if second else _upper_first(m[3])
    return [m[1].strip() + ".", second + rest]


def merge_sentences(a: str, b: str, rng: random.Random) -> str:
    """Two sentences joined into one."""
    if a.endswith(".") and not b.startswith(('"', "“", "I ")):
        joint = rng.choice((", and ", "; ", ", while ", ", as "))
        return f"{a[:-1]}{joint}{_lower_first(b)}"
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
    known = sum(
        1 for w in words if w[:5] in base_prefixes or any(s[:5] in base_prefixes for s in SYNONYM_WORDS[w])
    )
    return known / len(words) <= MAX_KNOWN_SHARE and len(words) - known >= MIN_NEW_WORDS


@dataclass
class Variant:
    base: Document
    text: str
    gold: list[str]  # inserted sentences
    reworded: list[str]  # kept sentences in reworded form (including merged and split ones)
    dataset: str = ""
    reported: dict[str, list[str]] = field(default_factory=dict)  # method -> sentence additions
    candidates: list[str] = field(default_factory=list)  # the lexical aligner's additions ...
    cosines: np.ndarray | None = None  # ... and their paraphrase scores (-1: states a new fact)

    @property
    def split(self) -> str:
        return "dev" if zlib.crc32(self.base.doc_id.encode()) % 2 == 0 else "test"


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
            sentence = merge_sentences(sentence, sentences[kept[i + 1]][1], rng)
            if rng.random() < 0.5:
                sentence = swap_synonyms(sentence, rng)
            i += 1
            reworded.append(sentence)
            out.append((p, sentence))
        elif roll < 0.16 and (halves := split_sentence(sentence)):
            if rng.random() < 0.5:
                halves = [swap_synonyms(h, rng) for h in halves]
            reworded.extend(halves)
            out.extend((p, h) for h in halves)
        elif roll < 0.65:
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
    precision = tp_r / n_r if n_r else 1.0
    recall = tp_g / n_g if n_g else 1.0
    return {
        "variants": len(variants),
        "gold": n_g,
        "reported": n_r,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "macro_precision": sum(precisions) / len(precisions) if precisions else 1.0,
        "macro_recall": sum(recalls) / len(recalls) if recalls else 1.0,
        "paraphrases_reported": paraphrases,
        "reworded_sentences": sum(len(v.reworded) for v in variants),
    }


def run(
    variants: Sequence[Variant], weights: TermWeights, options: PipelineOptions, method: str
) -> tuple[float, list[StoryAligner]]:
    """Fill each variant's reported additions under ``method``, as the pipeline computes them
    (one aligner per story); the seconds it took, and the aligners."""
    aligners = []
    started = time.perf_counter()
    for v in variants:
        aligner = StoryAligner([SentenceTable.of(v.base.text), SentenceTable.of(v.text)], weights)
        alignment = variant_additions(1, 0, aligner, options)
        v.reported[method] = [a.text for a in alignment.additions if a.kind == "sentence"]
        aligners.append(aligner)
    return time.perf_counter() - started, aligners


def measure_cosines(
    variants: Sequence[Variant], aligners: Sequence[StoryAligner], options: PipelineOptions
) -> None:
    """The paraphrase score of each sentence the lexical aligner reports (for the sweep), from
    the aligners of the semantic run (the bases' embeddings are cached there)."""
    for v, aligner in zip(variants, aligners, strict=True):
        candidates = candidate_additions(1, 0, aligner, options)
        v.candidates = [aligner.tables[1].sentences[s] for s in candidates]
        assert v.candidates == v.reported["lexical"], v.base.doc_id
        v.cosines, _ = paraphrase_scores(1, 0, aligner, candidates, options)


# The seed story (seeds/, five real versions of one story; 004 is the canonical): sentences of
# the rewrites that paraphrase the canonical, and real additions of the re-report (003).
SEED_PARAPHRASES = [
    "Neither Afghanistan nor India has responded to these allegations.",
    "The Pakistani government is now pressuring social media platforms",
    "Pakistani officials emphasized they do not want to ban social media platforms",
    "With around 70 million social media users in a population of 250 million",
]
SEED_ADDITIONS = [
    "compliance rules on July 24, 2025",
    "19 terrorism-linked accounts operated from India and 28 from Afghanistan",
    "artificial intelligence tools, were being used to spread militant propaganda",
    "traced activity from 40 banned groups",
    "Palestine was often removed within 24 hours",
    "legal options in international courts",
]


def seed_scores(options: PipelineOptions) -> list[tuple[str, float]]:
    """(label, paraphrase score) of each labelled seed sentence the lexical aligner reports."""
    from dedup.canonical import choose_canonical
    from dedup.ingest import discover_inputs, read_input

    docs = [extract_document(r) for item in discover_inputs([ROOT / "seeds"]) for r in read_input(item)]
    docs = [d for d in docs if isinstance(d, Document)]
    weights = TermWeights.fit([content_tokens(d.text) for d in docs])
    aligner = StoryAligner([SentenceTable.of(d.text) for d in docs], weights)
    c, _ = choose_canonical(docs, aligner, options)
    out = []
    for v in range(len(docs)):
        candidates = candidate_additions(v, c, aligner, options) if v != c else []
        scores, _ = paraphrase_scores(v, c, aligner, candidates, options)
        for s, score_ in zip(candidates, scores, strict=True):
            sentence = aligner.tables[v].sentences[s]
            if any(p in sentence for p in SEED_PARAPHRASES):
                out.append(("paraphrase", float(score_)))
            elif any(a in sentence for a in SEED_ADDITIONS):
                out.append(("addition", float(score_)))
    assert sorted(label for label, _ in out) == ["addition"] * 6 + ["paraphrase"] * 4, out
    return out


def at_threshold(threshold: float) -> Callable[[Variant], list[str]]:
    def reported(v: Variant) -> list[str]:
        assert v.cosines is not None
        return [c for c, cosine in zip(v.candidates, v.cosines, strict=True) if cosine < threshold]

    return reported


def _f1_row(r: dict[str, float]) -> str:
    return f"{r['precision']:>6.3f} {r['recall']:>6.3f} {r['f1']:>6.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "stories")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "additions.json")
    parser.add_argument("--per-set", type=int, default=200, help="variants per labelled set")
    parser.add_argument(
        "--threshold", type=float, default=None, help="paraphrase threshold (default: the pipeline's)"
    )
    parser.add_argument("--show-errors", action="store_true", help="print every wrong or missed sentence")
    args = parser.parse_args()

    lexical = PipelineOptions(paraphrase_model=NONE)
    semantic = semantic_available()
    options = PipelineOptions(paraphrase_model=MODEL_NAME) if semantic else lexical
    if args.threshold is not None:
        options = replace(options, paraphrase_threshold=args.threshold)
    methods = ["naive", "lexical", *(["semantic"] if semantic else [])]
    if not semantic:
        print("the 'semantic' extra is not installed: lexical and naive only", file=sys.stderr)

    seconds: dict[str, float] = defaultdict(float)
    if semantic:
        started = time.perf_counter()
        encoder(MODEL_NAME)
        seconds["model_load"] = time.perf_counter() - started
    sets: dict[str, list[Variant]] = {}
    for path in sorted(args.data.glob("*.jsonl")):
        variants, weights = build_variants(path, args.per_set)
        for v in variants:
            tables = [SentenceTable.of(v.base.text), SentenceTable.of(v.text)]
            v.reported["naive"] = naive_additions(*tables)
        seconds["lexical"] += run(variants, weights, lexical, "lexical")[0]
        if semantic:
            elapsed, aligners = run(variants, weights, options, "semantic")
            seconds["semantic"] += elapsed
            measure_cosines(variants, aligners, options)
        sets[path.stem] = variants
    every = [v for variants in sets.values() for v in variants]
    sets["all"] = every

    results: dict[str, dict[str, dict[str, float]]] = {
        name: {m: score(variants, lambda v, m=m: v.reported[m]) for m in methods}
        for name, variants in sets.items()
    }
    header = (
        f"{'set':<12} {'method':<9} {'variants':>8} {'gold':>5} {'reported':>8} {'P':>6} {'R':>6} {'F1':>6} "
        f"{'macroP':>7} {'macroR':>7} {'paraphr':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, by_method in results.items():
        for method, r in by_method.items():
            print(
                f"{name:<12} {method:<9} {r['variants']:>8} {r['gold']:>5} {r['reported']:>8} {_f1_row(r)} "
                f"{r['macro_precision']:>7.3f} {r['macro_recall']:>7.3f} "
                f"{r['paraphrases_reported']:>4}/{r['reworded_sentences']}"
            )
    report: dict = {"sets": results, "seconds": {k: round(v, 3) for k, v in seconds.items()}}
    if semantic:
        print(f"\nsemantic = lexical + {MODEL_NAME} at paraphrase_threshold {options.paraphrase_threshold}")
        print(
            f"time: lexical {seconds['lexical']:.1f}s, semantic {seconds['semantic']:.1f}s "
            f"({seconds['semantic'] / seconds['lexical']:.1f}x), model load {seconds['model_load']:.1f}s once"
        )
        halves = {half: [v for v in every if v.split == half] for half in ("dev", "test")}
        sweep = {
            t: {half: score(vs, at_threshold(t)) for half, vs in [*halves.items(), ("all", every)]}
            for t in SWEEP
        }
        seeds = seed_scores(options)
        seed_errors = {
            t: (
                sum(1 for label, x in seeds if label == "paraphrase" and x < t),
                sum(1 for label, x in seeds if label == "addition" and x >= t),
            )
            for t in SWEEP
        }
        print(
            f"\nparaphrase threshold sweep (dev {len(halves['dev'])} / test {len(halves['test'])} variants;"
        )
        print("seeds: paraphrases still reported of 4 / real additions lost of 6)")
        columns = "  ".join(f"{half + ' P':>6} {'R':>6} {'F1':>6}" for half in ("dev", "test", "all"))
        print(f"{'threshold':>9}  {columns}  {'seeds':>5}")
        for t, by_half in sweep.items():
            label = "lexical" if t > 1 else f"{t:.3f}"
            rows = "  ".join(_f1_row(by_half[half]) for half in ("dev", "test", "all"))
            print(f"{label:>9}  {rows}  {seed_errors[t][0]:>2}/{seed_errors[t][1]}")
        best = max(SWEEP, key=lambda t: (round(sweep[t]["dev"]["f1"], 4), t))
        clean = [t for t in SWEEP if seed_errors[t] == (0, 0)]
        picked = max(clean, key=lambda t: (round(sweep[t]["dev"]["f1"], 4), t)) if clean else best
        for name, t in (("best F1 on dev", best), ("best F1 on dev with the seeds right", picked)):
            r = sweep[t]["test"]
            print(f"{name}: {t} -> test P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}")
        # The sweep reads the same cosines as the pipeline: at its threshold it must agree.
        check = score(every, at_threshold(options.paraphrase_threshold))
        assert check["reported"] == results["all"]["semantic"]["reported"], (
            check,
            results["all"]["semantic"],
        )
        report["sweep"] = {str(t): by_half for t, by_half in sweep.items()}
        report["best_on_dev"] = best
        report["picked_on_dev_with_seeds"] = picked
        report["seed_scores"] = seeds
        report["paraphrase_threshold"] = options.paraphrase_threshold
    if args.show_errors:
        for v in every:
            for method in methods[1:]:
                for r in v.reported[method]:
                    if not any(_matches(r, g) for g in v.gold):
                        print(f"FP {method} {v.base.doc_id}: {r}")
                for g in v.gold:
                    if not any(_matches(r, g) for r in v.reported[method]):
                        print(f"FN {method} {v.base.doc_id}: {g}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
