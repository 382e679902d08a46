"""tinyhelen: simplified language environments and tiny language models, as one DVC + MLflow pipeline.

The library behind the `stages/` entry points: one module per concern (config, io, release, ingest,
tracking, repro, log, hub). See README.md for the pipeline and how to run it.
"""

__version__ = "0.1.0"
