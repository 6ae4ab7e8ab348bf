#!/usr/bin/env bash
# A real single-node SLURM cluster on loopback, for tests/e2e/test_slurm.py.
#
#   tests/slurm/cluster.sh up       install (if needed), configure and start munged, slurmctld,
#                                   slurmd; wait until the node is idle; print the time it took
#   tests/slurm/cluster.sh down     stop the daemons this script started (by recorded pid)
#   tests/slurm/cluster.sh status   what runs, and what sinfo says
#
# Needs root (installs Debian packages, writes /etc/slurm/slurm.conf: the executor plugin's job
# step drops SLURM_CONF, so the config must be at the default place). Accounting is off
# (Snakemake must then use `--slurm-status-command squeue`). `up` is idempotent: daemons still
# running from an earlier `up` are kept (restarted only if the configuration changed). `down`
# only signals the pids recorded in $RUN_DIR, never processes found by name.
set -euo pipefail

RUN_DIR=/run/samebits-slurm         # pid files of the daemons we started
STATE_DIR=/var/lib/samebits-slurm   # slurmctld state
SPOOL_DIR=/var/spool/samebits-slurm # slurmd spool
LOG_DIR=/var/log/samebits-slurm     # daemon logs (read them when `up` times out)
CONF=/etc/slurm/slurm.conf
MUNGE_KEY=/etc/munge/munge.key
MUNGE_SOCKET=/run/munge/munge.socket.2
MARKER="# written by samebits tests/slurm/cluster.sh"
UP_TIMEOUT=${SAMEBITS_SLURM_UP_TIMEOUT:-60} # seconds to wait for the node to become idle
STOP_TIMEOUT=15                             # seconds between TERM and KILL in `down`
PACKAGES=(slurmctld slurmd slurm-client munge)
DAEMONS=(munged slurmctld slurmd)

NODE=$(hostname -s)

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, writes $CONF)"; }

# The pid recorded for a daemon, if that process is alive and still is that daemon.
live_pid() {
    local name=$1 pidfile="$RUN_DIR/$1.pid" pid comm
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name" ]] || return 1 # not a reused pid
    echo "$pid"
}

install_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >"$LOG_DIR/apt.log" 2>&1; then
        # a fresh machine may have no package lists yet
        log "install failed; running apt-get update and trying again"
        apt-get update >>"$LOG_DIR/apt.log" 2>&1
        apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
            die "apt-get install ${missing[*]} failed; see $LOG_DIR/apt.log"
    fi
}

write_config() {
    local cpus mem_mb tmp bind=""
    cpus=$(nproc)
    # Bind to loopback only: Slurm binds to the address this host's name resolves to instead of
    # 0.0.0.0 with these flags, so use them only when that address is a loopback one.
    if getent ahostsv4 "$NODE" 2>/dev/null | awk '{ print $1 }' | grep -qv '^127\.'; then
        log "warning: $NODE resolves to a non-loopback address; slurmctld and slurmd listen on all addresses"
    elif getent ahostsv4 "$NODE" >/dev/null 2>&1; then
        bind="CommunicationParameters=NoCtldInAddrAny,NoInAddrAny"
    fi
    # a bit under the machine's memory (slurmd drains a node that has less than RealMemory)
    mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.95 }' /proc/meminfo)
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
$MARKER
# Single node ($NODE) on loopback, no accounting. Daemons run as root.
ClusterName=samebits
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
$bind
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# several 1-CPU jobs at once on the one node
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# no accounting (sacct does not work: use squeue for job status)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$SPOOL_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
Waittime=0
# finished jobs stay visible to squeue this long (Snakemake's status checks need them)
MinJobAge=300
# a node that was down (e.g. after an unclean stop) comes back as soon as slurmd registers
ReturnToService=2
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mkdir -p /etc/slurm
    if [[ -f $CONF ]] && cmp -s "$tmp" "$CONF"; then
        rm -f "$tmp"
        return 1 # unchanged
    fi
    if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        cp -p "$CONF" "$CONF.samebits-backup"
        log "kept the previous $CONF as $CONF.samebits-backup"
    fi
    install -m 0644 "$tmp" "$CONF"
    rm -f "$tmp"
    return 0 # changed
}

munge_works() { munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }

start_munged() {
    if [[ ! -s $MUNGE_KEY ]]; then
        log "creating $MUNGE_KEY"
        install -d -m 0700 -o munge -g munge /etc/munge
        mungekey --create --keyfile="$MUNGE_KEY" 2>/dev/null ||
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        chown munge:munge "$MUNGE_KEY"
        chmod 0400 "$MUNGE_KEY"
    fi
    if live_pid munged >/dev/null; then
        return 0
    fi
    if munge_works; then
        log "a munged that this script did not start already answers on $MUNGE_SOCKET; using it"
        return 0
    fi
    install -d -m 0755 -o munge -g munge /run/munge /var/log/munge /var/lib/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged --socket="$MUNGE_SOCKET" --pid-file=/run/munge/munged.pid \
        --log-file=/var/log/munge/munged.log
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s /run/munge/munged.pid ]] && munge_works && break
        sleep 0.1
    done
    [[ -s /run/munge/munged.pid ]] || die "munged did not start; see /var/log/munge/munged.log"
    cp /run/munge/munged.pid "$RUN_DIR/munged.pid"
    munge_works || die "munged does not answer; see /var/log/munge/munged.log"
}

# Start a slurm daemon (they fork and write their pid file, named in slurm.conf).
start_slurm_daemon() {
    local name=$1 i
    live_pid "$name" >/dev/null && return 0
    rm -f "$RUN_DIR/$name.pid"
    "$name" || die "$name failed to start; see $LOG_DIR/$name.log"
    for ((i = 0; i < 100; i++)); do
        live_pid "$name" >/dev/null && return 0
        sleep 0.1
    done
    die "$name did not write $RUN_DIR/$name.pid; see $LOG_DIR/$name.log"
}

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n1; }

stop_daemon() {
    local name=$1 pid i
    if pid=$(live_pid "$name"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name ($pid) ignored TERM for ${STOP_TIMEOUT}s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name ($pid)"
    fi
    rm -f "$RUN_DIR/$name.pid"
}

cmd_up() {
    need_root
    local start=$SECONDS t0=$EPOCHREALTIME state
    mkdir -p "$RUN_DIR" "$STATE_DIR/ctld" "$SPOOL_DIR/d" "$LOG_DIR"
    install_packages
    if write_config; then
        # a new configuration: restart whatever we started before with the old one
        if live_pid slurmctld >/dev/null || live_pid slurmd >/dev/null; then
            log "configuration changed; restarting slurmctld and slurmd"
            stop_daemon slurmd
            stop_daemon slurmctld
        fi
    fi
    start_munged
    start_slurm_daemon slurmctld
    start_slurm_daemon slurmd
    while :; do
        state=$(node_state || true)
        # "idle" can be the state slurmctld restored from its last run; a one-task step proves
        # that munge, slurmctld, slurmd and slurmstepd really work together
        case $state in
        idle | mix | alloc) timeout 20 srun --quiet -n1 -t 1 -J samebits-ready true 2>/dev/null && break ;;
        esac
        if ((SECONDS - start >= UP_TIMEOUT)); then
            log "node $NODE is '${state:-unknown}' after ${UP_TIMEOUT}s; last lines of the logs:"
            tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
            die "cluster not ready"
        fi
        sleep 0.2
    done
    printf 'cluster.sh: up: node %s %s, partition debug, %s CPUs, in %s s\n' \
        "$NODE" "$state" "$(nproc)" "$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')"
}

# Cancel what is still queued or running in our cluster (e.g. after a test timed out), so no
# job step outlives the daemons; bounded.
cancel_jobs() {
    local jobs i
    live_pid slurmctld >/dev/null || return 0
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
    [[ -z $jobs ]] && return 0
    log "cancelling jobs still in the cluster: ${jobs//$'\n'/ }"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        [[ -z $(timeout 10 squeue -h -o %i 2>/dev/null || true) ]] && return 0
        sleep 0.1
    done
    log "warning: jobs still listed after 10 s"
}

cmd_down() {
    need_root
    local name
    cancel_jobs
    # slurmd first (no new steps), then the controller, then munge (only if we started it)
    for name in slurmd slurmctld munged; do
        stop_daemon "$name"
    done
}

cmd_status() {
    local name pid rc=0
    for name in "${DAEMONS[@]}"; do
        if pid=$(live_pid "$name"); then
            echo "$name: running (pid $pid)"
        elif [[ $name == munged ]] && munge_works; then
            echo "$name: running (not started by this script)"
        else
            echo "$name: not running (no live pid in $RUN_DIR)"
            rc=1
        fi
    done
    if [[ -f $CONF ]] && command -v sinfo >/dev/null; then
        sinfo 2>&1 || rc=1
    fi
    return $rc
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
