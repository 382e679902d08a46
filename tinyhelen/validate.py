"""Stage `validate`: check the whole params file before any stage touches an output.

    params = validate_project("params.yaml")     # ConfigError naming every bad key, or the validated Params

DVC deletes a stage's outputs before it runs the stage, so a bad value found by the stage itself has already
cost its outputs (`dvc exp run -S +pretrain.max_step=10` used to delete models/ before pretrain refused the
typo). `validate` runs first: every other stage depends on its marker `data/validated.json`, and it depends
on every params section, so any params change re-runs it, and a bad value stops `dvc repro` / `dvc exp run`
before anything downstream is deleted. Its marker's content never changes, so a successful re-run re-runs
nothing downstream.

What it checks: every key and value of every section and every cross-field rule (the pydantic models of
`tinyhelen.params`, which also catch unknown keys with a "did you mean"), then what only the working tree can
answer: folders and files that params name and that must exist (a local `data.source`, the prompt templates
of an LLM backend, a local `glue_simplify.source`).
"""

from __future__ import annotations

from pathlib import Path

from tinyhelen.core.errors import ConfigError
from tinyhelen.core.release import VARIANTS
from tinyhelen.params import Params, load_params

#: `data.source: sample` reads this folder (relative to the repo root; as `tinyhelen.corpus.ingest.SAMPLE_DIR`).
SAMPLE_DIR = Path("data/sample")
#: The marker's body: constant, so DVC sees the same output after every successful run.
MARKER = {"params": "valid", "checked_by": "stages/validate.py"}
_SIMPLIFY_PROMPTS = ("web", "book", "wiki", "textbook", "conversation", "code")
_GLUE_PROMPTS = ("simplify.txt", "answer.txt", "tasks.yaml")


def check_paths(params: Params, root: str | Path = ".", path: str = "params.yaml") -> list[str]:
    """Problems with the paths params name, relative to `root` (the repo root under DVC); [] when fine."""
    root = Path(root)
    problems = []

    def bad(key: str, value: object, why: str) -> None:
        problems.append(f"{path}: invalid value for '{key}': {why} (got {value!r})")

    source = params.data.source
    if not source.startswith("hf:"):
        folder = root / (SAMPLE_DIR if source == "sample" else Path(source))
        if not folder.is_dir():
            bad("data.source", source, f"no such folder ({folder})")
        elif not any((folder / variant).is_dir() for variant in VARIANTS):
            bad("data.source", source, f"{folder} has no 'ori/' or 'leaner/' folder (the TinyHelen release layout)")
    simplify = params.simplify
    if simplify.backend == "llm":
        names = [genre for genre in simplify.genres if genre in _SIMPLIFY_PROMPTS]
        names += ["instruction"] if simplify.instructions else []
        names += ["math_grade"] if simplify.math == "grade" and "math" in simplify.genres else []
        missing = [f"{name}.txt" for name in names if not (root / simplify.prompts_dir / f"{name}.txt").is_file()]
        if missing:
            bad("simplify.prompts_dir", simplify.prompts_dir, f"lacks the prompt templates {missing}")
    glue = params.glue_simplify
    if glue.enabled:
        missing = [name for name in _GLUE_PROMPTS if not (root / glue.prompts_dir / name).is_file()]
        if missing:
            bad("glue_simplify.prompts_dir", glue.prompts_dir, f"lacks {missing}")
        if not glue.source.startswith("hf:") and not (root / glue.source).is_dir():
            bad("glue_simplify.source", glue.source, f"no such folder ({root / glue.source})")
    return problems


def validate_project(params_path: str | Path = "params.yaml", root: str | Path = ".") -> Params:
    """Validate the params file and the paths it names.

    Args:
        params_path: the params file.
        root: the folder relative paths in params are resolved against (the repo root under DVC).

    Returns:
        The validated params.

    Raises:
        ConfigError: naming every bad key, value, cross-field rule or missing path.
    """
    params = load_params(params_path)
    problems = check_paths(params, root, str(params_path))
    if problems:
        raise ConfigError("\n".join(problems))
    return params
