# zoqo-train: bit-identical on 1, 2 and 4 ranks (ranks split the perturbations), the same when
# ranks split the data instead, and after a SIGTERM + resume (in the QAT arm); ZOQO and QAT
# improve on their start; QAT with LoRA adapters is refused before anything is written.
source "$(dirname "$0")/lib.bash"

ranks 2 run train data.train_limit=3000 data.test_limit=1000 model.spec=mlp:784-64-10 \
    train.epochs=3 --out "$SCRATCH/base" >/dev/null 2>&1
ZOQO=(run zoqo-train init.from="$SCRATCH/base" data.train_limit=3000 data.test_limit=1000
      zoqo.steps=40 zoqo.eval_every=20 zoqo.batch=128 zo.perturbations=4 zoqo.arms=zoqo8,qat4,zoqo4,sign,mezo,sgd)

for p in 1 2 4; do
    ranks $p "${ZOQO[@]}" --out "$SCRATCH/last-$p" >"$SCRATCH/last-$p.log" 2>&1
    ranks $p "${ZOQO[@]}" zoqo.target=lora zoqo.arms=zoqo8,zoqo4b8,sign,sgd --out "$SCRATCH/lora-$p" \
        >"$SCRATCH/lora-$p.log" 2>&1
done
for p in 2 4; do
    check "last layer: $p ranks == 1 rank" same_results "$SCRATCH/last-1/results.h5" "$SCRATCH/last-$p/results.h5"
    check "LoRA: $p ranks == 1 rank" same_results "$SCRATCH/lora-1/results.h5" "$SCRATCH/lora-$p/results.h5"
done
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
finish
