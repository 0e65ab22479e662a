"""Every CLI unit test runs with its own empty client config, never the developer's ~/.skiff/config."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_client_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SKIFFCONFIG", str(tmp_path / "skiff-config"))
    monkeypatch.delenv("SKIFF_SERVER", raising=False)
