# `lm-finetune` (issue 17): a tiny decoder pretrained on two small noun categories, fine-tuned
# on prompts of its held-out glosses. Every arm is bit-identical on 1, 2 and 4 ranks (3
# perturbations and chunks of 3 examples: uneven shares), the zero-order arms also when ranks
# split the batch, and with adapters on the MLP too (ft.lora_targets=q,v,fc1,fc2: lora and zoqo8 on
# 1 and 2 ranks); a SIGTERM and a resume (ZOQO codes, and Adam's state in QAT) give the
# uninterrupted results; first-order LoRA lowers the test loss below zero-shot; an unknown category, 'all',
# a missing or unfinished init.from run, a run of another experiment and split fractions other
# than the pretraining's are refused with a HINT before anything is written, and so is a resume
# whose init.from holds another model since.
source "$(dirname "$0")/lib.bash"
[ -r /usr/share/wordnet/data.noun ] || { echo "wordnet-base is not installed: skipped"; exit 77; }
SPLITS=(data.text_parts=noun data.categories=shape,feeling data.valid_fraction=0.2
        data.test_fraction=0.4)
ranks 2 run lm-pretrain "${SPLITS[@]}" text.vocab_size=300 model.spec=gpt:L1-D16-H2-T32 \
    train.batch=16 train.chunk=4 train.epochs=2 train.lr=0.01 lm.samples=0 \
    --out "$SCRATCH/pre" >"$SCRATCH/pre.log" 2>&1
FT=(run lm-finetune init.from="$SCRATCH/pre" "${SPLITS[@]}" ft.shots=6 ft.test_per_class=10
    ft.steps=12 ft.batch=7 ft.eval_every=4 train.chunk=3 zo.perturbations=3 ft.max_text_tokens=8)

for arm in zoqo4 qat8 lora mezo sign; do
    same_on_ranks $arm $arm "${FT[@]}" ft.arm=$arm
done
for arm in zoqo4 sign; do
    ranks 2 "${FT[@]}" ft.arm=$arm zo.split=data --out "$SCRATCH/$arm-data" >/dev/null 2>&1
    check "$arm: ranks splitting the batch == splitting the perturbations" \
        same_results "$SCRATCH/$arm-1/results.h5" "$SCRATCH/$arm-data/results.h5"
done
for arm in zoqo8 lora; do
    for p in 1 2; do
        ranks $p "${FT[@]}" ft.arm=$arm ft.lora_targets=q,v,fc1,fc2 --out "$SCRATCH/$arm-mlp-$p" \
            >"$SCRATCH/$arm-mlp-$p.log" 2>&1
    done
    check "$arm with adapters on q, v, fc1, fc2: 2 ranks == 1 rank" \
        same_results "$SCRATCH/$arm-mlp-1/results.h5" "$SCRATCH/$arm-mlp-2/results.h5"
done
ranks 1 "${FT[@]}" ft.arm=zeroshot --out "$SCRATCH/zeroshot" >/dev/null 2>&1
check "first order moves the adapters off zero-shot; finals say what each arm trained" \
    /usr/bin/python3 - "$SCRATCH" <<'PY'
import sys
import h5py
d = sys.argv[1]
final = lambda arm, key: float(h5py.File(f"{d}/{arm}/results.h5", "r")["final/" + key][()])
zero = final("zeroshot", "test_acc")
assert final("lora-1", "start_acc") == zero, (zero, final("lora-1", "start_acc"))
assert final("lora-1", "test_loss") < final("zeroshot", "test_loss"), "lora did not lower the loss"
assert final("zoqo4-1", "queries") == 12 * 2 * 3 and final("lora-1", "queries") == 12
assert final("zoqo4-1", "trainable_bytes") * 4 == final("lora-1", "trainable_bytes")
assert final("zoqo4-1", "peak_mb_zoqo4") > 0 and final("zeroshot", "trainable") == 0
# rank 8 on D = 16: q and v 2 * (8*16 + 16*8); fc1 (64, 16) and fc2 (16, 64) 8*16 + 64*8 each
assert final("lora-1", "trainable") == 512, final("lora-1", "trainable")
for arm in ("lora", "zoqo8"):
    assert final(f"{arm}-mlp-1", "trainable") == 512 + 2 * 640, final(f"{arm}-mlp-1", "trainable")
