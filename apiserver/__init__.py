"""Skiff's API server: the cluster's only door.

Role: serves Kubernetes' verbs (create, get, list, update, status, patch, delete, watch, scale) for
every kind over gRPC; defaults and validates objects as Kubernetes does; keeps them in the store
under `/registry/<resource>/<namespace>/<name>` with `metadata.resourceVersion` = the key's
mod_revision. Watches: the store (through store/client.py, its only store client).
Invariants: an update with a stale resourceVersion is a Conflict; spec and status writers never
clobber each other; nothing half-written on a refused request.

Modules: app (flags, wiring), service (the gRPC verbs), storage (key layout, guarded writes),
watchcache (one store watch per resource, fanned out), admission (ClusterIP/NodePort allocation),
strategy (defaulting, validation: defaults, validation, metavalidation, podvalidation,
schedulingvalidation, names, fielderrors), patch (merge, JSON and strategic merge patches), errors
(Kubernetes' Status errors). Cascading deletion and namespace emptying are the controller
manager's (controller/garbagecollector, controller/namespace): the apiserver only sets the
finalizers they remove.
"""
