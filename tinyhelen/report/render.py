"""Render report sections as one self-contained HTML page and as Markdown with PNG files beside it.

HTML: inline CSS, plots as base64 PNG `<img>`, no scripts, fonts or links to anything outside the file; every
number's source as a tooltip (`title`). Markdown: the same tables, each followed by its sources, and the plots
as `<name>.png` files. Both are deterministic: the same sections give the same bytes.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tinyhelen.report.figures import CORPUS_COLOURS
from tinyhelen.report.page import Section, Table
from tinyhelen.report.provenance import Provenance

QUESTIONS = (
    ("1. Does leaner pretraining help? (Leaner-GLUE)", ("glue",)),
    ("1. Does leaner pretraining help? (grammar probes)", ("probe",)),
    ("2. Do leaner-trained models follow instructions better? (Leaner-Eval)", ("leaner_eval",)),
    ("3. Does the curriculum save data?", ("curriculum",)),
)
CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #444}h2{font-size:1.3em;margin-top:2em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;margin:.6em 0;font-size:.85em}th,td{border:1px solid #ccc;padding:.25em .5em}
th{background:#f2f2f2;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
td[title]{cursor:help}caption{caption-side:top;text-align:left;font-weight:600;padding:.3em 0}
.src{font-size:.78em;color:#555;margin:.1em 0 .9em}.src code{background:#f6f6f6}.note{font-size:.85em;color:#444}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.85em;color:#444}
.swatch{display:inline-block;width:.9em;height:.9em;vertical-align:middle;margin:0 .25em 0 .8em;border:1px solid #555}
.omitted{color:#777}details{margin:.5em 0}.wide{overflow-x:auto}
"""


