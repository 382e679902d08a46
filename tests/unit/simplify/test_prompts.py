"""Prompt rendering per genre and strict parsing of good and bad answers."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from tinyhelen.core.errors import ConfigError
from tinyhelen.simplify.prompts import (
    PLACEHOLDERS,
    ParseError,
    load_templates,
    parse_code,
    parse_fields,
    parse_grades,
    parse_instruction,
    parse_label,
    parse_passages,
    render_problems,
)

SIMPLIFY = REPO_ROOT / "prompts" / "simplify"
TEXT_GENRES = ["web", "book", "wiki", "textbook", "conversation"]


@pytest.fixture(scope="module")
def templates():
    return load_templates(SIMPLIFY, [*TEXT_GENRES, "code", "instruction", "math_grade"])


@pytest.mark.parametrize("genre", TEXT_GENRES)
def test_text_prompt_renders_with_rules(templates, genre):
    prompt = templates[genre].render(paragraph="Ann met Bob in Paris. <end>")
    assert prompt.rstrip().endswith("Ann met Bob in Paris. <end>")
    assert "{paragraph}" not in prompt
    for rule in ("2,000", "same letter", "Zachary", "Zoe", "PO country", "vague", "name@email.com", "EDITED:"):
        assert rule in prompt, (genre, rule)
    if genre == "web":
        assert "Once upon a time" in prompt and "GR company" in prompt


def test_code_prompt_keeps_braces_in_code(templates):
    code = 'fn main() { let x = {response}; println!("{}", x); }'
    prompt = templates["code"].render(task="Write {task} code", response=code)
    assert code in prompt and "Write {task} code" in prompt


def test_instruction_and_math_prompts(templates):
    prompt = templates["instruction"].render(task="Add", input="", response="4")
    assert "[TASK]\nAdd\n[INPUT]\n\n[RESPONSE]\n4" in prompt and "<split>" in prompt
    prompt = templates["math_grade"].render(problems=render_problems(["1 + 1 = ?", "Solve\n x^2 = 4"]))
    assert "1. 1 + 1 = ?\n2. Solve x^2 = 4" in prompt


def test_missing_template_or_placeholder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="web.txt: prompt template missing"):
        load_templates(tmp_path, ["web"])
    (tmp_path / "book.txt").write_text("Rewrite this.\n")
    with pytest.raises(ConfigError, match=r"book.txt: template lacks placeholder\(s\) \{paragraph\}"):
        load_templates(tmp_path, ["book"])
    assert set(PLACEHOLDERS) >= {"web", "code", "instruction", "math_grade", "simplify", "answer"}


@pytest.mark.parametrize(
    "answer",
    [
        "Notes: Bob -> Benjamin.\nEDITED:\nOne. <end>\nTwo. <end>",
        "  EDITED:  \n  One.   <END>\n\nTwo.<end>  \n",
        "Notes.\r\nEDITED:\r\nOne. < end >\r\nTwo. <end>",
    ],
)
def test_parse_passages_good(templates, answer):
    assert parse_passages(answer, templates["web"], 2) == ["One.", "Two."]


@pytest.mark.parametrize(
    "answer",
    [
        "edited :\nOne. <end>\nTwo. <end>",  # not the marker: case and colon matter
        "**EDITED:** One. <end>\nTwo. <end>",  # the marker must be a line of its own
        "EDITED: One. <end>\nTwo. <end>",
        "Notes.\nEditedition:\nOne. <end>\nTwo. <end>",
    ],
)
def test_only_a_line_that_is_exactly_the_marker_counts(templates, answer):
    with pytest.raises(ParseError) as info:
        parse_passages(answer, templates["web"], 2)
    assert info.value.reason == "no_answer_marker"


def test_passage_lines_starting_with_the_word_are_kept(templates):
    # The old parser took "Edited by ..." for the marker (any case, colon optional, last match) and kept only
    # what followed it; 4 of the 8,040 ori 10M documents have such a line.
    answer = (
        "Notes: none.\nEDITED:\nTom and Lily made a book.\nEdited by Emma and Ben.\nIt has many pictures. "
        "<end>\nedited: the end.\nThe book is done. <end>"
    )
    assert parse_passages(answer, templates["web"], 2) == [
        "Tom and Lily made a book.\nEdited by Emma and Ben.\nIt has many pictures.",
        "edited: the end.\nThe book is done.",
    ]


def test_the_first_marker_line_wins(templates):
    answer = "EDITED:\nA story line.\nEDITED:\nmore words <end>"
    assert parse_passages(answer, templates["web"], 1) == ["A story line.\nEDITED:\nmore words"]


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("", "empty_output"),
        ("I cannot help.", "no_answer_marker"),
        ("EDITED:\nOne. <end>\nTwo.", "no_end_marker"),
        ("EDITED:\nOne. <end> Two. <end> Three. <end>", "misaligned"),
        ("EDITED:\nOne and two together. <end>", "misaligned"),
        ("EDITED:\n <end> Two. <end>", "empty_output"),
        ("ORIGINAL WEB CONTENT:\nOne. <end>\nEDITED:\nOne. <end>\nTwo. <end>", "echoed_prompt"),
    ],
)
def test_parse_passages_bad(templates, answer, reason):
    with pytest.raises(ParseError) as info:
        parse_passages(answer, templates["web"], 2)
    assert info.value.reason == reason


def test_echo_of_whole_prompt_is_rejected(templates):
    prompt = templates["book"].render(paragraph="A cat sat. <end>")
    with pytest.raises(ParseError, match="echoed_prompt"):
        parse_passages(prompt + "\nEDITED:\nA cat sat. <end>", templates["book"], 1)


def test_parse_code(templates):
    answer = (
        "EDITED TASK DESCRIPTION:\nMake a toy box. <end>\nEDITED SOLUTION AND CODE:\n"
        "NOTE: keep this line\n```py\nbox = []\n```\n<end>"
    )
    assert parse_code(answer, templates["code"]) == ("Make a toy box.", "NOTE: keep this line\n```py\nbox = []\n```")
    for bad, reason in [
        ("EDITED TASK DESCRIPTION:\nx <end>", "no_answer_marker"),
        ("EDITED TASK DESCRIPTION:\nx <end>\nEDITED SOLUTION AND CODE:\ny", "no_end_marker"),
        ("EDITED TASK DESCRIPTION:\nx\nEDITED SOLUTION AND CODE:\ny <end>", "no_end_marker"),
    ]:
        with pytest.raises(ParseError) as info:
            parse_code(bad, templates["code"])
        assert info.value.reason == reason


def test_parse_instruction(templates):
    good = "EDITED:\nSay hi. <split> None <split> Hi! <end>"
    assert parse_instruction(good, templates["instruction"]) == ("Say hi.", "", "Hi!")
    assert parse_instruction("EDITED:\nA <SPLIT> b <split> c <end>", templates["instruction"]) == ("A", "b", "c")
    for bad, reason in [
        ("EDITED:\nA <split> c <end>", "misaligned"),
        ("Edited by Ben: A <split> b <split> c <end>", "no_answer_marker"),
        ("EDITED:\nA <split> b <split> c", "no_end_marker"),
        ("EDITED:\n <split> b <split> c <end>", "empty_output"),
        ("[TASK]\nA\nEDITED:\nA <split> b <split> c <end>", "echoed_prompt"),
    ]:
        with pytest.raises(ParseError) as info:
            parse_instruction(bad, templates["instruction"])
        assert info.value.reason == reason


def test_parse_grades(templates):
    assert parse_grades("[DIFFICULTY GRADING]\n1. a\n2) C\n<end>", templates["math_grade"], 2) == ["A", "C"]
    with pytest.raises(ParseError, match="misaligned"):
        parse_grades("[DIFFICULTY GRADING]\n1. A\n<end>", templates["math_grade"], 2)


def test_parse_glue_fields_and_label():
    glue = load_templates(REPO_ROOT / "prompts" / "glue", ["simplify", "answer"])
    answer = "EDITED:\nsentence1: A dog runs.\nSentence2: A dog\n is running.\n<end>"
    assert parse_fields(answer, glue["simplify"], ("sentence1", "sentence2")) == {
        "sentence1": "A dog runs.",
        "sentence2": "A dog is running.",
    }
    with pytest.raises(ParseError, match="missing_field"):
        parse_fields("EDITED:\nsentence1: A dog runs.\n<end>", glue["simplify"], ("sentence1", "sentence2"))
    assert parse_label("Hmm.\nLABEL: 2 <end>", glue["answer"], regression=False) == 2
    assert parse_label("label: 3.5<end>", glue["answer"], regression=True) == 3.5
    with pytest.raises(ParseError, match="bad_label"):
        parse_label("LABEL: yes <end>", glue["answer"], regression=False)
