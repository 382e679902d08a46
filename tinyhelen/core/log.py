"""Logging set-up and the top-level error handler shared by every stage entry point.

    from tinyhelen.core.log import run_cli
    if __name__ == "__main__":
        run_cli(main)   # exits 2 with a one-line message on bad input, 1 with a traceback on a bug

Ctrl-C (KeyboardInterrupt) ends a stage with one line, exit status 130: what was kept and how to resume.
Library code says what an interruption would keep with `note_kept` as it goes (pretrain: its newest
checkpoint; simplify: the LLM answers in the response cache); by default it is "no output changed", which
atomic writes guarantee.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Callable

from tinyhelen.core.errors import TinyHelenError

log = logging.getLogger(__name__)

_KEPT: list[str] = []
NOTHING_CHANGED = "no output changed (outputs are replaced only when complete)"


def note_kept(what: str) -> None:
    """Record what an interrupted run keeps from here on (the newest note wins), e.g. the last checkpoint."""
    _KEPT[:] = [what]


def interrupted_message(command: str) -> str:
    """The one line an interrupted stage prints."""
    kept = _KEPT[-1] if _KEPT else NOTHING_CHANGED
    return f"interrupted: {kept}; to resume, run `dvc repro` again (or `{command}`)"


def setup_logging(level: str | None = None) -> None:
    """Configure the root logger once: time, level, module, message; level from TINYHELEN_LOG_LEVEL."""
    level = (level or os.environ.get("TINYHELEN_LOG_LEVEL", "INFO")).upper()
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    # Third-party chatter that drowns the stage's own lines.
    for noisy in ("alembic", "mlflow", "urllib3", "httpx", "httpx2", "httpcore2", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def run_cli(main: Callable[[list[str] | None], object], argv: list[str] | None = None) -> None:
    """Run a stage's `main(argv)` and exit: 0 on success, 2 with a clear message on bad input."""
    try:
        main(argv)
    except TinyHelenError as error:
        if not logging.getLogger().handlers:
            setup_logging()
        log.error("%s", error)
        sys.exit(2)
    except KeyboardInterrupt:
        if not logging.getLogger().handlers:
            setup_logging()
        args = sys.argv[1:] if argv is None else argv
        spec = getattr(sys.modules.get(main.__module__), "__spec__", None)  # `python -m stages.x` runs __main__
        command = " ".join(["python", "-m", spec.name if spec else main.__module__, *map(shlex.quote, args)])
        log.error("%s", interrupted_message(command))
        sys.exit(130)
    sys.exit(0)
