"""Finding what a message names: objectives, themes, people and directorates.

Officers name things loosely ("the thin client rollout", "theme three", "Siobhan"), so
lookups accept ids, number words and fuzzy titles, and report ambiguity instead of
guessing: a wrong guess would put an update on the wrong objective.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from rapidfuzz import fuzz, process

from storage.repository import Repository
from tracker.model import Directorate, Objective, Person, Theme, find_status

T = TypeVar("T")

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
}
STOPWORDS = {"the", "a", "an", "of", "on", "for", "theme", "objective", "our", "to", "and"}
MATCH_THRESHOLD = 70
AMBIGUITY_MARGIN = 8


@dataclass
class Found(Generic[T]):
    """A lookup's outcome: exactly one match, several candidates, or none."""

    match: T | None
    candidates: Sequence[T] = ()


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case, no accents, punctuation as spaces: "Siobhán O'Brien" -> "siobhan o brien"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _words(text: str) -> str:
    return " ".join(w for w in fold(text).split() if w not in STOPWORDS)


def fuzzy_pick(query: str, options: dict[str, T]) -> Found[T]:
    """Best option by title; ambiguous when another scores within a small margin."""
    wanted = _words(query)
    if not wanted or not options:
        return Found(None)
    choices = {key: _words(key) for key in options}
    scored = process.extract(
        wanted, choices, scorer=fuzz.token_set_ratio, limit=5, score_cutoff=MATCH_THRESHOLD
    )
    if not scored:
        return Found(None)
    best = scored[0][1]
    close = [options[key] for _, score, key in scored if score >= best - AMBIGUITY_MARGIN]
    if len(close) == 1:
        return Found(close[0])
    # A clearly better partial match (all query words present) settles ties.
    exact = [options[key] for key in options if set(wanted.split()) <= set(choices[key].split())]
    if len(exact) == 1:
        return Found(exact[0])
    return Found(None, close)


def find_objective(repo: Repository, text: str) -> Found[Objective]:
    text = text.strip()
    match = re.fullmatch(r"(?:objective\s+)?(\d{1,2}\.\d{1,3})", text, re.IGNORECASE)
    if match:
        return Found(repo.objective(match.group(1)))
    return fuzzy_pick(text, {o.title: o for o in repo.objectives()})


def find_theme(repo: Repository, text: str) -> Found[Theme]:
    folded = fold(text)
    number = re.search(r"\b(\d{1,2})\b", folded)
    value = int(number.group(1)) if number else None
    if value is None:
        value = next((NUMBER_WORDS[w] for w in folded.split() if w in NUMBER_WORDS), None)
    if value is not None:
        return Found(repo.theme(value))
    found = fuzzy_pick(text, {t.title: t for t in repo.themes()})
    if found.match is None:
        by_word = _theme_by_synonym(repo, text)
        if by_word is not None:
            return Found(by_word)
    return found


def _theme_by_synonym(repo: Repository, text: str) -> Theme | None:
    """ "the carbon theme" for "...a more sustainable organisation": everyday equivalents."""
    wanted = {_stem(w) for w in fold(text).split() if w not in STOPWORDS and len(w) > 1}
    expanded = _expand(wanted) | {w[:7] for w in wanted if len(w) > 7}
    scores = {}
    for theme in repo.themes():
        words = {_stem(w) for w in fold(" ".join((theme.title, *theme.aliases))).split()}
        words |= {w[:7] for w in words if len(w) > 7}
        scores[theme.number] = len(expanded & words)
    best = max(scores.values(), default=0)
    winners = [n for n, v in scores.items() if v == best]
    return repo.theme(winners[0]) if best and len(winners) == 1 else None


def find_person(repo: Repository, text: str) -> Found[Person]:
    wanted = fold(text)
    people = repo.people()
    for person in people:
        if wanted in (person.id, fold(person.name)) or (
            person.email and wanted == person.email.lower()
        ):
            return Found(person)
    firsts = [p for p in people if fold(p.name).split()[0] == wanted]
    if len(firsts) == 1:
        return Found(firsts[0])
    return fuzzy_pick(text, {p.name: p for p in people})


def find_directorate(repo: Repository, text: str) -> Found[Directorate]:
    wanted = fold(text)
    for directorate in repo.directorates():
        if wanted in (directorate.id, fold(directorate.name)):
            return Found(directorate)
    return fuzzy_pick(text, {d.name: d for d in repo.directorates()})


def objective_ranges(repo: Repository) -> str:
    """ "1.1–1.4, 2.1–2.4, 3.1–3.4": what exists, for 'no such objective' replies."""
    by_theme: dict[int, list[str]] = {}
    for objective in repo.objectives():
        by_theme.setdefault(objective.theme, []).append(objective.id)
    parts = [ids[0] if len(ids) == 1 else f"{ids[0]}–{ids[-1]}" for ids in by_theme.values()]
    return ", ".join(parts) or "none yet"


