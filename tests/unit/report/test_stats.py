"""Unit tests of the report's small parts: estimates, model names, provenance, the section registry.

pytest tests/unit/report/test_stats.py -q
"""

from __future__ import annotations

import math
import subprocess
import typing

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tinyhelen.report.config import SectionName
from tinyhelen.report.names import parse_model_name
from tinyhelen.report.page import fmt
from tinyhelen.report.provenance import collect_provenance
from tinyhelen.report.registry import SECTION_REGISTRY
from tinyhelen.report.stats import Estimate, read_estimate, summarise


def test_summarise_matches_student_t():
    est = summarise([1.0, 2.0, 3.0], 0.95)
    # mean 2, sd 1, t(0.975, 2) = 4.302653, half width = 4.302653 / sqrt(3)
    assert est.mean == 2.0 and est.std == pytest.approx(1.0) and est.n == 3
    assert est.high - est.mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert est.low == pytest.approx(2 * est.mean - est.high)


def test_summarise_single_and_empty():
    one = summarise([0.5, None], 0.95)
    assert one == Estimate(0.5, None, None, None, 1) and one.excludes_zero is None
    assert summarise([], 0.95) is None


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.7, Estimate(0.7, None, None, None, 1)),
        ({"mean": 0.7, "std": 0.1}, Estimate(0.7, 0.1, None, None, None)),
        ({"mean": 0.7, "std": 0.1, "ci95": [0.6, 0.8], "n": 3}, Estimate(0.7, 0.1, 0.6, 0.8, 3)),
        ({"mean": 0.7, "ci_low": 0.5, "ci_high": 0.9, "seeds": [1, 2]}, Estimate(0.7, None, 0.5, 0.9, 2)),
        ({"std": 0.1}, None),
        ("0.7", None),
        (True, None),
    ],
)
def test_read_estimate_shapes(value, expected):
    assert read_estimate(value) == expected


def test_estimate_text_and_scale():
    est = Estimate(0.1234, 0.01, 0.1, 0.15, 3).scaled(100)
    assert est.text(1) == "12.3 ± 1.0 [10.0, 15.0]"
    assert est.text(1, interval=False) == "12.3 ± 1.0"
    assert Estimate(0.5, None, None, None, 1).text(2) == "0.50"
    assert Estimate(1.0, 0.2, 0.5, 1.5, 3).excludes_zero is True
    assert Estimate(1.0, 0.2, -0.5, 1.5, 3).excludes_zero is False


@pytest.mark.parametrize(
    "name, expected",
    [
        ("llama-leaner-s65", ("llama", "leaner", 65)),
        ("xlnet-ori", ("xlnet", "ori", None)),
        ("bert-scratch-s1", ("bert", "scratch", 1)),
        ("README", None),
    ],
)
def test_parse_model_name(name, expected):
    parsed = parse_model_name(name)
    assert (None if parsed is None else (parsed.arch, parsed.corpus, parsed.seed)) == expected


def test_fmt():
    assert fmt(12345, 3) == "12,345" and fmt(0.12345, 3) == "0.123" and fmt(None, 3) == "–"
    assert fmt(float("nan"), 2) == "–" and fmt(True, 2) == "–"


def test_registry_matches_the_params_choices():
    assert set(SECTION_REGISTRY) == set(typing.get_args(SectionName))


def test_report_stage_tracks_every_params_section():
    """The page shows the params, so the stage must re-run when any section changes."""
    stage = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]["report"]
    sections = set(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()))
    assert sections <= set(stage["params"]), f"report: add {sorted(sections - set(stage['params']))} to its params"


def _git(cwd, *args):
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "HOME": str(cwd),
            "PATH": "/usr/bin:/bin",
        },
    )


def test_provenance_changed_params_vs_git_head(tmp_path, monkeypatch):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 65\npretrain: {max_steps: 16, archs: [llama, bert]}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "params.yaml")
    _git(tmp_path, "commit", "-q", "-m", "params")
    changed = {"seed": 65, "pretrain": {"max_steps": 300, "archs": ["llama"]}, "report": {"dpi": 100}}
    monkeypatch.setenv("DVC_EXP_NAME", "cpu-study")
    prov = collect_provenance(path, changed)
    assert prov.experiment == "cpu-study" and prov.compared
    assert [(c.key, c.baseline, c.value) for c in prov.changed] == [
        ("pretrain.archs", '["llama", "bert"]', '["llama"]'),
        ("pretrain.max_steps", "16", "300"),
        ("report.dpi", "(absent)", "100"),
    ]


def test_provenance_without_git_lists_everything(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\n")
    prov = collect_provenance(path, {"seed": 1})
    assert prov.experiment is None and not prov.compared and prov.params == {"seed": "1"}
