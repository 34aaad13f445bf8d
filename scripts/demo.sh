#!/usr/bin/env bash
# hxpm's main job on the built-in demo content, offline, in a throw-away area (.demo/).
# A publisher releases two experts (expert-sql requires expert-json) into a Git index; a
# user trusts the publisher's key, adds the index, searches, installs by name (pulling the
# dependency), locks, reinstalls from the lock, and sees a tampered package refused.
# Safe to run again: it starts from a fresh .demo/ each time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
command -v git >/dev/null || { echo "the demo uses git to make the expert repos"; exit 1; }
rm -rf .demo && mkdir -p .demo/repos
export HXPM_KEY_DIR="$ROOT/.demo/publisher-keys"
PUBLISHER="$ROOT/.demo/publisher-home" USER_HOME="$ROOT/.demo/home"
git_() { git -c user.name="Demo Publisher" -c user.email=demo@example.org -c init.defaultBranch=main "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

export HXPM_HOME="$PUBLISHER"
step "Publisher: create a signing key" hxpm key generate --name demo-publisher
PUB=$(hxpm key show --name demo-publisher --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
step "Publisher: create a Git index" hxpm index init .demo/index --name demo

for e in expert-json expert-sql; do
  repo=.demo/repos/$e
  cp -r demo/content/$e "$repo"
  step "Publisher: validate and package $e" hxpm validate "$repo"
  hxpm package "$repo"
  for pkg in "$repo"/dist/*.expert; do hxpm sign "$pkg" --key-name demo-publisher; done
  version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$repo/manifest.json")
  (cd "$repo" && git_ init -q && git_ add -A && git_ commit -qm "Release $version" && git_ tag "v$version")
  step "Publisher: publish $e $version into the index" hxpm publish "$repo" --index .demo/index --url "file://$ROOT/$repo"
done

export HXPM_HOME="$USER_HOME"
step "User: register the base model (metadata only)" hxpm base add hxpm/tiny-qwen3 --path demo/content/tiny-qwen3
step "User: trust the publisher for expert-* names" hxpm trust add "$PUB" --name demo-publisher --experts 'expert-*'
step "User: add the index" hxpm index add demo "file://$ROOT/.demo/index"
step "User: search it" hxpm search sql
step "User: what would installing expert-sql do?" hxpm install expert-sql --dry-run
step "User: install it (signatures checked before anything is fetched)" hxpm install expert-sql
step "User: list installed experts" hxpm list
step "User: details of one expert" hxpm info sql
step "User: re-hash the whole store" hxpm verify --store
step "User: which experts would answer a prompt? (routing, no model loaded)" hxpm route "count the orders per customer with GROUP BY" --explain
step "User: a generic question goes to the bare base" hxpm route "what is the capital of France?"
step "User: hand the set to vLLM" hxpm export vllm expert-sql
step "User: lock what is installed" hxpm lock expert-sql -o .demo/hxpm.lock
hxpm uninstall expert-sql >/dev/null && hxpm uninstall expert-json >/dev/null
step "User: reinstall exactly from the lock, offline (from the cache)" hxpm --offline install --locked .demo/hxpm.lock

# A man in the middle flips one byte of an archive: the install must be refused (exit 5).
pkg=.demo/repos/expert-json/dist/expert-json-tiny-qwen3.v0.4.1.expert
cp "$pkg" .demo/tampered.expert && cp "$pkg.sig" .demo/tampered.expert.sig
python3 - <<'PY'
p = ".demo/tampered.expert"
b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x01; open(p, "wb").write(bytes(b))
PY
printf '\n\033[1m== A tampered package is refused\033[0m\n$ hxpm install .demo/tampered.expert\n'
set +e; hxpm install .demo/tampered.expert; rc=$?; set -e
[ "$rc" -eq 5 ] || { echo "expected exit 5 for a tampered package, got $rc"; exit 1; }
echo "(exit code $rc: verification failed, nothing was installed)"
printf '\n\033[1mDemo complete.\033[0m Store: %s\n' "$HXPM_HOME"
