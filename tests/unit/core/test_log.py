"""The stage entry point's error handling: bad input in one line (exit 2), Ctrl-C in one line (exit 130)."""

from __future__ import annotations

import logging

import pytest

from tinyhelen.core import log as module
from tinyhelen.core.errors import ConfigError


def _run(main, argv, caplog) -> tuple[int, list[str]]:
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as info:
        module.run_cli(main, argv)
    return info.value.code, [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_ctrl_c_says_in_one_line_what_was_kept_and_how_to_resume(caplog, monkeypatch):
    monkeypatch.setattr(module, "_KEPT", [])

    def main(argv):
        module.note_kept("the checkpoint of step 8 of 16 in runs/pretrain/llama-leaner")
        raise KeyboardInterrupt

    code, lines = _run(main, ["--arch", "llama"], caplog)
    assert code == 130
    (line,) = lines
    assert "interrupted: the checkpoint of step 8 of 16 in runs/pretrain/llama-leaner" in line
    assert "dvc repro" in line and f"python -m {__name__} --arch llama" in line and "\n" not in line


def test_ctrl_c_before_anything_was_kept_says_no_output_changed(caplog, monkeypatch):
    monkeypatch.setattr(module, "_KEPT", [])

    def main(argv):
        raise KeyboardInterrupt

    code, (line,) = _run(main, [], caplog)
    assert code == 130 and module.NOTHING_CHANGED in line


def test_bad_input_is_one_line_and_exit_2(caplog):
    def main(argv):
        raise ConfigError("params.yaml: unknown key 'x'")

    assert _run(main, [], caplog) == (2, ["params.yaml: unknown key 'x'"])
