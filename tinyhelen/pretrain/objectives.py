"""Training objectives: turn a block of token ids into a model batch, and score predictions.

- clm (Llama, Mamba): labels = input_ids (the model shifts them); padding, if any, is ignored.
- mlm (BERT): transformers' `DataCollatorForLanguageModeling` masking, 15% of the non-special tokens,
  replaced 80% [MASK] / 10% random / 10% kept.
- plm (XLNet): transformers' `DataCollatorForPermutationLanguageModeling` (spans of <= max_span_length,
  plm_probability 1/6, perm_mask + target_mapping); it needs an even sequence length.

The collators draw from torch's global generator, which the training loop seeds and checkpoints.

    objective = make_objective("mlm", tokenizer, special_ids, mlm_probability=0.15)
    batch = objective.make_batch(input_ids)      # dict of tensors for model(**batch)
    correct, counted = objective.accuracy_counts(logits, batch["labels"])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tinyhelen.core.errors import DataError

IGNORE_INDEX = -100


@dataclass
class Objective:
    """One objective: how to build a batch and how to count correct predictions."""

    kind: str
    pad_id: int | None
    special_ids: tuple[int, ...]
    collator: Any = None

    def make_batch(self, input_ids) -> dict[str, Any]:
        """A model batch from an int64 tensor [batch, block_size] of packed rows."""
        import torch

        if self.kind == "clm":
            labels = input_ids.clone()
            batch = {"input_ids": input_ids, "labels": labels}
            if self.pad_id is not None:
                padding = input_ids.eq(self.pad_id)
                if padding.any():
                    labels[padding] = IGNORE_INDEX
                    batch["attention_mask"] = (~padding).long()
            return batch
        special = torch.isin(input_ids, torch.tensor(self.special_ids, dtype=input_ids.dtype))
        if self.kind == "mlm":
            inputs, labels = self.collator.torch_mask_tokens(input_ids.clone(), special_tokens_mask=special)
            batch = {"input_ids": inputs, "labels": labels}
            if self.pad_id is not None and input_ids.eq(self.pad_id).any():
                batch["attention_mask"] = input_ids.ne(self.pad_id).long()
            return batch
        inputs, perm_mask, target_mapping, labels = self.collator.torch_mask_tokens(input_ids.clone())
        return {"input_ids": inputs, "perm_mask": perm_mask, "target_mapping": target_mapping, "labels": labels}

    def accuracy_counts(self, logits, labels) -> tuple[int, int]:
        """(correct predictions, predicted tokens): next-token for clm, masked tokens for mlm/plm."""
        if self.kind == "clm":
            logits, labels = logits[:, :-1], labels[:, 1:]
        keep = labels.ne(IGNORE_INDEX)
        correct = logits.argmax(dim=-1).eq(labels) & keep
        return int(correct.sum()), int(keep.sum())


def make_objective(
    kind: str,
    tokenizer,
    special_ids: Mapping[str, int | None],
    *,
    mlm_probability: float,
    plm_probability: float,
    max_span_length: int,
    block_size: int,
) -> Objective:
    """Build the objective of a model family.

    Args:
        kind: clm | mlm | plm.
        tokenizer: the family's `PreTrainedTokenizerFast` (mlm/plm need its mask token).
        special_ids: the pack's special token ids (never masked).
        mlm_probability, plm_probability, max_span_length: objective settings (params `pretrain`).
        block_size: the packed sequence length (plm needs it even).

    Raises:
        DataError: the tokenizer lacks a mask token, or the plm block size is odd.
    """
    from transformers import DataCollatorForLanguageModeling, DataCollatorForPermutationLanguageModeling

    pad_id = special_ids.get("pad")
    ids = tuple(sorted({int(v) for v in special_ids.values() if v is not None}))
    if kind == "clm":
        return Objective(kind, pad_id, ids)
    if tokenizer.mask_token is None:
        raise DataError(f"the {kind} tokenizer has no mask token (needed to mask tokens)")
    if kind == "mlm":
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=mlm_probability)
        return Objective(kind, pad_id, ids, collator)
    if kind == "plm":
        if block_size % 2:
            raise DataError(
                f"XLNet's permutation LM needs an even sequence length; the pack's block_size is {block_size}"
            )
        collator = DataCollatorForPermutationLanguageModeling(
            tokenizer, plm_probability=plm_probability, max_span_length=max_span_length
        )
        return Objective(kind, pad_id, ids, collator)
    raise ValueError(f"unknown objective {kind!r}")
