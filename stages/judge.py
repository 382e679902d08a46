"""Stage `judge`: score the tuned models' Leaner-Eval answers and write the Leaner-Eval tables.

    python -m stages.judge NAME [NAME ...] [--generations results/generations] [--models models/instruct] \
        --reference models/llama-leaner-s65 [--out results/leaner_eval] [--metrics metrics/leaner_eval.json]

Always computes the judge-free metrics; with `judge.backend: llm` (OPENAI_BASE_URL / OPENAI_API_KEY from the
environment) also the judged inner comparison (checkpoint selection) and inter comparison. Writes
`<out>/{table.md, plot.png, summary.json, scores.jsonl, calls.jsonl, meta.json}` (plus `answers-<entry>.jsonl`
for a selected checkpoint that had to answer more questions) and the headline metrics file. See
`tinyhelen.eval.leaner_eval` and `tinyhelen.eval.judge`.
"""

from __future__ import annotations

import argparse

from tinyhelen.core.io import atomic_dir, atomic_open, write_json, write_jsonl
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.eval.leaner_eval import INTERVAL_METRICS, evaluate_leaner, plot_leaner_eval
from tinyhelen.instruct.tune import corpus_pairs, tuned_model_names
from tinyhelen.params import load_params


def main(argv: list[str] | None = None, client=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        help="tuned models (answer files <generations>/<name>.jsonl; default: the instruct grid of params)",
    )
    parser.add_argument("--generations", default="results/generations", help="the generate stage's folder")
    parser.add_argument("--models", default="models/instruct", help="folder of the tuned models")
    parser.add_argument("--reference", required=True, help="reference model folder for the answer perplexity")
    parser.add_argument("--out", default="results/leaner_eval", help="folder for the tables and records")
    parser.add_argument("--metrics", default="metrics/leaner_eval.json", help="headline metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    names = args.names or tuned_model_names(params.instruct)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "judge": params.judge, "generate": params.generate, "llm": params.llm}
    with open_tracker("judge", config) as tracker:
        result, made = evaluate_leaner(
            names,
            args.generations,
            args.models,
            args.reference,
            params.judge,
            params.generate,
            params.llm,
            client=client,
            pairs=corpus_pairs(params.instruct),
        )
        with atomic_dir(args.out) as tmp:
            with atomic_open(tmp / "table.md") as handle:
                handle.write(result.table)
            plot_leaner_eval(result.summary, tmp / "plot.png")
            write_json(tmp / "summary.json", result.summary)
            write_jsonl(tmp / "scores.jsonl", result.outcome.scores)
            write_jsonl(tmp / "calls.jsonl", result.outcome.calls)
            for entry, records in made.items():
                write_jsonl(tmp / f"answers-{entry.name}.jsonl", records)
            write_meta(tmp, stage="judge", config=config, seed=params.seed, inputs={})
        write_json(args.metrics, result.metrics)
        outcome = result.outcome
        tracker.log_metrics(
            {
                "requests": outcome.requests,
                "cache_hits": outcome.cache_hits,
                "nulls": outcome.nulls,
                "input_tokens": outcome.input_tokens,
                "output_tokens": outcome.output_tokens,
                **{f"inter/{model}/sum": row["sum"] for model, row in result.metrics["inter"].items()},
                **{
                    f"judge_free_diff/{pair}/{name}": row[name]["diff"]
                    for pair, row in result.metrics.get("judge_free_diff", {}).items()
                    for name in INTERVAL_METRICS
                    if row[name]["diff"] is not None
                },
            }
        )
        tracker.set_tags(
            {
                "judge.backend": params.judge.backend,
                "judge.system_fingerprints": ",".join(sorted(outcome.fingerprints)) or "none",
            }
        )
    print(result.table)


if __name__ == "__main__":
    run_cli(main)
