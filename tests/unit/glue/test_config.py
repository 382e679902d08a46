"""The `glue` params section: strict validation naming the full key."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tinyhelen.core.errors import ConfigError
from tinyhelen.params import validate_params


def _params(**glue):
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["glue"].update(glue)
    return raw


def test_sample_defaults_follow_the_paper_where_it_matters():
    glue = validate_params(_params()).glue
    assert "wnli" not in glue.tasks and len(glue.tasks) == 8
    assert glue.epochs == {
        "cola": 30,
        "sst2": 3,
        "mrpc": 30,
        "qqp": 3,
        "stsb": 30,
        "mnli": 3,
        "qnli": 3,
        "rte": 50,
        "wnli": 50,
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epochs": {"cola": 3}}, "invalid value for 'glue.epochs': no epochs given for tasks ['sst2'"),
        ({"learning_rates": []}, "'glue.learning_rates'"),
        ({"learning_rates": [-1.0]}, "'glue.learning_rates[0]'"),
        ({"seeds": [1, 1]}, "lists [1] more than once"),
        ({"tasks": ["cola", "squad"]}, "'glue.tasks[1]'"),
        ({"device": "tpu"}, "'glue.device'"),
        ({"max_lenght": 64}, "unknown key 'glue.max_lenght'"),
    ],
)
def test_bad_glue_values_name_the_key(change, message):
    with pytest.raises(ConfigError) as error:
        validate_params(_params(**change))
    assert message in str(error.value)
