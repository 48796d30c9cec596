#!/usr/bin/env bash
# slurm-local.sh - a single-node SLURM cluster on localhost, WITHOUT systemd, for the
# project's SLURM integration test (tests/test_slurm.py) and for trying the slurm profile.
#
# Adapted from ../shared/tools/slurm-local-up.sh (tested on Debian 12, Slurm 22.05, munge 0.5).
# Everything lives under $UNLOCK_SLURM_PREFIX (default /tmp/unlock-atlas-slurm): its own munge
# key and socket, slurm.conf, state, spool and logs. The daemons are started in the background
# and their PIDs recorded; `down` stops exactly those PIDs (never by name), after checking that
# the PID still runs the program we started.
#
#   scripts/slurm-local.sh up       # start (no-op when already healthy); needs root
#   scripts/slurm-local.sh status   # daemons + sinfo
#   scripts/slurm-local.sh down     # scancel our jobs, stop our daemons by PID, restore /etc link
#   scripts/slurm-local.sh logs     # tail of every daemon log (for failure output)
#
# Needs the Debian packages: slurmctld slurmd slurm-client munge (scripts/system-deps.sh).
#
# Two traps (../shared/docs/toolchain-notes.md):
# 1. snakemake-executor-plugin-slurm-jobstep drops SLURM_CONF inside a job, so the config must
#    also be reachable at /etc/slurm/slurm.conf: `up` links it there (an existing regular file is
#    moved aside to slurm.conf.pre-unlock-atlas and restored by `down`).
# 2. Without slurmdbd `sacct` fails and the executor never sees jobs finish: run snakemake with
#    --slurm-status-command squeue; MinJobAge=3600 keeps finished jobs visible to squeue (a full small-cohort run takes several minutes; the test reads every job back).
#
# Every wait is bounded (timeouts below); on failure the daemon logs are printed to stderr.
#
# Tunables (environment): UNLOCK_SLURM_PREFIX, UNLOCK_SLURM_PARTITION (debug),
#   UNLOCK_SLURM_CPUS (nproc), UNLOCK_SLURM_MEM_MB (85% of RealMemory),
#   UNLOCK_SLURM_CTLD_PORT (6817), UNLOCK_SLURM_SLURMD_PORT (6818), UNLOCK_SLURM_LINK_ETC (1).
set -euo pipefail

