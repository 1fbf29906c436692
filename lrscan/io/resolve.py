"""Turn what the user typed (a folder or a hub id) into a folder of weights on disk.

Hub ids go through `huggingface_hub.snapshot_download` with narrow allow-patterns (config +
safetensors + index; `*.bin` only when a repo has no safetensors). HF_HOME / HF_HUB_CACHE and
HF_HUB_OFFLINE are read when this is called, so setting them late (tests, notebooks) works.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lrscan.errors import ModelNotFound

SAFETENSORS_PATTERNS = ["config.json", "*.safetensors", "*.safetensors.index.json"]
BIN_PATTERNS = ["config.json", "*.bin", "*.bin.index.json"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ResolvedModel:
    model: str  # as given by the user
    path: Path  # folder holding config.json and the weights
    revision: str  # hub revision as asked ("" for a local folder)
    commit: str  # snapshot commit hash ("" for a local folder)
    is_local: bool


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or os.sep in model.strip("/").replace("/", "", 1) or not _HUB_ID.match(model)


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def _hub_kwargs() -> dict:
    kw: dict = {}
    cache = os.environ.get("HF_HUB_CACHE")
    if not cache and os.environ.get("HF_HOME"):
        cache = os.path.join(os.environ["HF_HOME"], "hub")
    if cache:
        kw["cache_dir"] = cache
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        kw["local_files_only"] = True
    return kw


def _snapshot(repo_id: str, revision: str | None, patterns: list[str]) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub import errors as hf_errors

    kw = _hub_kwargs()
    offline = kw.get("local_files_only", False)
    where = f"{repo_id}" + (f" (revision {revision})" if revision else "")
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns, **kw))
    except hf_errors.RevisionNotFoundError:
        raise ModelNotFound(f"{where}: revision {revision!r} does not exist on the hub") from None
    except (hf_errors.RepositoryNotFoundError, hf_errors.GatedRepoError):
        raise ModelNotFound(f"{where}: no such model on the hub (or it is gated/private: log in with `hf auth login`)") from None
    except getattr(hf_errors, "IncompleteSnapshotError", ()):
        raise ModelNotFound(f"{where}: the cached snapshot is incomplete and the hub cannot be reached to finish it") from None
    except hf_errors.LocalEntryNotFoundError:
        if offline:
            raise ModelNotFound(
                f"{where} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
                "download it once with network access, or pass a local folder"
            ) from None
        raise ModelNotFound(f"{where}: the hub cannot be reached and the model is not in the local cache") from None
    except hf_errors.HfHubHTTPError as e:
        raise ModelNotFound(f"{where}: hub error: {str(e).splitlines()[0]}") from None
    except (OSError, ValueError) as e:
        raise ModelNotFound(f"{where}: cannot be resolved ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None


def resolve_model(model: str | os.PathLike, revision: str | None = None) -> ResolvedModel:
    """A local folder as is; otherwise a hub id, fetched (or found in the cache) as a snapshot."""
    text = os.fspath(model)
    local = Path(text).expanduser()
    if local.exists():
        if not local.is_dir():
            raise ModelNotFound(f"{text} is a file; give the folder that holds config.json and the weights")
        return ResolvedModel(text, local.resolve(), "", "", True)
    if _looks_like_path(text):
        raise ModelNotFound(f"no such folder: {text}")
    folder = _snapshot(text, revision, SAFETENSORS_PATTERNS)
    if not any(folder.glob("*.safetensors")):
        folder = _snapshot(text, revision, BIN_PATTERNS)
    return ResolvedModel(text, folder, revision or "main", folder.name, False)


def model_slug(model: str, revision: str | None = None) -> str:
    """Folder name for default output: `reports/<slug>/` (last path component, + @revision)."""
    name = Path(os.fspath(model).rstrip("/")).name or "model"
    if Path(os.fspath(model)).expanduser().is_dir():
        name = Path(os.fspath(model)).expanduser().resolve().name or name
    if revision:
        name = f"{name}@{revision}"
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", name)
