"""Resource quantities as `describe` shows them: parse `500m`/`128Mi`, add, print in canonical form. Pure.

Kubernetes' resource.Quantity keeps the family of its suffix (binary Ki/Mi/Gi, decimal m/k/M/G) and
prints the largest suffix that keeps the number whole (`1024Mi` is `1Gi`, `1500m` stays `1500m`,
`2000m` is `2`); a sum keeps the family of its first term. Values are exact Fractions, so sums and
comparisons never round. Also the pod arithmetic `describe` needs: requests and limits of a pod
(containers summed, init containers as a maximum, overhead added) (the QoS class is client.quantity.qos_class).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

from client.quantity import parse_quantity

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


@dataclass(frozen=True)
class Quantity:
    value: Fraction
    binary: bool = False     # the family of the suffix it was written with

    def __add__(self, other: "Quantity") -> "Quantity":
        return Quantity(self.value + other.value, self.binary)

    def __str__(self) -> str:
        return canonical(self.value, self.binary)


ZERO = Quantity(Fraction(0))


def parse(text: str) -> Quantity:
    """`500m`, `1.5`, `128Mi`, `1e3` -> a Quantity; ValueError for anything else."""
    value = parse_quantity(text)
    return Quantity(value, binary=text.strip().endswith("i"))


def parse_or_zero(text: str) -> Quantity:
    try:
        return parse(text)
    except ValueError:
        return ZERO


def canonical(value: Fraction, binary: bool = False) -> str:
    """Kubernetes' canonical string: the largest suffix of the family that leaves a whole number."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if binary and value.denominator == 1 and value >= 1024:
        for suffix, scale in sorted(_BINARY.items(), key=lambda kv: -kv[1]):
            if value % scale == 0:
                return f"{sign}{value // scale}{suffix}"
    if binary and value.denominator == 1:
        return f"{sign}{value}"
    # Decimal: round up to nano precision first, as Kubernetes does for values it cannot hold exactly.
    nanos = -((-value * 10 ** 9) // 1)
    for suffix, exp in sorted(_DECIMAL.items(), key=lambda kv: -kv[1]):
        scale = Fraction(10) ** (exp + 9)
        if nanos % scale == 0:
            return f"{sign}{nanos // scale}{suffix}"
    return f"{sign}{nanos}n"  # pragma: no cover - the loop ends at n, which always divides


def total(values: Mapping[str, object], into: dict[str, Quantity]) -> None:
    """Adds a resource list (name -> meta.v1.Quantity message) into `into`."""
    for name, q in values.items():
        qty = parse_or_zero(q.value)
        into[name] = into[name] + qty if name in into else qty


def pod_requests_and_limits(spec) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """resourcehelper.PodRequestsAndLimits: containers summed; each init container's value as a
    floor (they run one at a time, before the others); the pod overhead added."""
    reqs: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    for c in spec.containers:
        total(c.resources.requests, reqs)
        total(c.resources.limits, limits)
    for c in spec.init_containers:
        for src, dst in ((c.resources.requests, reqs), (c.resources.limits, limits)):
            for name, q in src.items():
                qty = parse_or_zero(q.value)
                if name not in dst or qty.value > dst[name].value:
                    dst[name] = qty
    if len(spec.overhead):
        total(spec.overhead, reqs)
        for name, q in spec.overhead.items():
            if name in limits:
                limits[name] = limits[name] + parse_or_zero(q.value)
    return reqs, limits
