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
