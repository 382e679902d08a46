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
(2 x d_intermediate) is split into `gate_proj` and `up_proj`, the same parameters and function. Its weights
start from mamba_ssm's initialisation, not transformers' Bamba one (`init_like_mamba_ssm`).
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


def hf_config_kwargs(
    arch: str, model_cfg: ModelConfig, vocab_size: int, special_ids: Mapping[str, int | None]
) -> dict[str, Any]:
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
                f"{kwargs['mamba_expand']} * {kwargs['hidden_size']})"
            )
    if arch == "llama":
        kwargs["use_cache"] = False
        if kwargs["hidden_size"] % kwargs["num_attention_heads"]:
            raise ConfigError(
                "model.llama.hidden_size must be a multiple of model.llama.num_attention_heads "
                f"(got {kwargs['hidden_size']} and {kwargs['num_attention_heads']})"
            )
    if arch == "bert" and kwargs["hidden_size"] % kwargs["num_attention_heads"]:
        raise ConfigError(
            "model.bert.hidden_size must be a multiple of model.bert.num_attention_heads "
            f"(got {kwargs['hidden_size']} and {kwargs['num_attention_heads']})"
        )
    if arch == "xlnet" and kwargs["d_model"] != kwargs["n_head"] * kwargs["d_head"]:
        raise ConfigError(
            "model.xlnet.d_model must equal n_head * d_head "
            f"(got {kwargs['d_model']} vs {kwargs['n_head']} * {kwargs['d_head']})"
        )
    return kwargs


def build_model(
    arch: str,
    model_cfg: ModelConfig,
    vocab_size: int,
    special_ids: Mapping[str, int | None],
    attn_implementation: str | None = None,
):
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
    if arch == "mamba":
        init_like_mamba_ssm(model)
    model.train()
    return model


# mamba_ssm's Mamba2 defaults (mamba_ssm/modules/mamba2.py) for the initial step size and the decay rates.
MAMBA_DT_RANGE = (0.001, 0.1)
MAMBA_DT_FLOOR = 1e-4
MAMBA_A_RANGE = (1.0, 16.0)
MAMBA_INITIALIZER_RANGE = 0.02


def init_like_mamba_ssm(model) -> None:
    """Re-initialise a `BambaForCausalLM` (Mamba-2 mixer + gated MLP blocks) the way mamba_ssm initialises
    `MambaLMHeadModel(ssm_cfg.layer=Mamba2, d_intermediate>0)`, drawing from torch's global generator.

    transformers' Bamba init differs: dt_bias = 1 (initial step softplus(1) = 1.31), A = -1..-n_heads, Linear
    weights N(0, 0.02), and no rescaling of the residual-branch outputs. mamba_ssm instead has:
    - per head, dt = exp(U(log 0.001, log 0.1)) (log-uniform), floored at 1e-4, stored as its inverse softplus
      in `dt_bias` (so softplus(dt_bias) = dt); A = -U(1, 16), stored as `A_log` = log U(1, 16); D = 1;
    - Linear and conv weights at PyTorch's default (kaiming-uniform, a = sqrt(5)), Linear biases 0, the conv
      bias at its default; embeddings N(0, 0.02); norm weights 1;
    - the residual-branch outputs (the mixer's `out_proj`, the MLP's `fc2` = `down_proj` here) redrawn
      kaiming-uniform and divided by sqrt(n_residuals_per_layer * n_layer), with 2 residual branches per
      layer (mixer and MLP) when the block has an MLP.
    """
    import math

    import torch
    from torch import nn

    if any(param.is_meta for param in model.parameters()):
        return  # built for counting only: nothing to initialise
    n_layer = model.config.num_hidden_layers
    n_residuals = 2 if model.config.intermediate_size > 0 else 1
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv1d)):
                module.reset_parameters()  # PyTorch's default: mamba_ssm never re-draws these weights
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=MAMBA_INITIALIZER_RANGE)
            elif hasattr(module, "weight") and type(module).__name__.endswith(("RMSNorm", "RMSNormGated")):
                nn.init.ones_(module.weight)
            if name.endswith(("mamba.out_proj", "feed_forward.down_proj")):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5))
                module.weight /= math.sqrt(n_residuals * n_layer)
            if hasattr(module, "dt_bias") and hasattr(module, "A_log"):
                heads = module.dt_bias.numel()
                low, high = (math.log(v) for v in MAMBA_DT_RANGE)
                dt = torch.exp(torch.rand(heads) * (high - low) + low).clamp(min=MAMBA_DT_FLOOR)
                module.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus
                module.A_log.copy_(torch.log(torch.empty(heads).uniform_(*MAMBA_A_RANGE)))
                nn.init.ones_(module.D)


def count_parameters(model) -> dict[str, int]:
    """Total parameters (tied ones once) and non-embedding parameters (no embeddings, no LM head)."""
    total = 0
    non_embedding = 0
    for name, param in model.named_parameters():  # named_parameters() yields a tied tensor once
        total += param.numel()
        if not any(marker in name for marker in _EMBEDDING_MARKERS):
            non_embedding += param.numel()
    return {"total": total, "non_embedding": non_embedding}
