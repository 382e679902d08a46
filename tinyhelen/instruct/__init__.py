"""Instruction tuning: Leaner-Instruct data (`instruct.data`) and the 2x2 tuning runs (`instruct.tune`)."""

# `tinyhelen.config.Params` holds this package's params sections, and `instruct.config` subclasses its
# `Section`: load tinyhelen.config first so that either module can be imported first.
from tinyhelen import config as _config  # noqa: F401
