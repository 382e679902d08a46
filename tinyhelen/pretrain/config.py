"""Params of the pretrain phase: `model` (dims per arch) and `pretrain`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictStr, create_model, field_validator, model_validator

from tinyhelen.core.config import Corpus, NonNegInt, PosInt, Probability, Section, fraction, unique_list


class LlamaModelConfig(Section):
    """`LlamaConfig` fields (transformers names), passed straight to the config class."""

    hidden_size: PosInt
    """Width of the residual stream."""
    intermediate_size: PosInt
    """Width of the SwiGLU feed-forward layer."""
    num_hidden_layers: PosInt
    """Number of decoder layers."""
    num_attention_heads: PosInt
    """Attention heads per layer (head dim = hidden_size / heads)."""
    num_key_value_heads: PosInt
    """Key/value heads (= num_attention_heads: plain multi-head attention)."""
    max_position_embeddings: PosInt
    """Longest sequence the RoPE tables are built for; must be >= the pack's block size."""
    rope_theta: Annotated[float, Field(gt=0)]
    """RoPE base frequency (the paper: 500000)."""
    rms_norm_eps: Annotated[float, Field(gt=0)]
    """RMSNorm epsilon."""
    hidden_act: StrictStr
    """Feed-forward activation."""
    tie_word_embeddings: StrictBool
    """Share the input embedding and the LM head (the paper: false, untied)."""

    @model_validator(mode="after")
    def _check_heads(self) -> LlamaModelConfig:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                f"num_key_value_heads ({self.num_key_value_heads})"
            )
        return self


class MambaModelConfig(Section):
    """`BambaConfig` fields: Mamba-2 mixer + gated MLP per block and no attention layer, the paper's
    mamba_ssm `MambaLMHeadModel(ssm_cfg.layer=Mamba2, d_intermediate>0)` in a transformers class."""

    hidden_size: PosInt
    """d_model."""
    intermediate_size: PosInt
    """Gated MLP width (mamba_ssm `d_intermediate`)."""
    num_hidden_layers: PosInt
    """Number of (Mamba-2 mixer + gated MLP) blocks."""
    mamba_d_state: PosInt
    """SSM state size (mamba_ssm Mamba2 default 128)."""
    mamba_d_head: PosInt
    """SSM head dim (default 64); mamba_n_heads * mamba_d_head must equal mamba_expand * hidden_size."""
    mamba_n_heads: PosInt
    """SSM heads."""
    mamba_n_groups: PosInt
    """B/C groups (default 1)."""
    mamba_expand: PosInt
    """Inner width factor (default 2)."""
    mamba_d_conv: PosInt
    """Causal conv kernel width (default 4)."""
    mamba_chunk_size: PosInt
    """Chunk length of the chunked SSD scan."""
    mamba_conv_bias: StrictBool
    """Bias in the causal conv (mamba_ssm: true)."""
    mamba_proj_bias: StrictBool
    """Bias in the in/out projections (mamba_ssm: false)."""
    rms_norm_eps: Annotated[float, Field(gt=0)]
    """RMSNorm epsilon."""
    tie_word_embeddings: StrictBool
    """Share the input embedding and the LM head (the paper: false)."""

    @model_validator(mode="after")
    def _check_heads(self) -> MambaModelConfig:
        if self.mamba_n_heads * self.mamba_d_head != self.mamba_expand * self.hidden_size:
            raise ValueError(
                f"mamba_n_heads * mamba_d_head ({self.mamba_n_heads} * {self.mamba_d_head}) must equal "
                f"mamba_expand * hidden_size ({self.mamba_expand} * {self.hidden_size})"
            )
        return self


class BertModelConfig(Section):
    """`BertConfig` fields (transformers names)."""

    hidden_size: PosInt
    """Width of the residual stream."""
    num_hidden_layers: PosInt
    """Encoder layers."""
    num_attention_heads: PosInt
    """Attention heads per layer."""
    intermediate_size: PosInt
    """Feed-forward width."""
    hidden_act: StrictStr
    """Feed-forward activation."""
    hidden_dropout_prob: Probability
    """Dropout on hidden states."""
    attention_probs_dropout_prob: Probability
    """Dropout on attention weights."""
    max_position_embeddings: PosInt
    """Absolute positions; must be >= the pack's block size."""
    type_vocab_size: PosInt
    """Token type (segment) vocabulary."""
    layer_norm_eps: Annotated[float, Field(gt=0)]
    """LayerNorm epsilon."""

    @model_validator(mode="after")
    def _check_heads(self) -> BertModelConfig:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        return self


