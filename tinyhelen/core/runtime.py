"""Runtime choices every training and evaluation phase shares: the device, bf16 autocast, CPU threads and
loading a saved tokenizer offline. One place, used by pretrain, glue and the evaluation phases.

    device = resolve_device(cfg.device, "pretrain.device")
    with cpu_threads(device, cfg.cpu_threads), bf16_autocast(device.type, enabled=True):
        ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinyhelen.core.errors import ConfigError, DataError


def resolve_device(name: str, key: str = "device") -> Any:
    """`auto` (CUDA when available, else CPU), `cpu` or `cuda` as a `torch.device`.

    Raises:
        ConfigError: `cuda` was asked for and there is none (the message names `key`).
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key} is 'cuda' but no CUDA device is available (use auto or cpu)")
    return torch.device(name)


def bf16_autocast(device_type: str, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device_type` when `enabled`, else nothing."""
    import torch

    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16)


@contextlib.contextmanager
def cpu_threads(device: Any, threads: int) -> Iterator[None]:
    """On CPU, run the block with `threads` intra-op threads (0: leave torch's default), then restore."""
    import torch

    before = torch.get_num_threads()
    if device.type == "cpu" and threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_tokenizer(tokenizer_dir: str | Path) -> Any:
    """A saved `PreTrainedTokenizerFast` folder (a tokenizer stage family, or a model folder), offline.

    Raises:
        DataError: the folder has no tokenizer.json.
    """
    from transformers import AutoTokenizer

    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / "tokenizer.json").exists():
        raise DataError(f"{tokenizer_dir}: no tokenizer.json (run the stage that writes it first)")
    return AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
