"""The `rules` backend: an offline, deterministic simplifier built from the same rules as the prompts.

    simplifier = RuleSimplifier(params.simplify.rules, split_sentences)
    simplifier.anonymise_only("Dr. Maria Lopez moved to Lisbon in 1998.")
    # -> "Madison moved to LI place some years ago."

Steps, in order:
1. private data: e-mails, web links, phone numbers and file paths become harmless stand-ins;
2. vague times: clock times become a part of the day, years and full dates become vague phrases;
3. entities: people become a same-initial, same-gender name from the two 26-name lists (the same person keeps
   the same name within a document); places and organisations become two upper-case letters plus a type
   noun ("LI city", "AC company");
4. vocabulary filter: a sentence is kept when at least `min_known_fraction` of its words are among the
   `vocab_size` most frequent English words of `wordfreq` (placeholders and list names count as known).

Entity finding: spaCy NER (PERSON, GPE/LOC/FAC, ORG) when an English model (`rules.spacy_model`) is
installed; otherwise (`rules.ner: heuristic`, or `auto` without a model, as on this project's machines) a
documented heuristic: a run of capitalised words, not at the start of a sentence or following a title, whose
words are not common lower-case English words (from wordfreq), typed by cues: a title (Mr., Dr., Mrs. ...)
or a following speech verb means a person; a following type noun (Street, University, Company, River...) gives
that type; a preceding "in/at/from/to/near" means a place; anything else is treated as a person. Gender comes
from a title, else from the nearest following he/him/his or she/her, else male for an even letter index.
`RuleSimplifier.ner_used` says which one ran.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from collections.abc import Callable

from tinyhelen.simplify.config import RulesConfig

log = logging.getLogger(__name__)

MALE_NAMES = (
    "Adam Benjamin Cameron David Ethan Frank Gabriel Henry Isaac Jack Kevin Liam Matthew Nathan Oliver "
    "Patrick Quentin Ryan Samuel Thomas Ulysses Victor William Xavier Yosef Zachary"
).split()
FEMALE_NAMES = (
    "Alice Bella Charlotte Diana Emma Fiona Grace Hannah Isabel Jessica Katherine Lily Madison Nora "
    "Olivia Penelope Quinn Rachel Sophia Taylor Uma Victoria Wendy Xena Yara Zoe"
).split()
LIST_NAMES = set(MALE_NAMES) | set(FEMALE_NAMES)

MALE_TITLES = {"mr", "sir", "lord", "king", "prince", "father", "uncle", "brother", "mister"}
FEMALE_TITLES = {"mrs", "ms", "miss", "madam", "lady", "queen", "princess", "mother", "aunt", "sister"}
NEUTRAL_TITLES = {
    "dr",
    "prof",
    "professor",
    "doctor",
    "captain",
    "president",
    "senator",
    "judge",
    "coach",
    "officer",
    "chef",
    "rev",
    "st",
    "saint",
}
TITLES = MALE_TITLES | FEMALE_TITLES | NEUTRAL_TITLES
SPEECH_VERBS = {"said", "says", "told", "asked", "wrote", "explained", "added", "replied", "smiled", "laughed"}
PLACE_PREPOSITIONS = {"in", "at", "from", "to", "near", "across", "around", "into", "visited"}
#: Type nouns that follow a name; the value is the word used in the placeholder.
TYPE_NOUNS = {
    "street": "street",
    "st": "street",
    "avenue": "avenue",
    "road": "road",
    "lane": "road",
    "square": "place",
    "park": "park",
    "river": "river",
    "lake": "lake",
    "mountain": "mountain",
    "mountains": "mountains",
    "island": "island",
    "valley": "valley",
    "city": "city",
    "town": "town",
    "village": "village",
    "county": "county",
    "state": "state",
    "country": "country",
    "university": "university",
    "college": "college",
    "school": "school",
    "academy": "school",
    "library": "library",
    "hospital": "hospital",
    "museum": "museum",
    "church": "church",
    "bank": "company",
    "company": "company",
    "corporation": "company",
    "corp": "company",
    "inc": "company",
    "ltd": "company",
    "group": "company",
    "foundation": "group",
    "institute": "institute",
    "council": "group",
    "club": "club",
    "team": "team",
    "diner": "place",
    "cafe": "place",
    "restaurant": "place",
    "hotel": "place",
    "market": "place",
    "hall": "place",
    "station": "station",
    "airport": "airport",
    "bridge": "bridge",
    "forest": "forest",
}
SPACY_TYPES = {"GPE": "place", "LOC": "place", "FAC": "place", "ORG": "company", "NORP": None}
MONTHS = {
    "january": "winter",
    "february": "winter",
    "march": "spring",
    "april": "spring",
    "may": "spring",
    "june": "summer",
    "july": "summer",
    "august": "summer",
    "september": "autumn",
    "october": "autumn",
    "november": "autumn",
    "december": "winter",
}

CALENDAR = {m.capitalize() for m in MONTHS} | {
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
}

#: Capitalised words that start a run but are not part of a name ("The Tate Museum", "Yesterday Priya").
LEADING_WORDS = set(
    """the a an by in on at of for from to and but or nor yesterday today tomorrow tonight when
