"""Prompt templates (one file per genre under `simplify.prompts_dir`) and strict parsing of the answers.

Templates are plain text with named placeholders (`{paragraph}`; code: `{task}`, `{response}`; instruction:
`{task}`, `{input}`, `{response}`; math grading: `{problems}`), filled in one pass, so braces inside the
filled-in text (code!) are never touched. Parsers raise `ParseError` with a short machine-readable reason
(`no_answer_marker`, `no_end_marker`, `echoed_prompt`, `empty_output`, `misaligned`, ...) that becomes the
reject reason; nothing is ever guessed or zipped loosely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tinyhelen.core.errors import ConfigError

#: Template file stem -> the placeholders it must contain.
PLACEHOLDERS = {
    "web": ("paragraph",),
    "book": ("paragraph",),
    "wiki": ("paragraph",),
    "textbook": ("paragraph",),
    "conversation": ("paragraph",),
    "code": ("task", "response"),
    "instruction": ("task", "input", "response"),
    "math_grade": ("problems",),
    "simplify": ("task", "description", "input_format", "output_format", "label_explanation", "input"),
    "answer": ("description", "input_format", "label_explanation", "input"),
}
END = "<end>"
_END = re.compile(r"\s*<\s*end\s*>", re.IGNORECASE)
_SPLIT = re.compile(r"\s*<\s*split\s*>\s*", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
GRADES = "ABCDEF"


class ParseError(ValueError):
    """An answer that cannot be used; `reason` is the reject reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def echo_probe(self) -> str:
        """The template's first line: an answer containing it repeated the prompt."""
        return _squash(self.text.strip().splitlines()[0])[:80]

    @property
    def input_headers(self) -> list[str]:
        """Lines that introduce the input (e.g. `ORIGINAL WEB CONTENT:`); an answer repeating one echoed it."""
        return [
            line.strip()
            for line in self.text.splitlines()
            if re.fullmatch(r"(ORIGINAL [A-Z ]+|TASK DESCRIPTION|SOLUTION AND CODE):", line.strip())
            or line.strip() in ("[TASK]", "[PROBLEMS]", "[GLUE ITEM]", "[GLUE ANSWER]")
        ]

    def render(self, **fields: str) -> str:
        missing = set(PLACEHOLDERS[self.name]) - set(fields)
        if missing:
            raise KeyError(f"template {self.name} needs {sorted(missing)}")
        return _PLACEHOLDER.sub(lambda m: fields[m.group(1)] if m.group(1) in fields else m.group(0), self.text)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def load_templates(folder: str | Path, names: list[str]) -> dict[str, Template]:
    """Read `<folder>/<name>.txt` for each name and check its placeholders.

    Raises:
        ConfigError: a file is missing or lacks a placeholder its genre needs.
    """
    templates = {}
    for name in names:
        path = Path(folder) / f"{name}.txt"
        if not path.is_file():
            raise ConfigError(f"{path}: prompt template missing (simplify.prompts_dir = {folder})")
        text = path.read_text(encoding="utf-8")
        found = set(_PLACEHOLDER.findall(text))
        missing = [p for p in PLACEHOLDERS[name] if p not in found]
        if missing:
            raise ConfigError(f"{path}: template lacks placeholder(s) {', '.join('{' + p + '}' for p in missing)}")
        templates[name] = Template(name, text)
    return templates


def _check_echo(answer: str, template: Template) -> None:
    headers = {_squash(header) for header in template.input_headers}
    if template.echo_probe in _squash(answer) or any(_squash(line) in headers for line in answer.splitlines()):
        raise ParseError("echoed_prompt")


def _after_marker(answer: str, marker: str) -> str:
    """The text after the last line that starts with `marker` (case and spacing tolerant)."""
    pattern = re.compile(
        r"^[ \t#*]*" + r"\s*".join(re.escape(w) for w in marker.split()) + r"[ \t*]*:?[ \t*]*",
        re.IGNORECASE | re.MULTILINE,
    )
    matches = list(pattern.finditer(answer))
    if not matches:
        raise ParseError("no_answer_marker", marker)
    return answer[matches[-1].end() :]


def _after_marker_line(answer: str, marker: str) -> str:
    """The text after the FIRST line that is exactly `marker` (e.g. `EDITED:`; surrounding spaces allowed).

    The prompts ask for a line that says only the marker. Matching it loosely (any case, colon optional, at
    any line start) would take a passage line such as "Edited by Emma and Ben." for the marker and silently
    drop the text before it; taking the last match would do the same with a passage that quotes the marker.
    """
    offset = 0
    for line in answer.splitlines(keepends=True):
        if line.strip() == marker:
            return answer[offset + len(line) :]
        offset += len(line)
    raise ParseError("no_answer_marker", marker)


def _split_ended(block: str) -> list[str]:
    """Split `a <end> b <end>` into ['a', 'b']; the block must end with <end>."""
    parts = _END.split(block.strip())
    if len(parts) < 2 or parts[-1].strip():
        raise ParseError("no_end_marker")
    return [part.strip() for part in parts[:-1]]


def answer_text(answer) -> str:
    """The text of an `llm.Answer`; ParseError for a request that failed or an answer cut at `max_tokens`."""
    if answer.error is not None:
        raise ParseError(answer.error)
    if answer.finish_reason == "length":
        raise ParseError("length")
    return answer.text


