# A run that fails while writing its finals into results.h5 (issue 12, acceptance 3) leaves its
# final checkpoint (ckpt/final.h5): the same command then completes results.h5 from it without
# recomputing, with the results of a run that never failed. For experiments with scalar finals
# and arrays (train), arrays owned in slices by the ranks (mw-train), and no periodic
# checkpoints at all (subset-select).
source "$(dirname "$0")/lib.bash"
declare -A CASES=(
    [train]="run train ${SMALL_TRAIN[*]}"
    [mw]="run mw-train ${SMALL_TRAIN[*]} data.noise=symmetric data.noise_rate=0.4 mw.save_epochs=2"
    [subset]="run subset-select data.train_limit=1500 data.test_limit=500 subset.pca_dim=16 subset.budgets=10,40"
)
for name in train mw subset; do
    read -r -a args <<<"${CASES[$name]}"
    ranks 2 "${args[@]}" --out "$SCRATCH/$name-ref" >/dev/null 2>&1
    set +e
    RANKLAB_FAULT=fail@finals ranks 2 "${args[@]}" --out "$SCRATCH/$name" >"$SCRATCH/fail.log" 2>&1
    code=$?
    set -e
    check "$name: the failure while writing finals is an error" test $code -ne 0
    check "$name: results.h5 was not completed" test ! -e "$SCRATCH/$name/results.h5"
    check "$name: the final checkpoint verifies" "$RANKLAB" verify "$SCRATCH/$name/ckpt/final.h5"
    ranks 2 "${args[@]}" --out "$SCRATCH/$name" >"$SCRATCH/again.log" 2>&1
    check "$name: the same command completes from the final checkpoint" \
        grep -q "completing results.h5 from it (nothing is recomputed)" "$SCRATCH/again.log"
    check "$name: without a step of training or selection" \
        test -z "$(grep -E "steps/s|selected|B=[0-9]" "$SCRATCH/again.log")"
    check "$name: same results as a run that never failed" \
        same_results "$SCRATCH/$name-ref/results.h5" "$SCRATCH/$name/results.h5"
    check "$name: and wall_seconds of the run that computed them" /usr/bin/python3 -c "
import h5py, sys
w = h5py.File('$SCRATCH/$name/results.h5')['final/wall_seconds'][()]
sys.exit(0 if w > 0 else 1)"
done
finish
