# `lm-pretrain` (issue 17): a tiny decoder on WordNet's adverb glosses is bit-identical on 1, 2
# and 4 ranks (7 chunks per step: uneven blocks on 4 ranks), and after a SIGTERM at step 147 and
# a resume on 4 ranks, and after a SIGKILL and a resume from the last checkpoint; it beats the
# unigram model; the tokenizer is saved with the results; bad model specs are refused. With
# data.text_sources=wordnet,fortunes (if fortunes is installed) the corpus holds the fortune
# entries, 1 and 2 ranks agree bit for bit and the perplexity beats the unigram model's; a
# missing fortunes directory and an unknown source are refused before anything is written.
source "$(dirname "$0")/lib.bash"
[ -r /usr/share/wordnet/data.adv ] || { echo "wordnet-base is not installed: skipped"; exit 77; }
TINY_LM=(run lm-pretrain data.text_parts=adv data.valid_fraction=0.3 data.test_fraction=0.3
         lm.valid_limit=300 text.vocab_size=300 model.spec=gpt:L1-D16-H2-T16
         train.batch=32 train.chunk=5 train.epochs=2 train.lr=0.01 lm.samples=1
         ckpt.every=10)

same_on_ranks lm lm-pretrain "${TINY_LM[@]}"
check "progress line shows tokens/s" grep -q "tokens/s" "$SCRATCH/lm-2.log"
check "validation perplexity falls below the unigram model's; the tokenizer is saved" \
    /usr/bin/python3 - "$SCRATCH/lm-1/results.h5" <<'PY'
import sys
import h5py
f = h5py.File(sys.argv[1], "r")
ppl, unigram = f["metrics/valid_ppl"][:], f["metrics/unigram_ppl"][:]
assert len(ppl) == 2 and ppl[1] < ppl[0] and ppl[1] < 0.6 * unigram[1], (ppl, unigram)
merges = f["arrays/tokenizer_merges"]
assert merges.shape == (2 * (300 - 257),), merges.shape
assert "vocabulary 300" in merges.attrs["tokenizer"].decode() if isinstance(
    merges.attrs["tokenizer"], bytes) else "vocabulary 300" in merges.attrs["tokenizer"]
assert f["arrays/params"].attrs["model"] in (b"gpt:L1-D16-H2-T16", "gpt:L1-D16-H2-T16")
print("valid ppl %.2f -> %.2f, unigram %.2f" % (ppl[0], ppl[1], unigram[1]))
PY

stop_and_resume "lm-pretrain" term@147:1 "from step 147" 4 "$SCRATCH/lm-1/results.h5" \
    "$SCRATCH/lm-term" "${TINY_LM[@]}"
stop_and_resume "lm-pretrain" kill@95:0 "from step 90" 1 "$SCRATCH/lm-1/results.h5" \
    "$SCRATCH/lm-kill" "${TINY_LM[@]}"

REFUSAL_BASE=("${TINY_LM[@]}")
expect_refusal "width not divisible by the heads is refused" "not divisible by 3 heads" model.spec=gpt:L1-D16-H3-T16
expect_refusal "a pinned vocabulary other than the tokenizer's is refused" "pins a vocabulary of 512" model.spec=gpt:V512-L1-D16-H2-T16
expect_refusal "a spec without the context is refused" \
    "expected the context as T<1..4096> but the spec ends" model.spec=gpt:L1-D16-H2
expect_refusal "a batch larger than the training windows is refused" "training windows" train.batch=1000000

if [ -d /usr/share/games/fortunes ]; then
    MIXED_LM=("${TINY_LM[@]}" data.text_sources=wordnet,fortunes data.valid_fraction=0.45
              data.test_fraction=0.45 train.epochs=1)
    for p in 1 2; do
        ranks $p "${MIXED_LM[@]}" --out "$SCRATCH/mixed-$p" >"$SCRATCH/mixed-$p.log" 2>&1
    done
    check "wordnet + fortunes: 2 ranks == 1 rank" same_results "$SCRATCH/mixed-1/results.h5" "$SCRATCH/mixed-2/results.h5"
    check "wordnet + fortunes: fortune entries in the corpus, perplexity below the unigram model's" \
        /usr/bin/python3 - "$SCRATCH/mixed-1/results.h5" "$SCRATCH/lm-1/results.h5" <<'PY'
import re
import sys
import h5py
def inputs(path):
    value = h5py.File(path, "r").attrs["inputs"]
    return value.decode() if isinstance(value, bytes) else value
mixed, adverbs = inputs(sys.argv[1]), inputs(sys.argv[2])
fortunes = int(re.search(r"wordnet glosses \+ (\d+) fortune entries", mixed).group(1))
assert fortunes > 5000 and "fortune" not in adverbs, (mixed, adverbs)
f = h5py.File(sys.argv[1], "r")
ppl, unigram = f["metrics/valid_ppl"][:], f["metrics/unigram_ppl"][:]
assert ppl[-1] < 0.8 * unigram[-1], (ppl, unigram)
print("%d fortune entries; valid ppl %.2f, unigram %.2f" % (fortunes, ppl[-1], unigram[-1]))
PY
    expect_refusal "a missing fortunes directory is refused" "apt-get install fortunes" \
        data.text_sources=wordnet,fortunes data.fortunes_dir=/nonexistent/fortunes
fi
expect_refusal "an unknown text source is refused" "'gcide' in data.text_sources" data.text_sources=gcide
finish
