"""Which Skiff this is: Kubernetes' version.Info fields, for `skiff version` and the apiserver's Version RPC.

The shape is Kubernetes' (k8s.io/apimachinery/pkg/version.Info: major, minor, gitVersion, gitCommit,
gitTreeState, buildDate, goVersion, compiler, platform), so tools that read `kubectl version -o json`
read Skiff's too. Python has no link-time stamping, so the fields come from where they are at run
time: the version from the installed package metadata (pyproject.toml), the commit, its date and
whether the tree has local changes from the git checkout the code runs from (empty when it is not a
checkout or git is missing), goVersion carries the Python version and compiler the implementation.

`version_info` is pure (everything comes in); `build_info` gathers the inputs once per process.
"""
from __future__ import annotations

import functools
import platform as _platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT_TIMEOUT = 3.0  # seconds; `version` must not hang on a slow or locked repository


def version_info(version: str, *, commit: str = "", commit_date: str = "", tree_state: str = "",
                 python: str = "", compiler: str = "", platform: str = "") -> dict[str, str]:
    """Kubernetes' version.Info as a dict in its JSON field order. `version` is "0.1.0" or "v0.1.0"."""
    bare = version[1:] if version.startswith("v") else version
    parts = bare.split(".")
    major = parts[0] if parts and parts[0].isdigit() else ""
    minor = parts[1] if len(parts) > 1 and parts[1].isdigit() else ""
    return {"major": major, "minor": minor, "gitVersion": f"v{bare}" if bare else "", "gitCommit": commit,
            "gitTreeState": tree_state, "buildDate": commit_date, "goVersion": python, "compiler": compiler,
            "platform": platform}


def go_struct(info: dict[str, str]) -> str:
    """The info as Go's `%#v` prints it, which is what `kubectl version` (1.20) shows after `Client Version: `."""
    fields = ", ".join(f'{key[0].upper()}{key[1:]}:"{value}"' for key, value in info.items())
    return "version.Info{" + fields + "}"


@functools.lru_cache(maxsize=1)
def build_info() -> dict[str, str]:
    """This process's version.Info (git is asked once per process, with a deadline)."""
    try:
        from importlib.metadata import PackageNotFoundError, version as package_version
        try:
            version = package_version("skiff")
        except PackageNotFoundError:
            version = "0.0.0"
    except ImportError:  # pragma: no cover - Python without importlib.metadata
        version = "0.0.0"
    commit, date = _git("log", "-1", "--format=%H %cI").partition(" ")[::2]
    dirty = _git("status", "--porcelain", "--untracked-files=no") if commit else ""
    tree_state = ("dirty" if dirty else "clean") if commit else ""
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(_platform.machine(), _platform.machine())
    return version_info(version, commit=commit, commit_date=_utc(date), tree_state=tree_state,
                        python=f"python{_platform.python_version()}",
                        compiler=sys.implementation.name, platform=f"{sys.platform}/{machine}")


def _git(*args: str) -> str:
    """git's stdout in the source tree, stripped; "" when git is missing, fails or is slow."""
    if not (ROOT / ".git").exists():
        return ""
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _utc(iso: str) -> str:
    """git's ISO date with offset as Kubernetes writes buildDate: `2020-12-08T17:59:43Z`."""
    if not iso:
        return ""
    from datetime import datetime, timezone
    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return iso
