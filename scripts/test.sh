#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, then the client-conformance
# suite (real boto3 / botocore over JSON, Query and CBOR against the real binary).
# Installs what the tests need: a Python virtual environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt

cargo build --bin modelwatch
target_dir=$(cargo metadata --format-version 1 --no-deps | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

cargo test --workspace
MODELWATCH_BIN="$target_dir/debug/modelwatch" .venv/bin/python -m pytest -q tests/py "$@"