after before this that these those my our your his her their its dear hello hi then so if as with while
during since every each all some many last next meanwhile however also later""".split()
)

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"']+", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d \t().-]{6,}\d(?![\w])")
_PATH = re.compile(r"(?<!\w)(?:[A-Za-z]:\\|/)(?:[\w.-]+[\\/])+[\w.-]+")
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?|\b(\d{1,2}):(\d{2})\b", re.IGNORECASE)
_MONTH_NAMES = "|".join(m.capitalize() for m in MONTHS)
_FULL_DATE = re.compile(
    rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_NAMES})(?:,?\s+(\d{{4}}))?"
    rf"|({_MONTH_NAMES})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,\s*(\d{{4}}))?)\b"
)
_MONTH_YEAR = re.compile(rf"\b({_MONTH_NAMES}),?\s+(\d{{4}})\b")
_YEAR = re.compile(r"\b(?:in|of|since|by|until|from|during)\s+(1[5-9]\d\d|20\d\d)s?\b|\b(1[5-9]\d\d|20\d\d)\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CAPS_RUN = re.compile(r"\b(?:[A-Z][a-z'-]+|[A-Z]{2,}[a-z]*)(?:\s+(?:of|de|van|von|the)?\s*[A-Z][a-z'-]+)*")


def scrub_private(text: str) -> str:
    """Replace e-mails, links, file paths and phone numbers with stand-ins that disclose nothing."""
    text = _EMAIL.sub("name@email.com", text)
    text = _URL.sub("http://www.website.com", text)
    text = _PATH.sub("a file", text)
    return _PHONE.sub(
        lambda m: (
            "a phone number"
            if 8 <= sum(c.isdigit() for c in m.group(0)) <= 15 and re.search(r"[ .()-]", m.group(0))
            else m.group(0)
        ),
        text,
    )


def _part_of_day(hour: int) -> str:
    if hour < 5:
        return "at night"
    if hour < 9:
        return "early in the morning"
    if hour < 12:
        return "in the morning"
    if hour < 14:
        return "around noon"
    if hour < 18:
        return "in the afternoon"
    if hour < 21:
        return "in the evening"
    return "at night"


def _clock(match: re.Match) -> str:
    if match.group(1):
        hour = int(match.group(1)) % 12 + (12 if match.group(3).lower() == "p" else 0)
    else:
        hour = int(match.group(4))
        if hour > 23 or int(match.group(5)) > 59:
            return match.group(0)
    return _part_of_day(hour)


#: Years are made vague relative to this fixed year, not today's date, so output never depends on the clock.
REFERENCE_YEAR = 2025


def _year_phrase(year: int) -> str:
    if year >= REFERENCE_YEAR - 2:
        return "recently"
    if year >= REFERENCE_YEAR - 30:
        return "some years ago"
    return "a long time ago"


def vague_times(text: str) -> str:
    """Clock times -> part of the day, dates -> a season, years -> a vague phrase."""
    text = _CLOCK.sub(_clock, text)
    text = _FULL_DATE.sub(lambda m: f"one {MONTHS[(m.group(2) or m.group(4)).lower()]} day", text)
    text = _MONTH_YEAR.sub(lambda m: f"one {MONTHS[m.group(1).lower()]}", text)
    return _YEAR.sub(lambda m: _year_phrase(int(m.group(1) or m.group(2))), text)


@functools.lru_cache(maxsize=4)
def common_words(size: int) -> frozenset[str]:
    """The `size` most frequent English words (lower case) in wordfreq's list: the known vocabulary."""
    from wordfreq import top_n_list

    return frozenset(top_n_list("en", size))


