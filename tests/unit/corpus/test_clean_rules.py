"""Cleaning rules: input -> output pairs per rule, adversarial cases, and whole-document behaviour."""

from __future__ import annotations

import time

import pytest

from tinyhelen.core.config import with_changes
from tinyhelen.corpus.clean_rules import (
    StandIns,
    clean_document,
    is_boilerplate_line,
    map_unprotected,
    normalize_unicode,
    remove_boilerplate,
    repair_whitespace,
    scrub_private,
    strip_markup,
    words_removed,
)

STAND_INS = StandIns(
    email="s@university.edu",
    url="http://www.blogwebsite.com/blog",
    phone="555-0100",
    ip="192.0.2.1",
    card="0000 0000 0000 0000",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("caf\u0065\u0301", "caf\u00e9"),  # NFKC composes
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),  # compatibility forms fold
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("windows\r\nline\rends", "windows\nline\nends"),
        ("wiki said\\nnext line", "wiki said\nnext line"),  # the released wiki's literal \n
        ("keep \\\\n escaped", "keep \\\\n escaped"),
    ],
)
def test_normalize_unicode(text, expected):
    assert normalize_unicode(text) == expected


def test_code_keeps_literal_backslash_n():
    assert normalize_unicode('print("a\\nb")', prose=False) == 'print("a\\nb")'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a   b\t\tc", "a b c"),
        ("line  \n\n\n\n  next", "line\n\nnext"),
        ("  padded  ", "padded"),
        ("non\u00a0breaking", "non breaking"),
        ("Entity \t| Description", "Entity | Description"),  # a space then a tab: one space, not two
        ("em\u2003space \u3000ideographic", "em space ideographic"),
    ],
)
def test_repair_whitespace(text, expected):
    assert repair_whitespace(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>One</p><p>Two</p>", "\nOne\n\nTwo\n"),
        ("<div><p>nested <b>bold <i>deep</i></b></p></div>", "\n\nnested bold deep\n\n"),
        ("broken <div class='x", "broken "),
        ("unclosed <b>bold text", "unclosed bold text"),
        ("<br>\nTitle\nBody<br/>more", "\n\nTitle\nBody\nmore"),
        ("Fish &amp; chips&nbsp;today &lt;3", "Fish & chips\u00a0today <3"),
        ("a < b and c > d, List<T>", "a < b and c > d, List<T>"),  # not tags
        ("Cited.<ref>Smith 2001, p. 4</ref> Next.", "Cited. Next."),
        ("x<!-- hidden -->y", "xy"),
        ("{{Infobox|name={{lang|x}}}}Text", "Text"),
        ("[[Paris|the capital]] and [[Lyon]][[Category:Cities]]", "the capital and Lyon"),
        ("'''Bold''' and ''italic''", "Bold and italic"),
        ("== History ==\nText", "History\nText"),
        ("EDITED: simple words <end>", "simple words "),
        ("<script>alert(1)</script>kept", "kept"),
    ],
)
def test_strip_markup(text, expected):
    assert strip_markup(text) == expected


@pytest.mark.parametrize(
    "line",
    [
        "We use cookies to improve your experience. Accept | Decline",
        "Subscribe to our newsletter!",
        "Share this: Facebook | Twitter | Email",
        "Home > Recipes > Soups",
        "Posted by Ann | 4 comments",
        "Click here to get 20% off",
        "© 2024 All rights reserved.",
    ],
)
def test_boilerplate_lines(line):
    assert is_boilerplate_line(line, 20)


@pytest.mark.parametrize(
    "line",
    [
        "The soup needs two cups of stock.",
        "Share the bread with your neighbours and "
        "friends because everyone deserves a warm meal on a cold winter night like this.",
    ],
)
def test_not_boilerplate(line):
    assert not is_boilerplate_line(line, 20)


