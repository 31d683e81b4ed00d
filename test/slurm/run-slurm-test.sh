#!/usr/bin/env bash
# Real Slurm test of `bigstep sweep slurm` (called from .ci/run; needs root and a built tree).
#
#  1. installs slurm-wlm + munge if missing (prints SKIP and exits 0 only if they cannot be installed);
#  2. starts munged, slurmctld and slurmd for a single node named after `hostname -s` (real CPU
#     count and memory from `slurmd -C`), all state, sockets and logs in a temp directory;
#  3. submits test/slurm/sweep.yaml (17 tasks) as a job array, SIGKILLs the long task 16 mid-run
#     from outside, waits for the array, resubmits element 16 with `sbatch --array=16`;
#  4. checks that every task's summary is there and that results.csv and every result.json
#     (without wall-clock fields) equal those of the same sweep run by `bigstep sweep local`;
#  5. runs `bigstep bench --sweep` (one tiny case) as a 1-task array on partition ci and collects it;
#  6. submits test/slurm/mpi-sweep.yaml (one tiny E3 task) with `--ntasks 2`: the task runs as 2 MPI
#     ranks started by srun (--data-parallel); its result.json (without timing) must equal the same
#     task run by one process, and its env.json must record 2 ranks.
# Every daemon it started is stopped on exit (trap), also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIGSTEP=(node "$ROOT/dist/src/cli/main.js")
DEADLINE=$((SECONDS + ${SLURM_TEST_BUDGET:-450}))
export BIGSTEP_THREADS=1 OPENBLAS_NUM_THREADS=1

log() { echo "slurm-test: $*"; }
fail() { echo "slurm-test: FAIL: $*" >&2; exit 1; }
left() { echo $((DEADLINE - SECONDS)); }
# Each wait loop checks the budget; bash runs the TERM/INT trap between commands.

[ -f "$ROOT/dist/src/cli/main.js" ] || fail "dist/src/cli/main.js missing: run npm run build first"

# ---- 1. install ---------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "slurm-test: SKIP: Slurm is not installed and cannot be installed here (needs root and apt-get)"
    exit 0
  fi
  log "installing slurm-wlm and munge"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/tmp/slurm-test-apt.log 2>&1; then
    tail -5 /tmp/slurm-test-apt.log
    echo "slurm-test: SKIP: apt-get could not install slurm-wlm munge (see above)"
    exit 0
  fi
fi
[ "$(id -u)" = 0 ] || { echo "slurm-test: SKIP: the test starts slurmctld/slurmd as root and is not root"; exit 0; }

