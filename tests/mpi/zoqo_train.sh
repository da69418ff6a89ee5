# zoqo-train: bit-identical on 1, 2 and 4 ranks (ranks split the perturbations), the same when
# ranks split the data instead, and after a SIGTERM + resume (in the QAT arm); ZOQO and QAT
# improve on their start; QAT with LoRA adapters is refused before anything is written. A small
# quantized CNN (int8 convolutions, issue 15 item 6): bit-identical on 1 and 2 ranks, last layer
# and LoRA adapters on its conv layers; a CNN with group norm is refused for the int8 arms.
source "$(dirname "$0")/lib.bash"

ranks 2 run train data.train_limit=3000 data.test_limit=1000 model.spec=mlp:784-64-10 \
    train.epochs=3 --out "$SCRATCH/base" >/dev/null 2>&1
ZOQO=(run zoqo-train init.from="$SCRATCH/base" data.train_limit=3000 data.test_limit=1000
      zoqo.steps=40 zoqo.eval_every=20 zoqo.batch=128 zo.perturbations=4 zoqo.arms=zoqo8,qat4,zoqo4,sign,mezo,sgd)

same_on_ranks last "last layer" "${ZOQO[@]}"
same_on_ranks lora LoRA "${ZOQO[@]}" zoqo.target=lora zoqo.arms=zoqo8,zoqo4b8,sign,sgd
ranks 2 "${ZOQO[@]}" zo.split=data --out "$SCRATCH/data-split" >/dev/null 2>&1
check "ranks splitting the data == ranks splitting the perturbations" \
    same_results "$SCRATCH/last-1/results.h5" "$SCRATCH/data-split/results.h5"

set +e
RANKLAB_FAULT=term@55:1 ranks 2 "${ZOQO[@]}" ckpt.every=15 --out "$SCRATCH/stopped" >/dev/null 2>&1
code=$?
set -e
check "SIGTERM in the second arm (qat4) exits 75 (got $code)" test "$code" -eq 75
ranks 2 "${ZOQO[@]}" ckpt.every=15 --out "$SCRATCH/stopped" >"$SCRATCH/resume.log" 2>&1
check "resumed at step 55" grep -q "from step 55" "$SCRATCH/resume.log"
check "resumed == uninterrupted" same_results "$SCRATCH/last-1/results.h5" "$SCRATCH/stopped/results.h5"

/usr/bin/python3 - "$SCRATCH/last-2/results.h5" <<'PY' >"$SCRATCH/finals.txt"
import sys, h5py
f = h5py.File(sys.argv[1])["final"]
print(f["start_acc_zoqo8"][()], f["test_acc_zoqo8"][()], f["queries_zoqo8"][()],
      f["start_acc_qat4"][()], f["test_acc_qat4"][()])
PY
read -r start end queries qat_start qat_end <"$SCRATCH/finals.txt"
check "ZOQO-8 improves on its start ($start -> $end)" /usr/bin/python3 -c "assert $end > $start"
check "QAT-4 improves on its start ($qat_start -> $qat_end)" \
    /usr/bin/python3 -c "assert $qat_end > $qat_start"
check "ZOQO-8 spent 2·K queries per step ($queries)" test "${queries%.*}" -eq $((40 * 2 * 4))
REFUSAL_BASE=("${ZOQO[@]}")
expect_refusal "QAT with LoRA adapters" "qat4 trains the last layer" zoqo.target=lora

# A small CNN: conv (fused relu), max pooling, a strided conv, fc.
CNN=cnn:1x28x28-conv4k5-relu-maxpool2-conv8k3s2-relu-fc10
ranks 2 run train data.train_limit=1000 data.test_limit=300 model.spec=$CNN train.epochs=2 \
    --out "$SCRATCH/cnn-base" >/dev/null 2>&1
ZOQO_CNN=(run zoqo-train init.from="$SCRATCH/cnn-base" data.train_limit=1000 data.test_limit=300
          zoqo.steps=16 zoqo.eval_every=8 zoqo.batch=64 zo.perturbations=4)
for p in 1 2; do
    ranks $p "${ZOQO_CNN[@]}" zoqo.arms=zoqo8,qat4,zoqo4,sgd --out "$SCRATCH/cnn-last-$p" \
        >"$SCRATCH/cnn-last-$p.log" 2>&1
    ranks $p "${ZOQO_CNN[@]}" zoqo.target=lora zoqo.arms=zoqo8,zoqo4b8 --out "$SCRATCH/cnn-lora-$p" \
        >"$SCRATCH/cnn-lora-$p.log" 2>&1
done
check "quantized CNN, last layer: 2 ranks == 1 rank" \
    same_results "$SCRATCH/cnn-last-1/results.h5" "$SCRATCH/cnn-last-2/results.h5"
check "quantized CNN, LoRA on conv and fc layers: 2 ranks == 1 rank" \
    same_results "$SCRATCH/cnn-lora-1/results.h5" "$SCRATCH/cnn-lora-2/results.h5"
check "the int8 CNN starts near the fp32 CNN (sgd's start) and QAT-4 improves on its start" \
    /usr/bin/python3 - "$SCRATCH/cnn-last-1/results.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1])["final"]
start, fp32 = f["start_acc_zoqo8"][()], f["start_acc_sgd"][()]
assert abs(start - fp32) < 0.03, (start, fp32)
assert f["test_acc_qat4"][()] > f["start_acc_qat4"][()], (f["start_acc_qat4"][()], f["test_acc_qat4"][()])
print("int8 CNN: start %.3f (fp32 %.3f), qat4 %.3f -> %.3f" % (start, fp32, f["start_acc_qat4"][()], f["test_acc_qat4"][()]))
PY
ranks 2 run train data.train_limit=300 data.test_limit=100 train.epochs=1 \
    model.spec=cnn:1x28x28-conv4k3-gn2-relu-maxpool2-fc10 --out "$SCRATCH/gn-base" >/dev/null 2>&1
REFUSAL_BASE=("${ZOQO_CNN[@]}" init.from="$SCRATCH/gn-base")
expect_refusal "a CNN with group norm is refused for int8 arms" "has no int8 version" \
    zoqo.arms=mezo,zoqo8
finish
