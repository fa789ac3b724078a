#!/usr/bin/env bash
# `make test-deps`: installs every third-party program the tests start, so that
# the tests themselves never change the machine. Idempotent and quick when all
# is there: each step checks first. Pinned versions, as tested.
#
#   Debian : chromium (HTML report), prometheus and influxdb (--out back-ends),
#            qemu-user-static and libc6-arm64-cross (run the arm64 worker)
#   PyPI   : moto[server] (S3, CloudFormation, IAM, Lambda control plane, STS),
#            cfn-lint, checkov and python-hcl2 (infra/ checks), ziglang (the
#            linker cargo-zigbuild uses), AWS's Lambda Runtime Interface Emulator
#            (inside the aws-sam-cli wheel)
#   crates : cargo-zigbuild (make package)
#   rustup : the aarch64-unknown-linux-gnu standard library (make package's arm64
#            zip); where it cannot be installed the arm64 zip is skipped, in one line
#
# Everything but the Debian packages and the rustup target lands in
# $TEST_DEPS_DIR (default target/test-deps), where tests/support looks for it.
# `test-deps.sh package` installs only what `make package` needs (zig,
# cargo-zigbuild, the aarch64 std); `test-deps.sh lint` only the infra linters.
set -euo pipefail
ONLY=${1:-all}
cd "$(dirname "$0")/.."

DIR=${TEST_DEPS_DIR:-target/test-deps}
MOTO="moto[server]==5.2.5"
SAM_CLI="aws-sam-cli==1.170.0"
RIE_IN_WHEEL="samcli/local/rapid/aws-lambda-rie-x86_64"
LINT="cfn-lint==1.58.0 checkov==3.3.30 python-hcl2==8.1.4"
ZIG="ziglang==0.17.1"
ZIGBUILD_VERSION=0.24.1
AARCH64=aarch64-unknown-linux-gnu
mkdir -p "$DIR"

say() { echo "test-deps: $*"; }

# --- Debian packages ---------------------------------------------------------
missing=()
pairs="chromium:chromium prometheus:prometheus influxd:influxdb qemu-aarch64-static:qemu-user-static"
pairs+=" /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1:libc6-arm64-cross"
[[ $ONLY != all ]] && pairs=""
for pair in $pairs; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [[ -e "${pair%%:*}" ]] || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    say "apt-get install ${missing[*]}"
    apt() { DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 "$@" </dev/null; }
    apt install -y --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt update >/dev/null && apt install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

# --- Python tools, one venv per purpose (their pins differ) ------------------
venv() { # venv NAME STAMP PACKAGES...
    local name=$1 stamp=$2; shift 2
    if [[ ! -f "$DIR/$name/.installed-$stamp" ]]; then
        say "pip install $* (venv $name)"
        [[ -x "$DIR/$name/bin/python" ]] || python3 -m venv "$DIR/$name"
        timeout 900 "$DIR/$name/bin/python" -m pip install -q --disable-pip-version-check "$@"
        touch "$DIR/$name/.installed-$stamp"
    fi
}
[[ $ONLY == lint ]] || venv zig "${ZIG//[^a-z0-9.]/_}" "$ZIG"
[[ $ONLY == all ]] && venv moto "${MOTO//[^a-z0-9.]/_}" "$MOTO"
[[ $ONLY == package ]] || venv lint "$(echo "$LINT" | tr -c 'a-z0-9.\n' _)" $LINT
if [[ $ONLY == lint ]]; then say "ready in $DIR"; exit 0; fi

# --- AWS's Runtime Interface Emulator, from the aws-sam-cli wheel -----------
if [[ $ONLY == all && ! -x "$DIR/aws-lambda-rie" ]]; then
    say "pip download $SAM_CLI (for the Runtime Interface Emulator)"
    timeout 900 "$DIR/moto/bin/python" -m pip download -q --no-deps --disable-pip-version-check "$SAM_CLI" -d "$DIR/wheels"
    "$DIR/moto/bin/python" - "$DIR" "$RIE_IN_WHEEL" <<'EOF'
import glob, os, sys, zipfile
d, inner = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(d, "wheels", "aws_sam_cli-*.whl"))[0]
out = os.path.join(d, "aws-lambda-rie")
open(out + ".part", "wb").write(zipfile.ZipFile(wheel).read(inner))
os.chmod(out + ".part", 0o755)
os.replace(out + ".part", out)
EOF
fi

# --- cargo-zigbuild -----------------------------------------------------------
if [[ ! -x "$DIR/cargo/bin/cargo-zigbuild" ]]; then
    say "cargo install cargo-zigbuild $ZIGBUILD_VERSION"
    ${CARGO:-cargo} install --locked --quiet cargo-zigbuild --version "$ZIGBUILD_VERSION" --root "$DIR/cargo"
fi

# --- the aarch64 standard library (optional) ---------------------------------
if ! rustup target list --installed 2>/dev/null | grep -qx "$AARCH64"; then
    timeout 300 rustup target add "$AARCH64" >/dev/null 2>&1 \
        || say "note: rustup target add $AARCH64 failed (offline?); make package skips the arm64 zip"
fi
say "ready in $DIR"
