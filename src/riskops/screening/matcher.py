"""Screen names against a list: candidates from an index (recall), then scoring (precision).

``Screener(entries)`` indexes every name and alias of a list once; it is immutable, so a new
list version builds a new Screener and the caller swaps the reference. ``screen(query)``:

1. Candidates: an inverted index over each name's tokens, the one-deletion neighbourhood of
   each token (a typo is one edit: SymSpell's trick), phonetic keys (``normalise.phonetic``)
   and adjacent token pairs written together (joined or split parts). Rare keys seed the
   candidates, common ones ("mohammed", "al", "ltd") only add to them, so no query scans
   the list.
2. Scoring: the query's tokens are aligned to each candidate name's tokens in any order
   (greedy, best pairs first), a pair may be two tokens against one (split or joined parts);
   a pair is equal, phonetically equal, an initial, or a close spelling (OSA distance,
   which counts a transposition as one edit). The score is the harmonic mean of how much
   of the query and how much of the name the aligned pairs cover, weighted by how rare
   each token is (first and last name parts count more than middle ones, particles and
   company forms little). Birth date and country then move it as evidence.

Every match carries its reasons in words an analyst reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from riskops.screening.countries import country_code
from riskops.screening.lists import ListEntry, Match, Query
from riskops.screening.normalise import COMPANY_FORMS, PARTICLES, phonetic, respell, tokens

DEFAULT_THRESHOLD = 0.80

# Pairs below this similarity are not aligned at all.
_MIN_SIMILARITY = 0.72
_PHONETIC_SIMILARITY = 0.90
_RESPELLED_SIMILARITY = 0.95
_INITIAL_SIMILARITY = 0.75
_JOINED_SIMILARITY = 0.85
_ONE_PART_CAP = 0.6
# The most that birth date and country evidence can add to a name score.
_MAX_BONUS = 0.07
# How many candidate names are scored in full at a time, best pre-scores first ...
_CANDIDATES = 24
# ... and at most this many in all, however common the name.
_MAX_CANDIDATES = 480
# A key whose names make up more than this share of the list only adds to candidates.
_COMMON_SHARE = 0.02
_MIN_COMMON = 50

_LOW_WEIGHT = 0.25
_MIDDLE_FACTOR = 0.6


# token positions, text, phonetic key (normalise.phonetic), respelled (normalise.respell)
_Span = tuple[tuple[int, ...], str, str, str]


@dataclass(frozen=True, slots=True)
class _Name:
    entry: int
    text: str
    tokens: tuple[str, ...]
    weights: tuple[float, ...]
    spans: tuple[_Span, ...]
    total: float  # sum of weights
    significant: int  # parts that are not particles or company forms


@dataclass(frozen=True, slots=True)
class _Pair:
    similarity: float
    query: tuple[int, ...]
    name: tuple[int, ...]
    how: str


def _deletions(token: str) -> set[str]:
    return {token[:i] + token[i + 1 :] for i in range(len(token))}


def _index_keys(token: str) -> set[str]:
    keys = {f"s:{token}"}
    if len(token) >= 3:
        keys |= {f"s:{d}" for d in _deletions(token)}
    key = phonetic(token)
    if len(key) >= 2:
        keys.add(f"p:{key}")
    keys.add(f"r:{respell(token)}")
    return keys


class Screener:
    """A list's names, indexed for screening. Immutable once built."""

    def __init__(self, entries: Sequence[ListEntry], threshold: float = DEFAULT_THRESHOLD) -> None:
        self.entries: tuple[ListEntry, ...] = tuple(entries)
        self.threshold = threshold
        names: list[tuple[int, str, tuple[str, ...]]] = []
        token_count: dict[str, int] = {}
        for position, entry in enumerate(self.entries):
            for text in entry.names:
                parts = tokens(text)
                if parts:
                    names.append((position, text, parts))
                    for part in set(parts):
                        token_count[part] = token_count.get(part, 0) + 1
        total = max(len(names), 2)
        self._total_names = total
        self._token_count = token_count
        self._log_total = math.log(total)
        index: dict[str, list[int]] = {}
        built: list[_Name] = []
        for number, (position, text, parts) in enumerate(names):
            kind = self.entries[position].kind
            weights = self._weights(parts, kind)
            significant = sum(1 for w in weights if w > _LOW_WEIGHT)
            built.append(
                _Name(position, text, parts, weights, _spans(parts), sum(weights), significant)
            )
            keys: set[str] = set()
            for part in parts:
                keys |= _index_keys(part)
            for _, joined in _joins(parts):
                keys.add(f"s:{joined}")
                joined_key = phonetic(joined)
                if len(joined_key) >= 2:
                    keys.add(f"p:{joined_key}")
            for key in keys:
                index.setdefault(key, []).append(number)
        self._names: tuple[_Name, ...] = tuple(built)
        self._index: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in index.items()}
        self._common = max(_MIN_COMMON, int(total * _COMMON_SHARE))

    # --- weights -----------------------------------------------------------------------

    def _rarity(self, token: str) -> float:
        if token in PARTICLES or token in COMPANY_FORMS or token.isdigit():
            return _LOW_WEIGHT
        count = self._token_count.get(token, 0)
        if count <= 1:
            return 1.0
        idf = math.log(self._total_names / count)
        return max(0.35, min(1.0, 0.35 + 0.65 * idf / self._log_total))

    def _weights(self, parts: tuple[str, ...], kind: str | None) -> tuple[float, ...]:
        weights = [self._rarity(part) for part in parts]
        if kind == "person" and len(parts) > 2:
            # First and last parts identify a person more than the middle ones.
            for i in range(1, len(parts) - 1):
                weights[i] *= _MIDDLE_FACTOR
        return tuple(weights)

    # --- screening ---------------------------------------------------------------------

    def screen(self, query: Query) -> list[Match]:
        """Entries whose best name scores at or above the threshold, best first."""
        parts = tokens(query.name)
        if not parts or not any(len(p) > 1 for p in parts):
            return []
        query_weights = self._weights(parts, query.kind)
        spans = _spans(parts)
        ranked = self._candidates(parts)
        best: dict[int, Match] = {}
        # Candidates are scored best pre-score first, a batch at a time; the next batch only
        # while the last one still matched (a common name may match more than one batch).
        for start in range(0, min(len(ranked), _MAX_CANDIDATES), _CANDIDATES):
            batch = [self._names[number] for number in ranked[start : start + _CANDIDATES]]
            if not self._score_batch(query, parts, spans, query_weights, batch, best):
                break
        return sorted(best.values(), key=lambda m: (-m.score, m.entry.entry_id))

    def _score_batch(
        self,
        query: Query,
        parts: tuple[str, ...],
        spans: tuple[_Span, ...],
        query_weights: tuple[float, ...],
        batch: list[_Name],
        best: dict[int, Match],
    ) -> bool:
        """Score ``batch`` into ``best``; True when any of its names reached the threshold."""
        hits = _span_hits(spans, batch)
        matched = False
        for name in batch:
            entry = self.entries[name.entry]
            score, chosen = _score_name(spans, query_weights, name, hits)
            if score + _MAX_BONUS < self.threshold:
                continue
            score, evidence = _evidence(score, query, entry)
            if score < self.threshold:
                continue
            matched = True
            current = best.get(name.entry)
            if current is not None and score <= current.score:
                continue
            reasons = _name_reasons(parts, name, list(chosen))
            if name.text != entry.names[0]:
                reasons = (f"alias of {entry.names[0]!r}", *reasons)
            best[name.entry] = Match(entry, round(score, 4), name.text, reasons + evidence)
        return matched

    def screen_many(self, queries: Iterable[Query]) -> list[list[Match]]:
        """``screen`` for each query, in order."""
        return [self.screen(query) for query in queries]

    def _candidates(self, parts: tuple[str, ...]) -> list[int]:
        per_token: list[tuple[int, float, dict[int, float]]] = []
        lookups = list(parts) + [joined for _, joined in _joins(parts)]
        for token in lookups:
            if len(token) < 2:
                continue
            hits: dict[int, float] = {}
            weight = self._rarity(token) if token in self._token_count else 1.0
            exact = self._index.get(f"s:{token}", ())
            for number in exact:
                hits[number] = weight
            fuzzy: set[int] = set()
            if len(token) >= 3:
                for deleted in _deletions(token):
                    fuzzy.update(self._index.get(f"s:{deleted}", ()))
            key = phonetic(token)
            if len(key) >= 2:
                fuzzy.update(self._index.get(f"p:{key}", ()))
            fuzzy.update(self._index.get(f"r:{respell(token)}", ()))
            partial = 0.8 * weight
            for number in fuzzy:
                if number not in hits:
                    hits[number] = partial
            if hits:
                per_token.append((len(hits), weight, hits))
        if not per_token:
            return []
        per_token.sort(key=lambda item: item[0])
        scores: dict[int, float] = {}
        for size, _, hits in per_token:
            if size <= self._common or not scores:
                for number, value in hits.items():
                    scores[number] = scores.get(number, 0.0) + value
            else:
                for number in scores:
                    boost = hits.get(number)
                    if boost is not None:
                        scores[number] += boost
        # Shorter names first among equal hits: a name the query covers more of.
        names = self._names
        ranked = sorted(scores.items(), key=lambda item: -item[1] / math.sqrt(names[item[0]].total))
        return [number for number, _ in ranked[:_MAX_CANDIDATES]]


