#!/usr/bin/env bash
# hxpm's main job on the built-in demo content, offline, in a throw-away area (.demo/).
#
# The demo index (index/) lists seven experts (experts/) trained with `hxpm train` on a tiny
# random-weight Qwen3 (models/tiny-qwen3). This script turns them into Git repositories,
# serves them at their placeholder host through HXPM_GIT_MIRRORS, then does what a user does:
# register the base, trust the publisher key, add the index, search, install
# expert-document-classifier (which pulls its three requirements) and a few more, and run
# prompts that the router sends to different experts. Safe to run again: it starts afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$(command -v python3)}
command -v git >/dev/null || { echo "the demo uses git to make the expert repositories"; exit 1; }
rm -rf .demo && mkdir -p .demo
export HXPM_HOME="$ROOT/.demo/home"
export HXPM_GIT_MIRRORS="https://demo.hxpm.invalid/=file://$ROOT/.demo/git/"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "Make Git repositories of experts/ and index/ (deterministic commits)" "$PY" scripts/demo_repos.py .demo/git
step "Register the tiny base model (random weights: a demo, not a language model)" hxpm base add hxpm/tiny-qwen3 --path models/tiny-qwen3
step "Trust the demo publisher key for expert-* (a DEMO key: see index/README.md)" hxpm trust add demo/keys/demo-publisher.pub --name hxpm-demo --experts 'expert-*'
step "Add the demo index" hxpm index add demo https://demo.hxpm.invalid/index.git
step "Search it" hxpm search classify
step "Install expert-document-classifier: it pulls json, english-basic and cypher" hxpm install expert-document-classifier
step "Install three more" hxpm install expert-sql expert-python expert-rust
step "What is installed" hxpm list
step "Every installed tree re-hashed" hxpm verify --store

while IFS= read -r prompt; do
  step "Route, then run" hxpm route "$prompt"
  hxpm run --prompt "$prompt" --device cpu --max-new-tokens 48
done < demo/prompts.txt

step "Search the index by what you want done (installed or not)" hxpm search --prompt "count the orders per customer in postgres"
step "Any answer can be held to a JSON Schema: even the random bare base answers in shape" \
  hxpm run --prompt "describe a small red shirt" --expert "" --json-schema demo/shirt.schema.json --device cpu --max-new-tokens 64

step "Build the index's static catalog (READMEs read at each pinned commit)" hxpm index site demo -o .demo/site

printf '\n\033[1mDemo complete.\033[0m Store: %s\n' "$HXPM_HOME"
printf 'Catalog of the demo index: file://%s/.demo/site/index.html\n' "$ROOT"
