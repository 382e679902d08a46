"""Pooling picks the right token under right and left padding."""

from __future__ import annotations

import pytest
import torch

from tinyhelen.glue.model import pool_hidden

# Row 0 has 3 real tokens, row 1 has 5 (no padding); hidden value = 10 * row + position.
RIGHT = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
LEFT = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
HIDDEN = (10 * torch.arange(2)[:, None] + torch.arange(5)[None, :]).float()[..., None].repeat(1, 1, 4)


@pytest.mark.parametrize(
    "mask, first, last", [(RIGHT, [0, 10], [2, 14]), (LEFT, [2, 10], [4, 14])], ids=["right-padding", "left-padding"]
)
def test_pool_first_and_last_real_token(mask, first, last):
    assert pool_hidden(HIDDEN, mask, "first")[:, 0].tolist() == first
    assert pool_hidden(HIDDEN, mask, "last")[:, 0].tolist() == last


def test_pool_rejects_unknown_rule():
    with pytest.raises(ValueError, match="first"):
        pool_hidden(HIDDEN, RIGHT, "mean")
