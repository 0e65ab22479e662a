"""Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1e3`) as exact numbers. Pure.

    parse_quantity("500m")   # Fraction(1, 2)        ValueError when malformed
    milli_value("500m")      # 500    (cpu in millicores)
    qos_class(pod.spec)      # "Burstable"  (Kubernetes' GetPodQOS over containers and init containers)
    int_value("128Mi")       # 134217728 (memory in bytes, pods as a count)

The grammar is k8s.io/apimachinery's resource.Quantity: a signed decimal number (`1`, `1.5`, `.5`,
`5.`), then either a suffix (binary `Ki Mi Gi Ti Pi Ei`, decimal `n u m k M G T P E`) or a decimal
exponent (`e3`, `E-2`), or nothing. `K` alone is not a suffix (`k` is); `e` without digits is not an
exponent. Values are exact Fractions, so sums and comparisons never round.

Rounding as Kubernetes' `Quantity.MilliValue()` / `Value()`: up (towards +infinity), so `0.1m` of cpu
is 1 millicore and `1.5` bytes is 2 bytes. A request never shrinks when it is made whole.

The one parser of this grammar: the apiserver's validators, `cli/quantity.py` (which keeps the
suffix family for printing) and the scheduler use it; `client/codec.py` only checks the form.
"""
from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

__all__ = ["int_value", "milli_value", "parse_quantity", "qos_class"]

_FORM = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?")
_SCALE = {
    None: Fraction(1),
    "n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 10 ** 3),
    "k": Fraction(10 ** 3), "M": Fraction(10 ** 6), "G": Fraction(10 ** 9),
    "T": Fraction(10 ** 12), "P": Fraction(10 ** 15), "E": Fraction(10 ** 18),
    "Ki": Fraction(2 ** 10), "Mi": Fraction(2 ** 20), "Gi": Fraction(2 ** 30),
    "Ti": Fraction(2 ** 40), "Pi": Fraction(2 ** 50), "Ei": Fraction(2 ** 60),
}
# Kubernetes' own wording for a malformed quantity (resource.ErrFormatWrong's regular expression).
_MALFORMED = ("quantities must match the regular expression "
              "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


@functools.lru_cache(maxsize=4096)
def parse_quantity(text: str) -> Fraction:
    """The exact value of a quantity: "500m" -> 1/2, "1Gi" -> 2**30, "1e3" -> 1000.

    Surrounding whitespace is ignored. Raises ValueError naming the text when it is malformed.
    Memoized (a Fraction is immutable): a cluster's pods repeat a few quantities, and the apiserver
    (validation, QoS) and the scheduler (requests, allocatable) parse them per object; the regular
    expression and Fraction arithmetic cost more than everything else a pod's requests take.
    """
    m = _FORM.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"{_MALFORMED}: {text!r}")
    number, exponent, suffix = m.groups()
    value = Fraction(number)
    if exponent is not None:
        return value * Fraction(10) ** int(exponent[1:])
    return value * _SCALE[suffix]


def milli_value(text: str) -> int:
    """The quantity in thousandths, rounded up: cpu "500m" -> 500, "1" -> 1000, "0.1m" -> 1."""
    return math.ceil(parse_quantity(text) * 1000)


def int_value(text: str) -> int:
    """The quantity as a whole number, rounded up: memory "128Mi" -> 134217728, "1k" -> 1000."""
    return math.ceil(parse_quantity(text))


def qos_class(spec) -> str:
    """Kubernetes' GetPodQOS: Guaranteed, Burstable or BestEffort, from cpu and memory only."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in list(spec.containers) + list(spec.init_containers):
        for name, q in c.resources.requests.items():
            if name in ("cpu", "memory") and _positive(q.value):
                requests[name] = requests.get(name, 0) + parse_quantity(q.value)
        found = set()
        for name, q in c.resources.limits.items():
            if name in ("cpu", "memory") and _positive(q.value):
                found.add(name)
                limits[name] = limits.get(name, 0) + parse_quantity(q.value)
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == v for n, v in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _positive(text: str) -> bool:
    try:
        return parse_quantity(text) > 0
    except ValueError:
        return False
