"""Transformer benchmarks (issue 17, bench/RESULTS.md): ranklab against torch 1.13 (one thread) in
the same run, alternating the two ROUNDS times and keeping the best of each, in CPU seconds of the
timed thread (the machine is shared: other jobs stretch wall time but not CPU time):
  1. the decoder SPEC (lm-pretrain's) with a vocabulary of VOCAB on BATCHES sequences of T tokens:
     forward, forward + backward, a MeZO step on every parameter and on LoRA q, v adapters,
     the same two MeZO steps on lm-finetune's prompt-classification task (bench/transformer.c
     against bench/peers/transformer_torch.py), and ranklab's time by part;
  2. ranklab's memory of a MeZO step, a forward and a first-order (Adam) step (bench_transformer);
  3. tokens/s of `ranklab run lm-pretrain` (the default model on WordNet's adverb glosses, 45 steps
     of 32 windows per epoch): the difference between 2 epochs and 1, so corpus loading and BPE
     learning are not counted (each epoch's validation on lm.valid_limit=32 windows is): on 1
     rank pinned to CORE (CPU time of the process, and wall), and on 2 ranks (wall time: MPI
     ranks busy-poll, so their CPU time counts the waiting; only meaningful on an idle machine).
Usage: /usr/bin/python3 bench/run_transformer.py [BUILD_DIR]
Environment: CORE (default 1), ROUNDS (default 3), SPEC (default gpt:L2-D128-H4-T64), VOCAB
(default 1024), BATCHES (default 8,32), RANK (LoRA, default 8), PRETRAIN_ROUNDS (default 1),
SKIP (comma list of sections 1-3 to skip; 2 comes with 1)."""
import datetime
import os
import sys
import tempfile

from benchlib import PIN, PYTHON, ROUNDS, child_cpu, lines, load_range, machine, run

build = sys.argv[1] if len(sys.argv) > 1 else "build"
spec = os.environ.get("SPEC", "gpt:L2-D128-H4-T64")
vocab = os.environ.get("VOCAB", "1024")
batches = os.environ.get("BATCHES", "8,32").split(",")
rank = os.environ.get("RANK", "8")
pretrain_rounds = int(os.environ.get("PRETRAIN_ROUNDS", "1"))
skip = set(os.environ.get("SKIP", "").split(","))
here = os.path.dirname(os.path.abspath(__file__))
CASES = (("forward", "forward (logits + loss)", None),
         ("fwd_bwd", "forward + backward", 1.5),
         ("mezo", "MeZO step, every parameter", 2.0),
         ("mezo_lora", f"MeZO step, LoRA r={rank} on q, v", 2.0),
         ("mezo_prompt", "MeZO step on lm-finetune's task (BATCH / 4 examples × 4 classes), "
          "every parameter", 2.0),
         ("mezo_prompt_lora", f"the same, LoRA r={rank} on q, v", 2.0))
PARTS = ("gemm_fwd", "gemm_bwd", "attention_fwd", "attention_bwd", "gelu_fwd", "gelu_bwd",
         "layernorm_fwd", "layernorm_bwd", "loss", "loss_grad")
MEMORY = ("forward", "mezo", "mezo_lora", "adam")


def keep_best(best, text, tag):
    for f in lines(text, tag):
        best[f[1]] = min(best.get(f[1], float("inf")), float(f[3]))


def decoder(batch):
    """Best times of each case (ranklab, torch), ranklab's parts and memory, at `batch`."""
    ours, theirs, parts, memory, model = {}, {}, {}, {}, None
    for _ in range(ROUNDS):
        out = run(PIN + [f"{build}/bench_transformer", spec, vocab, batch, rank])
        model = lines(out, "model")[0]
        keep_best(ours, out, "time")
        keep_best(parts, out, "part")
        memory = {f[1]: int(f[3]) for f in lines(out, "memory")}
        peer = run(PIN + [PYTHON, f"{here}/peers/transformer_torch.py", spec, vocab, batch, rank,
                          model[3], model[4]])
        keep_best(theirs, peer, "time")
    return model, ours, theirs, parts, memory