def _joins(parts: tuple[str, ...]) -> list[tuple[tuple[int, ...], str]]:
    """Adjacent parts written together: pairs, and triples around a short middle part
    ("abd al tawwab" -> "abdaltawwab", "jaish i mohammed" -> "jaishimohammed")."""
    joins: list[tuple[tuple[int, ...], str]] = [
        ((i, i + 1), parts[i] + parts[i + 1]) for i in range(len(parts) - 1)
    ]
    joins += [
        ((i, i + 1, i + 2), parts[i] + parts[i + 1] + parts[i + 2])
        for i in range(len(parts) - 2)
        if len(parts[i + 1]) <= 3
    ]
    return joins


def _span(positions: tuple[int, ...], text: str) -> _Span:
    return (positions, text, phonetic(text), respell(text))


def _spans(parts: tuple[str, ...]) -> tuple[_Span, ...]:
    """Each part, and adjacent parts written together (for joined or split parts)."""
    spans = [_span((i,), part) for i, part in enumerate(parts)]
    spans += [_span(positions, text) for positions, text in _joins(parts)]
    return tuple(spans)


_Hits = dict[str, list[tuple[int, float, str]]]  # name span text -> (query span, similarity, how)


def _span_hits(spans: tuple[_Span, ...], names: Sequence[_Name]) -> _Hits:
    """Every query span against every distinct span text of the candidate names, at once.

    Equal, respelled-equal and phonetically equal spans are found by dictionary; close
    spellings by one rapidfuzz pass per query span (OSA, which counts a transposition as
    one edit); initials by their first letter. Only the pairs that align are kept.
    """
    texts: dict[str, _Span] = {}
    for name in names:
        for span in name.spans:
            texts.setdefault(span[1], span)
    hits: dict[str, dict[int, tuple[float, str]]] = {}

    def keep(text: str, q: int, similarity: float, how: str) -> None:
        row = hits.setdefault(text, {})
        if q not in row or row[q][0] < similarity:
            row[q] = (similarity, how)

    by_text: dict[str, list[int]] = {}
    by_respelling: dict[str, list[int]] = {}
    by_key: dict[str, list[int]] = {}
    for q, (_, text, key, respelled) in enumerate(spans):
        by_text.setdefault(text, []).append(q)
        if len(text) > 1:
            by_respelling.setdefault(respelled, []).append(q)
        if len(text) >= 3 and len(key) >= 2:
            by_key.setdefault(key, []).append(q)
    initials = {spans[q][1]: q for q in range(len(spans)) if len(spans[q][1]) == 1}
    for text, (_, _, key, respelled) in texts.items():
        for q in by_text.get(text, ()):
            keep(text, q, 1.0, "equal")
        if len(text) == 1:
            for q, (_, q_text, _, _) in enumerate(spans):
                if len(q_text) > 1 and q_text.startswith(text):
                    keep(text, q, _INITIAL_SIMILARITY, "initial")
            continue
        if text[0] in initials:
            keep(text, initials[text[0]], _INITIAL_SIMILARITY, "initial")
        for q in by_respelling.get(respelled, ()):
            keep(text, q, _RESPELLED_SIMILARITY, "sounds alike")
        if len(text) >= 3:
            for q in by_key.get(key, ()):
                keep(text, q, _PHONETIC_SIMILARITY, "sounds alike")
    long_texts = [text for text in texts if len(text) > 3]
    for q, (_, q_text, _, _) in enumerate(spans):
        if len(q_text) <= 3:
            continue  # one edit in a 3-letter part is another name, not a typo
        for text, similarity, _ in process.extract(
            q_text,
            long_texts,
            scorer=OSA.normalized_similarity,
            score_cutoff=_MIN_SIMILARITY,
            limit=None,
        ):
            if similarity < 1.0:
                keep(text, q, float(similarity), "spelling")
    return {text: [(q, sim, how) for q, (sim, how) in row.items()] for text, row in hits.items()}


