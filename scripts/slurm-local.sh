#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying and testing `--executor slurm`.
#
#   scripts/slurm-local.sh start    install Debian's slurmctld, slurmd, slurm-client and munge if
#                                   missing (apt-get, as root), write a slurm.conf and start the
#                                   daemons; prints the SLURM_CONF to export
#   scripts/slurm-local.sh stop     stop the daemons this script started (by the PIDs it saved)
#   scripts/slurm-local.sh status   say what runs; exit 0 when the cluster takes jobs
#
# Everything lives under ${LAB_SLURM_DIR:-/tmp/lab-slurm} (config, state, logs, PIDs, the job
# completion log that `sacct -c` reads). Works without systemd: munged, slurmctld and slurmd
# are started directly. A munged that already runs is used and never stopped. Facts behind
# the settings: docs in README.md, section "Slurm".
set -euo pipefail

DIR=${LAB_SLURM_DIR:-/tmp/lab-slurm}
CONF=$DIR/slurm.conf
PIDS=$DIR/pids
export SLURM_CONF=$CONF

say() { echo "slurm-local: $*" >&2; }
die() { say "$*"; exit 1; }

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    [ "$(id -u)" = 0 ] || die "installing Slurm needs root (apt-get)"
    say "installing slurmctld slurmd slurm-client munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

# The pid saved in $PIDS/<name> if that process still runs and is <name>; else nothing.
live_pid() {
    local file=$PIDS/$1 pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$1" ] || return 1
    echo "$pid"
}

start_munge() {
    if munge -n </dev/null >/dev/null 2>&1; then
        return # a munged runs already (ours or the system's)
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do
        [ -s /run/munge/munged.pid ] && break
        sleep 0.1
    done
    cp /run/munge/munged.pid "$PIDS/munged"
    munge -n </dev/null >/dev/null || die "munged started but munge -n fails"
}

write_conf() {
    local host node
    host=$(hostname -s)
    node=$(slurmd -C | head -n1)
    case $node in NodeName=*) ;; *) die "slurmd -C printed no node line: $node" ;; esac
    cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster for lab's tests.
ClusterName=lab
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
KillWait=10
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

# Wait until a trivial job step runs (sinfo may say idle before slurmd registered).
wait_ready() {
    for _ in $(seq 60); do
        if timeout 5 srun -n1 -t 1 true >/dev/null 2>&1; then
            return
        fi
        sleep 0.5
    done
    die "the cluster does not run jobs after 30 s; see $DIR/log"
}

start() {
    if up; then
        say "already running (SLURM_CONF=$CONF)"
        echo "export SLURM_CONF=$CONF"
        return
    fi
    [ "$(id -u)" = 0 ] || die "starting the daemons needs root"
    install
    stop_daemons slurmd slurmctld # what is left of an earlier start of ours, if any
    rm -rf "$DIR/state" "$DIR/spool" # a true fresh start (saved state confuses `sinfo`)
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$PIDS"
    start_munge
    write_conf
    slurmctld -f "$CONF"
    save_pid slurmctld "$DIR/slurmctld.pid"
    slurmd -f "$CONF"
    save_pid slurmd "$DIR/slurmd.pid"
    wait_ready
    say "started (logs in $DIR/log)"
    echo "export SLURM_CONF=$CONF"
}

save_pid() {
    for _ in $(seq 50); do
        [ -s "$2" ] && break
        sleep 0.1
    done
    [ -s "$2" ] || die "$1 wrote no pid file; see $DIR/log/$1.log"
    cp "$2" "$PIDS/$1"
}

# TERM each named daemon we started (by its saved pid), wait up to 10 s, then KILL.
stop_daemons() {
    local name pid
    for name in "$@"; do
        if pid=$(live_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 100); do
                [ -d "/proc/$pid" ] || break
                sleep 0.1
            done
            if [ -d "/proc/$pid" ]; then
                say "$name ($pid) ignored TERM for 10 s: KILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        rm -f "$PIDS/$name"
    done
}

stop() {
    stop_daemons slurmd slurmctld munged
    say "stopped"
}

up() {
    live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null \
        && timeout 5 sinfo -h >/dev/null 2>&1
}

status() {
    local name pid
    for name in munged slurmctld slurmd; do
        if pid=$(live_pid "$name"); then
            echo "$name: running (pid $pid, started by this script)"
        else
            echo "$name: not started by this script"
        fi
    done
    if up; then
        timeout 5 sinfo || true
        echo "export SLURM_CONF=$CONF"
        return 0
    fi
    echo "cluster: down"
    return 1
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
*)
    echo "usage: $0 {start|stop|status}   (state under \${LAB_SLURM_DIR:-/tmp/lab-slurm})" >&2
    exit 2
    ;;
esac
