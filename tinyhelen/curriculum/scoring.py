"""Mean token loss of every document under a causal LM (spec §7.3, with the denominator fixed).

Each document (its tokens and document end) is cut into blocks of `block_size` tokens; a block predicts every
token but its first, so a document's loss is the sum of its blocks' token losses divided by the tokens actually
predicted (the original divided by all tokens, a small bias towards short documents). Blocks are batched by
length (longest first) so padding is rare, and padding never enters a loss.

    loss_sum, predicted = score_documents(model, pool, block_size=1024, batch_size=16, device=device)
    losses = loss_sum / np.maximum(predicted, 1)
"""

from __future__ import annotations

import numpy as np

from tinyhelen.curriculum.pool import TokenPool


def segments(pool: TokenPool, block_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, start, length) of every block, longest first (ties: document order)."""
    docs, starts, lengths = [], [], []
    for index in range(len(pool)):
        length = int(pool.lengths[index])
        offsets = np.arange(0, length, block_size)
        docs.append(np.full(len(offsets), index))
        starts.append(pool.starts[index] + offsets)
        lengths.append(np.minimum(block_size, length - offsets))
    doc, start, size = (np.concatenate(a).astype(np.int64) for a in (docs, starts, lengths))
    order = np.lexsort((doc, -size))
    return doc[order], start[order], size[order]


def score_documents(
    model, pool: TokenPool, *, block_size: int, batch_size: int, device, bf16: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Summed token loss and predicted-token count per document of `pool` (float64, int64 arrays).

    The model is put in eval mode (and back), scored without gradients, and the global torch RNG is left as
    it was, so scoring inside a training run does not change the run's random stream.
    """
    import torch

    doc, start, size = segments(pool, block_size)
    loss_sum = np.zeros(len(pool), dtype=np.float64)
    predicted = np.zeros(len(pool), dtype=np.int64)
    np.add.at(predicted, doc, size - 1)
    was_training = model.training
    model.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        for first in range(0, len(doc), batch_size):
            batch = slice(first, first + batch_size)
            width = int(size[batch].max())
            if width < 2:
                continue  # one-token blocks predict nothing
            ids = np.zeros((len(doc[batch]), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, (begin, length) in enumerate(zip(start[batch], size[batch], strict=False)):
                ids[row, :length] = pool.tokens[begin : begin + length]
                mask[row, :length] = 1
            input_ids = torch.from_numpy(ids).to(device)
            attention = torch.from_numpy(mask).to(device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(input_ids=input_ids, attention_mask=attention).logits
            token_loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.shape[-1]), input_ids[:, 1:].reshape(-1), reduction="none"
            ).view(len(ids), width - 1)
            token_loss = (token_loss * attention[:, 1:]).sum(dim=1).double().cpu().numpy()
            np.add.at(loss_sum, doc[batch], token_loss)
    model.train(was_training)
    return loss_sum, predicted


def mean_losses(loss_sum: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-document mean loss (documents that predict nothing get NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(predicted > 0, loss_sum / np.maximum(predicted, 1), np.nan)