# ---- 2. daemons ---------------------------------------------------------------------------------
T=$(mktemp -d /tmp/bigstep-slurm.XXXXXX)
chmod 700 "$T"
PIDS=()
cleanup() {
  local rc=$?
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    # Cancel our jobs and give slurmd the time to end their steps before it stops.
    echo "slurm-test: cancelling jobs, stopping slurmctld, slurmd and munged"
    timeout 5 scancel --quiet --user=root 2>/dev/null
    for _ in $(seq 1 16); do [ -z "$(timeout 2 squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 1 30); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  # Job steps of our slurmd that outlived it (slurmstepd, tasks) hold files in $T: end exactly those.
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = $$ ] && continue
    if ls -l "$d/fd" 2>/dev/null | grep -q -- "-> $T/" || [ "$(readlink "$d/cwd" 2>/dev/null)" = "$T" ]; then kill -9 "$p" 2>/dev/null; fi
  done
  if [ $rc != 0 ]; then
    echo "slurm-test: logs of the failed run:" >&2
    for f in "$T"/slurmctld.log "$T"/slurmd.log "$T"/munged.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    for f in "$T"/slurm-sweep/slurm/logs/*.out; do [ -f "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HOST=$(hostname -s)
NODE=$(slurmd -C | head -1)
case "$NODE" in NodeName=*) ;; *) fail "slurmd -C printed: $NODE" ;; esac
log "node: $NODE"

mkdir -p "$T/munge" "$T/state" "$T/spool"
chmod 700 "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
munged --force --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/munged.seed" -F >>"$T/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -S "$T/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.socket" ] || fail "munged did not start"
munge -n -S "$T/munge/munge.socket" | unmunge -S "$T/munge/munge.socket" >/dev/null || fail "munge round trip failed"

# Ports: the defaults unless taken.
CTLD_PORT=6817; SLURMD_PORT=6818
if (exec 3<>/dev/tcp/127.0.0.1/$CTLD_PORT) 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/$SLURMD_PORT) 2>/dev/null; then
  CTLD_PORT=16817; SLURMD_PORT=16818
fi
cat >"$T/slurm.conf" <<EOF
ClusterName=bigstep-ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.socket
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$T/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >>"$T/slurmctld.log" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >>"$T/slurmd.log" 2>&1 &
PIDS+=($!)

state=""
while [ "$(left)" -gt 0 ]; do
  state=$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -1 || true)
  [ "$state" = idle ] && break
  case "$state" in down*|drain*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;; esac
  sleep 0.5
done
[ "$state" = idle ] || fail "node $HOST is not idle (state '$state')"
log "slurmctld + slurmd up; node $HOST idle ($(sinfo -h -o '%P %D %c CPUs %m MB'))"

# ---- 3. the sweep on Slurm ------------------------------------------------------------------------
S="$T/slurm-sweep"
L="$T/local-sweep"
"${BIGSTEP[@]}" sweep plan test/slurm/sweep.yaml --out "$S" | head -1
"${BIGSTEP[@]}" sweep plan test/slurm/sweep.yaml --out "$L" >/dev/null
N=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).count)' "$S/tasks.json")
LONG=16
LONG_RUN=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).tasks[16].run)' "$S/tasks.json")
[ "$N" -ge 17 ] || fail "expected >= 17 tasks, got $N"

t0=$SECONDS
"${BIGSTEP[@]}" sweep slurm "$S" --max-parallel 2 --mem 1G --time 00:10:00 --submit
JOB=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n");console.log(JSON.parse(l[l.length-1]).jobId)' "$S/slurm/jobs.jsonl")
log "job array $JOB submitted ($N tasks)"
grep -q "^#SBATCH --array=0-$((N - 1))%2$" "$S/slurm/array.sbatch" || fail "array.sbatch has no --array=0-$((N - 1))%2 line"

# Kill the long task from outside while it runs (its pid is in the run directory's lock file).
LOCK="$S/runs/$LONG_RUN/.lock"
while [ "$(left)" -gt 0 ] && [ ! -s "$LOCK" ]; do sleep 0.2; done
[ -s "$LOCK" ] || fail "task $LONG never started"
sleep 1.5
PID=$(cat "$LOCK")
kill -0 "$PID" 2>/dev/null || fail "task $LONG (pid $PID) finished before it could be killed"
kill -9 "$PID"
log "SIGKILLed task $LONG (pid $PID) mid-run"

wait_job() { # job id → waits until squeue lists no pending/running element
  while [ "$(left)" -gt 0 ]; do
    [ -z "$(squeue -h -j "$1" -t PENDING,RUNNING,CONFIGURING,COMPLETING 2>/dev/null)" ] && return 0
    sleep 1
  done
  squeue -j "$1" -t all || true
  fail "job $1 did not finish within the time budget"
}
wait_job "$JOB"
log "array $JOB done in $((SECONDS - t0)) s; element states: $(squeue -h -j "$JOB" -t all -o '%T' | sort | uniq -c | awk '{printf "%s%s %s", (NR>1?", ":""), $1, $2}')"
[ "$(squeue -h -j "${JOB}_${LONG}" -t all -o '%T')" = FAILED ] || fail "element $LONG should be FAILED after SIGKILL (is $(squeue -h -j "${JOB}_${LONG}" -t all -o '%T'))"
[ "$(squeue -h -j "$JOB" -t all -o '%T' | grep -c '^COMPLETED$')" = $((N - 1)) ] || fail "expected $((N - 1)) COMPLETED elements"
for i in $(seq 0 $((N - 1))); do [ -s "$S/slurm/logs/${JOB}_$i.out" ] || fail "no Slurm log for element $i"; done

out=$("${BIGSTEP[@]}" sweep collect "$S")
echo "$out" | head -1
echo "$out" | grep -q "$N tasks: $((N - 1)) finished, 1 incomplete" || fail "collect after the kill: $out"

# Resubmit the killed element as Slurm users do.
JOB2=$(sbatch --parsable --array=$LONG "$S/slurm/array.sbatch" | cut -d';' -f1)
log "resubmitted element $LONG as job $JOB2"
wait_job "$JOB2"
[ "$(squeue -h -j "${JOB2}_${LONG}" -t all -o '%T')" = COMPLETED ] || fail "resubmitted element is $(squeue -h -j "${JOB2}_${LONG}" -t all -o '%T')"
"${BIGSTEP[@]}" sweep collect "$S" --check | head -1
"${BIGSTEP[@]}" sweep status "$S" | head -3
log "Slurm part: $((SECONDS - t0)) s"

# ---- 4. the same sweep with the local executor, and the comparison -----------------------------
t1=$SECONDS
"${BIGSTEP[@]}" sweep local "$L" --concurrency 2 | tail -1
log "local executor: $((SECONDS - t1)) s"
cmp "$S/results.csv" "$L/results.csv" || fail "results.csv differs between Slurm and the local executor"
node -e '
  const fs = require("fs"), path = require("path");
  const [s, l] = process.argv.slice(1);
  const t = JSON.parse(fs.readFileSync(path.join(s, "tasks.json")));
  let n = 0;
  for (const task of t.tasks) {
    const read = (d) => { const r = JSON.parse(fs.readFileSync(path.join(d, "runs", task.run, "result.json"))); delete r.timing; return JSON.stringify(r); };
    const sum = JSON.parse(fs.readFileSync(path.join(s, "runs", task.run, "summary.json")));
    if (sum.status !== "finished") { console.error(`task ${task.index}: status ${sum.status}`); process.exit(1); }
    if (read(s) !== read(l)) { console.error(`task ${task.index}: result.json differs`); process.exit(1); }
    n++;
  }
  console.log(`slurm-test: ${n} result.json files equal (Slurm vs local, timing removed)`);
' "$S" "$L"
log "PASS: $N tasks on Slurm (job $JOB + $JOB2) = local executor, byte for byte (results.csv)"

# ---- 5. bigstep bench as a 1-task array on this node's partition, collected into the comparison ----
B="$T/bench-sweep"
t2=$SECONDS
"${BIGSTEP[@]}" bench --sweep "$B" --partition ci --cases mlp-784-128-10/b128 --threads 1 --seconds 0.3 --time 00:05:00 --submit | tail -2
grep -q '^#SBATCH --exclusive$' "$B/slurm/array.sbatch" || fail "bench array.sbatch has no --exclusive line"
BJOB=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n");console.log(JSON.parse(l[l.length-1]).jobId)' "$B/slurm/jobs.jsonl")
wait_job "$BJOB"
[ "$(squeue -h -j "${BJOB}_0" -t all -o '%T')" = COMPLETED ] || { tail -20 "$B"/slurm/logs/*.out >&2; fail "bench element is $(squeue -h -j "${BJOB}_0" -t all -o '%T')"; }
out=$("${BIGSTEP[@]}" sweep collect "$B" --check) || fail "bench collect: $out"
echo "$out" | head -4
echo "$out" | grep -qE "^ci +$HOST +.*mlp-784-128-10/b128 +1 +[0-9]" || fail "bench comparison has no row for partition ci on $HOST"
[ -s "$B/bench-comparison.png" ] || fail "no bench-comparison.png"
log "PASS: bench sweep (1 task, partition ci, --exclusive) ran as job $BJOB and was collected in $((SECONDS - t2)) s"

# ---- 6. one task of 2 MPI ranks through srun (bigstep sweep slurm --ntasks 2) --------------------------
M="$T/mpi-sweep"
ML="$T/mpi-local"
log "srun --mpi=list: $(srun --mpi=list 2>&1 | tr '\n' ' ')"
"${BIGSTEP[@]}" sweep plan test/slurm/mpi-sweep.yaml --out "$M" | head -1
"${BIGSTEP[@]}" sweep plan test/slurm/mpi-sweep.yaml --out "$ML" >/dev/null
t3=$SECONDS
# Open MPI refuses root unless told; this test's Slurm runs every job as root.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  "${BIGSTEP[@]}" sweep slurm "$M" --ntasks 2 --mem 1G --time 00:10:00 --submit | tail -1
grep -q '^#SBATCH --ntasks=2$' "$M/slurm/array.sbatch" || fail "mpi array.sbatch has no --ntasks=2 line"
grep -q '^exec srun --mpi=pmix --ntasks=2 .* sweep run .* --task "$TASK" --data-parallel$' "$M/slurm/array.sbatch" ||
  fail "mpi array.sbatch does not start the task with srun --mpi=pmix ... --data-parallel"
MJOB=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n");console.log(JSON.parse(l[l.length-1]).jobId)' "$M/slurm/jobs.jsonl")
wait_job "$MJOB"
MLOG="$M/slurm/logs/${MJOB}_0.out"
[ "$(squeue -h -j "${MJOB}_0" -t all -o '%T')" = COMPLETED ] || { tail -30 "$MLOG" >&2; fail "2-rank element is $(squeue -h -j "${MJOB}_0" -t all -o '%T')"; }
grep -q 'data parallel over 2 MPI ranks' "$MLOG" || { tail -30 "$MLOG" >&2; fail "the task did not run on 2 ranks"; }
[ "$(grep -c 'running in' "$MLOG")" = 1 ] || fail "more than one rank printed the start line"
"${BIGSTEP[@]}" sweep run "$ML" --task 0 | tail -1
node -e '
  const fs = require("fs"), path = require("path");
  const [m, l] = process.argv.slice(1);
  const task = JSON.parse(fs.readFileSync(path.join(m, "tasks.json"))).tasks[0];
  const read = (d, f) => JSON.parse(fs.readFileSync(path.join(d, "runs", task.run, f)));
  const strip = (r) => { delete r.timing; return JSON.stringify(r); };
  if (read(m, "env.json").dataParallel?.ranks !== 2) { console.error("env.json does not record 2 ranks"); process.exit(1); }
  if (strip(read(m, "result.json")) !== strip(read(l, "result.json"))) { console.error("2-rank result.json differs from the 1-process run"); process.exit(1); }
  const arms = read(m, "result.json").arms;
  const gd = arms.filter((a) => a.kind.startsWith("gd-")).length;
  console.log(`slurm-test: 2-rank srun task = 1-process run (result.json without timing; ${arms.length - gd} SGD and ${gd} full-batch arms, all split)`);
' "$M" "$ML"
log "PASS: one E3 task as 2 MPI ranks through srun (job $MJOB) equals the 1-process run, in $((SECONDS - t3)) s"
