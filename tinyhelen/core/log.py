"""Logging set-up and the top-level error handler shared by every stage entry point.

    from tinyhelen.core.log import run_cli
    if __name__ == "__main__":
        run_cli(main)   # exits 2 with a one-line message on bad input, 1 with a traceback on a bug
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from tinyhelen.core.errors import TinyHelenError

log = logging.getLogger(__name__)


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
    for noisy in ("alembic", "mlflow", "urllib3", "httpx", "filelock", "huggingface_hub"):
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
    sys.exit(0)