def test_remove_boilerplate_repeats_and_common_lines():
    text = "Title\nAd slot\nReal sentence one.\nAd slot\nAd slot\nSite motto here\nReal sentence two."
    out = remove_boilerplate(text, max_words=20, min_repeats_in_doc=3, common_lines=frozenset({"site motto here"}))
    assert out == "Title\nReal sentence one.\nReal sentence two."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to jo.doe+news@mail.example.co.uk today", "Write to s@university.edu today"),
        ("See https://shop.example.com/p?id=3.", "See http://www.blogwebsite.com/blog."),
        ("(www.example.org)", "(http://www.blogwebsite.com/blog)"),
        ("Call (555) 013-2288 or +44 20 7946 0321.", "Call 555-0100 or 555-0100."),
        ("Server 192.168.10.4 is down", "Server 192.0.2.1 is down"),
        ("Card 4111 1111 1111 1111 used", "Card 0000 0000 0000 0000 used"),
        ("Order 1234 5678 9012 3456 is not a card", "Order 1234 5678 9012 3456 is not a card"),  # Luhn fails
        ("In 1990-2000, 10 000 000 people, version 1.2.3.4.5", "In 1990-2000, 10 000 000 people, version 1.2.3.4.5"),
        ("ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"),  # homoglyphs: only after NFKC (see below)
        # Where the search windows begin and end: the text's ends, punctuation, line breaks, case.
        ("a@b.io", "s@university.edu"),
        (
            "Mail:a@b.io,c@d.io.\nWWW.Example.com/x",
            "Mail:s@university.edu,s@university.edu.\nhttp://www.blogwebsite.com/blog",
        ),
        (
            "ftp://files.example.net/a\tand Www.shop.example",
            "http://www.blogwebsite.com/blog\tand http://www.blogwebsite.com/blog",
        ),
        ("@handle and new.line and a.b@c", "@handle and new.line and a.b@c"),  # triggers without a match
        ("x@y.com@z.org", "s@university.edu@z.org"),  # one token, two "@": scanned once, left to right
    ],
)
def test_scrub_private(text, expected):
    assert scrub_private(text, STAND_INS) == expected


def test_homoglyph_email_is_caught_after_normalisation():
    text = normalize_unicode("mail ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ now")
    assert scrub_private(text, STAND_INS) == "mail s@university.edu now"


def test_words_removed_counts_like_split():
    import random

    rng = random.Random(7)
    pieces = ["a", "bc", " ", "  ", "\n", "\t", "\u00a0", "<b>", "."]
    for _ in range(3000):
        before = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))
        cut = sorted(rng.randint(0, len(before)) for _ in range(2))
        after = before[: cut[0]] + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4))) + before[cut[1] :]
        assert words_removed(before, after) == len(before.split()) - len(after.split()), (before, after)


def test_map_unprotected_skips_code_and_latex():
    code = "Prose  here\n```python\nx  =  1   # keep\n```\nMore   prose"
    assert (
        map_unprotected(code, "code", lambda t: repair_whitespace(t, strip_ends=False))
        == "Prose here\n```python\nx  =  1   # keep\n```\nMore prose"
    )
    math = "Solve  $x  +  1 = 2$  now"
    assert map_unprotected(math, "math", lambda t: t.replace("  ", " ")) == "Solve $x  +  1 = 2$ now"


def _record(genre: str, **fields) -> dict:
    record = {
        "id": "0" * 64,
        "variant": "ori",
        "genre": genre,
        "split": "train",
        "budget_dir": "10M",
        "meta": {},
        "origin": "f:1",
        **fields,
    }
    if "text" not in record:
        record["text"] = ""
    return record


def test_web_document_end_to_end(params):
    text = (
        "We use cookies. Accept | Decline\nHome > News > Local\n<p>The council opened a new park on "
        "Mill Lane.</p>\n<p>Contact the office at parks@council.example.org or (555) 013-2288 for "
        "bookings.</p>\nShare this: Facebook | Twitter"
    )
    outcome = clean_document(_record("web", text=text), params.clean)
    assert outcome.record["text"] == (
        "The council opened a new park on Mill Lane.\n\nContact the office at "
        "s@university.edu or 555-0100 for bookings."
    )
    assert outcome.record["id"] == "0" * 64
    assert set(outcome.words_removed) >= {"boilerplate"}


def test_code_keeps_code_but_scrubs_email_inside_it(params):
    response = 'Here  is   the code:\n```python\ndef  notify():\n    send("admin@example.org")  # tab\there\n```\nDone.'
    outcome = clean_document(_record("code", prompt="Write  a   notifier.", response=response), params.clean)
    record = outcome.record
    assert record["prompt"] == "Write a notifier."
    assert 'def  notify():\n    send("s@university.edu")  # tab\there' in record["response"]
    assert record["response"].startswith("Here is the code:\n```python")
    assert record["text"] == record["prompt"] + " " + record["response"]


