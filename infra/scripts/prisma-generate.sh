#!/usr/bin/env bash
# Generates the Prisma client into packages/db/src/generated (git-ignored), offline.
# `prisma generate` only needs the schema engine binary to exist, not to run, so where it
# cannot be downloaded we point PRISMA_SCHEMA_ENGINE_BINARY at a placeholder. Skips the work
# when the schema, the config and the Prisma version are unchanged since the last run.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=packages/db/src/generated
stamp=$out/.inputs.sha256
want=$(cat prisma/schema.prisma prisma.config.ts node_modules/prisma/package.json | sha256sum | cut -c1-64)
if [ -f "$out/client.ts" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ -z "${PRISMA_SCHEMA_ENGINE_BINARY:-}" ]; then
  placeholder=.tmp/prisma-schema-engine-placeholder
  mkdir -p .tmp
  printf '#!/bin/sh\necho "tokenmill: the native schema engine is not installed; use npm run db:migrate / db:diff" >&2\nexit 1\n' > "$placeholder"
  chmod +x "$placeholder"
  export PRISMA_SCHEMA_ENGINE_BINARY=$PWD/$placeholder
fi
export PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1
npx --no-install prisma generate >/dev/null
echo "$want" > "$stamp"
echo "tokenmill: generated the Prisma client in $out" >&2
