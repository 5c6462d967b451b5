#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the Slurm executor's tests (and for trying
# `mtc run --executor slurm` without a cluster).
#
#   scripts/slurm-local.sh start    install slurm-wlm + munge if missing (apt-get), write
#                                   /etc/slurm/slurm.conf, start munged, slurmctld and slurmd; wait
#                                   until the node is idle. Idempotent: a running cluster is left alone.
#   scripts/slurm-local.sh stop     stop the daemons this script started (by their pid files)
#   scripts/slurm-local.sh status   say what runs
#
# slurmctld and slurmd run on localhost with all the cores, proctrack/linuxproc and task/none (no
# cgroups needed: it works in containers). State, spool and logs go under $MTC_SLURM_DIR (default
# /tmp/mtc-slurm). The configuration is the standard /etc/slurm/slurm.conf, so stock sinfo, squeue,
# scontrol and sbatch work in any shell; a slurm.conf this script did not write is never replaced.
# Needs root (it installs packages and starts daemons as root).
set -euo pipefail

DIR="${MTC_SLURM_DIR:-/tmp/mtc-slurm}"
CONF=/etc/slurm/slurm.conf
MARK='# written by multitalent scripts/slurm-local.sh'
HOST="$(hostname -s)"

log() { echo "slurm-local: $*" >&2; }

running() { # pid file -> whether its process is alive
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    return
  fi
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    log "slurm-wlm and munge are missing, and apt-get (as root) is not available to install them"
    exit 1
  fi
  log "installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  # Debian's packages start their own daemons on install where an init system runs; they do not
  # here (containers), and when they do, this script's daemons replace nothing: it checks below.
}

write_config() {
  mkdir -p /etc/slurm "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    log "$CONF exists and was not written by this script: refusing to replace it (a real cluster's?)"
    exit 1
  fi
  # The node's cores and memory as slurmd sees them (its -C line), less a little memory headroom.
  local node cpus mem
  node="$(slurmd -C | head -n 1)"
  cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node")"
  mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")"
  mem=$(( mem > 1024 ? mem - 512 : mem ))
  cat >"$CONF.tmp" <<EOF
$MARK (single-node test cluster; state under $DIR)
ClusterName=mtc-local
SlurmctldHost=$HOST(127.0.0.1)
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
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Finished jobs stay visible to scontrol for 10 minutes (mtc reads their exit state from there).
MinJobAge=600
# Jobs are requeued by their own batch script near the time limit (mtc's USR1 handler).
JobRequeue=1
# Time limits (test/cli/slurm-timelimit.test.ts runs a job into a real one): slurmctld checks them
# every 30 s (compiled in); a job over its limit ends at the next check (no grace: OverTimeLimit=0),
# SIGTERM then SIGKILL KillWait s later. --signal=B:USR1@LEAD comes 0-30 s before LEAD.
OverTimeLimit=0
KillWait=30
SchedulerParameters=batch_sched_delay=1,sched_min_interval=100000
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi # a munged already answers
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  if id munge >/dev/null 2>&1; then
    runuser -u munge -- munged
  else
    munged --force
  fi
  # munged (as the munge user) keeps its pid file in /run/munge; this script's copy marks it as ours.
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$DIR/run/munged.pid"
  for _ in $(seq 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  log "munged does not answer"
  exit 1
}

wait_idle() {
  for _ in $(seq 120); do
    local state
    state="$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)"
    case "$state" in
      idle|mixed|allocated) return 0 ;;
      down*|drain*|fail*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  log "the node did not become idle; logs in $DIR/log"
  sinfo -N -l >&2 || true
  exit 1
}

start() {
  install_packages
  write_config
  start_munge
  if ! running "$DIR/run/slurmctld.pid"; then
    slurmctld -i # -i: ignore state left by an earlier cluster's crash
  fi
  if ! running "$DIR/run/slurmd.pid"; then
    slurmd
  fi
  for _ in $(seq 50); do
    running "$DIR/run/slurmctld.pid" && running "$DIR/run/slurmd.pid" && break
    sleep 0.1
  done
  wait_idle
  log "up: node $HOST idle ($(sinfo -h -o '%P %c cpus %m MB' | head -n 1)); state and logs in $DIR"
}

stop_pid() { # name, pid file
  local pid
  [ -f "$2" ] || return 0
  pid="$(cat "$2")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    log "stopped $1 ($pid)"
  fi
  rm -f "$2"
}

stop() {
  stop_pid slurmd "$DIR/run/slurmd.pid"
  stop_pid slurmctld "$DIR/run/slurmctld.pid"
  stop_pid munged "$DIR/run/munged.pid"
}

status() {
  for d in munged slurmctld slurmd; do
    if running "$DIR/run/$d.pid"; then echo "$d: running ($(cat "$DIR/run/$d.pid"))"; else echo "$d: not started by this script"; fi
  done
  sinfo 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