def pretrain_epoch(ranks):
    """(CPU seconds, wall seconds) of one lm-pretrain epoch (2 epochs less 1) and its tokens."""
    cpus, walls, tokens = [], [], 0
    for epochs in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            launch = PIN if ranks == 1 else ["mpiexec", "--oversubscribe", "-n", str(ranks)]
            cpu0 = child_cpu()
            run(launch + [f"{build}/ranklab", "run", "lm-pretrain", "data.text_parts=adv",
                          f"model.spec={spec}", f"text.vocab_size={vocab}", "lm.valid_limit=32",
                          "lm.samples=0", "ckpt.every=0", f"train.epochs={epochs}", "--out",
                          out + "/run"])
            cpus.append(child_cpu() - cpu0)
            info = {f[0]: f for f in (l.split() for l in
                                      run([f"{build}/ranklab", "inspect",
                                           out + "/run/results.h5"]).splitlines()) if f}
            walls.append(float(info["wall_seconds"][1]))
            tokens = float(info["tokens"][-1]) / epochs
    return cpus[1] - cpus[0], walls[1] - walls[0], tokens


def main():
    start = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# transformer benchmarks, {start}: {machine()}, load average at start "
          f"{os.getloadavg()}")
    if "1" not in skip:
        results = {b: decoder(b) for b in batches}
        model = next(iter(results.values()))[0]
        print(f"\n{model[1]}, vocabulary {model[2]}: {model[3]} parameters, LoRA q, v adapters "
              f"{model[4]}; T tokens per sequence; CPU ms, best of {ROUNDS}\n")
        print("| case | sequences | ranklab ms | torch ms | torch / ranklab | target |")
        print("|---|---|---|---|---|---|")
        for case, name, target in CASES:
            for b in batches:
                r, t = results[b][1][case], results[b][2][case]
                goal = f"≥ {target}×" if target else "-"
                print(f"| {name} | {b} | {1e3 * r:.3f} | {1e3 * t:.3f} | **{t / r:.2f}×** | "
                      f"{goal} |")
        print("\nranklab's forward + backward by part (bench_transformer's part lines), CPU ms "
              "and share of its forward + backward\n")
        print("| part | " + " | ".join(f"{b} seq. ms | share" for b in batches) + " |")
        print("|---|" + "---|---|" * len(batches))
        for part in PARTS:
            cells = []
            for b in batches:
                p, whole = results[b][3][part], results[b][1]["fwd_bwd"]
                cells.append(f"{1e3 * p:.3f} | {100 * p / whole:.0f} %")
            print(f"| {part} | " + " | ".join(cells) + " |")
        print("\nranklab's memory per phase (peak RSS less the RSS at its start, KiB; "
              "ratio to the forward)\n")
        print("| phase | " + " | ".join(f"{b} seq. KiB | / forward" for b in batches) + " |")
        print("|---|" + "---|---|" * len(batches))
        for phase in MEMORY:
            cells = [f"{results[b][4][phase]} | {results[b][4][phase] / results[b][4]['forward']:.2f}"
                     for b in batches]
            print(f"| {phase} | " + " | ".join(cells) + " |")
    if "3" not in skip:
        print("\nlm-pretrain, WordNet adverb glosses, one epoch (2 epochs less 1), best of "
              f"{pretrain_rounds}\n")
        print("| ranks | tokens | CPU s (1 rank) | wall s | tokens/s (CPU) | tokens/s (wall) |")
        print("|---|---|---|---|---|---|")
        for ranks in (1, 2):
            best = None
            for _ in range(pretrain_rounds):
                got = pretrain_epoch(ranks)
                best = got if best is None or got[1] < best[1] else best
            cpu, wall, tokens = best
            cpu_cells = f"{cpu:.2f} | " if ranks == 1 else "- | "
            rate = f"{tokens / cpu:.0f}" if ranks == 1 else "-"
            print(f"| {ranks} | {tokens:.0f} | {cpu_cells}{wall:.2f} | {rate} | "
                  f"{tokens / wall:.0f} |", flush=True)
    print(f"\n{load_range()}")


if __name__ == "__main__":
    main()
