"""Evaluation of the pretrained and tuned models (Leaner-Eval generation and judging, probes)."""

# tinyhelen.config registers this package's params sections in `Params`; importing it first lets either
# module be imported first without a circular-import error.
import tinyhelen.config  # noqa: F401
