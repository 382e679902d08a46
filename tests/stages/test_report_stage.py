"""Stage `report` on the repo's committed metrics: the page and its files are written, MLflow gets the HTML.

pytest -m slow tests/stages/test_report_stage.py -q
"""

from __future__ import annotations

import pytest

from stages import report as report_stage
from tests.conftest import REPO_ROOT
from tests.fixtures.report_metrics import copy_committed_metrics
from tinyhelen.core import tracking


@pytest.mark.slow
def test_report_stage_writes_the_page(tmp_path, monkeypatch):
    metrics = copy_committed_metrics(REPO_ROOT, tmp_path)
    logged = []
    monkeypatch.setattr(tracking.NullLogger, "log_artifact", lambda self, path: logged.append(path))
    out = tmp_path / "results" / "report"
    report_stage.main(["--metrics", str(metrics), "--out", str(out), "--params", str(REPO_ROOT / "params.yaml")])
    names = sorted(p.name for p in out.iterdir())
    assert {"index.html", "README.md", "meta.json"} <= set(names)
    assert [p for p in names if p.endswith(".png")], names
    html = (out / "index.html").read_text()
    # the committed metrics hold every stage of the graph: every section, none omitted
    for title in (
        "Answers to the paper",
        "The corpus",
        "Pre-training",
        "Leaner-GLUE",
        "Grammar probes",
        "Leaner-Eval",
        "Curriculum",
    ):
        assert title in html
    assert "Omitted sections" not in html
    assert logged == [out / "index.html"]
