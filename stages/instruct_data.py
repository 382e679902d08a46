"""Stage `instruct_data`: Leaner-Instruct and the original instructions, the same records split alike.

    python -m stages.instruct_data --release data/raw --word-list data/vocab/word_list.txt \
        --out data/instruct --metrics metrics/instruct_data.json [--params params.yaml]

Writes data/instruct/<variant>/<split>.jsonl (variants leaner and ori), rejects.jsonl, stats.json and meta.json,
and metrics/instruct_data.json. Backend `llm` reads OPENAI_API_KEY / OPENAI_BASE_URL from the environment.
See `tinyhelen.instruct.data`.
"""

from __future__ import annotations

import argparse

from tinyhelen.core.io import write_json
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.instruct.data import build_instruct_data
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="data/raw", help="the ingest folder (leaner/instruction.jsonl)")
    parser.add_argument("--word-list", default="data/vocab/word_list.txt", help="reference word list")
    parser.add_argument("--out", default="data/instruct", help="output folder")
    parser.add_argument("--metrics", default="metrics/instruct_data.json", help="metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "instruct_data": params.instruct_data, "sentences": params.sentences}
    if params.instruct_data.backend != "release":
        config.update(simplify=params.simplify, llm=params.llm)
    with open_tracker("instruct_data", config) as tracker:
        result = build_instruct_data(
            params.instruct_data,
            args.out,
            simplify=params.simplify,
            llm=params.llm,
            sentences=params.sentences,
            hub_cache_dir=params.ingest.hub_cache_dir,
            release_dir=args.release,
            word_list=args.word_list,
        )
        write_json(args.metrics, result.metrics)
        write_meta(
            args.out,
            stage="instruct_data",
            config=config,
            seed=params.seed,
            inputs=result.inputs,
            extra={"source": result.source},
        )
        tracker.log_metrics(result.metrics)


if __name__ == "__main__":
    run_cli(main)
