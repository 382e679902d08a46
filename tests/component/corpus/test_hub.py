"""The `hf:` source, against a local folder standing in for the hub (no network here)."""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import DataError
from tinyhelen.corpus import hub
from tinyhelen.corpus.ingest import ingest

FAKE_SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Mimics `HfApi.dataset_info` and `snapshot_download` over a local repo folder."""

    def __init__(self, repo_dir: Path, cache_dir: Path) -> None:
        self.repo_dir, self.cache_dir = repo_dir, cache_dir
        self.requests: list[dict] = []

    def files(self) -> list[str]:
        return sorted(p.relative_to(self.repo_dir).as_posix() for p in self.repo_dir.rglob("*") if p.is_file())

    def api(self):
        fake = self

        class Api:
            def dataset_info(self, repo_id, revision=None):
                if repo_id != "EmpathYang/TinyHelen":
                    raise RuntimeError(f"404 {repo_id}")
                siblings = [SimpleNamespace(rfilename=f) for f in fake.files()]
                return SimpleNamespace(sha=FAKE_SHA, siblings=siblings)

        return Api()

    def snapshot_download(self, repo_id, repo_type, revision, allow_patterns, cache_dir):
        self.requests.append({"repo_type": repo_type, "revision": revision, "patterns": allow_patterns})
        target = self.cache_dir / revision
        for name in self.files():
            if any(fnmatch.fnmatch(name, pattern) for pattern in allow_patterns):
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(self.repo_dir / name, target / name)
        return str(target)


@pytest.fixture
def fake_hub(tiny_release, tmp_path, monkeypatch) -> FakeHub:
    repo = tmp_path / "hub-repo"
    shutil.copytree(tiny_release, repo / "data")  # the GitHub/hub layout keeps the release under data/
    (repo / "README.md").write_text("dataset card")
    fake = FakeHub(repo, tmp_path / "hub-cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the stand-in is the online hub
    monkeypatch.setattr(hub, "HfApi", fake.api)
    monkeypatch.setattr(hub, "snapshot_download", fake.snapshot_download)
    return fake


def test_parse_and_prefix():
    assert hub.parse_hub_source("hf:EmpathYang/TinyHelen@v1") == ("EmpathYang/TinyHelen", "v1")
    assert hub.parse_hub_source("hf:EmpathYang/TinyHelen") == ("EmpathYang/TinyHelen", None)
    assert hub.layout_prefix(["README.md", "data/leaner/glue/cola_train.jsonl"]) == "data/"
    assert hub.layout_prefix(["ori/10M/train/web0000.jsonl.zst"]) == ""
    with pytest.raises(DataError):
        hub.layout_prefix(["README.md"])


def test_hub_source_downloads_only_what_params_select(fake_hub, params, tmp_path):
    data = with_changes(
        params.data,
        source="hf:EmpathYang/TinyHelen@main",
        variants=["leaner"],
        genres=["wiki"],
        splits=["train"],
        glue_tasks=["cola"],
        eval_sets=[],
        instructions=False,
    )
    result = ingest(data, params.ingest, tmp_path / "raw")
    assert result.source == {"source": "hf:EmpathYang/TinyHelen@main", "revision": FAKE_SHA}
    assert result.metrics["source"]["revision"] == FAKE_SHA
    (request,) = fake_hub.requests
    assert request["revision"] == FAKE_SHA and request["repo_type"] == "dataset"
    downloaded = sorted(
        p.relative_to(fake_hub.cache_dir / FAKE_SHA).as_posix()
        for p in (fake_hub.cache_dir / FAKE_SHA).rglob("*")
        if p.is_file()
    )
    assert downloaded == [
        "data/leaner/10M/train/wiki0000.jsonl",
        "data/leaner/glue/cola_test.jsonl",
        "data/leaner/glue/cola_train.jsonl",
        "data/leaner/glue/cola_validation.jsonl",
    ]
    assert result.metrics["corpus"]["leaner"]["train"]["wiki"]["documents"] == 2


def test_hub_errors_name_the_source(fake_hub, params, tmp_path):
    data = with_changes(params.data, source="hf:someone/else")
    with pytest.raises(DataError, match="data.source=hf:someone/else: cannot read the hub repo"):
        ingest(data, params.ingest, tmp_path / "raw")


def _cache_stand_in(release: Path, cache_dir: Path, ref: str | None = None) -> Path:
    """The Hugging Face hub cache layout, as `snapshot_download` leaves it: blobs under content hashes,
    `snapshots/<sha>/<path>` symlinks to them, and `refs/<branch>` holding the sha."""
    import hashlib

    storage = cache_dir / "datasets--EmpathYang--TinyHelen"
    snapshot = storage / "snapshots" / FAKE_SHA
    for path in sorted(release.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = snapshot / "data" / path.relative_to(release)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path("../" * (len(link.relative_to(snapshot).parts) + 1)) / "blobs" / blob.name)
    if ref:
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / ref).write_text(FAKE_SHA)
    return snapshot


@pytest.mark.parametrize("revision", [FAKE_SHA, "main"])
def test_offline_reads_the_cached_snapshot_without_asking_the_hub(
    tiny_release, tmp_path, monkeypatch, params, revision
):
    snapshot = _cache_stand_in(tiny_release, tmp_path / "hub-cache", ref="main")
    assert (snapshot / "data/leaner/10M/train/wiki0000.jsonl").resolve().is_file()

    def no_network(*args, **kwargs):
        raise AssertionError("asked the hub while offline")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.HfApi, "dataset_info", no_network)
    data = with_changes(
        params.data,
        source=f"hf:EmpathYang/TinyHelen@{revision}",
        variants=["leaner"],
        genres=["wiki"],
        splits=["train"],
        glue_tasks=["cola"],
        eval_sets=[],
        instructions=False,
    )
    cfg = with_changes(params.ingest, hub_cache_dir=str(tmp_path / "hub-cache"))
    result = ingest(data, cfg, tmp_path / "raw")
    assert result.source["revision"] == FAKE_SHA
    assert result.metrics["corpus"]["leaner"]["train"]["wiki"]["documents"] == 2
    assert result.metrics["glue"]["cola"]["train"]["examples"] > 0


def test_offline_without_a_cached_snapshot_is_a_clear_error(tmp_path, monkeypatch, params):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = with_changes(params.data, source=f"hf:EmpathYang/TinyHelen@{FAKE_SHA}")
    cfg = with_changes(params.ingest, hub_cache_dir=str(tmp_path / "empty-cache"))
    with pytest.raises(DataError, match="offline .* no usable snapshot of EmpathYang/TinyHelen@0123"):
        ingest(data, cfg, tmp_path / "raw")