def placeholder(name: str, kind: str) -> str:
    """`Lisbon`, `city` -> `LI city` (first two letters, upper-cased, plus the type noun)."""
    letters = re.sub(r"[^A-Za-z]", "", name)[:2].upper() or "XX"
    return f"{letters} {kind}"


def person_name(name: str, female: bool) -> str:
    """Same initial, same gender, from the two 26-name lists."""
    letter = next((c for c in name.upper() if "A" <= c <= "Z"), "A")
    return (FEMALE_NAMES if female else MALE_NAMES)[ord(letter) - ord("A")]


class RuleSimplifier:
    """Deterministic rewrite of one text (see the module docstring)."""

    def __init__(self, settings: RulesConfig, split: Callable[[str], list[str]]) -> None:
        self.settings = settings
        self.split = split
        self.known = common_words(settings.vocab_size)
        self.lexicon = common_words(20000)
        self.common = common_words(5000)
        self._nlp = None
        self.ner_used = "heuristic"
        if settings.ner in ("auto", "spacy"):
            if importlib.util.find_spec(settings.spacy_model) is not None:
                import spacy

                self._nlp = spacy.load(settings.spacy_model, disable=["parser", "lemmatizer"])
                self.ner_used = f"spacy:{settings.spacy_model}"
            elif settings.ner == "spacy":
                from tinyhelen.core.errors import ConfigError

                raise ConfigError(
                    f"simplify.rules.ner = spacy, but the model {settings.spacy_model!r} is not "
                    "installed (python -m spacy download it, or use ner: heuristic)"
                )
        log.info("rules backend: entity finder %s", self.ner_used)

    # --- entities -------------------------------------------------------------------------------------
    def _gender(self, text: str, end: int, title: str | None) -> bool:
        if title in FEMALE_TITLES:
            return True
        if title in MALE_TITLES:
            return False
        pronoun = re.search(r"\b(she|her|hers|he|him|his)\b", text[end : end + 200], re.IGNORECASE)
        if pronoun:
            return pronoun.group(1).lower() in ("she", "her", "hers")
        return False

    def _heuristic_entities(self, text: str) -> list[tuple[int, int, str, str]]:
        """(start, end, replacement kind, surface) for each entity found by the heuristic."""
        found = []
        for match in _CAPS_RUN.finditer(text):
            tokens = [
                (match.start() + m.start(), match.start() + m.end(), m.group(0))
                for m in re.finditer(r"\S+", match.group(0))
            ]
            before = text[max(0, match.start() - 40) : match.start()]
            previous = re.findall(r"([A-Za-z]+)(\.?)\s*$", before)
            prev_word = previous[0][0].lower() if previous else ""
            sentence_start = not before.strip() or before.rstrip()[-1] in '.!?:|"\n' or "\n" in before[-2:]
            # leading titles and common words are not part of the name ("Dr", "The", "Yesterday")
            while len(tokens) > 1 and (
                tokens[0][2].lower().rstrip(".") in TITLES
                or tokens[0][2].lower() in LEADING_WORDS
                or tokens[0][2] in CALENDAR
            ):
                if tokens[0][2].lower().rstrip(".") in TITLES:
                    prev_word = tokens[0][2].lower().rstrip(".")
                tokens = tokens[1:]
                sentence_start = False
            start, end = tokens[0][0], tokens[-1][1]
            words = [token for _, _, token in tokens]
            surface = " ".join(words)
            if prev_word in TITLES:
                found.append((start, end, "person", surface))
                continue
            last = words[-1].lower().rstrip(".")
            if last in TYPE_NOUNS and len(words) > 1:
                found.append((start, end, TYPE_NOUNS[last], " ".join(words[:-1])))
                continue
            if len(words) == 1:
                word = words[0]
                if word in CALENDAR or word == "I" or (sentence_start and word.lower() in self.lexicon):
                    continue  # ordinary capitalised words ("Monday" stays for vague_times)
                if word in LIST_NAMES:
                    continue
            elif all(w.lower() in self.common for w in words):
                continue  # a title-cased heading of common words ("Staff Reporter")
            after = text[end : end + 20].lower().split()
            if after and after[0].strip(",.") in SPEECH_VERBS:
                kind = "person"
            elif prev_word in PLACE_PREPOSITIONS:
                kind = "place"
            else:
                kind = "person"
            found.append((start, end, kind, surface))
        return found

    def _spacy_entities(self, text: str) -> list[tuple[int, int, str, str]]:
        found = []
        for ent in self._nlp(text).ents:
            if ent.label_ == "PERSON":
                found.append((ent.start_char, ent.end_char, "person", ent.text))
            elif ent.label_ in ("GPE", "LOC", "FAC", "ORG"):
                last = ent.text.split()[-1].lower()
                kind = TYPE_NOUNS.get(last) or ("company" if ent.label_ == "ORG" else "place")
                found.append((ent.start_char, ent.end_char, kind, ent.text))
        return found

    def anonymise(self, text: str) -> str:
        """Replace people, places and organisations per the naming rules."""
        entities = self._spacy_entities(text) if self._nlp is not None else self._heuristic_entities(text)
        people: dict[str, str] = {}
        out, position = [], 0
        for start, end, kind, surface in entities:
            if kind == "person":
                key = surface.split()[-1]
                if key not in people:
                    before = text[max(0, start - 12) : start].lower()
                    title = next((t for t in TITLES if re.search(rf"\b{t}\.?\s*$", before)), None)
                    people[key] = person_name(surface, self._gender(text, end, title))
                    # "Maria Lopez" and later "Lopez" are one person.
                    people.setdefault(surface.split()[0], people[key])
                replacement = people[key]
                # a title before a person name goes with it ("Dr. Lopez" -> "Madison")
                title_match = re.search(r"\b(?:" + "|".join(TITLES) + r")\.?\s*$", text[position:start], re.I)
                if title_match:
                    start = position + title_match.start()
            else:
                replacement = placeholder(surface, kind)
            out.append(text[position:start])
            out.append(replacement)
            position = end
        out.append(text[position:])
        return "".join(out)

    # --- vocabulary -----------------------------------------------------------------------------------
    def _known_fraction(self, sentence: str) -> float:
        words = _WORD.findall(sentence)
        if not words:
            return 0.0
        known = 0
        for index, word in enumerate(words):
            if word.lower() in self.known or word in LIST_NAMES or word.isupper() and len(word) == 2:
                known += 1
            elif index and words[index - 1].isupper() and len(words[index - 1]) == 2:
                known += 1  # the type noun of a placeholder ("LI city")
        return known / len(words)

    def simplify(self, text: str) -> str:
        """The full rule pipeline on one text; "" when no sentence passes the vocabulary filter."""
        text = self.anonymise(vague_times(scrub_private(text)))
        kept = [s for s in self.split(text) if self._known_fraction(s) >= self.settings.min_known_fraction]
        return " ".join(kept)

    def anonymise_only(self, text: str) -> str:
        """Private data, times and entities, but no vocabulary filter (for code prompts and instructions)."""
        return self.anonymise(vague_times(scrub_private(text)))
