# `train` with a small residual network (strided convolutions, identity and projection shortcuts,
# group norm, global average pooling) gives bit-identical results on 1, 2 and 4 ranks, and after a
# SIGTERM and resume (DESIGN.md invariants 2 and 3).
source "$(dirname "$0")/lib.bash"
ARGS=(run train data.train_limit=400 data.test_limit=200 train.epochs=1 train.batch=50
      train.chunk=10 ckpt.every=3
      model.spec=cnn:1x28x28-conv8k3s2-gn2-relu-res8g2-res16s2g4-gap-fc10)

same_on_ranks res resnet "${ARGS[@]}"

stop_and_resume "resnet" term@4:1 "from step 4" 2 "$SCRATCH/res-1/results.h5" "$SCRATCH/term" \
    "${ARGS[@]}"
finish
