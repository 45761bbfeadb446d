#!/usr/bin/env bash
# Stops what infra/slurm/start.sh started (slurmd, slurmctld; munged is left to other users of munge).
set -u
for pid in /run/slurmd.pid /run/slurmctld.pid; do
  [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null
done
exit 0
