"""Validation of what every kind shares: ObjectMeta (create and update), labels, annotations,
owner references, finalizers, and label selectors; with Kubernetes' paths and messages
(k8s.io/apimachinery api/validation and apis/meta/v1/validation).

Pure: no I/O. Each function returns a list of `(path, message)` field errors (apiserver/fielderrors).
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from apiserver import names
from apiserver.fielderrors import (FieldErrors, GoRepr, child, forbidden, go_map, go_quote, go_strings, immutable,
                                   index, invalid, required, too_long)
from skiffpb.k8s.meta.v1 import meta_pb2

NameFn = Callable[[str, bool], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_nonnegative(value: int, path: str) -> FieldErrors:
    return [invalid(path, value, names.NEGATIVE_ERR)] if value < 0 else []


def validate_label_name(name: str, path: str) -> FieldErrors:
    return [invalid(path, name, m) for m in names.is_qualified_name(name)]


def validate_labels(labels: Mapping[str, str], path: str) -> FieldErrors:
    errs: FieldErrors = []
    for k in sorted(labels):
        errs += validate_label_name(k, path)
        errs += [invalid(path, labels[k], m) for m in names.is_valid_label_value(labels[k])]
    return errs


def validate_annotations(annotations: Mapping[str, str], path: str) -> FieldErrors:
    errs: FieldErrors = []
    total = 0
    for k in sorted(annotations):
        errs += [invalid(path, k, m) for m in names.is_qualified_name(k.lower())]
        total += len(k.encode()) + len(annotations[k].encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def _api_version_parts(api_version: str) -> tuple[str, str]:
    """Kubernetes' ParseGroupVersion, errors read as an empty version."""
    if api_version in ("", "/"):
        return "", ""
    n = api_version.count("/")
    if n == 0:
        return "", api_version
    if n == 1:
        group, _, version = api_version.partition("/")
        return group, version
    return "", ""


def _go_owner_reference(ref: meta_pb2.OwnerReference) -> str:
    def opt_bool(field: str) -> str:
        return ("true" if getattr(ref, field) else "false") if ref.HasField(field) else "nil"
    return (f"v1.OwnerReference{{APIVersion:{go_quote(ref.api_version)}, Kind:{go_quote(ref.kind)}, "
            f"Name:{go_quote(ref.name)}, UID:{go_quote(ref.uid)}, Controller:{opt_bool('controller')}, "
            f"BlockOwnerDeletion:{opt_bool('block_owner_deletion')}}}")


def validate_owner_references(refs: Iterable[meta_pb2.OwnerReference], path: str) -> FieldErrors:
    refs = list(refs)
    errs: FieldErrors = []
    controller_name = ""
    for ref in refs:
        _, version = _api_version_parts(ref.api_version)
        if not version:
            errs.append(invalid(child(path, "apiVersion"), ref.api_version, "version must not be empty"))
        if not ref.kind:
            errs.append(invalid(child(path, "kind"), ref.kind, "kind must not be empty"))
        if not ref.name:
            errs.append(invalid(child(path, "name"), ref.name, "name must not be empty"))
        if not ref.uid:
            errs.append(invalid(child(path, "uid"), ref.uid, "uid must not be empty"))
        if ref.controller:
            if controller_name:
                value = GoRepr("[]v1.OwnerReference{" + ", ".join(_go_owner_reference(r) for r in refs) + "}")
                errs.append(invalid(path, value, "Only one reference can have Controller set to true. Found \"true\" "
                                                 f"in references for {controller_name} and {ref.name}"))
            else:
                controller_name = ref.name
    return errs


def validate_finalizers(finalizers: Iterable[str], path: str) -> FieldErrors:
    finalizers = list(finalizers)
    errs: FieldErrors = []
    for f in finalizers:
        errs += validate_finalizer_name(f, path)
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def validate_finalizer_name(name: str, path: str) -> FieldErrors:
    errs = [invalid(path, name, m) for m in names.is_qualified_name(name)]
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errs.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_object_meta(meta: meta_pb2.ObjectMeta, *, namespaced: bool, name_fn: NameFn,
                         path: str = "metadata", identity: bool = True) -> FieldErrors:
    """ValidateObjectMeta: names, namespace, generation, labels, annotations, owners, finalizers.

    `identity=False` skips the name and namespace syntax (an update that changed them is already
    answered with `field is immutable`).
    """
    errs: FieldErrors = []
    if identity:
        errs += _validate_identity(meta, namespaced=namespaced, name_fn=name_fn, path=path)
    errs += validate_nonnegative(meta.generation, child(path, "generation"))
    errs += validate_labels(meta.labels, child(path, "labels"))
    errs += validate_annotations(meta.annotations, child(path, "annotations"))
    errs += validate_owner_references(meta.owner_references, child(path, "ownerReferences"))
    errs += validate_finalizers(meta.finalizers, child(path, "finalizers"))
    return errs