class XLNetModelConfig(Section):
    """`XLNetConfig` fields (transformers names)."""

    d_model: PosInt
    """Width of the residual stream."""
    n_layer: PosInt
    """Layers."""
    n_head: PosInt
    """Attention heads; d_model must be n_head * d_head."""
    d_head: PosInt
    """Head dim."""
    d_inner: PosInt
    """Feed-forward width."""
    ff_activation: StrictStr
    """Feed-forward activation."""
    attn_type: Literal["bi", "uni"]
    """Attention type (the paper: bi)."""
    dropout: Probability
    """Dropout."""
    layer_norm_eps: Annotated[float, Field(gt=0)]
    """LayerNorm epsilon."""

    @model_validator(mode="after")
    def _check_heads(self) -> XLNetModelConfig:
        if self.d_model != self.n_head * self.d_head:
            raise ValueError(f"d_model ({self.d_model}) must equal n_head * d_head ({self.n_head} * {self.d_head})")
        return self


@dataclass(frozen=True)
class ArchSpec:
    """How one architecture is configured, built and trained."""

    dims: type[Section]
    """Its `model.<arch>` params section (transformers' field names)."""
    config_class: str
    """The transformers config class."""
    model_class: str
    """The transformers model class."""
    objective: Literal["clm", "mlm", "plm"]
    """The pre-training objective (see `tinyhelen.pretrain.objectives`)."""
    family: Literal["causal", "bert", "xlnet"]
    """The tokenizer family (data/tokenizers/<family>/, data/packed/<corpus>-<family>/)."""
    auto_class: str
    """The `AutoModel*` class that reloads a saved model."""


#: The one list of architectures: params sections, the `Arch` type, stage choices and models come from it.
#: Adding an architecture: a dims class above, an entry here, and its `model.<arch>` / `pretrain.lr` params.
ARCH_REGISTRY: dict[str, ArchSpec] = {
    "llama": ArchSpec(LlamaModelConfig, "LlamaConfig", "LlamaForCausalLM", "clm", "causal", "AutoModelForCausalLM"),
    "mamba": ArchSpec(MambaModelConfig, "BambaConfig", "BambaForCausalLM", "clm", "causal", "AutoModelForCausalLM"),
    "bert": ArchSpec(BertModelConfig, "BertConfig", "BertForMaskedLM", "mlm", "bert", "AutoModelForMaskedLM"),
    "xlnet": ArchSpec(XLNetModelConfig, "XLNetConfig", "XLNetLMHeadModel", "plm", "xlnet", "AutoModelForCausalLM"),
}

Arch = Literal[tuple(ARCH_REGISTRY)]

ModelConfig = create_model(
    "ModelConfig",
    __base__=Section,
    __doc__="Model dimensions per architecture (`model.<arch>`), in transformers' own config field names. The "
    "vocabulary size and the special token ids come from the pack's index.json, not from here.",
    **{arch: (spec.dims, Field(description=f"{spec.model_class} dims.")) for arch, spec in ARCH_REGISTRY.items()},
)


class PerCorpus(Section):
    """One value per pre-training corpus."""

    leaner: Annotated[float, Field(gt=0)]
    """Value for the leaner corpus."""
    ori: Annotated[float, Field(gt=0)]
    """Value for the original corpus."""


PositiveOrPerCorpus = Annotated[float, Field(gt=0)] | PerCorpus


class _PerArchBase(Section):
    def value(self, arch: str, corpus: str) -> float:
        """The value for one (arch, corpus) instance."""
        value = getattr(self, arch)
        return float(getattr(value, corpus)) if isinstance(value, PerCorpus) else float(value)


PerArch = create_model(
    "PerArch",
    __base__=_PerArchBase,
    __doc__="One value per architecture; a value may also be given per corpus (`{leaner: 5.0e-4, ori: 1.0e-3}`).",
    **{arch: (PositiveOrPerCorpus, Field(description=f"Value for {arch}.")) for arch in ARCH_REGISTRY},
)

Step = Literal["final"] | PosInt

PerArchStep = create_model(
    "PerArchStep",
    __base__=Section,
    __doc__="A checkpoint per architecture: `final` or an exported step.",
    **{arch: (Step, Field(description=f"{arch}'s.")) for arch in ARCH_REGISTRY},
)


