#!/usr/bin/env bash
# Idempotent project setup: node_modules, PostgreSQL + Redis, the generated Prisma client, the
# Python venv, and the migrated main database. Each step skips itself when already done, so
# running this before every command costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { echo "tokenmill: $*" >&2; }
# playwright-core never downloads a browser by itself; this keeps any tool from trying (Debian's chromium is used).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# node_modules, reinstalled only when package-lock.json changed since the last install.
if [ -f package-lock.json ]; then
  lock_hash=$(sha256sum package-lock.json | cut -c1-64)
else
  lock_hash=none
fi
stamp=node_modules/.tokenmill-lock.sha256
# npm's own record of the tree it installed; newer than package-lock.json means `npm install`
# ran after the last lock change, so the tree is current even without our stamp.
hidden=node_modules/.package-lock.json
if [ -d node_modules ] && [ -f package-lock.json ] && [ -f "$hidden" ] && [ ! "$hidden" -ot package-lock.json ]; then
  echo "$lock_hash" > "$stamp"
fi
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  if [ -f package-lock.json ]; then
    say "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund
  else
    say "installing npm packages (npm install)"
    npm install --no-audit --no-fund
    lock_hash=$(sha256sum package-lock.json | cut -c1-64)
  fi
  echo "$lock_hash" > "$stamp"
fi

bash infra/scripts/deps.sh
bash infra/scripts/prisma-generate.sh
bash infra/scripts/venv.sh

export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tokenmill}
npx --no-install tsx packages/db/src/migrate-cli.ts

# The dashboard's static build (served by the API at /ui/), rebuilt only when its sources changed.
dash_hash=$(cat services/dashboard/package.json services/dashboard/vite.config.ts services/dashboard/index.html $(find services/dashboard/src -type f | sort) | sha256sum | cut -c1-64)
dash_stamp=services/dashboard/dist/.tokenmill-src.sha256
if [ ! -f services/dashboard/dist/index.html ] || [ ! -f "$dash_stamp" ] || [ "$(cat "$dash_stamp")" != "$dash_hash" ]; then
  say "building the dashboard (vite build)"
  (cd services/dashboard && npx --no-install vite build --logLevel warn)
  echo "$dash_hash" > "$dash_stamp"
fi

# Debian's Chromium for the browser tests (test/browser); never a browser downloaded by a test tool.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's chromium for the browser tests (apt-get install chromium)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; }; then
      say "could not install chromium with apt-get: the browser tests (test/browser) will be skipped"
    fi
  else
    say "/usr/bin/chromium is missing and this is not root: the browser tests (test/browser) will be skipped (install it with: sudo apt-get install chromium)"
  fi
fi
