"""Stage `glue_simplify`: build Leaner-GLUE (simplify GLUE items; keep those whose gold label the LLM reproduces).

    python -m stages.glue_simplify --out data/leaner_glue --metrics metrics/glue_simplify.json

Off by default for the bundled sample (`glue_simplify.enabled`); needs OPENAI_API_KEY / OPENAI_BASE_URL.
See `tinyhelen.simplify.leaner_glue`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.params import load_params
from tinyhelen.simplify.leaner_glue import build_leaner_glue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/leaner_glue", help="output folder")
    parser.add_argument("--metrics", default="metrics/glue_simplify.json", help="metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "llm": params.llm, "glue_simplify": params.glue_simplify}
    with open_tracker("glue_simplify", config) as tracker:
        result = build_leaner_glue(params.glue_simplify, params.llm, args.out)
        timings = write_metrics(args.metrics, result.metrics, details_path=Path(args.out) / "stats.json")
        write_meta(args.out, stage="glue_simplify", config=config, seed=params.seed, inputs=result.inputs)
        tracker.log_metrics({**result.metrics, **timings})


if __name__ == "__main__":
    run_cli(main)