def _score_name(
    spans: tuple[_Span, ...],
    weights: tuple[float, ...],
    name: _Name,
    hits: _Hits,
) -> tuple[float, tuple[_Pair, ...]]:
    """The name score before evidence: harmonic mean of query and name coverage."""
    pairs: list[_Pair] = []
    for n_positions, n_text, _, _ in name.spans:
        found = hits.get(n_text)
        if not found:
            continue
        n_joined = len(n_positions) > 1
        for q, similarity, how in found:
            q_positions = spans[q][0]
            q_joined = len(q_positions) > 1
            if q_joined or n_joined:
                if (q_joined and n_joined) or how == "initial":
                    continue
                if similarity < _JOINED_SIMILARITY:
                    continue
                how = "joined/split parts"
            pairs.append(_Pair(similarity, q_positions, n_positions, how))
    if not pairs:
        return 0.0, ()
    n_weights = name.weights
    # Best similarity first; among equals, the pair that covers the rarer name parts.
    pairs.sort(key=lambda p: (-p.similarity, -sum(n_weights[i] for i in p.name)))
    used_q: set[int] = set()
    used_n: set[int] = set()
    chosen: list[_Pair] = []
    for pair in pairs:
        if used_q.isdisjoint(pair.query) and used_n.isdisjoint(pair.name):
            chosen.append(pair)
            used_q.update(pair.query)
            used_n.update(pair.name)
    query_cover = sum(p.similarity * sum(weights[i] for i in p.query) for p in chosen)
    name_cover = sum(p.similarity * sum(n_weights[i] for i in p.name) for p in chosen)
    query_cover /= sum(weights)
    name_cover /= name.total
    if query_cover <= 0.0 or name_cover <= 0.0:
        return 0.0, ()
    score = 2 * query_cover * name_cover / (query_cover + name_cover)
    significant = [p for p in chosen if max(n_weights[i] for i in p.name) > _LOW_WEIGHT]
    covered = sum(1 for p in significant for i in p.name if n_weights[i] > _LOW_WEIGHT)
    if covered < min(2, name.significant) or all(p.how == "initial" for p in significant):
        # One shared part (or initials alone) is not evidence of the same person or company.
        score = min(score, _ONE_PART_CAP)
    return score, tuple(chosen)