# --- a title named anywhere in a message (the reader's references) -------------------------
# Everyday public-sector equivalents; a strategy file's `aliases:` add to these per item.
SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"hq", "headquarters", "head office"}),
    frozenset({"it", "ict", "technology", "digital"}),
    frozenset({"green", "sustainable", "sustainability", "carbon", "environment", "energy"}),
    frozenset({"website", "web site", "web", "online"}),
    frozenset({"phones", "telephony", "telephone", "telephones", "phone"}),
    frozenset({"wifi", "wi fi", "wireless"}),
    frozenset({"printing", "print", "printers"}),
    frozenset({"mapping", "gis", "maps"}),
    frozenset({"management", "mgmt", "mgt"}),
    frozenset({"communications", "comms"}),
    frozenset({"information", "info"}),
    frozenset({"document", "documents", "docs", "doc"}),
    frozenset({"infrastructure", "infra"}),
    frozenset({"applications", "application", "apps", "app"}),
)
_GENERIC = STOPWORDS | {
    "update", "progress", "project", "programme", "work", "system", "systems", "council", "staff",
    "all", "with", "use", "new", "is", "are", "it's", "its", "in", "by", "at", "we", "i", "be",
    "has", "have", "been", "this", "that", "my", "re", "about", "now", "still", "going", "just",
    "services", "service", "more", "make", "through", "out", "across", "s", "some", "one",
}  # fmt: skip
_REF_STOP = re.compile(
    r"[:;,(|]|\s[-–—]\s|\s(?:is|are|was|now|still|at|on\s+track|off?\s+track|currently|has|have|"
    r"went|gone|due|moved|slipp\w*|delayed|-)\b|\d",
    re.IGNORECASE,
)


@dataclass
class TextRef(Generic[T]):
    """A title found inside a message, with where the naming words stood."""

    match: T | None
    candidates: Sequence[T]
    span: tuple[int, int]


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _expand(words: set[str]) -> set[str]:
    out = set(words)
    stemmed = {_stem(w) for w in words}
    for group in SYNONYMS:
        if words & group or stemmed & {_stem(w) for w in group}:
            out |= group
    return {_stem(w) for w in out}


def _acronyms(words: list[str]) -> set[str]:
    initials = "".join(w[0] for w in words if w not in STOPWORDS)
    return {initials[i:j] for i in range(len(initials)) for j in range(i + 3, len(initials) + 1)}


def title_words(title: str, aliases: Sequence[str] = ()) -> tuple[set[str], set[str]]:
    words = fold(title).split()
    vocab = _expand({w for w in words if w not in _GENERIC})
    for alias in aliases:
        vocab |= _expand(set(fold(alias).split()) - _GENERIC) | {fold(alias)}
    return vocab, _acronyms(words)


# Words that name a piece of work without naming which ("the admissions portal", "the
# telephony migration"): after the title words they still belong to the reference.
WORK_NOUNS = frozenset({
    "portal", "rollout", "roll-out", "migration", "upgrade", "refresh", "implementation",
    "works", "workstream", "platform", "replacement", "scheme", "solution", "bit", "one",
    "build", "project", "programme", "work", "system", "rollouts", "migrations",
})  # fmt: skip
_GENERIC_TRAIL = re.compile(
    r"(?:\s+(?!o[nf]f?\s+track)(?:"
    + "|".join(sorted(map(re.escape, _GENERIC | WORK_NOUNS), key=len, reverse=True))
    + r")\b)*"
)


@dataclass(frozen=True)
class _TitleIndex:
    words: dict[str, set[str]]  # title word (and synonyms, aliases) -> objective ids
    acronyms: dict[str, set[str]]
    long_words: list[str]
    direct: dict[str, set[str]]  # only the words the title or its aliases spell out


@lru_cache(maxsize=8)
def _title_index(titles: tuple[tuple[str, str, tuple[str, ...]], ...]) -> _TitleIndex:
    """Built once per set of titles, so reading a message never re-reads every title."""
    words: dict[str, set[str]] = {}
    acronyms: dict[str, set[str]] = {}
    direct: dict[str, set[str]] = {}
    for oid, title, aliases in titles:
        vocab, initials = title_words(title, aliases)
        for word in vocab:
            words.setdefault(word, set()).add(oid)
        for word in fold(" ".join((title, *aliases))).split():
            direct.setdefault(_stem(word), set()).add(oid)
        for acronym in initials:
            acronyms.setdefault(acronym, set()).add(oid)
    return _TitleIndex(words, acronyms, [w for w in words if len(w) >= 6], direct)


_SNAPSHOTS: dict[int, tuple[int, list[Objective], list[Person], list[Directorate]]] = {}


