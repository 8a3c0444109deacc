"""Documents in other languages than English: read in their language, their function words
are not content words, and unrelated articles of a minority language are not one story."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import SEEDS
from dedup import languages, paraphrase
from dedup.cache import CACHE_ENV
from dedup.canonical import ATTRIBUTION, SentenceTable, StoryAligner, candidate_additions, variant_additions
from dedup.cli import main
from dedup.config import PipelineOptions
from dedup.facts import extract_facts
from dedup.fingerprint import encode_documents
from dedup.languages import LANGUAGES, DocumentLanguages
from dedup.text import content_tokens, tokens
from dedup.weights import TermWeights

BRIDGE = {
    "en": "The city said on Monday that work on the new bridge will start in March and that "
    "residents can comment on the plans over the coming weeks.",
    "de": "Die Stadt hat am Montag angekündigt, dass die Arbeiten an der neuen Brücke im März "
    "beginnen und die Anwohner in den nächsten Wochen ihre Meinung dazu sagen können.",
    "es": "El ayuntamiento anunció el lunes que las obras del nuevo puente empezarán en marzo y "
    "que los vecinos podrán opinar sobre el proyecto durante las próximas semanas.",
    "fr": "La mairie a annoncé lundi que les travaux du nouveau pont commenceront en mars et que "
    "les habitants pourront donner leur avis sur le projet dans les prochaines semaines.",
    "pl": "Władze miasta poinformowały w poniedziałek, że budowa nowego mostu rozpocznie się w "
    "marcu, a mieszkańcy będą mogli w najbliższych tygodniach zgłaszać do niej uwagi.",
}

# Four unrelated Spanish articles (written for this test).
SPANISH_ARTICLES = [
    "El equipo local ganó el domingo por dos goles a uno en un partido muy disputado ante el "
    "líder del campeonato. El delantero marcó el primer gol en el minuto veinte y, tras el empate "
    "de los visitantes, el defensa central consiguió el tanto de la victoria de cabeza en los "
    "últimos minutos. El entrenador dijo después del encuentro que sus jugadores no se rindieron "
    "en ningún momento y que la afición fue clave para sostener al equipo. Con este resultado, el "
    "club se sitúa a tres puntos de la cabeza de la tabla y recibirá la próxima semana a uno de "
    "los rivales directos por el ascenso.",
    "La falta de lluvias en los últimos meses ha dejado los embalses de la región por debajo del "
    "treinta por ciento de su capacidad, según los datos publicados este martes por la "
    "confederación hidrográfica. Los agricultores de la zona advierten de que las cosechas de "
    "cereal serán las más bajas de la década si no llueve antes de la primavera. Las autoridades "
    "han pedido a los vecinos que reduzcan el consumo de agua en sus casas y han prohibido el "
    "riego de jardines y el llenado de piscinas privadas hasta nuevo aviso.",
    "El museo de arte contemporáneo de la capital inaugura el jueves una exposición dedicada a la "
    "obra de una pintora que vivió en el exilio durante casi cuarenta años. La muestra reúne más "
    "de ochenta cuadros, dibujos y cartas que nunca se habían expuesto al público, procedentes de "
    "colecciones privadas de México y Argentina. La comisaria explicó que el objetivo es "
    "recuperar la memoria de una artista que fue olvidada por la crítica de su tiempo y que hoy "
    "es considerada una de las voces más originales de su generación.",
    "Una empresa de telecomunicaciones anunció que invertirá doscientos millones de euros en "
    "ampliar su red de fibra óptica a los pueblos del interior del país. El plan, que se "
    "desarrollará en los próximos tres años, permitirá que más de medio millón de hogares tengan "
    "acceso a internet de alta velocidad por primera vez. El consejero delegado de la compañía "
    "aseguró que la inversión creará cerca de mil empleos y que la mayor parte de las obras se "
    "adjudicará a contratistas locales.",
]


def _languages(texts: list[str]) -> list[str]:
    token_lists = [tokens(text) for text in texts]
    encoded = pa.array([t for words in token_lists for t in words], pa.string()).dictionary_encode()
    lengths = np.array([len(words) for words in token_lists])
    found = DocumentLanguages.of(encoded.dictionary.to_pylist(), encoded.indices.to_numpy(), lengths)
    return [LANGUAGES[k] for k in found.languages]


def test_documents_are_read_in_the_language_whose_function_words_they_use() -> None:
    assert _languages(list(BRIDGE.values())) == list(BRIDGE)
    # Names and numbers, or a stray foreign word, are no evidence: such documents stay English.
    few = ["Madrid Berlin Lisboa Reuters 2024 AFP", "Jean de La Fontaine wrote fables", ""]
    assert _languages(few) == ["en", "en", "en"]


def test_a_foreign_documents_function_words_are_not_content_words() -> None:
    texts = [(BRIDGE["en"], "Work on the new bridge"), (BRIDGE["es"], "Las obras del puente de la ciudad")]
    chunk = encode_documents(texts)
    words = chunk.vocabulary.words
    starts = np.concatenate([[0], np.cumsum(chunk.content_lengths)])
    english, spanish = (words(chunk.content_ids[starts[k] : starts[k + 1]]) for k in range(2))
    assert english == content_tokens(BRIDGE["en"])  # English documents: exactly as before
    assert {"el", "que", "las", "los", "del", "en"}.isdisjoint(spanish)
    assert {"ayuntamiento", "puente", "obras", "marzo", "vecinos", "proyecto"} <= set(spanish)
    title_starts = np.concatenate([[0], np.cumsum(chunk.title_lengths)])
    titles = [words(chunk.title_ids[title_starts[k] : title_starts[k + 1]]) for k in range(2)]
    assert titles == [content_tokens("Work on the new bridge"), ["obras", "puente", "ciudad"]]


def test_unrelated_articles_in_a_minority_language_are_separate_stories(tmp_path: Path) -> None:
    """Before, the Spanish articles' shared "de", "la", "que" made them look alike: rare words
    in a batch that is mostly English."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    for k, text in enumerate(SPANISH_ARTICLES):
        (corpus / f"es-{k}.txt").write_text(text + "\n", encoding="utf-8")
    out = tmp_path / "out"
    arguments = ["run", str(corpus), "--out", str(out), "-q", "--paraphrase-model", "none"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    documents = pq.read_table(out / "documents.parquet").to_pylist()
    story_of = {Path(d["source_path"]).name: d["cluster_id"] for d in documents}
    spanish = [story_of[f"es-{k}.txt"] for k in range(len(SPANISH_ARTICLES))]
    seeds = {story for name, story in story_of.items() if not name.startswith("es-")}
    assert len(set(spanish)) == len(SPANISH_ARTICLES)
    assert len(seeds) == 1 and seeds.isdisjoint(spanish)


def test_canonicalisation_leaves_out_the_function_words_the_fingerprint_leaves_out() -> None:
    """Every stage agrees on a document's words: the sentence tables' words are the
    fingerprint's content words (less English attribution verbs), in every language."""
    texts = [BRIDGE["en"] + " A spokesman said so.", *BRIDGE.values(), *SPANISH_ARTICLES]
    chunk = encode_documents([(text, "") for text in texts])
    starts = np.concatenate([[0], np.cumsum(chunk.content_lengths)])
    for k, text in enumerate(texts):
        content = chunk.vocabulary.words(chunk.content_ids[starts[k] : starts[k + 1]])
        table = SentenceTable.of(text)
        assert [w for words in table.words for w in words] == [w for w in content if w not in ATTRIBUTION]
    spanish = {w for words in SentenceTable.of(BRIDGE["es"]).words for w in words}
    assert {"que", "las", "el"}.isdisjoint(spanish) and {"puente", "vecinos"} <= spanish


SPANISH_CANONICAL = (
    "El ayuntamiento de Valverde presentó el martes el nuevo plan de transporte público de la "
    "ciudad. El plan incluye tres líneas de autobús eléctrico que unirán el centro con el hospital "
    "y la universidad. Las obras de las nuevas paradas comenzarán en enero. El presupuesto total "
    "del proyecto es de doce millones de euros, financiados en parte por fondos europeos. Los "
    "vecinos podrán consultar los recorridos en la web municipal a partir de la próxima semana."
)
# A rewrite: the last sentence reworded with other words, no new fact.
SPANISH_REWRITE = SPANISH_CANONICAL.replace(
    "Los vecinos podrán consultar los recorridos en la web municipal a partir de la próxima semana.",
    "Quienes viven en la zona verán muy pronto por internet cada trayecto previsto.",
)


@pytest.mark.skipif(not paraphrase.semantic_available(), reason="the 'semantic' extra is not installed")
def test_the_english_paraphrase_model_never_judges_another_language() -> None:
    """all-MiniLM-L6-v2 was trained, and its threshold measured, on English: a Spanish rewrite's
    unaligned sentence stays a sentence addition, as without the model, and nothing is embedded."""
    tables = [SentenceTable.of(SPANISH_CANONICAL), SentenceTable.of(SPANISH_REWRITE)]
    weights = TermWeights.fit([content_tokens(SPANISH_CANONICAL), content_tokens(SPANISH_REWRITE)])
    semantic = PipelineOptions(paraphrase_model=paraphrase.MODEL_NAME)
    lexical = PipelineOptions(paraphrase_model="none")
    aligner = StoryAligner(tables, weights)
    assert aligner.coverage(1, 0, semantic.align_threshold) >= semantic.paraphrase_min_coverage
    assert candidate_additions(1, 0, aligner, semantic) == [4]  # the reworded sentence
    found = variant_additions(1, 0, aligner, semantic).additions
    assert found == variant_additions(1, 0, StoryAligner(tables, weights), lexical).additions
    assert [a.text for a in found if a.kind == "sentence"] == [tables[1].sentences[4]]
    assert aligner._embedded == {}


def test_function_words_are_read_from_wordfreq_once_then_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first process writes them to the cache folder, whole; later ones read the same
    words there; an unreadable file is read from wordfreq again and replaced."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    languages.function_words.cache_clear()
    try:
        built = languages.function_words()
        path = languages.function_words_path(tmp_path / "cache")
        assert list((tmp_path / "cache").iterdir()) == [path]
        languages.function_words.cache_clear()
        assert languages.function_words() == built
        path.write_text('{"languages": ["en"', encoding="utf-8")  # cut short
        languages.function_words.cache_clear()
        assert languages.function_words() == built
        assert json.loads(path.read_text(encoding="utf-8"))["languages"] == list(LANGUAGES)
    finally:
        languages.function_words.cache_clear()


def test_names_in_a_language_that_capitalises_every_noun_take_two_words() -> None:
    """In German a lone capitalised word is a noun, not a name; a name opening a sentence loses
    its article in any language, and a name's own "de" stays."""
    german = "Die Stadt Lindenau hat am Dienstag mit der Techniker Krankenkasse einen Vertrag geschlossen."
    spanish = "El Gobierno de España se reunió con Del Toro en la Universidad de Salamanca."

    def names(sentence: str, code: str) -> list[str]:
        return [f.text for f in extract_facts(sentence, language=LANGUAGES.index(code)) if f.kind == "entity"]

    assert names(german, "de") == ["Stadt Lindenau", "Techniker Krankenkasse"]
    assert names(german, "en") == ["Die Stadt Lindenau", "Dienstag", "Techniker Krankenkasse", "Vertrag"]
    assert names(spanish, "es") == ["Gobierno de España", "Del Toro", "Universidad de Salamanca"]
