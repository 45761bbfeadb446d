#!/usr/bin/env bash
# Writes prisma/migrations/<timestamp>_<name>/migration.sql for the changes made to
# prisma/schema.prisma since the last migration; prints "no changes" when there are none.
# Offline (WebAssembly schema engine); needs PostgreSQL for a temporary shadow database.
#   bash infra/scripts/prisma-diff.sh add_run_priority
set -euo pipefail
cd "$(dirname "$0")/../.."
bash infra/scripts/deps.sh
exec npx --no-install tsx packages/db/src/migrate-diff.ts "$@"