def _name_reasons(parts: tuple[str, ...], name: _Name, chosen: list[_Pair]) -> tuple[str, ...]:
    reasons: list[str] = []
    for pair in sorted(chosen, key=lambda p: p.query):
        if pair.how == "equal":
            continue
        q_text = " ".join(parts[i] for i in pair.query)
        n_text = " ".join(name.tokens[i] for i in pair.name)
        reasons.append(f"{q_text!r} ~ {n_text!r} ({pair.how})")
    missing_q = [parts[i] for i in range(len(parts)) if not any(i in p.query for p in chosen)]
    missing_n = [
        name.tokens[i] for i in range(len(name.tokens)) if not any(i in p.name for p in chosen)
    ]
    if missing_n:
        reasons.append("not in the query: " + " ".join(missing_n))
    if missing_q:
        reasons.append("not in the listed name: " + " ".join(missing_q))
    order = [p.name[0] for p in sorted(chosen, key=lambda p: p.query)]
    if order != sorted(order):
        reasons.append("word order differs")
    if not reasons:
        reasons.append("name equal")
    return tuple(reasons)


def _year(date: str) -> int | None:
    head = date[:4]
    return int(head) if len(head) == 4 and head.isdigit() else None


def _evidence(score: float, query: Query, entry: ListEntry) -> tuple[float, tuple[str, ...]]:
    reasons: list[str] = []
    if query.birth_date and entry.birth_dates:
        wanted = query.birth_date.strip()
        year = _year(wanted)
        if any(wanted.startswith(d) or d.startswith(wanted) for d in entry.birth_dates):
            score += 0.05
            reasons.append(f"birth date {wanted} listed")
        elif year is not None:
            listed = [y for y in (_year(d) for d in entry.birth_dates) if y is not None]
            gap = min((abs(year - y) for y in listed), default=None)
            if gap is not None:
                if gap == 0:
                    score += 0.02
                    reasons.append(f"birth year {year} listed, another day")
                elif gap <= 2:
                    score -= 0.03
                    reasons.append(f"birth year {year} within {gap} of the listed")
                elif gap <= 5:
                    score -= 0.10
                    reasons.append(f"birth year {year} is {gap} years from the listed")
                else:
                    score -= 0.30
                    reasons.append(f"birth year {year} is {gap} years from the listed")
    if query.country and entry.countries:
        country = country_code(query.country) or query.country.strip().upper()
        if country in entry.countries:
            score += 0.02
            reasons.append(f"country {country} listed")
        else:
            score -= 0.05
            reasons.append(f"country {country} not listed ({', '.join(entry.countries)})")
    if query.kind and query.kind != entry.kind:
        score -= 0.20
        reasons.append(f"a {query.kind} screened against a listed {entry.kind}")
    return min(1.0, max(0.0, score)), tuple(reasons)
