"""Evaluation: zero-shot grammar probes on minimal pairs (`probe`, `scoring`, `minimal_pairs`) and Leaner-Eval
(`generate`, `judge`, `leaner_eval`)."""
