#!/usr/bin/env bash
# Installs the system packages DriftDB's build needs, if they are missing (Debian/Ubuntu).
# RocksDB's Rust bindings run bindgen at build time, which needs libclang; clang compiles nothing
# itself here but brings the matching headers.
set -euo pipefail

missing=()
for package in clang libclang-dev; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
# The integration tests stop the server with /bin/kill (SIGTERM), not the shell builtin.
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || missing+=(procps)

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing missing packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install a Rust toolchain (rustup, Rust 1.95 or newer) and retry" >&2
    exit 1
fi
