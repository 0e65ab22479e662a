"""Chaos-tier fixtures: `cluster` runs each chaos test against real etcd and against Skiff's store."""
from __future__ import annotations

import pytest

_FIXTURE = {"etcd": "etcd_cluster", "skiff": "store_cluster"}


@pytest.fixture(params=sorted(_FIXTURE))
def cluster(request):
    """A running 3-member store: real etcd 3.4 (`etcd`) or Skiff's (`skiff`), same interface."""
    return request.getfixturevalue(_FIXTURE[request.param])