def known(repo: Repository) -> tuple[list[Objective], list[Person], list[Directorate]]:
    """Objectives, people and directorates, re-read only when the store has changed.

    Building objects from every document costs ~3 ms at council scale (130 objectives),
    more than the reader's whole budget, so the lists are kept per repository and keyed
    by the store's sequence number (it moves on every committed write or catch-up).
    """
    seq = getattr(getattr(repo, "store", None), "seq", None)
    cached = _SNAPSHOTS.get(id(repo))
    if seq is not None and cached and cached[0] == seq:
        return cached[1], cached[2], cached[3]
    lists = (repo.objectives(), repo.people(), repo.directorates())
    if seq is not None:
        _SNAPSHOTS[id(repo)] = (seq, *lists)
    return lists


def _end_of_first_run(matched: list[tuple[int, int, set[str]]], oid: str, end: int) -> int:
    """Where the naming words stop: two or more other words before the next title word
    are the officer's own ("info sharing protocol signed off by police" names 5.1 in its
    first three words; "signed off by police" is the note)."""
    previous_end, others = None, 0
    for _word_start, word_end, hits in matched:
        if oid not in hits:
            others += 1
            continue
        if previous_end is not None and others >= 2:
            return previous_end
        previous_end, others = word_end, 0
    return end


def _word_hits(index: _TitleIndex, word: str) -> set[str]:
    """The objectives one word names: by title word, synonym, acronym or a close typo."""
    hits = set(index.words.get(word, ()))
    if len(word) >= 3:
        hits |= index.acronyms.get(word.rstrip("s"), set())
    if not hits and len(word) >= 6:
        for close, _score, _ in process.extract(
            word, index.long_words, scorer=fuzz.ratio, score_cutoff=88, limit=3
        ):
            hits |= index.words[close]
    return hits


def _first_run(
    words: list[tuple[re.Match[str], str, set[str]]],
) -> list[tuple[re.Match[str], str, set[str]]]:
    """The naming words: from the first word of a title to the first word of none after it
    ("EDRMS printer costs down 30%" names 1.1; "down" must not pull in 4.3's power-down)."""
    first = next((i for i, (_m, _w, hits) in enumerate(words) if hits), None)
    if first is None:
        return []
    stop = next((i for i in range(first + 1, len(words)) if not words[i][2]), len(words))
    return words[:stop]


def find_objective_in_text(repo: Repository, text: str) -> TextRef[Objective] | None:
    """An objective named by (part of) its title at the start of `text`, or None.

    Only the leading words before the first field or separator are read, each content
    word scored by how distinctive it is across all titles (a word in one title counts
    more than one in five). A tie is reported as candidates, never guessed.
    """
    lead = re.match(r"\s*(?:the\s+|our\s+|re\s+)?", text, re.IGNORECASE)
    start = lead.end() if lead else 0
    stop = _REF_STOP.search(text, start)
    end = stop.start() if stop else len(text)
    status = find_status(text[start:end])
    if status:
        end = start + status[1]
    words = [(m, _stem(fold(m.group(0)))) for m in re.finditer(r"[\w'’]+", text[start:end])]
    words = [(m, w) for m, w in words if w and w not in _GENERIC and len(w) > 1]
    if not words or len(words) > 8:
        return None
    objectives = known(repo)[0]
    index = _title_index(
        tuple((o.id, o.title, tuple(getattr(o, "aliases", ()) or ())) for o in objectives)
    )
    by_id = {o.id: o for o in objectives}
    scores: dict[str, float] = {}
    last: dict[str, int] = {}
    first: dict[str, int] = {}
    matched: list[tuple[int, int, set[str]]] = []
    for m, word, hits in _first_run([(m, w, _word_hits(index, w)) for m, w in words]):
        matched.append((start + m.start(), start + m.end(), hits))
        for oid in hits:
            weight = 1.0 / len(index.words.get(word, hits)) if hits else 1.0
            if word in index.words and oid not in index.direct.get(word, ()):
                weight /= 2  # "website" names 2.1's "website" before 2.3's "online"
            scores[oid] = scores.get(oid, 0.0) + weight
            last[oid] = max(last.get(oid, 0), start + m.end())
            first[oid] = min(first.get(oid, len(text)), start + m.start())
    objectives = [by_id[oid] for oid in by_id]
    if not scores:
        return None
    best = max(scores.values())
    if best < 0.5:
        return None
    top = [o for o in objectives if scores.get(o.id, 0) >= best - 1e-9]
    span_end = max(last[o.id] for o in top)
    start = min(first[o.id] for o in top)
    trailing = _GENERIC_TRAIL.match(text, span_end, end)
    if trailing:
        span_end = trailing.end()
    # The naming words run to the last matched word; unmatched words before it belong too.
    if len(top) == 1:
        span_end = min(span_end, _end_of_first_run(matched, top[0].id, span_end))
        return TextRef(top[0], (), (start, span_end))
    return TextRef(None, top, (start, span_end))
