"""Evaluation of pretrained models (phase room `eval`).

Grammar probes (stage `probe`): `minimal_pairs` (Zorro and BLiMP readers), `scoring` (batched sentence scorers:
causal log-probability, BERT and XLNet pseudo-log-likelihood, an add-k n-gram reference), `probe` (accuracy per
paradigm / phenomenon / overall with bootstrap intervals, the summary table and plot), `config` (`ProbeConfig`).
"""

# tinyhelen.config registers this package's `ProbeConfig` in `Params`, and ProbeConfig subclasses its `Section`:
# loading tinyhelen.config first keeps that cycle in one order whichever module is imported first.
import tinyhelen.config  # noqa: F401
