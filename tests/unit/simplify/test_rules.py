"""The offline `rules` backend on text written for these tests."""

from __future__ import annotations

import pytest

from tinyhelen.core.config import with_changes
from tinyhelen.core.sentences import make_splitter
from tinyhelen.simplify.rules import RuleSimplifier, person_name, placeholder, scrub_private, vague_times


@pytest.fixture(scope="module")
def rules():
    from tests.conftest import REPO_ROOT
    from tinyhelen.params import load_params

    params = load_params(REPO_ROOT / "params.yaml")
    return RuleSimplifier(with_changes(params.simplify.rules, ner="heuristic"), make_splitter(params.sentences))


def test_name_and_place_helpers():
    assert person_name("Priya Natarajan", female=True) == "Penelope"
    assert person_name("Thomas Whitfield", female=False) == "Thomas"
    assert placeholder("Lisbon", "city") == "LI city" and placeholder("O'Hare", "airport") == "OH airport"


def test_private_data_is_scrubbed():
    text = "Mail jo.bloggs@example.org, see https://blog.example.org/post?id=3 or call +44 20 7946 0958."
    assert scrub_private(text) == "Mail name@email.com, see http://www.website.com or call a phone number."


def test_times_become_vague():
    assert vague_times("We met at 6:15 a.m. on 14 March 2023.") == "We met at early in the morning on one spring day."
    assert vague_times("The bridge opened in 1874.") == "The bridge opened a long time ago."
    assert vague_times("It closed at 21:30.") == "It closed at at night."


def test_people_places_and_organisations_are_anonymised(rules):
    text = (
        "Dr. Priya Natarajan moved to Lisbon after she left Harlow Street. Natarajan now works at "
        "Acme Corporation. Yesterday Thomas Whitfield said he would visit the Tate Museum."
    )
    out = rules.anonymise(text)
    for name in ("Priya", "Natarajan", "Lisbon", "Harlow", "Acme", "Whitfield", "Tate"):
        assert name not in out, (name, out)
    assert out.count("Penelope") == 2  # the same person keeps the same name
    for expected in ("LI place", "HA street", "AC company", "Thomas said", "TA museum"):
        assert expected in out, (expected, out)
    assert rules.ner_used == "heuristic"


def test_vocabulary_filter_keeps_simple_sentences(rules):
    text = (
        "The dog ran to the park. Photosynthetic chloroplasts synthesise carbohydrates enzymatically. "
        "Mom gave me a red ball."
    )
    assert rules.simplify(text) == "The dog ran to the park. Mom gave me a red ball."


def test_spacy_ner_needs_an_installed_model(params):
    from tinyhelen.core.errors import ConfigError

    settings = with_changes(params.simplify.rules, ner="spacy", spacy_model="no_such_spacy_model")
    with pytest.raises(ConfigError, match="no_such_spacy_model"):
        RuleSimplifier(settings, make_splitter(params.sentences))
