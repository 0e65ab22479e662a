#!/usr/bin/env bash
# Regenerates the committed Python code in skiffpb/ from the .proto sources in proto/.
#   proto/generate.sh          rewrite skiffpb/ in place
#   proto/generate.sh --check  exit 1 (and show the difference) when skiffpb/ is stale
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root/proto"
mapfile -t sources < <(find skiffpb -name '*.proto' | sort)
"$py" -m grpc_tools.protoc -I. --python_out="$out" --grpc_python_out="$out" "${sources[@]}"
# Every directory of generated code is a package.
find "$out/skiffpb" -type d -exec sh -c 'for d; do [ -f "$d/__init__.py" ] || : > "$d/__init__.py"; done' _ {} +
cat > "$out/skiffpb/__init__.py" <<'DOC'
"""Generated protobuf and gRPC code for Skiff. NEVER edit: run proto/generate.sh."""
DOC
if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$out/skiffpb" "$root/skiffpb" -x __pycache__; then
    echo "skiffpb/ is stale: run proto/generate.sh and commit the result" >&2
    exit 1
  fi
  echo "skiffpb/ is fresh"
else
  rm -rf "$root/skiffpb"
  cp -r "$out/skiffpb" "$root/skiffpb"
  echo "regenerated skiffpb/ from ${#sources[@]} .proto files"
fi