@dataclass
class Page:
    title: str
    provenance: Provenance
    sections: list[Section]
    omitted: list[tuple[str, str]] = field(default_factory=list)
    show_all_params: bool = False


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _prose(text: str) -> str:
    """Escaped text with Markdown `code` spans as <code> (notes, intros, headline measures)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _esc(text))


def _is_numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("±", "").replace("[", "").replace("]", "").replace("+", "")
    return bool(stripped) and stripped.split()[0].lstrip("-").replace(".", "", 1).isdigit()


def answers(page: Page) -> list[tuple[str, str, str, str]]:
    """(question, measure, result, source) rows; a question no section answered gets one row saying why."""
    by_key = {s.key: s for s in page.sections}
    omitted = dict(page.omitted)
    rows = []
    for question, keys in QUESTIONS:
        found = [h for key in keys if key in by_key for h in by_key[key].headlines if h.question == question]
        if found:
            rows += [(h.question, h.measure, h.result, h.source) for h in found]
            continue
        why = "; ".join(
            f"section `{k}` omitted: {omitted[k]}"
            if k in omitted
            else (
                f"section `{k}` has no leaner/ori pair to compare"
                if k in by_key
                else f"section `{k}` not requested (report.sections)"
            )
            for k in keys
        )
        rows.append((question, "not measured in this run", "–", why))
    return rows


# ---------------------------------------------------------------- HTML


def _html_table(table: Table) -> str:
    out = ['<div class="wide"><table>', f"<caption>{_prose(table.caption)}</caption>", "<tr>"]
    out += [f"<th>{_esc(h)}</th>" for h in table.header]
    out.append("</tr>")
    for row in table.rows:
        out.append("<tr>")
        for cell in row:
            cls = ' class="num"' if cell.source and _is_numeric(cell.text) else ""
            title = f' title="{_esc(cell.source)}"' if cell.source else ""
            out.append(f"<td{cls}{title}>{_esc(cell.text)}</td>")
        out.append("</tr>")
    out.append("</table></div>")
    for note in table.notes:
        out.append(f'<p class="note">{_prose(note)}</p>')
    if table.sources:
        out.append(
            '<p class="src">Source: '
            + "; ".join(f"<code>{_esc(s)}</code>" for s in table.sources)
            + " (hover a number for its exact key)</p>"
        )
    return "\n".join(out)


def _compared(prov: Provenance) -> str:
    return f"Params compared with {prov.baseline}." if prov.compared else f"Params: {prov.baseline}."


def _html_params(page: Page) -> str:
    prov = page.provenance
    out = [
        (
            f"<p>Experiment: <b>{_esc(prov.experiment or 'none (plain dvc repro or a direct run)')}</b>. "
            f"{_esc(_compared(prov))}</p>"
        )
    ]
    if prov.compared:
        if prov.changed:
            out.append(
                "<table><caption>Changed params</caption><tr><th>key</th><th>baseline</th><th>this run</th></tr>"
            )
            out += [
                f"<tr><td><code>{_esc(c.key)}</code></td><td>{_esc(c.baseline)}</td><td>{_esc(c.value)}</td></tr>"
                for c in prov.changed
            ]
            out.append("</table>")
        else:
            out.append("<p>No param differs from the baseline.</p>")
    if page.show_all_params or not prov.compared:
        changed = {c.key for c in prov.changed}
        out.append(f"<details><summary>All params ({len(prov.params)} keys; changed ones in bold)</summary><table>")
        out += [
            f"<tr><td><code>{'<b>' + _esc(k) + '</b>' if k in changed else _esc(k)}</code></td><td>{_esc(v)}</td></tr>"
            for k, v in prov.params.items()
        ]
        out.append("</table></details>")
    return "\n".join(out)


def render_html(page: Page) -> str:
    """The whole page as one self-contained HTML document."""
    legend = "".join(
        f'<span class="swatch" style="background:{colour}"></span>{_esc(name)}'
        for name, colour in CORPUS_COLOURS.items()
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(page.title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_esc(page.title)}</h1>",
        _html_params(page),
        f'<p class="note">Colours, the same in every plot:{legend}.</p>',
        "<h2>Answers to the paper's three questions</h2>",
        '<div class="wide"><table>',
        "<tr><th>question</th><th>measure</th><th>result</th><th>source</th></tr>",
    ]
    for question, measure, result, source in answers(page):
        out.append(
            f"<tr><td>{_esc(question)}</td><td>{_prose(measure)}</td><td>{_esc(result)}</td>"
            f'<td class="src">{_prose(source)}</td></tr>'
        )
    out.append("</table></div>")
    for section in page.sections:
        out.append(f'<h2 id="{_esc(section.key)}">{_esc(section.title)}</h2>')
        if section.intro:
            out.append(f"<p>{_prose(section.intro)}</p>")
        out += [_html_table(t) for t in section.tables]
        for figure in section.figures:
            data = base64.b64encode(figure.png).decode("ascii")
            sources = "; ".join(figure.sources)
            out.append(
                f'<figure><img alt="{_esc(figure.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_esc(figure.caption)} Source: <code>{_esc(sources)}</code></figcaption></figure>"
            )
        out += [f'<p class="note">{_prose(n)}</p>' for n in section.notes]
    if page.omitted:
        out.append("<h2>Omitted sections</h2><ul>")
        out += [f'<li class="omitted"><b>{_esc(k)}</b>: {_prose(why)}</li>' for k, why in page.omitted]
        out.append("</ul>")
    inputs = sorted({i for s in page.sections for i in s.inputs})
    out.append(f'<p class="src">Read: {", ".join(f"<code>{_esc(i)}</code>" for i in inputs)}.</p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(page: Page) -> str:
    """The same page in Markdown; figures are referenced as `<name>.png` in the same folder."""
    prov = page.provenance
    out = [
        f"# {page.title}",
        "",
        (f"Experiment: **{prov.experiment or 'none (plain dvc repro or a direct run)'}**. {_compared(prov)}"),
        "",
    ]
    if prov.compared:
        if prov.changed:
            out += _md_table(
                ["key", "baseline", "this run"], [[f"`{c.key}`", c.baseline, c.value] for c in prov.changed]
            ) + [""]
        else:
            out += ["No param differs from the baseline.", ""]
    if page.show_all_params or not prov.compared:
        out += ["<details><summary>All params</summary>", ""]
        out += _md_table(["key", "value"], [[f"`{k}`", v] for k, v in prov.params.items()]) + ["", "</details>", ""]
    out += [
        "Colours, the same in every plot: " + ", ".join(f"{n} `{c}`" for n, c in CORPUS_COLOURS.items()) + ".",
        "",
        "## Answers to the paper's three questions",
        "",
    ]
    out += _md_table(["question", "measure", "result", "source"], [list(r) for r in answers(page)]) + [""]
    for section in page.sections:
        out += [f"## {section.title}", ""]
        if section.intro:
            out += [section.intro, ""]
        for table in section.tables:
            out += [f"**{table.caption}**", ""]
            out += _md_table(table.header, [[c.text for c in row] for row in table.rows]) + [""]
            out += [f"_{note}_" for note in table.notes]
            if table.sources:
                out += ["", "Source: " + "; ".join(f"`{s}`" for s in table.sources)]
            out.append("")
        for figure in section.figures:
            out += [
                f"![{figure.caption}]({figure.name}.png)",
                "",
                f"_{figure.caption}_ Source: " + "; ".join(f"`{s}`" for s in figure.sources),
                "",
            ]
        out += [f"- {n}" for n in section.notes] + ([""] if section.notes else [])
    if page.omitted:
        out += ["## Omitted sections", ""] + [f"- **{k}**: {why}" for k, why in page.omitted] + [""]
    inputs = sorted({i for s in page.sections for i in s.inputs})
    out += ["Read: " + ", ".join(f"`{i}`" for i in inputs) + "."]
    return "\n".join(out) + "\n"
