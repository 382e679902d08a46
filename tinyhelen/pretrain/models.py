"""The four model families, built from transformers' own classes so checkpoints reload with `AutoModel*`.

    from tinyhelen.pretrain.models import build_model, count_parameters
    model = build_model("llama", params.model, vocab_size=2000, special_ids={"pad": 1, "bos": 0, "eos": 0})

| arch  | transformers class  | objective | tokenizer family |
|-------|---------------------|-----------|------------------|
| llama | LlamaForCausalLM    | clm       | causal           |
| mamba | BambaForCausalLM    | clm       | causal           |
| bert  | BertForMaskedLM     | mlm       | bert             |
| xlnet | XLNetLMHeadModel    | plm       | xlnet            |

Mamba: the paper trained mamba_ssm's `MambaLMHeadModel` with `ssm_cfg.layer = "Mamba2"` and a gated MLP after
each mixer (`d_intermediate = 1536`), which transformers' `Mamba2ForCausalLM` cannot express (its blocks hold a
mixer only), and whose checkpoints could not be reloaded. transformers' `BambaForCausalLM` with no attention
layer (`attn_layer_indices = []`) is exactly that block: RMSNorm -> Mamba-2 mixer (SSD scan, causal conv,
gated RMSNorm) -> residual -> RMSNorm -> gated SiLU MLP -> residual, with untied embeddings and a final
RMSNorm. It uses the mamba-ssm / causal-conv1d kernels when they are installed on CUDA (requirements-gpu.txt)
and a pure-torch chunked scan otherwise. The only difference from mamba_ssm: the gated MLP's fused `fc1`
(2 x d_intermediate) is split into `gate_proj` and `up_proj`, the same parameters and function.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from tinyhelen.core.errors import ConfigError
from tinyhelen.pretrain.config import ARCH_REGISTRY, ArchSpec, ModelConfig

log = logging.getLogger(__name__)

Objective = Literal["clm", "mlm", "plm"]


# Names of the parameters that are embeddings or the LM head (spec §4: "net" excludes emb, shared, lm_head).
_EMBEDDING_MARKERS = ("emb", "shared", "lm_head", "lm_loss", "cls.predictions.decoder")


def arch_spec(arch: str) -> ArchSpec:
    if arch not in ARCH_REGISTRY:
        raise ConfigError(f"unknown arch {arch!r}; expected one of {sorted(ARCH_REGISTRY)}")
    return ARCH_REGISTRY[arch]


def hf_config_kwargs(arch: str, model_cfg: ModelConfig, vocab_size: int,
                     special_ids: Mapping[str, int | None]) -> dict[str, Any]:
    """The keyword arguments of the transformers config class: params dims + the pack's vocabulary."""
    kwargs = getattr(model_cfg, arch).model_dump()
    kwargs["vocab_size"] = vocab_size
    for name in ("pad", "bos", "eos"):
        if special_ids.get(name) is not None:
            kwargs[f"{name}_token_id"] = int(special_ids[name])
    if arch == "mamba":
        kwargs["attn_layer_indices"] = []  # Mamba-2 blocks only, no attention layer
        kwargs["use_cache"] = False
        if kwargs["mamba_n_heads"] * kwargs["mamba_d_head"] != kwargs["mamba_expand"] * kwargs["hidden_size"]:
            raise ConfigError(
                "model.mamba: mamba_n_heads * mamba_d_head must equal mamba_expand * hidden_size "
                f"(got {kwargs['mamba_n_heads']} * {kwargs['mamba_d_head']} vs "
                f"{kwargs['mamba_expand']} * {kwargs['hidden_size']})")
    if arch == "llama":
        kwargs["use_cache"] = False
        if kwargs["hidden_size"] % kwargs["num_attention_heads"]:
            raise ConfigError("model.llama.hidden_size must be a multiple of model.llama.num_attention_heads "
                              f"(got {kwargs['hidden_size']} and {kwargs['num_attention_heads']})")
    if arch == "bert" and kwargs["hidden_size"] % kwargs["num_attention_heads"]:
        raise ConfigError("model.bert.hidden_size must be a multiple of model.bert.num_attention_heads "
                          f"(got {kwargs['hidden_size']} and {kwargs['num_attention_heads']})")
    if arch == "xlnet" and kwargs["d_model"] != kwargs["n_head"] * kwargs["d_head"]:
        raise ConfigError("model.xlnet.d_model must equal n_head * d_head "
                          f"(got {kwargs['d_model']} vs {kwargs['n_head']} * {kwargs['d_head']})")
    return kwargs


def build_model(arch: str, model_cfg: ModelConfig, vocab_size: int, special_ids: Mapping[str, int | None],
                attn_implementation: str | None = None):
    """A freshly initialised model of `arch` (call `seed_everything` first for a reproducible init).

    Args:
        arch: llama | mamba | bert | xlnet.
        model_cfg: the `model` params section.
        vocab_size: the tokenizer's vocabulary size (from the pack's index.json).
        special_ids: pad/bos/eos ids (None entries are left at the class default).
        attn_implementation: "sdpa" | "eager" | None (transformers' default: SDPA where the class has it).

    Returns:
        The transformers model, in train mode.
    """
    import transformers

    spec = arch_spec(arch)
    config = getattr(transformers, spec.config_class)(**hf_config_kwargs(arch, model_cfg, vocab_size, special_ids))
    if attn_implementation is not None and arch in ("llama", "bert"):
        config._attn_implementation = attn_implementation
    model = getattr(transformers, spec.model_class)(config)
    model.train()
    return model


def count_parameters(model) -> dict[str, int]:
    """Total parameters (tied ones once) and non-embedding parameters (no embeddings, no LM head)."""
    total = 0
    non_embedding = 0
    for name, param in model.named_parameters():  # named_parameters() yields a tied tensor once
        total += param.numel()
        if not any(marker in name for marker in _EMBEDDING_MARKERS):
            non_embedding += param.numel()
    return {"total": total, "non_embedding": non_embedding}
