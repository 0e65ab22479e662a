"""Validation of scheduling constraints, with Kubernetes' paths and messages
(pkg/apis/core/validation): tolerations and taint effects, node and pod (anti-)affinity, topology
spread constraints. Used by apiserver/podvalidation.py (pod specs) and apiserver/validation.py
(a Node's taints). Pure: no I/O.
"""
from __future__ import annotations

from typing import Sequence

from apiserver import names
from apiserver.fielderrors import FieldErrors, child, duplicate, forbidden, index, invalid, not_supported, required
from apiserver.metavalidation import validate_label_name, validate_label_selector
from skiffpb.k8s.core.v1 import core_pb2

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def validate_taint_effect(effect: str, path: str, *, allow_empty: bool) -> FieldErrors:
    if not effect and not allow_empty:
        return [required(path)]
    if effect not in TAINT_EFFECTS:
        return [not_supported(path, effect, TAINT_EFFECTS)]
    return []


def validate_tolerations(tolerations: Sequence[core_pb2.Toleration], path: str) -> FieldErrors:
    errs: FieldErrors = []
    for i, t in enumerate(tolerations):
        ipath = index(path, i)
        if t.key:
            errs += validate_label_name(t.key, child(ipath, "key"))
        if not t.key and t.operator != "Exists":
            errs.append(invalid(child(ipath, "operator"), t.operator, "operator must be Exists when `key` is empty, "
                                                                      'which means "match all values and all keys"'))
        if t.HasField("toleration_seconds") and t.effect != "NoExecute":
            errs.append(invalid(child(ipath, "effect"), t.effect,
                                "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if t.operator in ("Equal", ""):
            msgs = names.is_valid_label_value(t.value)
            if msgs:
                errs.append(invalid(child(ipath, "operator"), t.value, ";".join(msgs)))
        elif t.operator == "Exists":
            if t.value:
                errs.append(invalid(child(ipath, "operator"), t.value, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(child(ipath, "operator"), t.operator, ("Equal", "Exists")))
        if t.effect:
            errs += validate_taint_effect(t.effect, child(ipath, "effect"), allow_empty=True)
    return errs


def _validate_node_selector_requirement(rq: core_pb2.NodeSelectorRequirement, path: str) -> FieldErrors:
    errs: FieldErrors = []
    if rq.operator in ("In", "NotIn"):
        if not rq.values:
            errs.append(required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif rq.operator in ("Exists", "DoesNotExist"):
        if rq.values:
            errs.append(forbidden(child(path, "values"),
                                  "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif rq.operator in ("Gt", "Lt"):
        if len(rq.values) != 1:
            errs.append(required(child(path, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errs.append(invalid(child(path, "operator"), rq.operator, "not a valid selector operator"))
    return errs + validate_label_name(rq.key, child(path, "key"))


def _validate_node_selector_term(term: core_pb2.NodeSelectorTerm, path: str) -> FieldErrors:
    errs: FieldErrors = []
    for j, rq in enumerate(term.match_expressions):
        errs += _validate_node_selector_requirement(rq, index(child(path, "matchExpressions"), j))
    for j, rq in enumerate(term.match_fields):
        fpath = index(child(path, "matchFields"), j)
        if rq.key != "metadata.name":
            errs.append(invalid(child(fpath, "key"), rq.key, "not a valid field selector key"))
        if rq.operator not in ("In", "NotIn"):
            errs.append(invalid(child(fpath, "operator"), rq.operator, "not a valid selector operator"))
        elif len(rq.values) != 1:
            errs.append(required(child(fpath, "values"), "must be only one value when `operator` is 'In' or 'NotIn' "
                                                         "for node field selector"))
    return errs


def _validate_weight(weight: int, path: str) -> FieldErrors:
    return [] if 1 <= weight <= 100 else [invalid(path, weight, "must be in the range 1-100")]


def _validate_pod_affinity_term(term: core_pb2.PodAffinityTerm, path: str) -> FieldErrors:
    errs: FieldErrors = []
    if term.HasField("label_selector"):
        errs += validate_label_selector(term.label_selector, child(path, "labelSelector"))
    if term.HasField("namespace_selector"):
        errs += validate_label_selector(term.namespace_selector, child(path, "namespaceSelector"))
    for ns in term.namespaces:
        errs += [invalid(child(path, "namespace"), ns, m) for m in names.is_dns1123_label(ns)]
    if not term.topology_key:
        errs.append(required(child(path, "topologyKey"), "can not be empty"))
    else:
        errs += validate_label_name(term.topology_key, child(path, "topologyKey"))
    return errs


def validate_affinity(aff: core_pb2.Affinity, path: str) -> FieldErrors:
    errs: FieldErrors = []
    req_name, pref_name = "requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution"
    if aff.HasField("node_affinity"):
        na, npath = aff.node_affinity, child(path, "nodeAffinity")
        if na.HasField("required_during_scheduling_ignored_during_execution"):
            terms = na.required_during_scheduling_ignored_during_execution.node_selector_terms
            tpath = child(child(npath, req_name), "nodeSelectorTerms")
            if not terms:
                errs.append(required(tpath, "must have at least one node selector term"))
            for i, term in enumerate(terms):
                errs += _validate_node_selector_term(term, index(tpath, i))
        for i, pref in enumerate(na.preferred_during_scheduling_ignored_during_execution):
            ppath = index(child(npath, pref_name), i)
            errs += _validate_weight(pref.weight, child(ppath, "weight"))
            errs += _validate_node_selector_term(pref.preference, child(ppath, "preference"))
    for field, json in (("pod_affinity", "podAffinity"), ("pod_anti_affinity", "podAntiAffinity")):
        if not aff.HasField(field):
            continue
        pa, ppath = getattr(aff, field), child(path, json)
        for i, term in enumerate(pa.required_during_scheduling_ignored_during_execution):
            errs += _validate_pod_affinity_term(term, index(child(ppath, req_name), i))
        for i, wterm in enumerate(pa.preferred_during_scheduling_ignored_during_execution):
            wpath = index(child(ppath, pref_name), i)
            errs += _validate_weight(wterm.weight, child(wpath, "weight"))
            errs += _validate_pod_affinity_term(wterm.pod_affinity_term, child(wpath, "podAffinityTerm"))
    return errs


def validate_topology_spread(constraints, path: str) -> FieldErrors:
    errs: FieldErrors = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        ipath = index(path, i)
        if c.max_skew <= 0:
            errs.append(invalid(child(ipath, "maxSkew"), c.max_skew, names.NOT_POSITIVE_ERR))
        if not c.topology_key:
            errs.append(required(child(ipath, "topologyKey"), "can not be empty"))
        if c.when_unsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(not_supported(child(ipath, "whenUnsatisfiable"), c.when_unsatisfiable,
                                      ("DoNotSchedule", "ScheduleAnyway")))
        pair = (c.topology_key, c.when_unsatisfiable)
        if pair in seen:
            errs.append(duplicate(ipath, f"{{{pair[0]}, {pair[1]}}}"))
        seen.add(pair)
        if c.HasField("label_selector"):
            errs += validate_label_selector(c.label_selector, child(ipath, "labelSelector"))
    return errs
