"""XLNet's permutation-LM masking: the share of masked tokens is the paper's 1/6 (spec §5.3).

pytest tests/unit/test_objectives.py
"""

from __future__ import annotations

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.fixtures.glue_models import train_tokenizer
from tinyhelen.core.config import with_changes
from tinyhelen.params import load_params
from tinyhelen.pretrain.objectives import make_objective


@pytest.fixture(scope="module")
def xlnet_tokenizer():
    return train_tokenizer("xlnet")


def masked_share(tokenizer, plm_probability: float, rows: int = 64, block_size: int = 512) -> float:
    specials = {"pad": tokenizer.pad_token_id, "sep": tokenizer.sep_token_id, "cls": tokenizer.cls_token_id}
    objective = make_objective(
        "plm",
        tokenizer,
        specials,
        mlm_probability=0.15,
        plm_probability=plm_probability,
        max_span_length=5,
        block_size=block_size,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        ids = torch.randint(20, 390, (rows, block_size))  # ordinary (non-special) tokens only
        labels = objective.make_batch(ids)["labels"]
    return float(labels.ne(-100).float().mean())


def test_params_give_the_exact_one_sixth():
    cfg = load_params(REPO_ROOT / "params.yaml").pretrain
    assert cfg.plm_probability == 1 / 6
    assert [int(span / cfg.plm_probability) for span in range(1, 6)] == [6, 12, 18, 24, 30]


def test_masked_share_is_one_sixth(xlnet_tokenizer):
    cfg = load_params(REPO_ROOT / "params.yaml").pretrain
    share = masked_share(xlnet_tokenizer, cfg.plm_probability)
    assert share == pytest.approx(1 / 6, abs=0.003)
    # the old rounded decimal gives contexts 5, 11, 17, ... and masks about 17.6%
    assert masked_share(xlnet_tokenizer, 0.1666667) > 0.172


def test_fraction_strings_are_read_exactly():
    cfg = load_params(REPO_ROOT / "params.yaml").pretrain
    assert with_changes(cfg, plm_probability="1/6").plm_probability == 1 / 6
    assert with_changes(cfg, plm_probability="1 / 4").plm_probability == 0.25
    with pytest.raises(Exception, match="not a fraction"):
        with_changes(cfg, plm_probability="1/0")
