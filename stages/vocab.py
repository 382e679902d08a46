"""Stage `vocab`: vocabulary and complexity metrics of the ori and leaner corpora, per genre.

    python -m stages.vocab --leaner data/leaner --ori data/clean/ori --out data/vocab \
        --metrics metrics/vocab.json --plot metrics/vocab.png [--params params.yaml]

Writes `metrics/vocab.json`, a png comparing ori and leaner per genre, the reference word list
(`data/vocab/word_list.txt`, with meta.json), and logs a plain-words table. See `tinyhelen.tokens.vocab`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tinyhelen.core.io import atomic_open
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.sentences import make_splitter
from tinyhelen.core.tracking import open_tracker
from tinyhelen.params import load_params
from tinyhelen.tokens.vocab import HEADLINE_METRICS, format_table, measure_vocabulary, plot_comparison

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaner", default="data/leaner", help="leaner corpus folder")
    parser.add_argument("--ori", default="data/clean/ori", help="original corpus folder")
    parser.add_argument("--out", default="data/vocab", help="folder for the word list and meta.json")
    parser.add_argument("--metrics", default="metrics/vocab.json", help="metrics file")
    parser.add_argument("--plot", default="metrics/vocab.png", help="comparison plot (png)")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "sentences": params.sentences, "vocab": params.vocab}
    corpora = {"ori": Path(args.ori), "leaner": Path(args.leaner)}
    with open_tracker("vocab", config) as tracker:
        result = measure_vocabulary(params.vocab, make_splitter(params.sentences), corpora)
        timings = write_metrics(
            args.metrics, result.metrics, headline=HEADLINE_METRICS, details_path=Path(args.out) / "stats.json"
        )
        plot_comparison(result.metrics, args.plot)
        with atomic_open(Path(args.out) / "word_list.txt") as handle:
            handle.write("\n".join(result.word_list) + "\n")
        write_meta(args.out, stage="vocab", config=config, seed=params.seed, inputs=result.inputs)
        log.info("ori -> leaner per genre:\n%s", format_table(result.metrics))
        tracker.log_metrics({**result.metrics, **timings})
        tracker.log_artifact(args.plot, "plots")


if __name__ == "__main__":
    run_cli(main)
