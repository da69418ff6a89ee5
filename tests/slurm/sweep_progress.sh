# Progress in `sweep status` on the local Slurm (issue 18, item 11): while a cell runs, its
# heartbeat holds the step it reached (rewritten every log.progress_seconds), and status shows
# that step of the total and the time left at its rate; once complete, the last step.
source "$(dirname "$0")/lib.bash"
SW="$SCRATCH/sweep"
# One cell long enough to be seen running: 2000 steps of a wide MLP on 1 rank.
small_sweep_file "$SCRATCH/sweep.ini" "run.seed = 1"
sed -i 's/^ranks = 2$/ranks = 1/; s/^train_limit = .*/train_limit = 10000/;
        s/^spec = .*/spec = mlp:784-1024-1024-10/; s/^epochs = .*/epochs = 10\nbatch = 50/' \
    "$SCRATCH/sweep.ini"
printf '[log]\nprogress_seconds = 1\n' >>"$SCRATCH/sweep.ini"
"$RANKLAB" sweep plan "$SCRATCH/sweep.ini" --dir "$SW" >/dev/null
"$RANKLAB" sweep submit "$SW" >/dev/null
row() { "$RANKLAB" sweep status "$SW" | awk '$1 == 0' || true; }
seen=""
for _ in $(seq 300); do
    line=$(row)
    if echo "$line" | grep -q '^0 *running *[0-9]*/2000 *[0-9]'; then
        seen=$line
        break
    fi
    sleep 0.5
done
echo "status while running: $seen"
step=$(echo "$seen" | awk '{ split($3, s, "/"); print s[1] }')
eta=$(echo "$seen" | awk '{ print $4 }')
check "status shows the cell running at step ${step:-?} of 2000" test -n "$seen"
check "with the time left, e.g. 45s or 2m05s (got ${eta:-none})" \
    grep -qE '^[0-9]+s$|^[0-9]+m[0-9]{2}s$|^[0-9]+h[0-9]{2}m$' <<<"${eta:-none}"
sleep 3
later=$(row | awk '{ split($3, s, "/"); print s[1] }')
check "the step moves on (${step:-?} then ${later:-?})" test "${later:-0}" -gt "${step:-0}"
wait_sweep "$SW" 300
check "status: complete" "$RANKLAB" sweep status "$SW"
check "at the last step" grep -q '^0 *complete *2000/2000 ' <(row)
finish
