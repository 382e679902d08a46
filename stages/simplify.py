"""Stage `simplify`: rewrite the cleaned corpus into the leaner language (release replay, LLM or rules).

    python -m stages.simplify --clean data/clean --out data/leaner --metrics metrics/simplify.json

Backend `llm` reads OPENAI_API_KEY / OPENAI_BASE_URL from the environment and caches every response in
`.cache/llm/responses.sqlite` (or $TINYHELEN_LLM_CACHE). See `tinyhelen.simplify.backends`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.params import load_params
from tinyhelen.simplify.backends import HEADLINE_METRICS, simplify_corpus


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", default="data/clean", help="the clean stage's folder (ori/ and leaner/)")
    parser.add_argument("--out", default="data/leaner", help="output folder")
    parser.add_argument("--metrics", default="metrics/simplify.json", help="metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "sentences": params.sentences, "llm": params.llm, "simplify": params.simplify}
    with open_tracker("simplify", config) as tracker:
        result = simplify_corpus(params.simplify, params.llm, params.sentences, args.clean, args.out)
        timings = write_metrics(
            args.metrics, result.metrics, headline=HEADLINE_METRICS, details_path=Path(args.out) / "stats.json"
        )
        write_meta(args.out, stage="simplify", config=config, seed=params.seed, inputs=result.inputs)
        tracker.log_metrics({**result.metrics, **timings})


if __name__ == "__main__":
    run_cli(main)
