# `train` gives bit-identical parameters and metrics on 1, 2 and 4 ranks (DESIGN.md invariant 2),
# on Fashion-MNIST and on synthetic blobs; batches split unevenly over the ranks.
source "$(dirname "$0")/lib.bash"

for p in 1 2 4; do
    ranks $p run train "${SMALL_TRAIN[@]}" --out "$SCRATCH/fmnist-$p" >"$SCRATCH/fmnist-$p.log" 2>&1
    ranks $p run train data.name=blobs model.spec=mlp:20-16-4 train.epochs=4 train.batch=50 \
        train.chunk=8 --out "$SCRATCH/blobs-$p" >"$SCRATCH/blobs-$p.log" 2>&1
done
for p in 2 4; do
    check "fashion-mnist: $p ranks == 1 rank" same_results "$SCRATCH/fmnist-1/results.h5" "$SCRATCH/fmnist-$p/results.h5"
    check "blobs: $p ranks == 1 rank" same_results "$SCRATCH/blobs-1/results.h5" "$SCRATCH/blobs-$p/results.h5"
done
# The comparison can fail: another seed gives other parameters.
ranks 2 run train "${SMALL_TRAIN[@]}" run.seed=2 --out "$SCRATCH/seed2" >/dev/null 2>&1
check "a different seed gives different parameters" \
    bash -c "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/fmnist-1/results.h5 $SCRATCH/seed2/results.h5 >/dev/null"
acc=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$SCRATCH/fmnist-4/results.h5')['final/test_acc'][()])")
check "the small run learns (test accuracy $acc > 0.7)" /usr/bin/python3 -c "assert $acc > 0.7"
finish
