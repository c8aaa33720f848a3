#!/usr/bin/env bash
# privlink's whole test suite, in one command:
#   1. unit and integration tests (real HTTPS against the real binary) on SQLite;
#   2. the same suite again on PostgreSQL when PRIVLINK_TEST_POSTGRES_URL is set
#      (e.g. postgres://postgres@127.0.0.1:5432/test);
#   3. the conformance suite: the real Azure SDK for Python against `privlink serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (SQLite)"
cargo test --workspace

if [ -n "${PRIVLINK_TEST_POSTGRES_URL:-}" ]; then
    echo "== cargo test (PostgreSQL)"
    PRIVLINK_TEST_STORE=postgres cargo test --workspace
else
    echo "== PostgreSQL run skipped: set PRIVLINK_TEST_POSTGRES_URL to include it"
fi

echo "== conformance (Azure SDK for Python)"
conformance/run.sh
