"""The instruction template (`instruct.template`, one YAML file under prompts/instruct/).

    template = load_template("prompts/instruct/template.yaml")
    template.prompt_text("Name a colour.", "")   # '### TASK INPUT:\nName a colour.\n\n### RESPONSE:\n'
    template.response_text("Red.")               # 'Red.'  (training appends the tokenizer's end-of-text)

The file has three keys: `prompt` (with `{instruction}` and `{input_block}`), `input` (with `{input}`: what
`{input_block}` becomes when the record has an input; empty otherwise) and `response` (with `{output}`).
Placeholders are filled in one pass, so braces inside the filled-in text are never touched. The generation
stage asks a tuned model with `prompt_text(question, "")`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tinyhelen.core.config import read_yaml
from tinyhelen.core.errors import ConfigError

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: Key -> the placeholders it must hold (and the only ones it may hold).
KEYS = {"prompt": ("instruction", "input_block"), "input": ("input",), "response": ("output",)}


def _fill(text: str, fields: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: fields[m.group(1)], text)


@dataclass(frozen=True)
class InstructTemplate:
    prompt: str
    input: str
    response: str

    def prompt_text(self, instruction: str, input_: str) -> str:
        """The prompt part (no loss with `instruct.loss_on: response`)."""
        block = _fill(self.input, {"input": input_}) if input_ else ""
        return _fill(self.prompt, {"instruction": instruction, "input_block": block})

    def response_text(self, output: str) -> str:
        """The response part (end-of-text not included)."""
        return _fill(self.response, {"output": output})


def load_template(path: str | Path) -> InstructTemplate:
    """Read and check the template file.

    Raises:
        ConfigError: the file is missing, not YAML, lacks a key, has an unknown one, or a value lacks (or has
            a foreign) placeholder.
    """
    path = Path(path)
    raw = read_yaml(path, "instruction template")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {sorted(KEYS)}")
    unknown, missing = sorted(set(raw) - set(KEYS)), sorted(set(KEYS) - set(raw))
    if unknown or missing:
        raise ConfigError(
            f"{path}: "
            + "; ".join(
                ([f"unknown key(s) {unknown}"] if unknown else []) + ([f"missing key(s) {missing}"] if missing else [])
            )
        )
    for key, needed in KEYS.items():
        value = raw[key]
        if not isinstance(value, str):
            raise ConfigError(f"{path}: '{key}' must be a string, got {type(value).__name__}")
        found = _PLACEHOLDER.findall(value)
        lacking = [name for name in needed if name not in found]
        foreign = sorted(set(found) - set(needed))
        if lacking or foreign:
            raise ConfigError(
                f"{path}: '{key}' must hold {{{'}, {'.join(needed)}}}"
                + (f"; it lacks {lacking}" if lacking else "")
                + (f"; unknown placeholder(s) {foreign}" if foreign else "")
            )
    return InstructTemplate(raw["prompt"], raw["input"], raw["response"])
