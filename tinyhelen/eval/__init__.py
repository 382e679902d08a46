"""Evaluation of the pretrained and tuned models (Leaner-Eval generation and judging, probes)."""