class PretrainConfig(Section):
    """How `pretrain` trains each (arch, corpus) instance of its matrix."""

    archs: Annotated[list[Arch], Field(min_length=1)]
    """Architectures the DVC matrix trains (llama, mamba: causal LM; bert: MLM; xlnet: PLM)."""
    corpora: Annotated[list[Corpus], Field(min_length=1)]
    """Corpora the DVC matrix trains on (data/packed/<corpus>-<family>/)."""
    max_steps: PosInt
    """Optimizer steps."""
    batch_size: PosInt
    """Sequences per optimizer step, over all processes (the paper: 512)."""
    micro_batch_size: PosInt
    """Sequences per forward pass on one process; batch_size / (micro_batch_size * processes) steps of
    gradient accumulation make one optimizer step."""
    seeds: Annotated[list[NonNegInt], Field(min_length=1)] = [65]
    """Pre-training seeds: an axis of the model grid (`<arch>-<corpus>-s<seed>`); each seed drives its
    instance's initialisation, data order and masks."""
    lr: PerArch
    """Peak learning rate per architecture, or per corpus within an architecture (the paper's evaluated runs:
    llama/mamba 5e-3, bert 1e-3, xlnet 5e-4 on leaner and 1e-3 on ori)."""
    lr_schedule: Literal["linear", "cosine", "constant"]
    """Decay after warmup: linear to 0 (the paper, HF default), cosine to 0, or constant."""
    warmup_steps: NonNegInt
    """Linear warmup steps from 0 to the peak learning rate."""
    weight_decay: Annotated[float, Field(ge=0)]
    """AdamW weight decay (the paper: 0)."""
    adam_beta1: Probability
    """AdamW beta1."""
    adam_beta2: Probability
    """AdamW beta2."""
    adam_epsilon: Annotated[float, Field(gt=0)]
    """AdamW epsilon."""
    grad_clip: Annotated[float, Field(ge=0)]
    """Clip the global gradient norm to this; 0 turns clipping off."""
    mlm_probability: Probability
    """BERT: share of tokens selected for MLM (replaced 80% [MASK], 10% random, 10% kept)."""
    plm_probability: Annotated[float, Field(gt=0.0, le=1.0)]
    """XLNet: ratio of masked span length to its context length (the paper: 1/6). A fraction such as `1/6`
    is read exactly: a rounded decimal like 0.1666667 makes the collator's `int(span / p)` contexts 5, 11,
    17, ... instead of 6, 12, 18, ..., and masks 17.3% of the tokens instead of 1/6."""
    max_span_length: PosInt
    """XLNet: longest masked span."""
    eval_every: PosInt
    """Evaluate on the validation split every this many steps (and at the end)."""
    eval_batches: NonNegInt
    """Validation batches per evaluation; 0 = the whole validation split."""
    eval_batch_size: PosInt
    """Sequences per validation batch (per process)."""
    log_every: PosInt
    """One log line and one curve row every this many steps."""
    save_every: NonNegInt
    """Write a resumable checkpoint to the run folder every this many steps; 0 = never."""
    keep_checkpoints: PosInt
    """How many of the newest checkpoints to keep."""
    resume: StrictBool
    """Resume from the newest checkpoint of the same run (same params and data) if there is one."""
    run_dir: StrictStr
    """Git-ignored folder for checkpoints (never DVC outputs): <run_dir>/<arch>-<corpus>/."""
    device: Literal["auto", "cpu", "cuda"]
    """auto = CUDA when available, else CPU. Under `accelerate launch` each process takes its own device."""
    precision: Literal["auto", "fp32", "bf16"]
    """auto = bf16 autocast on CUDA, fp32 on CPU; bf16 forces autocast (also on CPU)."""
    compile: Literal["auto", "on", "off"]
    """torch.compile the model: auto = on CUDA only (on CPU compiling costs minutes)."""
    cpu_threads: NonNegInt
    """Intra-op threads per process on CPU; 0 = torch's default (one per core). Tiny models run about as fast
    on 1 thread, and multi-threaded kernels slow down many times over when other jobs share the cores."""
    deterministic: StrictBool
    """Force deterministic torch kernels (slower on CUDA; CPU runs are deterministic anyway)."""
    resume_from: StrictStr | None = None
    """Start from a named checkpoint instead of from scratch (HF Trainer's `resume_from_checkpoint`): a
    `<run_dir>/<name>/checkpoint-<step>/` folder continues that run at its step with its optimizer, schedule,
    RNG and data position (to train it longer, or branch it with other params); a saved model folder (an
    exported `models/<name>/step-<N>/` or a whole `models/<name>/`) starts from its weights at step 0 with a
    fresh optimizer. Never this instance's own output folder (DVC deletes it before the run). null = scratch."""
    export_steps: list[PosInt] = []
    """Steps also saved as loadable HF folders (model + tokenizer) at `models/<name>/step-<N>/`, e.g. the
    paper's step-1000 Llama and Mamba; each must be below max_steps (the final model is the folder itself)."""

    _unique_lists = field_validator("archs", "corpora", "seeds", "export_steps")(unique_list)

    @field_validator("plm_probability", mode="before")
    @classmethod
    def _read_fraction(cls, value: Any) -> Any:
        return fraction(value)

    @model_validator(mode="after")
    def _check_batch(self) -> PretrainConfig:
        if self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size ({self.micro_batch_size})"
            )
        return self

    @model_validator(mode="after")
    def _check_exports(self) -> PretrainConfig:
        late = [step for step in self.export_steps if step >= self.max_steps]
        if late:
            raise ValueError(
                f"export_steps {late} are not below max_steps ({self.max_steps}); the final model "
                "is models/<name>/ itself"
            )
        return self