def _checked(answer: str, template: Template) -> str:
    """The answer, if it is neither empty nor an echo of the prompt."""
    if not answer.strip():
        raise ParseError("empty_output")
    _check_echo(answer, template)
    return answer


def _one_block(answer: str, template: Template, marker: str, what: str, own_line: bool = False) -> str:
    """The single `<end>`-terminated block after `marker` (with `own_line`: after the first line that is
    exactly the marker)."""
    checked = _checked(answer, template)
    blocks = _split_ended(_after_marker_line(checked, marker) if own_line else _after_marker(checked, marker))
    if len(blocks) != 1:
        raise ParseError("misaligned", f"expected one {what}, got {len(blocks)}")
    return blocks[0]


def parse_passages(answer: str, template: Template, expected: int) -> list[str]:
    """The edited passages of a text-genre answer: exactly `expected` non-empty ones."""
    passages = _split_ended(_after_marker_line(_checked(answer, template), "EDITED:"))
    if len(passages) != expected:
        raise ParseError("misaligned", f"expected {expected} passages, got {len(passages)}")
    if not all(passages):
        raise ParseError("empty_output")
    return passages


def parse_code(answer: str, template: Template) -> tuple[str, str]:
    """(task, solution) from a code answer with its two `<end>`-terminated blocks."""
    rest = _after_marker_line(_checked(answer, template), "EDITED TASK DESCRIPTION:")
    marker = re.search(r"^[ \t]*EDITED SOLUTION AND CODE:[ \t]*(?:\n|\Z)", rest, re.MULTILINE)
    if marker is None:
        raise ParseError("no_answer_marker", "EDITED SOLUTION AND CODE:")
    task = _split_ended(rest[: marker.start()])
    ended = re.fullmatch(r"(.*?)\s*<\s*end\s*>\s*", rest[marker.end() :], re.DOTALL | re.IGNORECASE)
    if ended is None:
        raise ParseError("no_end_marker")
    solution = ended.group(1).strip()
    if len(task) != 1:
        raise ParseError("misaligned", f"expected one task block, got {len(task)}")
    if not task[0] or not solution:
        raise ParseError("empty_output")
    return task[0], solution


def parse_instruction(answer: str, template: Template) -> tuple[str, str, str]:
    """(instruction, input, output) from `task <split> input <split> output <end>`; input `None` -> ""."""
    parts = _SPLIT.split(_one_block(answer, template, "EDITED:", "answer", own_line=True))
    if len(parts) != 3:
        raise ParseError("misaligned", f"expected 3 parts, got {len(parts)}")
    task, input_, output = (part.strip() for part in parts)
    if input_.strip(" .").lower() == "none":
        input_ = ""
    if not task or not output:
        raise ParseError("empty_output")
    return task, input_, output


def render_problems(problems: list[str]) -> str:
    return "\n".join(f"{number}. {' '.join(problem.split())}" for number, problem in enumerate(problems, 1))


def parse_grades(answer: str, template: Template, expected: int) -> list[str]:
    """One difficulty letter per problem, numbered 1..expected."""
    block = _one_block(answer, template, "[DIFFICULTY GRADING]", "grading block", own_line=True)
    grades = re.findall(r"^\s*(\d+)\s*[.):]?\s*([A-Fa-f])\b", block, re.MULTILINE)
    numbers = [int(number) for number, _ in grades]
    if numbers != list(range(1, expected + 1)):
        raise ParseError("misaligned", f"expected grades 1..{expected}, got {numbers}")
    return [grade.upper() for _, grade in grades]


def render_fields(fields: dict[str, str]) -> str:
    """A GLUE item as `name: value` lines (line breaks inside a value become spaces)."""
    return "\n".join(f"{name}: {' '.join(str(value).split())}" for name, value in fields.items())


def parse_fields(answer: str, template: Template, names: tuple[str, ...]) -> dict[str, str]:
    """A simplified GLUE item: every expected `name: value` line, in one `<end>`-terminated block."""
    block = _one_block(answer, template, "EDITED:", "item", own_line=True)
    alternatives = "|".join(re.escape(name) for name in names)
    found = dict(
        (m.group(1).lower(), m.group(2).strip())
        for m in re.finditer(
            rf"^[ \t*]*({alternatives})[ \t*]*:[ \t]*(.*?)(?=^[ \t*]*(?:{alternatives})[ \t*]*:|\Z)",
            block,
            re.IGNORECASE | re.MULTILINE | re.DOTALL,
        )
    )
    values = {name: " ".join(found.get(name, "").split()) for name in names}
    if not all(values.values()):
        raise ParseError("missing_field", ", ".join(n for n, v in values.items() if not v))
    return values


def parse_label(answer: str, template: Template, regression: bool) -> float | int:
    """The label of a GLUE answer: `LABEL: <number> <end>`."""
    block = _one_block(answer, template, "LABEL", "label")
    match = re.fullmatch(r"-?\d+(?:\.\d+)?" if regression else r"\d+", block.strip())
    if match is None:
        raise ParseError("bad_label", block[:40])
    return float(match.group(0)) if regression else int(match.group(0))
