"""Peer of bench/transformer.c (issue 17) in Debian's torch 1.13 on one thread: the same decoder
(pre-norm blocks of causal multi-head attention with separate q, k, v, o projections and a GELU
(tanh) MLP of 4·D, learned positions, final layer norm, LM head tied to the token embedding; the
parameter count is asserted equal to ranklab's) on BATCH random sequences of T tokens, loss =
next-token cross-entropy, timing the same cases:
  forward    logits and loss under torch.inference_mode (as MeZO's zo_forward)
  fwd_bwd    zero_grad(set_to_none), loss, loss.backward()
  mezo       a MeZO step as princeton-nlp/MeZO's trainer (large_models/trainer.py) takes it:
             torch.manual_seed(seed) and θ = θ + s·ε·z per parameter (s = 1, −2, 1) around two
             forwards, then the update θ = θ − lr·ĝ·z from the seed again (ε = 1e-3, lr = 1e-6)
  mezo_lora  the same on LoRA adapters of rank RANK on every block's q and v, as MeZO's
             large_models/lora.py (y = x·Wᵀ + b + (x·Aᵀ·Bᵀ)·α/r, only A and B optimized)
  mezo_prompt, mezo_prompt_lora
             the same two steps on lm-finetune's task (bench/transformer.c's prompt shapes:
             BATCH / 4 examples of a text of 12 + 7i mod 21 tokens, a 9-token template, labels of
             2, 4, 2, 1 tokens, class i mod 4) with MeZO's classification loss as its
             large_models/utils.py forward_wrap_with_option_len computes it: each example read as
             one right-padded sequence per class, the logits and log_softmax over the vocabulary
             at every position, the label tokens' log-probabilities gathered and summed per
             sequence (MeZO averages them; ranklab's prompt loss sums), cross-entropy over the
             classes
Usage: /usr/bin/python3 bench/peers/transformer_torch.py SPEC VOCAB BATCH RANK PARAMS LORA_PARAMS
Output lines as bench_transformer's: "time CASE BATCH SECONDS" (CPU seconds of the thread)."""
import math
import os
import re
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import best_time  # noqa: E402

EPS, LR = 1e-3, 1e-6


class LoRALinear(torch.nn.Linear):
    """MeZO's LoRA linear: the frozen weight plus a rank-r update B·A scaled by alpha / r."""

    def __init__(self, d_in, d_out, r, alpha=16):
        super().__init__(d_in, d_out)
        self.lora_A = torch.nn.Parameter(torch.empty(r, d_in).uniform_(-1 / math.sqrt(d_in),
                                                                       1 / math.sqrt(d_in)))
        self.lora_B = torch.nn.Parameter(torch.zeros(d_out, r))
        self.scaling = alpha / r

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + (x @ self.lora_A.t() @ self.lora_B.t()) * \
            self.scaling


