"""Stage `probe`: zero-shot minimal-pair grammar probe of one model, its random-init baseline, or an n-gram row.

    python -m stages.probe --model models/llama-leaner-s65 --name llama-leaner-s65 \
        --text data/composed/leaner/train.jsonl [--metrics metrics/probe/<name>.json] [--out results/probe/<name>]
    python -m stages.probe --random llama --name llama-random --text data/composed/leaner/train.jsonl
    python -m stages.probe --ngram unigram --name unigram-leaner --text data/composed/leaner/train.jsonl

Reads the pairs of params `probe.source` (the bundled sample, a Zorro/BLiMP folder, or the hub), scores both
sentences of each pair, and writes the metrics (accuracy per paradigm / phenomenon / overall with bootstrap
95% intervals, tie rate, vocabulary-filtered accuracy by `probe.min_word_count` against `--text`) and
`<out>/scores.jsonl` (per pair) + meta.json. See `tinyhelen.eval.probe`.
"""

from __future__ import annotations

import argparse

from tinyhelen.core.io import atomic_dir, write_json, write_jsonl
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.eval.probe import headline, run_probe
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="pretrained model folder (model + tokenizer)")
    what.add_argument(
        "--random",
        choices=["llama", "mamba", "bert", "xlnet"],
        help="random-init baseline: params model.<arch> with the family's tokenizer",
    )
    what.add_argument("--ngram", choices=["unigram", "bigram"], help="add-k n-gram reference of --text")
    parser.add_argument("--name", required=True, help="row name in reports, e.g. llama-leaner-s65")
    parser.add_argument("--text", required=True, help="training text: a composed split file (vocabulary filter)")
    parser.add_argument("--tokenizers", default="data/tokenizers", help="folder of <family> tokenizers (--random)")
    parser.add_argument("--metrics", help="metrics file (default metrics/probe/<name>.json)")
    parser.add_argument("--out", help="folder for scores.jsonl and meta.json (default results/probe/<name>)")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)
    metrics_path = args.metrics or f"metrics/probe/{args.name}.json"
    out = args.out or f"results/probe/{args.name}"

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "probe": params.probe}
    if args.random:
        config["model"] = {args.random: getattr(params.model, args.random)}
    with open_tracker("probe", config, run_name=f"probe@{args.name}") as tracker:
        result, inputs = run_probe(
            args.name,
            params.probe,
            seed=params.seed,
            text_path=args.text,
            model_dir=args.model,
            random_arch=args.random,
            ngram=args.ngram,
            model_params=params.model,
            tokenizers_dir=args.tokenizers,
        )
        with atomic_dir(out) as tmp:
            write_jsonl(tmp / "scores.jsonl", result.records)
            write_meta(
                tmp,
                stage="probe",
                config=config,
                seed=params.seed,
                inputs=inputs,
                extra={"name": args.name, "kind": result.metrics["kind"]},
            )
        write_json(metrics_path, result.metrics)
        tracker.set_tags({"probe.model": args.name, "probe.kind": result.metrics["kind"]})
        tracker.log_metrics({**headline(result.metrics), **result.timing})


if __name__ == "__main__":
    run_cli(main)
