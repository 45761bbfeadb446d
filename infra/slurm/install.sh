#!/usr/bin/env bash
# Installs Slurm (slurmctld + slurmd + the client commands) and munge from Debian's packages.
# Needs root and apt; a no-op when they are already installed.
set -euo pipefail
if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "infra/slurm/install.sh: needs root to apt-get install slurm-wlm munge" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