class Block(torch.nn.Module):
    def __init__(self, d, heads, lora_rank):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        adapted = (lambda: LoRALinear(d, d, lora_rank)) if lora_rank else \
            (lambda: torch.nn.Linear(d, d))
        self.q, self.k, self.v = adapted(), torch.nn.Linear(d, d), adapted()
        self.o = torch.nn.Linear(d, d)
        self.fc1, self.fc2 = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)

    def attention(self, x):
        b, t, d = x.shape
        q, k, v = (p(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
                   for p in (self.q, self.k, self.v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        weights = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        return self.o((weights @ v).transpose(1, 2).reshape(b, t, d))

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Decoder(torch.nn.Module):
    def __init__(self, vocab, layers, d, heads, context, lora_rank=0):
        super().__init__()
        self.tok, self.pos = torch.nn.Embedding(vocab, d), torch.nn.Embedding(context, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, lora_rank) for _ in range(layers))
        self.lnf = torch.nn.LayerNorm(d)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.lnf(x) @ self.tok.weight.t()  # the head tied to the token embedding


def loss_of(model, ids, targets):
    logits = model(ids)
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


CLASSES, TEMPLATE, LABEL_LENS = 4, 9, (2, 4, 2, 1)


def prompt_batch(batch, vocab):
    """(ids (examples · 4, len), label mask over the shifted positions, classes (examples))."""
    examples = max(batch // CLASSES, 1)
    template = torch.randint(vocab, (TEMPLATE,))
    labels, at = [], vocab
    for n in LABEL_LENS:
        labels.append(torch.arange(at - n, at))
        at -= n
    rows = []
    for i in range(examples):
        text = torch.randint(vocab, (12 + (7 * i) % 21,))
        rows += [(torch.cat([text, template, label]), len(label)) for label in labels]
    length = max(len(r) for r, _ in rows)
    ids = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length - 1, dtype=torch.bool)
    for j, (r, n) in enumerate(rows):
        ids[j, :len(r)] = r
        mask[j, len(r) - 1 - n:len(r) - 1] = True  # the positions predicting the label tokens
    return ids, mask, torch.arange(examples) % CLASSES


def prompt_loss_of(model, ids, mask, classes):
    log_probs = F.log_softmax(model(ids)[:, :-1], dim=-1)
    selected = torch.gather(log_probs, -1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    scores = (selected * mask).sum(-1).view(-1, CLASSES)
    return F.cross_entropy(scores, classes)


class MeZO:
    """MeZO-SGD on the parameters that require a gradient, as princeton-nlp/MeZO's trainer;
    loss() is the batch's loss."""

    def __init__(self, model, loss):
        self.model, self.loss = model, loss
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.seed = 0

    def perturb(self, scaling):
        torch.manual_seed(self.seed)
        for _, p in self.params:
            z = torch.normal(mean=0, std=1, size=p.data.size(), dtype=p.data.dtype)
            p.data = p.data + scaling * z * EPS

    def forward(self):
        self.model.eval()
        with torch.inference_mode():
            return self.loss(self.model).detach()

    def step(self):
        self.seed += 1
        self.perturb(1)
        plus = self.forward()
        self.perturb(-2)
        minus = self.forward()
        projected = ((plus - minus) / (2 * EPS)).item()
        self.perturb(1)
        torch.manual_seed(self.seed)
        for _, p in self.params:
            z = torch.normal(mean=0, std=1, size=p.data.size(), dtype=p.data.dtype)
            p.data = p.data - LR * (projected * z)


def main(spec, vocab, batch, rank, params, lora_params):
    m = re.fullmatch(r"gpt:L(\d+)-D(\d+)-H(\d+)-T(\d+)", spec)
    if not m:
        raise SystemExit(f"transformer_torch.py: {spec} is not a gpt:L-D-H-T spec")
    layers, d, heads, t = (int(v) for v in m.groups())
    torch.manual_seed(1)
    model = Decoder(vocab, layers, d, heads, t)
    n = sum(p.numel() for p in model.parameters())
    assert n == params, f"torch decoder has {n} parameters, ranklab's {params}"
    tokens = torch.randint(vocab, (batch, t + 1))
    ids, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def forward():
        with torch.inference_mode():
            loss_of(model, ids, targets)

    def fwd_bwd():
        model.zero_grad(set_to_none=True)
        loss_of(model, ids, targets).backward()

    print(f"time forward {batch} {best_time(forward):.6e}", flush=True)
    print(f"time fwd_bwd {batch} {best_time(fwd_bwd):.6e}", flush=True)
    next_tokens = lambda net: loss_of(net, ids, targets)  # noqa: E731
    print(f"time mezo {batch} {best_time(MeZO(model, next_tokens).step):.6e}", flush=True)
    adapted = Decoder(vocab, layers, d, heads, t, lora_rank=rank)
    for name, p in adapted.named_parameters():
        p.requires_grad_("lora_" in name)
    n = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    assert n == lora_params, f"torch adapters have {n} parameters, ranklab's {lora_params}"
    print(f"time mezo_lora {batch} {best_time(MeZO(adapted, next_tokens).step):.6e}",
          flush=True)
    prompt_ids, mask, classes = prompt_batch(batch, vocab)
    prompts = lambda net: prompt_loss_of(net, prompt_ids, mask, classes)  # noqa: E731
    print(f"time mezo_prompt {batch} {best_time(MeZO(model, prompts).step):.6e}", flush=True)
    print(f"time mezo_prompt_lora {batch} {best_time(MeZO(adapted, prompts).step):.6e}",
          flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        raise SystemExit(__doc__)
    torch.set_num_threads(1)
    main(sys.argv[1], *(int(v) for v in sys.argv[2:]))
