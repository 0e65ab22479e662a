"""Manifest files -> decoded, validated objects, with kubectl's error wording.

    sources = read_sources(["deploy.yaml", "dir/", "-"], stdin=sys.stdin)   # the only I/O here
    manifests = parse_source(source, text)                                 # pure; raises ManifestError

A source is one file (or stdin, named "STDIN" as kubectl does), or an http:// or https:// URL named by
itself and fetched as kubectl fetches it: three tries a second apart for connection failures and 5xx
answers, else `unable to read URL "...", server reported 404 Not Found, status code=404`. A directory
stands for its *.yaml, *.yml and *.json files in sorted order, not recursively (kubectl's default).
A file holds one or more YAML documents (`---`), or JSON objects one after another; empty documents
are skipped and a `v1/List` stands for its items. Each document is decoded with client.codec into
the kind its (apiVersion, kind) names, so a manifest with an unknown field or a wrong type is refused
before anything is sent, with the field path: `error validating "web.yaml": error validating data:
spec.template.spec.containers[0].imagee: unknown field`.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterable, TextIO

import yaml
from google.protobuf.message import Message

from client import codec, kinds
from client.kinds import Kind

EXTENSIONS = (".yaml", ".yml", ".json")
STDIN = "STDIN"
URL_ATTEMPTS = 3          # kubectl's tries for `-f URL`
URL_RETRY_PAUSE = 1.0     # seconds between them
URL_TIMEOUT = 30.0        # seconds for one try


class ManifestError(Exception):
    """A file that cannot be used; str() is kubectl's message without the leading `error: `."""


@dataclass(frozen=True)
class Manifest:
    source: str          # the file as named on the command line (or inside a named directory), "STDIN"
    kind: Kind
    data: dict           # the document as written (after YAML/JSON decoding)
    obj: Message         # the decoded object

    @property
    def name(self) -> str:
        return self.obj.metadata.name

    @property
    def namespace(self) -> str:
        return self.obj.metadata.namespace


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings: `date: 2024-01-01` in an annotation stays a string,
    as in Kubernetes' YAML decoding (a datetime would not fit a string field)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_sources(paths: Iterable[str], stdin: TextIO) -> list[tuple[str, str]]:
    """(source name, text) for each file `paths` name, directories expanded; ManifestError if one is missing."""
    out: list[tuple[str, str]] = []
    for path in paths:
        if path == "-":
            out.append((STDIN, stdin.read()))
            continue
        if is_url(path):
            out.append((path, read_url(path)))
            continue
        if not os.path.exists(path):
            raise ManifestError(f'the path "{path}" does not exist')
        if os.path.isdir(path):
            for entry in sorted(os.listdir(path)):
                full = os.path.join(path, entry)
                if entry.endswith(EXTENSIONS) and os.path.isfile(full):
                    out.append((full, _read(full)))
            continue
        out.append((path, _read(path)))
    return out


def is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def _opener(url: str) -> urllib.request.OpenerDirector:
    """Loopback URLs never go through an http(s)_proxy (Go's net/http, hence kubectl, behaves so)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost" or host.startswith("127.") or host == "::1":
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def read_url(url: str, *, attempts: int = URL_ATTEMPTS, pause: float = URL_RETRY_PAUSE,
             timeout: float = URL_TIMEOUT) -> str:
    """The body of an http(s) URL, as kubectl reads `-f URL`: up to `attempts` tries, retrying only
    connection failures and 5xx answers; any other status fails at once. ManifestError names the URL."""
    problem = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(pause)
        try:
            with _opener(url).open(url, timeout=timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            problem = f", server reported {e.code} {e.reason}, status code={e.code}"
            if not 500 <= e.code < 600:
                break
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            problem = f": {reason.strerror if isinstance(reason, OSError) and reason.strerror else reason}"
        else:
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ManifestError(f'error reading "{url}": {e}') from None
    raise ManifestError(f'unable to read URL "{url}"{problem}')


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f'error reading "{path}": {e}') from None


def parse_documents(source: str, text: str) -> list[Any]:
    """The non-empty documents of one file: a YAML stream, or JSON values one after another."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [d for d in _json_stream(stripped) if d is not None]
        except ValueError:
            pass  # not JSON after all (YAML flow style, say): let the YAML parser judge it
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ManifestError(f"error parsing {source}: error converting YAML to JSON: yaml: {where}{problem}") from None


def _json_stream(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    docs, i = [], 0
    while i < len(text):
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
        while i < len(text) and text[i].isspace():
            i += 1
    return docs


def parse_source(source: str, text: str, *, need_name: bool = True) -> list[Manifest]:
    """Every object in one file, decoded; the first bad document raises ManifestError."""
    out: list[Manifest] = []
    for doc in parse_documents(source, text):
        for path, data in _expand_lists(source, doc):
            out.append(decode(source, data, path=path, need_name=need_name))
    return out


def _expand_lists(source: str, doc: Any) -> list[tuple[str, Any]]:
    if isinstance(doc, dict) and doc.get("kind") == "List" and doc.get("apiVersion") == "v1":
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise _invalid(source, f"items: expected array, got {type(items).__name__}")
        return [(f"items[{i}]", item) for i, item in enumerate(items) if item is not None]
    return [("", doc)]


def _invalid(source: str, detail: str) -> ManifestError:
    return ManifestError(f'error validating "{source}": error validating data: {detail}')


def decode(source: str, data: Any, *, path: str = "", need_name: bool = True) -> Manifest:
    """One document -> Manifest, or ManifestError in kubectl's words, naming `source` and the field path."""
    prefix = f"{path}." if path else ""
    if not isinstance(data, dict):
        raise _invalid(source, f"{path or 'document'}: expected an object with apiVersion and kind, "
                               f"got {type(data).__name__}")
    missing = [f"{prefix}{f} not set" for f in ("apiVersion", "kind") if not data.get(f)]
    if missing:
        raise _invalid(source, missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]")
    api_version, kind_name = data["apiVersion"], data["kind"]
    if not isinstance(api_version, str) or not isinstance(kind_name, str):
        raise _invalid(source, f"{prefix}apiVersion and {prefix}kind must be strings")
    try:
        kind = kinds.by_gvk(api_version, kind_name)
    except kinds.UnknownKind as e:
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        raise ManifestError(f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
                            f'"{meta.get("namespace", "")}" from "{source}": {e}\n'
                            "ensure CRDs are installed first") from None
    try:
        obj = codec.from_dict(kind.message, data, path)
    except codec.DecodeError as e:
        raise _invalid(source, str(e)) from None
    if need_name and not obj.metadata.name:
        detail = ("generateName is not supported here: give metadata.name"
                  if obj.metadata.generate_name else "Required value: name is required")
        raise _invalid(source, f"{prefix}metadata.name: {detail}")
    return Manifest(source=source, kind=kind, data=data, obj=obj)


def load(paths: Iterable[str], stdin: TextIO, *, need_name: bool = True) -> tuple[list[Manifest], list[str]]:
    """All manifests of all files, plus one error per bad file (its objects left out, as kubectl does).

    A missing path raises ManifestError: kubectl refuses the whole command before sending anything."""
    manifests: list[Manifest] = []
    errors: list[str] = []
    for source, text in read_sources(paths, stdin):
        try:
            manifests.extend(parse_source(source, text, need_name=need_name))
        except ManifestError as e:
            errors.append(str(e))
    return manifests, errors
