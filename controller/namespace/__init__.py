"""The namespace controller: a namespace being deleted is emptied (every object of every
namespaced kind in it deleted, pods gracefully), then its `kubernetes` finalizer is removed and
the apiserver completes its deletion.

Watches Namespaces and every namespaced kind; writes deletions, the namespace's status conditions
and its finalize subresource. Pure core: `reconcile.py`; shell: `controller.py`.
"""
from controller.namespace.controller import NamespaceController, make

__all__ = ["NamespaceController", "make"]