PREFIX=${UNLOCK_SLURM_PREFIX:-/tmp/unlock-atlas-slurm}
CLUSTER=unlockatlas
PARTITION=${UNLOCK_SLURM_PARTITION:-debug}
CTLD_PORT=${UNLOCK_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${UNLOCK_SLURM_SLURMD_PORT:-6818}
LINK_ETC=${UNLOCK_SLURM_LINK_ETC:-1}
NODE=localhost

CONF=$PREFIX/etc/slurm.conf
RUN=$PREFIX/run
LOG=$PREFIX/log
MUNGE_DIR=$PREFIX/munge
MUNGE_SOCK=$MUNGE_DIR/run/munge.sock
ETC_CONF=/etc/slurm/slurm.conf
ETC_BACKUP=/etc/slurm/slurm.conf.pre-unlock-atlas
export SLURM_CONF=$CONF

log() { printf '[slurm-local] %s\n' "$*" >&2; }
show_logs() {
    local f
    for f in "$LOG"/munged.out "$MUNGE_DIR"/log/munged.log "$LOG"/slurmctld.out "$LOG"/slurmctld.log \
             "$LOG"/slurmd.out "$LOG"/slurmd.log; do
        [ -s "$f" ] || continue
        printf '[slurm-local] ---- last lines of %s\n' "$f" >&2
        tail -n 25 "$f" >&2 || true
    done
}
die() { log "ERROR: $*"; show_logs; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (slurmd must be root to launch jobs as the submitting user)"; }
need_cmds() {
    local c missing=()
    for c in slurmctld slurmd sinfo squeue scancel srun munged munge unmunge setpriv; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    [ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]} -> apt-get install slurmctld slurmd slurm-client munge (or: make system-deps)"
}

# pid_alive NAME: $RUN/NAME.pid holds a live process whose command name is NAME
pid_alive() {
    local f=$RUN/$1.pid pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    [ -d "/proc/$pid" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

# stop_pid NAME: TERM the recorded PID, KILL after 10 s (bounded)
stop_pid() {
    local name=$1 f=$RUN/$1.pid pid _
    if pid_alive "$name"; then
        pid=$(cat "$f")
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
        if [ -d "/proc/$pid" ]; then log "$name did not exit within 10 s: SIGKILL $pid"; kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

link_etc() {
    [ "$LINK_ETC" = 1 ] || return 0
    mkdir -p /etc/slurm
    # an existing file, or a link to another config, is moved aside (restored by down)
    if { [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; } && [ "$(readlink "$ETC_CONF" || true)" != "$CONF" ] \
        && [ ! -e "$ETC_BACKUP" ] && [ ! -L "$ETC_BACKUP" ]; then
        log "moving existing $ETC_CONF to $ETC_BACKUP (restored by down)"
        mv "$ETC_CONF" "$ETC_BACKUP"
    fi
    ln -sfn "$CONF" "$ETC_CONF"
}

unlink_etc() {
    [ "$LINK_ETC" = 1 ] || return 0
    if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; then
        rm -f "$ETC_CONF"
        if [ -e "$ETC_BACKUP" ] || [ -L "$ETC_BACKUP" ]; then mv "$ETC_BACKUP" "$ETC_CONF"; fi
    fi
    return 0
}

node_state() { timeout 5 sinfo -h -n "$NODE" -o '%t' 2>/dev/null || true; }

healthy() {
    pid_alive munged && pid_alive slurmctld && pid_alive slurmd || return 1
    case "$(node_state)" in idle|mix|mixed|alloc|allocated|comp*) return 0 ;; *) return 1 ;; esac
}

write_conf() {
    local cpus real mem
    cpus=${UNLOCK_SLURM_CPUS:-$(nproc)}
    real=$(timeout 10 slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1 || true)
    [ -n "$real" ] || real=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
    mem=${UNLOCK_SLURM_MEM_MB:-$(( real * 85 / 100 ))}
    mkdir -p "$PREFIX/etc"
    cat > "$CONF" <<EOF
# generated by unlock-atlas scripts/slurm-local.sh: one node, no systemd, no cgroups, no slurmdbd
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$PREFIX/state
SlurmdSpoolDir=$PREFIX/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.internal.pid
SlurmdPidFile=$RUN/slurmd.internal.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
# finished jobs stay visible to squeue for 60 min (the executor polls with squeue: no slurmdbd)
MinJobAge=3600
# trust the CPUs / memory declared below even where they exceed the hardware (UNLOCK_SLURM_CPUS >
# nproc: the test oversubscribes the node with short jobs) instead of marking the node INVAL
SlurmdParameters=config_overrides
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    log "wrote $CONF (CPUs=$cpus RealMemory=$mem MB)"
}

start_munged() {
    local _
    mkdir -p "$MUNGE_DIR"/{etc,run,lib,log}
    # our own key: never touch the host's /etc/munge
    dd if=/dev/urandom of="$MUNGE_DIR/etc/munge.key" bs=1024 count=1 status=none
    chown -R munge:munge "$MUNGE_DIR"
    chmod 0755 "$MUNGE_DIR" "$MUNGE_DIR/run"
    chmod 0700 "$MUNGE_DIR/etc" "$MUNGE_DIR/log"
    chmod 0711 "$MUNGE_DIR/lib"
    chmod 0400 "$MUNGE_DIR/etc/munge.key"
    chmod a+x "$PREFIX"
    # munged runs as the munge user: every directory above its files must be traversable
    setpriv --reuid=munge --regid=munge --clear-groups test -x "$MUNGE_DIR/lib" \
        || die "the munge user cannot reach $MUNGE_DIR (a parent directory is not world-traversable, e.g. mode 0700); set UNLOCK_SLURM_PREFIX to a directory under a traversable path such as /tmp"
    # setpriv execs (no fork): $! is munged's own PID; -F keeps it in the foreground
    setsid setpriv --reuid=munge --regid=munge --clear-groups \
        /usr/sbin/munged -F --key-file="$MUNGE_DIR/etc/munge.key" --socket="$MUNGE_SOCK" \
        --pid-file="$MUNGE_DIR/run/munged.pid" --log-file="$MUNGE_DIR/log/munged.log" \
        --seed-file="$MUNGE_DIR/lib/munged.seed" \
        </dev/null >"$LOG/munged.out" 2>&1 &
    echo $! > "$RUN/munged.pid"
    for _ in $(seq 1 40); do   # <= 10 s
        munge -S "$MUNGE_SOCK" -n 2>/dev/null | unmunge -S "$MUNGE_SOCK" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    die "munged did not answer on $MUNGE_SOCK within 10 s"
}

start_daemon() {  # NAME ARGS...: run in the foreground (-D) under setsid, record its PID
    local name=$1 _; shift
    setsid "$name" "$@" </dev/null >"$LOG/$name.out" 2>&1 &
    echo $! > "$RUN/$name.pid"
    for _ in $(seq 1 20); do   # <= 5 s
        pid_alive "$name" && return 0
        sleep 0.25
    done
    die "$name exited at start"
}

do_down() {
    local _
    if pid_alive slurmctld; then
        timeout 10 scancel --partition="$PARTITION" 2>/dev/null || true
        for _ in $(seq 1 20); do   # <= 10 s for running jobs to end
            [ -z "$(timeout 5 squeue -h -t R,CG 2>/dev/null || true)" ] && break
            sleep 0.5
        done
    fi
    stop_pid slurmd
    stop_pid slurmctld
    stop_pid munged
    unlink_etc
}

do_up() {
    local p st="" _ t0
    need_root
    need_cmds
    mkdir -p "$RUN" "$LOG"
    if healthy; then link_etc; log "already up"; do_status; return 0; fi
    do_down   # stop whatever of ours is left, then start clean
    for p in "$CTLD_PORT" "$SLURMD_PORT"; do
        port_busy "$p" && die "port $p is in use by a process this script did not start (ss -ltnp 'sport = :$p'); set UNLOCK_SLURM_CTLD_PORT / UNLOCK_SLURM_SLURMD_PORT"
    done
    rm -rf "$PREFIX/state" "$PREFIX/spool" "$LOG" "$MUNGE_DIR"
    mkdir -p "$PREFIX/state" "$PREFIX/spool/slurmd" "$LOG" "$RUN"
    t0=$(date +%s.%N)
    write_conf
    link_etc
    start_munged
    start_daemon slurmctld -D -c -f "$CONF"
    start_daemon slurmd -D -c -N "$NODE" -f "$CONF"
    for _ in $(seq 1 120); do   # <= ~60 s for the node to register
        st=$(node_state)
        case "$st" in
            idle|mix|alloc) break ;;
            down*|drain*|drng*) timeout 5 scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.25
    done
    case "$st" in idle|mix|alloc) ;; *) die "node $NODE is '$st' (not idle) after 60 s" ;; esac
    timeout 60 srun -p "$PARTITION" -N1 -n1 -t 1 true || die "srun smoke test failed (or took > 60 s)"
    log "up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s (config $CONF)"
    do_status
}

do_status() {
    local n
    for n in munged slurmctld slurmd; do
        if pid_alive "$n"; then log "$n: running (pid $(cat "$RUN/$n.pid"))"; else log "$n: not running"; fi
    done
    timeout 10 sinfo 2>/dev/null || log "sinfo: controller not reachable"
}

case "${1:-up}" in
    up) do_up ;;
    down|stop) do_down; log "down" ;;
    status) do_status ;;
    logs) show_logs ;;
    *) echo "usage: $0 [up|down|status|logs]" >&2; exit 2 ;;
esac
