#!/usr/bin/env bash
# `make package`: the worker for Lambda's `provided.al2023` runtime, as Rust
# Lambda users build it: cargo-zigbuild (zig from PyPI's `ziglang`) links against
# glibc 2.34, Amazon Linux 2023's, whatever the build machine has. One zip per
# architecture, each holding an executable `bootstrap`:
#
#   build/sls-load-worker-arm64.zip    aarch64 (Graviton; ~20 % cheaper per GB-s)
#   build/sls-load-worker-x86_64.zip   x86_64
#
# Built with `--profile lambda` (Cargo.toml: fat LTO, one codegen unit, stripped).
# Prints each zip's size and the newest glibc symbol version its binary needs, and
# fails if that is newer than 2.34. Where the aarch64 standard library is not
# installed (rustup could not fetch it), the arm64 zip is skipped in one line.
# ARCHS="x86_64" builds one only.
set -euo pipefail
cd "$(dirname "$0")/.."

DEPS=${TEST_DEPS_DIR:-target/test-deps}
CARGO=${CARGO:-cargo}
GLIBC=2.34
ARCHS=${ARCHS:-"arm64 x86_64"}
# PROFILE=dev OUT=target/package-check: the same packaging, quicker (make test).
PROFILE=${PROFILE:-lambda}
OUT=${OUT:-build}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

# zig from the `ziglang` venv (`python3 -m ziglang`), cargo-zigbuild from its root.
export PATH="$PWD/$DEPS/zig/bin:$PWD/$DEPS/cargo/bin:$PATH"
command -v cargo-zigbuild >/dev/null || { echo "package: cargo-zigbuild is missing: run \`make test-deps\`" >&2; exit 1; }

mkdir -p "$OUT"
for arch in $ARCHS; do
    case $arch in
        arm64) triple=aarch64-unknown-linux-gnu; machine=AArch64 ;;
        x86_64) triple=x86_64-unknown-linux-gnu; machine="X86-64" ;;
        *) echo "package: unknown architecture $arch (arm64 or x86_64)" >&2; exit 1 ;;
    esac
    zip=$OUT/sls-load-worker-$arch.zip
    if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
        echo "package: skipping $zip: the $triple standard library is not installed (rustup target add $triple)"
        rm -f "$zip"
        continue
    fi
    "$CARGO" zigbuild --locked --quiet --profile "$PROFILE" -p sls-load-function --bin bootstrap \
        --target "$triple.$GLIBC"
    dir=$PROFILE; [[ $PROFILE == dev ]] && dir=debug
    bin=$TARGET_DIR/$triple/$dir/bootstrap
    readelf -h "$bin" | grep -q "Machine:.*$machine" \
        || { echo "package: $bin is not an $machine binary" >&2; exit 1; }
    newest=$(readelf -V "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    if [[ "$(printf '%s\n' "GLIBC_$GLIBC" "$newest" | sort -V | tail -1)" != "GLIBC_$GLIBC" ]]; then
        echo "package: $bin needs $newest, newer than provided.al2023's GLIBC_$GLIBC" >&2
        exit 1
    fi
    python3 - "$bin" "$zip" <<'EOF'
import sys, zipfile
src, out = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16  # a regular, executable file
info.compress_type = zipfile.ZIP_DEFLATED
with zipfile.ZipFile(out + ".part", "w") as z:
    z.writestr(info, open(src, "rb").read(), compresslevel=9)
import os
os.replace(out + ".part", out)
EOF
    size=$(stat -c %s "$zip")
    echo "package: $zip $(awk "BEGIN{printf \"%.2f\", $size/1048576}") MB (bootstrap $(awk "BEGIN{printf \"%.2f\", $(stat -c %s "$bin")/1048576}") MB, newest glibc symbol $newest)"
done
