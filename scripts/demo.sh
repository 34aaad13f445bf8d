#!/usr/bin/env bash
# hxpm's main job on the built-in demo content, offline, in a throw-away store (.demo/).
# A publisher builds, signs and shares two experts; a user trusts the publisher's key,
# registers the base model, installs, lists, inspects and verifies — and sees a tampered
# package refused. Safe to run again: it starts from a fresh .demo/ each time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
rm -rf .demo && mkdir -p .demo/dist
export HXPM_HOME="$ROOT/.demo/home" HXPM_KEY_DIR="$ROOT/.demo/publisher-keys"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "Publisher: create a signing key" hxpm key generate --name demo-publisher
PUB=$(hxpm key show --name demo-publisher --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')

for e in expert-json expert-sql; do
  step "Publisher: validate and package $e" hxpm validate demo/content/$e
  hxpm package demo/content/$e -o .demo/dist
done
for pkg in .demo/dist/*.expert; do
  step "Publisher: sign $(basename "$pkg")" hxpm sign "$pkg" --key-name demo-publisher
done
step "Inspect a package without unpacking it" hxpm inspect .demo/dist/expert-sql-tiny-qwen3.v0.3.0.expert

step "User: register the base model (metadata only)" hxpm base add hxpm/tiny-qwen3 --path demo/content/tiny-qwen3
step "User: trust the publisher for expert-* names" hxpm trust add "$PUB" --name demo-publisher --experts 'expert-*'
step "User: install both experts (signatures checked first)" hxpm install .demo/dist/expert-json-tiny-qwen3.v0.4.1.expert .demo/dist/expert-sql-tiny-qwen3.v0.3.0.expert
step "User: list installed experts" hxpm list
step "User: details of one expert" hxpm info sql
step "User: re-hash the whole store" hxpm verify --store

# A man in the middle flips one byte of the archive: the install must be refused (exit 5).
cp .demo/dist/expert-json-tiny-qwen3.v0.4.1.expert .demo/tampered.expert
cp .demo/dist/expert-json-tiny-qwen3.v0.4.1.expert.sig .demo/tampered.expert.sig
python3 - <<'PY'
p = ".demo/tampered.expert"
b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x01; open(p, "wb").write(bytes(b))
PY
printf '\n\033[1m== A tampered package is refused\033[0m\n$ hxpm install .demo/tampered.expert\n'
set +e; hxpm install .demo/tampered.expert; rc=$?; set -e
[ "$rc" -eq 5 ] || { echo "expected exit 5 for a tampered package, got $rc"; exit 1; }
echo "(exit code $rc: verification failed, nothing was installed)"
printf '\n\033[1mDemo complete.\033[0m Store: %s\n' "$HXPM_HOME"
