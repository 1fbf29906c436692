"""Suite-wide guards: no test may reach the network, and none inherits a developer's LRSCAN_DEBUG.

HF_HUB_OFFLINE is set here, at collection time, before any test module imports huggingface_hub (which reads it
once at import), so the whole suite runs offline even when pytest is called without `make test`.
"""
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _offline_and_quiet(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LRSCAN_DEBUG", raising=False)
