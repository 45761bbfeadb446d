#!/usr/bin/env bash
# The main job, end to end on this machine: installs what is missing, starts PostgreSQL and Redis
# if they are stopped, migrates, starts the API and a curator worker, and runs a curation of the
# bundled sample corpus through the REST API (CLI + progress bar), printing the per-step funnel and
# where the shards are, then opens the shards with pyarrow. Then the recipe part: applies
# recipes/demo.yaml (scaled to 1% so it trains in about a minute on a CPU: curation of the four
# bundled samples, the plan, an experiment), launches a training run on the local backend (the
# trainer as a subprocess, on CPU) and follows it live until the token ledger shows consumed =
# planned for every phase and source.
#
#   npm run demo              # services are stopped at the end
#   npm run demo -- --keep    # leave the API (http://127.0.0.1:8080/docs) and worker running
#
# Environment: PORT (8080), STORE_URI (file://$PWD/.tokenmill/store, or s3://bucket/prefix with
# S3_ENDPOINT etc.), DATABASE_URL, REDIS_URL — see the README's configuration table.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    *) echo "usage: npm run demo [-- --keep]" >&2; exit 2 ;;
  esac
done
say() { printf '\033[1mtokenmill:\033[0m %s\n' "$*" >&2; }

bash infra/scripts/setup.sh

export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tokenmill}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export STORE_URI=${STORE_URI:-file://$ROOT/.tokenmill/store}
export PORT=${PORT:-8080}
export TOKENMILL_URL=http://127.0.0.1:$PORT
export TOKENMILL_CONFIG_DIR=$ROOT/.tokenmill
export LOG_LEVEL=${LOG_LEVEL:-info}
# The service reads no file:// source unless a root is configured; the demo's data lives in data/.
export FILE_SOURCE_ROOTS=${FILE_SOURCE_ROOTS:-$ROOT/data}
LOGS=$ROOT/.tokenmill/logs
mkdir -p "$LOGS"
tm() { node "$ROOT/packages/cli/bin/tokenmill.js" "$@"; }

if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  say "port $PORT is already in use; stop what is listening there or run with PORT=<free port>"
  exit 1
fi

pids=()
stop() {
  if [ "$KEEP" = 1 ]; then
    say "left running: API (pid ${pids[0]:-?}) at $TOKENMILL_URL (docs: $TOKENMILL_URL/docs), curator worker (pid ${pids[1]:-?}), launcher worker (pid ${pids[2]:-?}); logs in $LOGS"
    [ "$PORT" = 8080 ] || say "point the CLI at it with: export TOKENMILL_URL=$TOKENMILL_URL"
    say "stop them with: kill ${pids[*]}"
    return
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT

say "starting the API on $TOKENMILL_URL, a curator worker and a launcher worker (logs in $LOGS)"
node --import tsx services/api/src/server.ts >"$LOGS/api.log" 2>&1 &
pids+=($!)
node --import tsx workers/curator/src/main.ts >"$LOGS/curator.log" 2>&1 &
pids+=($!)
API_URL=$TOKENMILL_URL node --import tsx workers/launcher/src/main.ts >"$LOGS/launcher.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 120); do
  if node -e "fetch('$TOKENMILL_URL/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" 2>/dev/null; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    say "the API exited during start-up:"; tail -n 30 "$LOGS/api.log" >&2; exit 1
  fi
  sleep 0.5
done
node -e "fetch('$TOKENMILL_URL/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" || {
  say "the API did not become healthy in 60 s:"; tail -n 30 "$LOGS/api.log" >&2; exit 1
}

# An admin token for this checkout, kept in .tokenmill/token (git-ignored).
if ! tm tokens list >/dev/null 2>&1; then
  say "creating an admin API token (saved to .tokenmill/token)"
  tm admin bootstrap --force --save --name demo-admin >/dev/null
fi
# With --keep the services outlive this script, so `npx tokenmill …` must find the token where it
# looks without TOKENMILL_CONFIG_DIR (~/.config/tokenmill/token): saved there through `login`,
# unless a token saved there already works against this API.
if [ "$KEEP" = 1 ] && ! env -u TOKENMILL_CONFIG_DIR -u TOKENMILL_TOKEN node "$ROOT/packages/cli/bin/tokenmill.js" sources list >/dev/null 2>&1; then
  env -u TOKENMILL_CONFIG_DIR -u TOKENMILL_TOKEN node "$ROOT/packages/cli/bin/tokenmill.js" login <"$TOKENMILL_CONFIG_DIR/token" >&2
fi

# The source is named after this checkout's samples folder, so two checkouts sharing one database
# each curate their own files.
want="file://$ROOT/data/samples"
source_name=samples
registered=$(tm --json sources list | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const x=JSON.parse(s).items.find(i=>i.name==="samples");process.stdout.write(x?x.uri:"")})')
if [ -n "$registered" ] && [ "$registered" != "$want" ]; then
  source_name="samples-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"
  registered=$(tm --json sources list | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const x=JSON.parse(s).items.find(i=>i.name===process.argv[1]);process.stdout.write(x?x.uri:"")})' "$source_name")
fi
if [ -n "$registered" ]; then
  say "source '$source_name' is already registered ($registered)"
else
  tm sources add "$source_name" "$want"
fi
tm pipelines create examples/pipelines/sample.yaml
say "curating the samples through the API and the worker"
tm curate run --source "$source_name" --pipeline sample | tee "$LOGS/demo-run.txt"

version_url=$(sed -n 's/^dataset version [^ ]*: [0-9]* shard(s) at //p' "$LOGS/demo-run.txt")
case "$version_url" in
  file://*)
    dir=${version_url#file://}
    say "opening the shards with pyarrow (no tokenmill code) and re-tokenizing with Hugging Face tokenizers"
    .venv/bin/python test/python/check_shards.py "$dir" | .venv/bin/python -c '
import json, sys
r = json.load(sys.stdin)
print("pyarrow: {shards} shard(s), {rows} rows, {tokens} tokens; token ids equal to Hugging Face tokenizers on all {rows_retokenized} rows: {same}".format(same=r["mismatched_rows"] == 0, **r))
sys.exit(0 if r["ok"] else 1)'
    ;;
  *) say "shards are at $version_url" ;;
esac

# The recipe, end to end: curation → plan → trainer (local backend, CPU) → progress → ledger.
# The full demo recipe is 144 steps of 4,096 tokens (about 25 min on a 2-core CPU); 1% of it trains in
# about a minute with the same sources, phases and mixture weights.
name="demo-x0.01-$(date +%Y%m%d%H%M%S)"
say "applying recipes/demo.yaml at 1% scale as experiment $name (curation of the four bundled samples, then the plan)"
tm --json recipe apply recipes/demo.yaml --scale 0.01 --name "$name" >"$LOGS/demo-recipe.json"
experiment=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(r.experiment.id)' "$LOGS/demo-recipe.json")
say "training experiment $name ($experiment) on the local backend (tiny model, CPU), following it live"
tm runs launch "$name" --backend local --model tiny --overrides '{"micro_batch_size": 2, "progress_every_steps": 1}' --watch
