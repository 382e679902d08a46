"""The report rendered for a fixture metrics tree: every section, its sources, a self-contained page.

pytest tests/component/report/test_build.py -q
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO_ROOT
from tests.fixtures.report_metrics import add_other_stages, add_seed_grid, copy_committed_metrics
from tinyhelen.core.config import read_yaml, with_changes
from tinyhelen.params import load_params
from tinyhelen.report.build import build_report, write_report
from tinyhelen.report.page import Context
from tinyhelen.report.sections.glue import glue_section

ALL = ["corpus", "pretrain", "glue", "probe", "leaner_eval", "curriculum"]


@pytest.fixture(scope="module")
def full_tree(tmp_path_factory):
    metrics = copy_committed_metrics(REPO_ROOT, tmp_path_factory.mktemp("report"))
    add_seed_grid(metrics)
    add_other_stages(metrics)
    return metrics


@pytest.fixture(scope="module")
def report(full_tree):
    params = load_params(REPO_ROOT / "params.yaml")
    cfg = with_changes(params.report, sections=ALL, dpi=50)
    raw = read_yaml(REPO_ROOT / "params.yaml", "params")
    return build_report(cfg, full_tree, params_path=REPO_ROOT / "params.yaml", params=raw, label="metrics")


def test_every_section_is_built(report):
    assert [s.key for s in report.page.sections] == ALL and report.page.omitted == []
    for section in report.page.sections:
        assert section.tables, section.key
        assert section.figures, section.key
        assert section.inputs, section.key
        for table in section.tables:
            assert table.sources, (section.key, table.caption)
            for row in table.rows:
                assert len(row) == len(table.header), (section.key, table.caption)
                for head, cell in zip(table.header, row, strict=True):  # every number names its file and key
                    if "seeds" in head:  # the seed list is the model names, not a measured number
                        continue
                    if re.fullmatch(r"[-+]?[\d,.]+( ± [\d.]+)?( \[.*\])?", cell.text):
                        assert cell.source and cell.source.startswith("metrics/"), (table.caption, cell)


def test_the_three_questions_are_answered_with_intervals(report, full_tree):
    import json

    import numpy as np
    from scipy import stats

    heads = [h for s in report.page.sections for h in s.headlines]
    questions = {h.question[:2] for h in heads}
    assert questions == {"1.", "2.", "3."}
    glue_llama = next(h for h in heads if "GLUE" in h.question and h.measure.startswith("Llama"))
    models = json.loads((full_tree / "glue_summary.json").read_text())["models"]
    diffs = 100 * np.array(
        [
            models[f"llama-leaner-s{s}"]["average"]["test"] - models[f"llama-ori-s{s}"]["average"]["test"]
            for s in (1, 2, 3)
        ]
    )
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
    expected = f"{diffs.mean():+.1f} [{diffs.mean() - half:+.1f}, {diffs.mean() + half:+.1f}] (n=3)"
    assert glue_llama.result.startswith(expected)
    probe_llama = next(h for h in heads if "probes" in h.question)
    assert probe_llama.result.startswith("+0.050")
    cell = json.loads((full_tree / "curriculum.json").read_text())["targets"]["iter-lmloss"]["1.0"]["steps_saved_pct"]
    curriculum = next(h for h in heads if h.measure.startswith("iter-lmloss"))
    assert curriculum.result.startswith(f"{cell['mean']:+.1f}% steps saved [{cell['low']:+.1f}, {cell['high']:+.1f}]")
    assert "(3/3 seeds reached it)" in curriculum.result and "interval excludes 0" in curriculum.result
    assert any(h.measure.startswith("iter-random") for h in heads)
    leaner = next(h for h in heads if h.question.startswith("2."))
    assert "judge-free" in leaner.measure and leaner.result.startswith("words / answer -2.000 [-3.500, -0.500]")


def test_pretrain_pools_seeds(report):
    pretrain = next(s for s in report.page.sections if s.key == "pretrain")
    llama = [r for r in pretrain.tables[0].rows if r[0].text == "Llama"]
    assert [r[2].text for r in llama] == ["1, 2, 3", "1, 2, 3"]
    assert "±" in llama[0][3].text and "[" in llama[0][3].text
    diff = next(r for r in pretrain.tables[1].rows if r[0].text == "Llama")
    assert diff[2].text == "paired by seed (3)"


def test_html_is_self_contained_and_markdown_matches(report, tmp_path):
    html = report.html
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html), "only data: URIs may be referenced"
    assert html.count('src="data:image/png;base64,') == len(report.figures) >= 6
    out = write_report(report, tmp_path / "report")
    markdown = (out / "README.md").read_text()
    for name in report.figures:
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name}.png)" in markdown
    for section in report.page.sections:
        assert f"## {section.title}" in markdown
        for table in section.tables:
            assert f"**{table.caption}**" in markdown


def test_report_is_deterministic(report, full_tree):
    params = load_params(REPO_ROOT / "params.yaml")
    cfg = with_changes(params.report, sections=ALL, dpi=50)
    again = build_report(
        cfg,
        full_tree,
        params_path=REPO_ROOT / "params.yaml",
        params=read_yaml(REPO_ROOT / "params.yaml", "params"),
        label="metrics",
    )
    assert again.html == report.html and again.figures == report.figures


def test_absent_stages_are_omitted_with_a_note(tmp_path):
    metrics = copy_committed_metrics(REPO_ROOT, tmp_path)
    import shutil

    (metrics / "glue_summary.json").unlink()
    shutil.rmtree(metrics / "probe")  # as if these stages had not run
    (metrics / "curriculum.json").unlink(missing_ok=True)
    params = load_params(REPO_ROOT / "params.yaml")
    cfg = with_changes(params.report, sections=["glue", "probe", "curriculum"])
    result = build_report(cfg, metrics, params_path=REPO_ROOT / "params.yaml", params={}, label="metrics")
    assert result.page.sections == [] and [k for k, _ in result.page.omitted] == ["glue", "probe", "curriculum"]
    assert "not measured in this run" in result.markdown and "Omitted sections" in result.html


def test_glue_uses_differences_the_summary_gives(tmp_path):
    import json

    summary = {
        "columns": ["cola"],
        "models": {
            "llama-ori": {
                "arch": "llama",
                "init": "ori",
                "average": {"test": {"mean": 0.4, "std": 0.01}},
                "test": {"cola": {"mean": 0.1, "std": 0.02}},
            },
            "llama-leaner": {
                "arch": "llama",
                "init": "leaner",
                "average": {"test": {"mean": 0.5, "std": 0.01}},
                "test": {"cola": {"mean": 0.2, "std": 0.02}},
            },
        },
        "differences": {
            "llama": {
                "average": {"mean": 0.1, "ci95": [0.02, 0.18], "n": 3},
                "cola": {"mean": 0.1, "ci_low": -0.1, "ci_high": 0.3},
            }
        },
    }
    (tmp_path / "glue_summary.json").write_text(json.dumps(summary))
    section = glue_section(Context(tmp_path, "metrics", 3, 0.95, "std", 60))
    diff = section.tables[1].rows[0]
    assert [c.text for c in diff] == ["Llama", "+10.0 [-10.0, +30.0]", "+10.0 [+2.0, +18.0] (n=3)"]
    assert "differences.llama.average" in diff[2].source
    assert section.headlines[0].result.endswith("interval excludes 0")


def test_glue_prefers_the_summary_pooled_row_over_its_seed_rows(tmp_path):
    import json

    def row(init, mean):
        return {"arch": "llama", "init": init, "average": {"test": mean}, "test": {"cola": mean}}

    models = {
        "llama-ori": {**row("ori", 0.30), "average": {"test": {"mean": 0.30, "std": 0.05, "ci95": [0.2, 0.4]}}},
        "llama-leaner": row("leaner", 0.40),
    }
    for seed, (a, b) in {1: (0.25, 0.35), 2: (0.35, 0.45)}.items():
        models[f"llama-ori-s{seed}"] = row("ori", a)
        models[f"llama-leaner-s{seed}"] = row("leaner", b)
    (tmp_path / "glue_summary.json").write_text(json.dumps({"columns": ["cola"], "models": models}))
    section = glue_section(Context(tmp_path, "metrics", 3, 0.95, "std", 60))
    ori = next(r for r in section.tables[0].rows if r[0].text == "Llama (ori)")
    assert ori[1].text == "1, 2" and ori[3].text == "30.0 ± 5.0" and "models.llama-ori.average" in ori[3].source
    diff = section.tables[1].rows[0]
    assert diff[2].text == "+10.0 [+10.0, +10.0] (n=2)"  # paired over the seed rows


def _context(metrics):
    return Context(metrics, "metrics", 2, 0.95, "std", 50)


def test_leaner_eval_judge_free_shows_the_judge_free_table(tmp_path):
    import json

    from tests.fixtures.report_metrics import leaner_eval_metrics
    from tinyhelen.report.sections.leaner_eval import leaner_eval_section

    (tmp_path / "leaner_eval.json").write_text(json.dumps(leaner_eval_metrics()))
    section = leaner_eval_section(_context(tmp_path))
    assert [t.caption for t in section.tables] == ["Judge-free metrics of the final models' answers"]
    rows = {r[0].text: r for r in section.tables[0].rows}
    assert sorted(rows) == ["llama-leaner-s1-leaner", "llama-leaner-s1-ori", "llama-ori-s1-leaner", "llama-ori-s1-ori"]
    assert rows["llama-ori-s1-ori"][-1].text == "23.00"
    assert (
        rows["llama-ori-s1-ori"][-1].source
        == "metrics/leaner_eval.json: judge_free.llama-ori-s1-ori.reference_perplexity"
    )
    assert rows["llama-ori-s1-ori"][2].text == "43.00 [41.00, 45.00]"
    assert rows["llama-ori-s1-ori"][2].source.endswith("judge_free.llama-ori-s1-ori.answer_words, answer_words_ci95")
    assert any("judge did not run" in n for n in section.notes)
    # question 2 without a judge: per variant, the judge-free leaner - ori differences with their intervals
    assert len(section.figures) == 1 and len(section.headlines) == 2
    head = section.headlines[0]
    assert "llama-s1-leaner" in head.measure and "do not judge instruction following" in head.measure
    assert head.result == (
        "words / answer -2.00 [-3.50, -0.50] (excludes 0); word-list share +0.02 [-0.01, +0.05] (includes 0); "
        "empty rate +0.00 [+0.00, +0.00] (includes 0)"
    )


def test_leaner_eval_judged_compares_leaner_and_ori_per_variant(tmp_path):
    import json

    from tests.fixtures.report_metrics import leaner_eval_metrics
    from tinyhelen.report.sections.leaner_eval import leaner_eval_section

    (tmp_path / "leaner_eval.json").write_text(json.dumps(leaner_eval_metrics(judged=True)))
    section = leaner_eval_section(_context(tmp_path))
    inter, free = section.tables
    assert inter.header[4] == "sum (0-15)" and len(free.rows) == 4
    rows = {r[0].text: r for r in inter.rows}
    assert rows["llama-leaner-s1-leaner@step-300"][4].text == "9.00 [8.40, 9.60]"
    # per similarity split: the mean sum with its interval; a split without one in the file shows the mean
    assert [c.text for c in rows["llama-leaner-s1-leaner@step-300"][5:]] == [
        "9.30 [8.00, 10.00]",
        "9.10 [8.00, 10.00]",
        "8.90 [8.00, 10.00]",
        "8.70",
    ]
    heads = {h.measure: h.result for h in section.headlines}
    assert heads == {
        "llama s1, instruction variant `leaner`: judged sum (0-15), leaner- vs ori-pretrained": (
            "leaner 9.00 [8.40, 9.60] vs ori 7.00 [6.40, 7.60] — intervals do not overlap"
        ),
        "llama s1, instruction variant `ori`: judged sum (0-15), leaner- vs ori-pretrained": (
            "leaner 8.50 [7.90, 9.10] vs ori 6.50 [5.90, 7.10] — intervals do not overlap"
        ),
    }
    assert any("Selected checkpoints" in n for n in section.notes)
    assert not any("judge did not run" in n for n in section.notes)
    assert len(section.figures) == 1


def test_curriculum_table_and_no_iterative_arm_reaching_the_target(tmp_path):
    import json

    from tests.fixtures.report_metrics import curriculum_metrics
    from tinyhelen.report.sections.curriculum import curriculum_section

    data = curriculum_metrics()
    (tmp_path / "curriculum.json").write_text(json.dumps(data))
    section = curriculum_section(_context(tmp_path))
    steps = section.tables[0]
    assert steps.header[:3] == ["strategy", "target", "seeds reached"]
    by_key = {(r[0].text, r[1].text): r for r in steps.rows}
    assert len(by_key) == 8
    assert by_key[("iter-sentlen", "final (1.0)")][2].text == "0/3"
    assert by_key[("iter-sentlen", "final (1.0)")][4].text == "–"
    assert (
        by_key[("iter-lmloss", "@0.5")][4].source == "metrics/curriculum.json: targets.iter-lmloss.0.5.steps_saved_pct"
    )
    assert [r[0].text for r in section.tables[1].rows] == list(data["final_loss"])

    for cells in data["targets"].values():
        cells["1.0"].update(reached=0, steps={"mean": None, "low": None, "high": None, "n": 0})
        cells["1.0"]["steps_saved_pct"] = {"mean": None, "low": None, "high": None, "n": 0}
    (tmp_path / "curriculum.json").write_text(json.dumps(data))
    results = [h.result for h in curriculum_section(_context(tmp_path)).headlines]
    assert results == ["did not reach the target (0/3 seeds)"] * 2 + ["no iterative arm reached the target"]


def test_only_the_files_the_grid_names_are_read(tmp_path):
    """A metrics folder may hold an earlier, wider grid's files (a narrowed `-S pretrain.archs=[llama]` run, or
    the committed sample's models beside a study's): with `rows` the report reads only those params name."""
    from tinyhelen.grid import grid_rows

    metrics = copy_committed_metrics(REPO_ROOT, tmp_path)
    params = load_params(REPO_ROOT / "params.yaml")
    cfg = with_changes(params.report, sections=["pretrain", "probe"], dpi=50)
    rows = grid_rows(["llama"], ["leaner", "ori"], [65], ["unigram"])
    result = build_report(cfg, metrics, params_path=REPO_ROOT / "params.yaml", params={}, label="metrics", rows=rows)
    assert "Mamba" not in result.markdown and "XLNet" not in result.markdown and "Llama" in result.markdown
    read = {name.rsplit("/", 1)[-1] for name in result.inputs}
    assert "mamba-leaner-s65.json" not in read and "llama-leaner-s65.json" in read
    everything = build_report(cfg, metrics, params_path=REPO_ROOT / "params.yaml", params={}, label="metrics")
    assert "Mamba" in everything.markdown


def test_glue_table_reads_the_flat_rows_glue_summary_writes():
    """glue_summary's per-model rows are flat (`{"cola": 0.16, ..., "average": 0.42}`, test scores): the
    committed sample's summary fills every cell of the paper's table."""
    from tinyhelen.report.sections.glue import glue_section

    params = load_params(REPO_ROOT / "params.yaml")
    ctx = Context(
        REPO_ROOT / "metrics",
        "metrics",
        3,
        0.95,
        "std",
        50,
        {"glue_summary.json": REPO_ROOT / "results" / "glue_summary" / "summary.json"},
    )
    if not (REPO_ROOT / "results" / "glue_summary" / "summary.json").is_file():
        pytest.skip("needs the sample's glue_summary output (dvc repro glue_summary)")
    section = glue_section(ctx)
    table = section.tables[0]
    cells = [cell.text for row in table.rows for cell in row[2:]]
    assert cells and all(text != "–" for text in cells), cells
    assert params.glue.tasks  # the table has a column per task
