#!/usr/bin/env bash
# A single-node Slurm cluster on loopback for tests and laptops: munged, slurmctld and slurmd on
# this machine (SlurmctldHost=localhost, NodeName=localhost with this machine's CPUs and memory),
# no cgroups (task/none, proctrack/linuxproc) so it also runs inside containers. Idempotent: when
# the controller already answers, it only checks the node is idle.
#   sudo bash infra/slurm/start.sh        # then: sinfo; sbatch --wrap 'hostname'
#   bash infra/slurm/stop.sh
# Prints "slurm: ready" on success; exits non-zero with the reason otherwise.
set -euo pipefail
cd "$(dirname "$0")"
bash ./install.sh
if [ "$(id -u)" != 0 ]; then echo "infra/slurm/start.sh: needs root (munged, slurmd)" >&2; exit 1; fi

CONF=/etc/slurm/slurm.conf
STATE=/var/spool/slurmctld
SPOOL=/var/spool/slurmd
LOGS=/var/log/slurm
mkdir -p /etc/slurm "$STATE" "$SPOOL" "$LOGS" /run/munge /var/lib/munge /var/log/munge /etc/munge

if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || { echo "slurm: munged did not start" >&2; exit 1; }

cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
want=$(cat <<CONF
# Written by infra/slurm/start.sh: one node on loopback.
ClusterName=tokenmill
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ReturnToService=2
# Finished jobs stay visible to scontrol for 10 minutes (no slurmdbd here, so no sacct).
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Seconds between SIGTERM and SIGKILL on scancel / time limit.
KillWait=10
InactiveLimit=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
)
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$want" ]; then
  echo "$want" > "$CONF"
  # A changed node definition must not meet an old saved state.
  pkill -F /run/slurmctld.pid 2>/dev/null || true
  pkill -F /run/slurmd.pid 2>/dev/null || true
  sleep 0.5
fi

if ! scontrol ping 2>/dev/null | grep -q UP; then
  /usr/sbin/slurmctld -i
fi
if ! [ -f /run/slurmd.pid ] || ! kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; then
  /usr/sbin/slurmd -N localhost
fi
for _ in $(seq 1 100); do
  state=$(sinfo -h -N -o '%T' -n localhost 2>/dev/null | head -1 || true)
  case "$state" in
    idle|mixed|allocated) echo "slurm: ready (node localhost: $state, $cpus CPUs, $mem_mb MB)"; exit 0 ;;
    down*|drain*) scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.2
done
echo "slurm: the node did not become idle (state: ${state:-unknown}); see $LOGS/slurmctld.log and $LOGS/slurmd.log" >&2
tail -n 5 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
exit 1
