"""Stage `validate`: check every params section, cross-field rule and named path before any other stage.

    python -m stages.validate --out data/validated.json [--params params.yaml]

Every other stage depends on the marker `data/validated.json`, whose content never changes: a bad value
stops `dvc repro` / `dvc exp run` here, before DVC deletes any output, and a good one re-runs nothing
downstream. See `tinyhelen.validate`.
"""

from __future__ import annotations

import argparse

from tinyhelen.core.config import to_plain
from tinyhelen.core.io import write_json
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.tracking import open_tracker
from tinyhelen.validate import MARKER, validate_project


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/validated.json", help="the marker file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = validate_project(args.params)
    setup_logging()
    with open_tracker("validate", to_plain(dict(params))) as tracker:
        write_json(args.out, MARKER)
        tracker.log_metrics({"validate/sections": len(type(params).model_fields)})


if __name__ == "__main__":
    run_cli(main)