def test_code_keeps_indented_code_blocks(params):
    # A quarter of the release's code answers indent their code (Markdown) instead of fencing it.
    code = "    function  f() {\n        let s = '<div>  </div>';\t// keep\n    }"
    response = f"{code}\n\nThe   function <b>above</b>   returns a div.\n\n{code}\n"
    record = clean_document(_record("code", prompt="Write  it.", response=response), params.clean).record
    assert record["response"] == f"{code}\n\nThe function above returns a div.\n\n{code}"
    listed = "1.  Run   it:\n    ```sh\n    make  all\n    ```\n2.  Done."  # an indented fence: one block
    record = clean_document(_record("code", prompt="Build.", response=listed), params.clean).record
    assert record["response"] == "1. Run it:\n    ```sh\n    make  all\n    ```\n2. Done."


def test_math_keeps_latex_and_numbers(params):
    problem = "Add.  $\\frac{3}{4} + \\frac{1}{8} = $  Call it 555 013 2288."
    outcome = clean_document(_record("math", problem=problem, hints=["The answer is $\\frac{7}{8}$."]), params.clean)
    assert outcome.record["problem"] == "Add. $\\frac{3}{4} + \\frac{1}{8} = $ Call it 555 013 2288."
    assert outcome.record["text"].endswith("The answer is $\\frac{7}{8}$.")


def test_conversation_keeps_quoted_turns(params):
    text = '"Where were you?"   "At the station."\n\n\n"Again?"'
    outcome = clean_document(_record("conversation", text=text + " " + "x" * 0), params.clean)
    assert outcome.rule == "length"  # short scripts fall under min_chars
    longer = text + ' "Yes, again, because the last train was late and I had nowhere else to wait for it."'
    outcome = clean_document(_record("conversation", text=longer), params.clean)
    assert outcome.record["text"].startswith('"Where were you?" "At the station."\n\n"Again?"')


def test_non_english_paragraph_inside_english_document(params):
    english = (
        "The library on Harlow Street reopened on Monday after months of repairs, and the children's "
        "corner now sits on the second floor where the water cannot reach it."
    )
    french = (
        "Le marché de la place centrale ouvre chaque samedi matin avec des producteurs locaux, des "
        "fromages de la région et du pain frais cuit au feu de bois."
    )
    outcome = clean_document(_record("web", text=f"{english}\n{french}\n{english} Again."), params.clean)
    assert outcome.record is not None
    assert "marché" not in outcome.record["text"] and outcome.record["text"].count("Harlow") == 2
    assert outcome.words_removed["language"] == len(french.split())


def test_mostly_foreign_document_is_rejected(params):
    spanish = (
        "El mercado de la plaza central abre cada sábado por la mañana con productores locales, quesos de "
        "la región y pan recién horneado en horno de leña para todos los vecinos del barrio."
    )
    outcome = clean_document(_record("web", text=f"Market news\n{spanish}\n{spanish}"), params.clean)
    assert outcome.record is None and outcome.rule == "language" and "es" in outcome.reason


@pytest.mark.parametrize("text", ["", "   ", "<p></p>", "\u200b\u200b"])
def test_empty_documents_are_rejected_not_crashed(params, text):
    outcome = clean_document(_record("web", text=text), params.clean)
    assert outcome.record is None and outcome.rule in ("unicode", "markup", "length")


def test_ten_megabyte_document(params):
    paragraph = (
        "The river rose slowly through the night while the town slept, and by morning the lower "
        "streets were under water. <b>Volunteers</b> filled sandbags &amp; carried them to the doors.\n"
    )
    text = paragraph * (10_000_000 // len(paragraph) + 1)
    start = time.perf_counter()
    outcome = clean_document(_record("book", text=text), params.clean)
    elapsed = time.perf_counter() - start
    assert outcome.record is None and outcome.rule == "length" and "max_chars" in outcome.reason
    assert elapsed < 120  # linear rules; a catastrophic regex would take hours
    relaxed = with_changes(params.clean, length=params.clean.length.model_copy(update={"max_chars": 20_000_000}))
    kept = clean_document(_record("book", text=text), relaxed).record
    assert "<b>" not in kept["text"] and "&amp;" not in kept["text"] and len(kept["text"]) > 9_000_000


def test_rules_can_be_switched_off(params):
    off = {
        name: getattr(params.clean, name).model_copy(update={"enabled": False})
        for name in ("unicode", "markup", "boilerplate", "private_data", "language", "length")
    }
    cfg = with_changes(params.clean, **{k: v.model_dump() for k, v in off.items()})
    text = "<p>Mail a@b.org</p>"
    outcome = clean_document(_record("web", text=text), cfg)
    assert outcome.record["text"] == text
