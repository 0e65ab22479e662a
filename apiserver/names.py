"""Kubernetes' syntax checks for names, labels, ports, IPs and quantities (k8s.io/apimachinery
util/validation), with Kubernetes' messages.

Each `is_*` returns the list of things wrong with a value (empty when it is fine), exactly as the
Go functions do, so callers turn each message into one field error. `name_is_*` are the
ValidateNameFunc variants used for `metadata.name` and `metadata.generateName` (a prefix may end
in '-', since a random suffix follows). Pure: no I/O.
"""
from __future__ import annotations

import ipaddress
import re

from client import selectors
from client.quantity import parse_quantity  # noqa: F401 - re-exported for the validators

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_ERR = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character")
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_ERR = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                         "'.', and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_ERR = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character")
DNS1035_LABEL_MAX = 63
WILDCARD_DNS1123_SUBDOMAIN_FMT = "\\*\\." + DNS1123_SUBDOMAIN_FMT
WILDCARD_DNS1123_SUBDOMAIN_ERR = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                                  "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and "
                                  "end with an alphanumeric character")
ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
ENV_VAR_NAME_ERR = ("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or "
                    "'.', and must not start with a digit")
CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
CONFIG_MAP_KEY_ERR = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
PERCENT_FMT = "[0-9]+%"
PERCENT_ERR = "a valid percent string must be a numeric string followed by an ending '%'"
HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"
HTTP_HEADER_NAME_ERR = "a valid HTTP header must consist of alphanumeric characters or '-'"

NEGATIVE_ERR = "must be greater than or equal to 0"
NOT_POSITIVE_ERR = "must be greater than zero"


def _full(fmt: str) -> re.Pattern:
    return re.compile(f"(?:{fmt})")


_DNS1123_LABEL = _full(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = _full(DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = _full(DNS1035_LABEL_FMT)
_WILDCARD = _full(WILDCARD_DNS1123_SUBDOMAIN_FMT)
_ENV_VAR_NAME = _full(ENV_VAR_NAME_FMT)
_CONFIG_MAP_KEY = _full(CONFIG_MAP_KEY_FMT)
_PERCENT = _full(PERCENT_FMT)
_HTTP_HEADER_NAME = _full(HTTP_HEADER_NAME_FMT)
_PORT_NAME_CHARSET = re.compile(r"[-a-z0-9]+")
_PORT_NAME_ONE_LETTER = re.compile(r"[a-z]")


def _matches(pattern: re.Pattern, value: str) -> bool:
    return pattern.fullmatch(value) is not None


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Kubernetes' RegexError, byte for byte: each example is followed by ", " and joined by " or "
    (hence Kubernetes' `'MyName',  or 'my.name'`)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(max_len_error(DNS1123_LABEL_MAX))
    if not _matches(_DNS1123_LABEL, value):
        errs.append(regex_error(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _matches(_DNS1123_SUBDOMAIN, value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1035_LABEL_MAX:
        errs.append(max_len_error(DNS1035_LABEL_MAX))
    if not _matches(_DNS1035_LABEL, value):
        errs.append(regex_error(DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _matches(_WILDCARD, value):
        errs.append(regex_error(WILDCARD_DNS1123_SUBDOMAIN_ERR, WILDCARD_DNS1123_SUBDOMAIN_FMT, "*.example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label key, annotation key or finalizer: `name` or `dns.subdomain/name` (one implementation,
    shared with label selectors: client/selectors.py)."""
    return selectors.qualified_name_errors(value)


def is_valid_label_value(value: str) -> list[str]:
    return selectors.label_value_errors(value)


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 of [-a-z0-9], a letter somewhere, no '--', no '-' at either end."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _matches(_PORT_NAME_CHARSET, port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_ONE_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_env_var_name(value: str) -> list[str]:
    errs = []
    if not _matches(_ENV_VAR_NAME, value):
        errs.append(regex_error(ENV_VAR_NAME_ERR, ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errs + _chdir_prefix(value)


def is_config_map_key(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX))
    if not _matches(_CONFIG_MAP_KEY, value):
        errs.append(regex_error(CONFIG_MAP_KEY_ERR, CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    return errs + _chdir_prefix(value)


def is_valid_percent(value: str) -> list[str]:
    return [] if _matches(_PERCENT, value) else [regex_error(PERCENT_ERR, PERCENT_FMT, "1%", "93%")]


def is_http_header_name(value: str) -> list[str]:
    if _matches(_HTTP_HEADER_NAME, value):
        return []
    return [regex_error(HTTP_HEADER_NAME_ERR, HTTP_HEADER_NAME_FMT, "X-Header-Name")]


def is_valid_ip(value: str) -> list[str]:
    try:
        if "%" in value:  # Go's net.ParseIP takes no IPv6 zone
            raise ValueError
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


def is_valid_cidr(value: str) -> bool:
    if "/" not in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


# --- ValidateNameFunc: (name, prefix) -> messages ---------------------------------------------------

def _mask_trailing_dash(name: str) -> str:
    # Kubernetes' maskTrailingDash, byte for byte (it drops the character before the dash, too).
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)