def _validate_identity(meta: meta_pb2.ObjectMeta, *, namespaced: bool, name_fn: NameFn, path: str) -> FieldErrors:
    errs: FieldErrors = []
    if meta.generate_name:
        errs += [invalid(child(path, "generateName"), meta.generate_name, m) for m in name_fn(meta.generate_name, True)]
    if not meta.name:
        # The service generates the name from generateName before validating; until it has,
        # generateName stands in for it.
        if not meta.generate_name:
            errs.append(required(child(path, "name"), "name or generateName is required"))
    else:
        errs += [invalid(child(path, "name"), meta.name, m) for m in name_fn(meta.name, False)]
    if namespaced:
        if not meta.namespace:
            errs.append(required(child(path, "namespace")))
        else:
            errs += [invalid(child(path, "namespace"), meta.namespace, m)
                     for m in names.name_is_dns_label(meta.namespace, False)]
    elif meta.namespace:
        errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    return errs


def validate_object_meta_update(new: meta_pb2.ObjectMeta, old: meta_pb2.ObjectMeta,
                                path: str = "metadata") -> FieldErrors:
    """ValidateObjectMetaUpdate: identity fields are immutable; no new finalizers while deleting.

    resourceVersion and generation are not checked here: the service fills resourceVersion in
    for unconditional updates, and prepare_update owns generation.
    """
    errs: FieldErrors = []
    if old.HasField("deletion_timestamp"):
        extra = sorted(set(new.finalizers) - set(old.finalizers))
        if extra:
            errs.append(forbidden(child(path, "finalizers"), "no new finalizers can be added if the object is being "
                                                             f"deleted, found new finalizers {go_strings(extra)}"))
    for field, json in (("name", "name"), ("namespace", "namespace"), ("uid", "uid"),
                        ("creation_timestamp", "creationTimestamp"), ("deletion_timestamp", "deletionTimestamp")):
        if getattr(new, field) != getattr(old, field):
            errs.append(immutable(child(path, json), getattr(new, field) if new.HasField(field) else
                                  ("" if field != "deletion_timestamp" else None)))
    if (new.HasField("deletion_grace_period_seconds") != old.HasField("deletion_grace_period_seconds")
            or new.deletion_grace_period_seconds != old.deletion_grace_period_seconds):
        errs.append(immutable(child(path, "deletionGracePeriodSeconds"),
                              new.deletion_grace_period_seconds if new.HasField("deletion_grace_period_seconds")
                              else None))
    return errs


# --- label selectors ------------------------------------------------------------------------------

def validate_label_selector(sel: meta_pb2.LabelSelector, path: str) -> FieldErrors:
    errs = validate_labels(sel.match_labels, child(path, "matchLabels"))
    for i, expr in enumerate(sel.match_expressions):
        ipath = index(child(path, "matchExpressions"), i)
        if expr.operator in ("In", "NotIn"):
            if not expr.values:
                errs.append(required(child(ipath, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif expr.operator in ("Exists", "DoesNotExist"):
            if expr.values:
                errs.append(forbidden(child(ipath, "values"),
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(child(ipath, "operator"), expr.operator, "not a valid selector operator"))
        errs += validate_label_name(expr.key, child(ipath, "key"))
    return errs


def selector_is_convertible(sel: meta_pb2.LabelSelector) -> bool:
    """Whether LabelSelectorAsSelector would succeed: operators known, values present and label-valid."""
    for k, v in sel.match_labels.items():
        if names.is_qualified_name(k) or names.is_valid_label_value(v):
            return False
    for expr in sel.match_expressions:
        if expr.operator in ("In", "NotIn"):
            if not expr.values:
                return False
        elif expr.operator in ("Exists", "DoesNotExist"):
            if expr.values:
                return False
        else:
            return False
        if names.is_qualified_name(expr.key) or any(names.is_valid_label_value(v) for v in expr.values):
            return False
    return True


def selector_is_empty(sel: meta_pb2.LabelSelector) -> bool:
    return not sel.match_labels and not sel.match_expressions


def selector_matches(sel: meta_pb2.LabelSelector, labels: Mapping[str, str]) -> bool:
    """A (convertible) LabelSelector against a label set; the empty selector matches everything."""
    for k, v in sel.match_labels.items():
        if labels.get(k) != v:
            return False
    for expr in sel.match_expressions:
        present = expr.key in labels
        if expr.operator == "In" and not (present and labels[expr.key] in expr.values):
            return False
        if expr.operator == "NotIn" and present and labels[expr.key] in expr.values:
            return False
        if expr.operator == "Exists" and not present:
            return False
        if expr.operator == "DoesNotExist" and present:
            return False
    return True


def go_label_selector(sel: meta_pb2.LabelSelector) -> GoRepr:
    """`%#v` of a metav1.LabelSelector, as Kubernetes prints it in `field is immutable` errors."""
    if sel.match_expressions:
        exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(
            f"v1.LabelSelectorRequirement{{Key:{go_quote(e.key)}, Operator:{go_quote(e.operator)}, "
            f"Values:{go_strings(e.values)}}}" for e in sel.match_expressions) + "}"
    else:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    return GoRepr(f"v1.LabelSelector{{MatchLabels:{go_map(dict(sel.match_labels))}, MatchExpressions:{exprs}}}")
