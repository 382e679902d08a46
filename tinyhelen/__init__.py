"""tinyhelen: simplified language environments and tiny language models, as one DVC + MLflow pipeline.

The library behind the `stages/` entry points, one package per pipeline phase (see README.md, Layout, and
docs/architecture.md):

    core/        errors, io, log, repro, tracking, the release layout, documents, sentences, plots, runtime
    corpus/      ingest, hub, cleaning rules and the corpus pass, dedup, language
    simplify/    backends, the LLM client, prompts, chunking, offline rules, Leaner-GLUE construction
    tokens/      vocab, tokenizer, compose, pack and the one pack reader
    pretrain/    the training loop, models, objectives, checkpoints
    glue/        Leaner-GLUE fine-tuning and the summary
    params.py    assembles the phases' params sections into the whole params.yaml
    grid.py      the model grid (archs x corpora x seeds) from params
"""

import os as _os

# Portable CPU numerics, set before torch loads: ATen's scalar kernels and MKL's conditional numerical
# reproducibility give the same floats on every x86 CPU, so trained weights (DVC outputs) hash the same on any
# machine. They cost ~1.4x on CPU training and nothing on CUDA; `TINYHELEN_CPU_NUMERICS=native` opts out.
if _os.environ.get("TINYHELEN_CPU_NUMERICS", "portable") == "portable":
    _os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")
    _os.environ.setdefault("MKL_CBWR", "COMPATIBLE")
