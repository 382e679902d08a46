"""Download the parts of the TinyHelen release that a run needs from the Hugging Face hub.

A source `hf:EmpathYang/TinyHelen[@revision]` is resolved to a commit sha first (so the run records exactly
what it read), then `snapshot_download` fetches only the files matching the run's patterns into the hub
cache. The repo may keep the release layout at its root or under `data/` (as the GitHub repo does).

Offline (`HF_HUB_OFFLINE=1`), nothing is asked of the hub: the snapshot of the revision (a pinned commit
sha, or a branch/tag whose ref the cache recorded) is taken from the local hub cache, and its folder name is
the commit sha the run records.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from huggingface_hub import HfApi, constants, snapshot_download

from tinyhelen.core.errors import DataError

log = logging.getLogger(__name__)

HUB_PREFIX = "hf:"
_LAYOUT_ROOTS = ("ori", "leaner")


def is_hub_source(source: str) -> bool:
    return source.startswith(HUB_PREFIX)


def parse_hub_source(source: str) -> tuple[str, str | None]:
    """`'hf:owner/name@rev'` -> `('owner/name', 'rev')`; the revision is None when not given."""
    repo, _, revision = source[len(HUB_PREFIX) :].partition("@")
    return repo, revision or None


def layout_prefix(files: list[str]) -> str:
    """The folder holding `ori/` and `leaner/` in the repo: `''` (root) or e.g. `'data/'`."""
    prefixes = set()
    for name in files:
        parts = name.split("/")
        for depth, part in enumerate(parts[:-1]):
            if part in _LAYOUT_ROOTS:
                prefixes.add("".join(f"{p}/" for p in parts[:depth]))
                break
    if not prefixes:
        raise DataError("the hub repo has no 'ori/' or 'leaner/' folder (is it the TinyHelen release?)")
    return min(prefixes, key=len)


def is_offline() -> bool:
    """Whether the hub may not be asked (`HF_HUB_OFFLINE`, read now as well as at import)."""
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is None:
        return bool(constants.HF_HUB_OFFLINE)
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _fetch_cached(
    source: str, repo_id: str, revision: str | None, patterns: list[str], cache_dir: str | None
) -> tuple[Path, str]:
    """The cached snapshot of `repo_id@revision`, without the network (see `fetch_release`)."""
    if revision is None:
        log.warning("data.source=%s has no @revision and the hub is offline: using the cached 'main' ref", source)
    # The layout root is not known before the snapshot is found: accept the patterns under any folder.
    allow = [prefix + pattern for pattern in patterns for prefix in ("", "*/")]
    try:
        local = Path(
            snapshot_download(
                repo_id=repo_id,
                repo_type="dataset",
                revision=revision or "main",
                allow_patterns=allow,
                cache_dir=cache_dir,
                local_files_only=True,
            )
        )
    except Exception as error:  # not cached, or cached only in part
        raise DataError(
            f"data.source={source}: the hub is offline (HF_HUB_OFFLINE) and the cache "
            f"({cache_dir or constants.HF_HUB_CACHE}) has no usable snapshot of {repo_id}@"
            f"{revision or 'main'}: run once online, or unset HF_HUB_OFFLINE ({error})"
        ) from None
    files = [p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()]
    prefix = layout_prefix(files)
    log.info("offline: using the cached snapshot %s of %s", local.name, repo_id)
    return local / prefix, local.name


def fetch_release(source: str, patterns: list[str], cache_dir: str | None = None) -> tuple[Path, str]:
    """Download the files of `source` matching `patterns` (paths relative to the layout root).

    Args:
        source: `hf:<owner>/<name>[@revision]`.
        patterns: fnmatch patterns relative to the release layout root, e.g. `ori/10M/train/web[0-9]*`.
        cache_dir: the hub cache folder (None: the Hugging Face default).

    Returns:
        The local folder holding the release layout, and the resolved commit sha.

    Raises:
        DataError: the repo or revision cannot be reached (offline: is not cached) or does not hold the release
            layout.
    """
    repo_id, revision = parse_hub_source(source)
    if is_offline():
        return _fetch_cached(source, repo_id, revision, patterns, cache_dir)
    if revision is None:
        log.warning(
            "data.source=%s has no @revision: resolving 'main' now; pin the sha this run "
            "records (metrics/ingest.json source.revision) to make the run repeatable",
            source,
        )
    api = HfApi()
    try:
        info = api.dataset_info(repo_id, revision=revision or "main")
    except Exception as error:  # network, auth and not-found errors all mean the same thing here
        raise DataError(f"data.source={source}: cannot read the hub repo: {error}") from None
    files = [sibling.rfilename for sibling in info.siblings or []]
    prefix = layout_prefix(files)
    allow = [prefix + pattern for pattern in patterns]
    log.info("downloading %s@%s (%d patterns) from the hub", repo_id, info.sha, len(allow))
    try:
        local = snapshot_download(
            repo_id=repo_id, repo_type="dataset", revision=info.sha, allow_patterns=allow, cache_dir=cache_dir
        )
    except Exception as error:
        raise DataError(f"data.source={source}: download failed: {error}") from None
    return Path(local) / prefix, info.sha
