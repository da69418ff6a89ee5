#!/usr/bin/env bash
# A one-node Slurm on this host (munge, slurmctld, slurmd), as root, for the slurm tests and for
# trying `ranklab sweep` without a cluster. Needs the Debian packages slurm-wlm and munge.
#
#   slurm/local-cluster.sh up       # start what is not running, wait until the node is idle
#   slurm/local-cluster.sh status   # daemons, sinfo, squeue
#   slurm/local-cluster.sh down     # cancel jobs, stop the daemons that `up` started
#
# `up` writes /etc/slurm/slurm.conf (partition "debug", every CPU of this host) unless one
# exists that this script did not write.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by ranklab slurm/local-cluster.sh"
STARTED=/run/ranklab-local-cluster.started # daemons `up` started, stopped again by `down`

die() {
    echo "local-cluster: $1" >&2
    [ -z "${2:-}" ] || echo "HINT: $2" >&2
    exit 1
}

need_root_and_packages() {
    [ "$(id -u)" = 0 ] || die "must run as root" "sudo $0 $*"
    for tool in munged slurmctld slurmd sinfo; do
        command -v "$tool" >/dev/null || die "$tool not found" \
            "apt-get install -y slurm-wlm munge"
    done
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
node_state() { sinfo -h -N -o %T 2>/dev/null | head -n1; }

write_conf() {
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(($(awk '/MemTotal/ { print $2 }' /proc/meminfo) / 2048)) # MB, half of it
    if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script" \
            "this host already has a Slurm config; use that cluster, or move $CONF away"
    fi
    cat >"$CONF" <<EOF
$MARK
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
# A requeued job waits cred_expire seconds before it starts again (default 120).
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmUser=root
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
KillWait=10
MinJobAge=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
}

up() {
    need_root_and_packages up
    mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
    : >>"$STARTED"
    if ! munge_ok; then
        [ -f /etc/munge/munge.key ] || mungekey -c
        chown munge:munge /run/munge
        runuser -u munge -- munged
        echo munged >>"$STARTED"
        for _ in $(seq 50); do munge_ok && break; sleep 0.1; done
        munge_ok || die "munged does not answer" "see /var/log/munge/munged.log"
    fi
    write_conf
    # -c: a clean start, without jobs left from an earlier session.
    if ! pid_alive /run/slurmctld.pid; then
        slurmctld -c
        echo slurmctld >>"$STARTED"
    fi
    if ! pid_alive /run/slurmd.pid; then
        slurmd -c
        echo slurmd >>"$STARTED"
    fi
    local state=""
    for _ in $(seq 60); do
        state=$(node_state)
        case "$state" in
        idle* | mixed* | allocated*) break ;;
        down* | drain*) scontrol update nodename="$(hostname -s)" state=resume || true ;;
        esac
        sleep 0.5
    done
    case "$state" in
    idle* | mixed* | allocated*) echo "local Slurm up: $(hostname -s), $(nproc) CPUs, $state" ;;
    *) die "the node is '${state:-unknown}' after 30 s" \
        "see /var/log/slurm/slurmctld.log and /var/log/slurm/slurmd.log" ;;
    esac
}

stop_pidfile() {
    local name=$1 file=$2
    pid_alive "$file" || return 0
    local pid
    pid=$(cat "$file")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    echo "local-cluster: $name (pid $pid) did not stop" >&2
}

down() {
    need_root_and_packages down
    [ -f "$STARTED" ] || { echo "local Slurm: nothing started by this script"; return 0; }
    # Jobs first: their processes would outlive slurmd.
    if grep -qx slurmctld "$STARTED" && pid_alive /run/slurmctld.pid; then
        scancel --user=root 2>/dev/null || true
        for _ in $(seq 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
    fi
    grep -qx slurmd "$STARTED" && stop_pidfile slurmd /run/slurmd.pid
    grep -qx slurmctld "$STARTED" && stop_pidfile slurmctld /run/slurmctld.pid
    grep -qx munged "$STARTED" && stop_pidfile munged /run/munge/munged.pid
    rm -f "$STARTED"
    echo "local Slurm down"
}

status() {
    local up=0
    munge_ok && echo "munged: running" || echo "munged: not running"
    pid_alive /run/slurmctld.pid && echo "slurmctld: running" || echo "slurmctld: not running"
    if pid_alive /run/slurmd.pid; then
        echo "slurmd: running"
        up=1
    else
        echo "slurmd: not running"
    fi
    if [ "$up" = 1 ] && munge_ok; then
        sinfo
        squeue
        return 0
    fi
    return 1
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