assert final("lora-mlp-1", "test_loss") != final("lora-1", "test_loss")
assert final("lora-mlp-1", "test_loss") < final("zeroshot", "test_loss")
print("zero-shot %.2f, lora %.2f, zoqo4 %.2f -> %.2f" % (zero, final("lora-1", "test_acc"),
      final("zoqo4-1", "start_acc"), final("zoqo4-1", "test_acc")))
PY

for arm in zoqo4 qat8; do
    stop_and_resume "$arm" term@6:1 "from step 6" 4 "$SCRATCH/$arm-1/results.h5" \
        "$SCRATCH/$arm-term" "${FT[@]}" ft.arm=$arm ckpt.every=2
done

# A resume whose init.from now holds another pretraining (same path, spec and size, other
# weights) is refused: the base model's parameters are among the recorded inputs.
cp -r "$SCRATCH/pre" "$SCRATCH/base"
set +e
RANKLAB_FAULT=term@6 ranks 2 "${FT[@]}" init.from="$SCRATCH/base" ft.arm=lora ckpt.every=2 \
    --out "$SCRATCH/swapped" >/dev/null 2>&1
set -e
rm -r "$SCRATCH/base"
ranks 2 run lm-pretrain "${SPLITS[@]}" text.vocab_size=300 model.spec=gpt:L1-D16-H2-T32 \
    train.batch=16 train.chunk=4 train.epochs=2 train.lr=0.01 lm.samples=0 run.seed=2 \
    --out "$SCRATCH/base" >/dev/null 2>&1
set +e
ranks 2 "${FT[@]}" init.from="$SCRATCH/base" ft.arm=lora ckpt.every=2 --out "$SCRATCH/swapped" \
    >"$SCRATCH/swapped.log" 2>&1
code=$?
set -e
check "a resume on another base model behind the same init.from is refused (exit $code)" \
    test "$code" -ne 0 -a ! -e "$SCRATCH/swapped/results.h5"
check "naming the two models' checksums" \
    grep -q "was made from other inputs.*parameters, crc32 [0-9a-f]*;.*parameters, crc32" \
    "$SCRATCH/swapped.log"
ranks 1 run train data.name=blobs data.dim=8 model.spec=mlp:8-4 train.epochs=1 \
    --out "$SCRATCH/a-train-run" >/dev/null 2>&1

REFUSAL_BASE=("${FT[@]}")
expect_refusal "a run of another experiment is refused" "is a run of train, not of lm-pretrain" \
    init.from="$SCRATCH/a-train-run"
expect_refusal "a tokenizer size, which comes from init.from, is refused" \
    "text.vocab_size is not used by lm-finetune" text.vocab_size=300
expect_refusal "an unknown category is refused" "is not a WordNet lexicographer category" data.categories=shape,unicorn
expect_refusal "all categories are refused" "it is 'all'" data.categories=all
expect_refusal "a missing init.from run is refused" "$SCRATCH/nothing" init.from="$SCRATCH/nothing"
expect_refusal "an empty init.from is refused" "init.from is empty" init.from=
expect_refusal "split fractions other than the pretraining's are refused" "used 0.4" data.test_fraction=0.3
expect_refusal "an unknown adapter target is refused" "no matrix 'w1'" ft.lora_targets=q,w1
expect_refusal "a repeated adapter target is refused" "'v' is listed twice" ft.lora_targets=q,v,v
expect_refusal "more test glosses than the split holds are refused" "fewer than ft.test_per_class" ft.test_per_class=100000
finish
