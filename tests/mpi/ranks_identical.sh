# `train` gives bit-identical parameters and metrics on 1, 2 and 4 ranks (DESIGN.md invariant 2),
# on Fashion-MNIST and on synthetic blobs; batches split unevenly over the ranks.
source "$(dirname "$0")/lib.bash"

same_on_ranks fmnist fashion-mnist run train "${SMALL_TRAIN[@]}"
same_on_ranks blobs blobs run train data.name=blobs model.spec=mlp:20-16-4 train.epochs=4 \
    train.batch=50 train.chunk=8
# Every resolved key is recorded in /config, the same set `show-config` prints.
"$RANKLAB" show-config train "${SMALL_TRAIN[@]}" | awk '/ = / { print $1 }' | sort >"$SCRATCH/keys"
check "results.h5 /config holds every resolved key ($(wc -l <"$SCRATCH/keys") keys)" \
    /usr/bin/python3 -c "import h5py; keys = open('$SCRATCH/keys').read().split(); \
assert sorted(h5py.File('$SCRATCH/fmnist-1/results.h5')['config'].attrs) == keys"
# The comparison can fail: another seed gives other parameters.
ranks 2 run train "${SMALL_TRAIN[@]}" run.seed=2 --out "$SCRATCH/seed2" >/dev/null 2>&1
check "a different seed gives different parameters" \
    bash -c "! /usr/bin/python3 $(dirname "$0")/same_results.py $SCRATCH/fmnist-1/results.h5 $SCRATCH/seed2/results.h5 >/dev/null"
acc=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$SCRATCH/fmnist-4/results.h5')['final/test_acc'][()])")
check "the small run learns (test accuracy $acc > 0.7)" /usr/bin/python3 -c "assert $acc > 0.7"

# init.from: a second run starts from the first one's model (so its first epoch is already good),
# and a model of another shape is refused.
ranks 2 run train "${SMALL_TRAIN[@]}" train.epochs=1 init.from="$SCRATCH/fmnist-1" \
    --out "$SCRATCH/from" >/dev/null 2>&1
first=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$SCRATCH/fmnist-1/results.h5')['metrics/test_acc'][0])")
continued=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$SCRATCH/from/results.h5')['metrics/test_acc'][0])")
check "init.from starts from the saved model ($continued after one more epoch > $first after the first)" \
    /usr/bin/python3 -c "assert $continued > $first"
set +e
ranks 2 run train "${SMALL_TRAIN[@]}" model.spec=mlp:784-32-10 init.from="$SCRATCH/fmnist-1" \
    --out "$SCRATCH/from-bad" >"$SCRATCH/from-bad.log" 2>&1
set -e
check "init.from with another model shape is refused" grep -q "set model.spec to the same spec" "$SCRATCH/from-bad.log"
finish
