"""The GLUE classifier: a pretrained (or freshly initialised) body, per-family pooling, a linear head.

One module for every architecture, BabyLM-2025 style, instead of transformers' `*ForSequenceClassification`:
those pool at `hidden[:, -1]` (XLNet) or at the first `pad_token_id` (Llama), which breaks under the other
padding side or when pad = eos; Mamba-2 has none at all. Pooling here reads the attention mask, so it picks
the same token under left or right padding:

    causal (llama, mamba2, bamba)  the last real token; position ids follow the mask under left padding
    bert                           the first real token ([CLS]), through BERT's pooler (dense + tanh)
    xlnet                          the last real token (<cls>), through XLNet's sequence summary

The from-scratch baseline builds the same body from the pretrained model's config with random weights.
"""

from __future__ import annotations

import copy
import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig

from tinyhelen.core.errors import ConfigError
from tinyhelen.core.runtime import load_tokenizer as load_saved_tokenizer

log = logging.getLogger(__name__)

#: transformers model_type -> family (which decides pooling).
FAMILY_REGISTRY = {
    "llama": "causal",
    "mamba2": "causal",
    "mamba": "causal",
    "bamba": "causal",
    "bert": "bert",
    "xlnet": "xlnet",
}


def pool_hidden(hidden: torch.Tensor, attention_mask: torch.Tensor, where: str) -> torch.Tensor:
    """The hidden state of the first or last real (mask = 1) token of each row, under either padding side.

    Args:
        hidden: `[batch, length, hidden]`.
        attention_mask: `[batch, length]`, 1 for real tokens.
        where: `first` or `last`.
    """
    mask = attention_mask.to(torch.long)
    if where == "first":
        index = mask.argmax(dim=-1)  # argmax returns the first maximal position
    elif where == "last":
        positions = torch.arange(mask.shape[-1], device=mask.device)
        index = (positions * mask).argmax(dim=-1)
    else:
        raise ValueError(f"pooling must be 'first' or 'last', not {where!r}")
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


class SequenceClassifier(nn.Module):
    """Body + pooling + (family summary) + dropout + linear head; returns logits `[batch, num_labels]`."""

    def __init__(self, body: nn.Module, family: str, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.body, self.family, self.num_labels = body, family, num_labels
        config = body.config
        self.summary: nn.Module | None = None
        if family == "xlnet":
            from transformers.models.xlnet.modeling_xlnet import XLNetSequenceSummary

            # XLNet's summary on the pooled <cls> (projection to d_model + tanh); its classes come from our head.
            summary_config = copy.deepcopy(config)
            summary_config.summary_type, summary_config.summary_proj_to_labels = "last", False
            self.summary = XLNetSequenceSummary(summary_config)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(config.hidden_size, num_labels)
        self.head.weight.data.normal_(0.0, getattr(config, "initializer_range", 0.02))
        self.head.bias.data.zero_()
        accepted = inspect.signature(body.forward).parameters
        self.inputs = {name for name in ("token_type_ids", "position_ids") if name in accepted}

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and "token_type_ids" in self.inputs:
            kwargs["token_type_ids"] = token_type_ids
        if "position_ids" in self.inputs and self.family in ("causal", "bert"):
            # Count positions from the first real token, so left padding does not shift them.
            kwargs["position_ids"] = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        output = self.body(**kwargs)
        hidden = output.last_hidden_state
        if self.family == "bert":
            pooled = pool_hidden(hidden, attention_mask, "first")
            pooler = getattr(self.body, "pooler", None)
            pooled = pooler(pooled[:, None]) if pooler is not None else pooled
        else:
            pooled = pool_hidden(hidden, attention_mask, "last")
            pooled = self.summary(pooled[:, None]) if self.summary is not None else pooled
        return self.head(self.dropout(pooled))


@dataclass
class BodySource:
    """Where classifier bodies come from: a config, plus pretrained weights unless it is a from-scratch baseline."""

    model_dir: Path
    config: PretrainedConfig
    family: str
    state: dict[str, torch.Tensor] | None
    fresh: frozenset[str] = frozenset()
    """Body weights the checkpoint lacked: initialised per run."""
    init_seed: int | None = None
    """From-scratch bodies: draw their random weights from this seed (the pre-training seed of the baseline,
    so every run of the baseline starts from the same body), not from the run's seed."""

    @property
    def is_scratch(self) -> bool:
        return self.state is None

    def _random_body(self) -> nn.Module:
        return _random_body_of(self.config)

    def build(self, num_labels: int, dropout: float) -> SequenceClassifier:
        """A fresh classifier; draws its random weights from torch's global generator (seed it first)."""
        if self.state is None and self.init_seed is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.init_seed)
                body = self._random_body()
        elif self.state is None:
            body = self._random_body()
        else:
            body = AutoModel.from_config(self.config)
        if self.state is not None:
            loaded = body.load_state_dict(self.state, strict=False)
            unexpected = set(loaded.missing_keys) - self.fresh | set(loaded.unexpected_keys)
            if unexpected:
                raise ConfigError(f"{self.model_dir}: weights do not match the config: {sorted(unexpected)[:5]}")
        return SequenceClassifier(body, self.family, num_labels, dropout)


def _random_body_of(config: PretrainedConfig):
    body = AutoModel.from_config(config)
    if config.model_type == "bamba":  # the pre-training init (mamba_ssm's), not transformers' Bamba init
        from tinyhelen.pretrain.models import init_like_mamba_ssm

        init_like_mamba_ssm(body)
    return body


def _require_model_dir(model_dir: str | Path) -> Path:
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise ConfigError(f"{model_dir}: no config.json (expected a save_pretrained model folder)")
    return model_dir


def load_body_source(model_dir: str | Path, scratch: bool, init_seed: int | None = None) -> BodySource:
    """Read a pretrained model folder once: its config, and its base-model weights unless `scratch`
    (`init_seed`: the seed of a from-scratch body; None draws it from each run's seed).

    Raises:
        ConfigError: the folder is not a saved transformers model, or its architecture has no pooling rule.
    """
    model_dir = _require_model_dir(model_dir)
    config = AutoConfig.from_pretrained(model_dir)
    family = FAMILY_REGISTRY.get(config.model_type)
    if family is None:
        raise ConfigError(
            f"{model_dir}/config.json: model_type '{config.model_type}' is not one of {sorted(FAMILY_REGISTRY)}"
        )
    state, fresh = None, set()
    if not scratch:
        body, info = AutoModel.from_pretrained(model_dir, output_loading_info=True)
        # Weights the checkpoint lacks (e.g. BERT's pooler after MLM pre-training) stay out of the state, so
        # every run initialises them afresh from its own seed.
        fresh = set(info.get("missing_keys", ()))
        state = {k: v.detach().clone() for k, v in body.state_dict().items() if k not in fresh}
        if fresh:
            log.info("%s: not in the checkpoint, initialised per run: %s", model_dir, sorted(fresh))
    log.info("%s body from %s (%s, %s)", "random" if scratch else "pretrained", model_dir, config.model_type, family)
    return BodySource(model_dir, config, family, state, frozenset(fresh), init_seed if scratch else None)


def load_tokenizer(model_dir: str | Path) -> Any:
    """The model folder's tokenizer, with a pad token (eos when unset, as the paper's scripts did)."""
    tokenizer = load_saved_tokenizer(_require_model_dir(model_dir))
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(f"{model_dir}: needs a fast (tokenizers) tokenizer")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ConfigError(f"{model_dir}: the tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
        log.info("%s: pad token unset, using eos %r", model_dir, tokenizer.eos_token)
    return tokenizer
