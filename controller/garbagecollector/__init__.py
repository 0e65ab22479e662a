"""The garbage collector: cascading deletion over ownerReferences, as Kubernetes' (Background,
Foreground and Orphan propagation), for every kind Skiff serves.

Watches every kind; deletes objects whose owners are all gone, orphans the dependents of an owner
deleted with the `orphan` finalizer, deletes the dependents of an owner deleted in the foreground
and removes its `foregroundDeletion` finalizer once no blocking dependent is left. It replaced the
sweep that used to run inside the apiserver: there is one collector. Pure core: `reconcile.py`;
shell: `controller.py`.
"""
from controller.garbagecollector.controller import GarbageCollector, make

__all__ = ["GarbageCollector", "make"]
