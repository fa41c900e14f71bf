#!/usr/bin/python3
"""PyTorch reference for BenchmarkTrainLM (train/lm): the same attention-only
transformer, batch and optimizer, timed the same way (tokens per second over
training steps of forward, backward, gradient clipping and AdamW).

The model is Workbench's (TransformerLens's) layout: token embedding (plus a
learned positional embedding, or rotary queries and keys: the default), NLayers blocks of multi-head attention with
biases (no MLP, no normalization), and an unembedding with bias. Data are
random tokens of the default vocabulary (1,024: the BPE `train lm` learns), as in the benchmark.

Run it right after the Go benchmark, with the same sizes:

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/torch_train_lm.py --threads 2
    go test ./train/lm -run '^$' -bench TrainLM -benchtime 20x

Both print tokens/s; the ratio of the two is the speed-up.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rotate(x, base=10000.0):
    """Rotary positions (rotate-half pairing, all of d_head): x [batch, head, pos, d_head]."""
    T, d = x.shape[-2], x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)  # [d/2]
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]  # [pos, d/2]
    cos, sin = ang.cos().repeat(1, 2), ang.sin().repeat(1, 2)  # [pos, d]
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Attention(nn.Module):
    def __init__(self, d_model, n_heads, d_head, rotary):
        super().__init__()
        self.n_heads, self.d_head, self.rotary = n_heads, d_head, rotary
        self.qkv = nn.Linear(d_model, 3 * n_heads * d_head)
        self.out = nn.Linear(n_heads * d_head, d_model)

    def forward(self, x):  # x [batch, pos, d_model]
        B, T, _ = x.shape
        q, k, v = self.qkv(x).split(self.n_heads * self.d_head, dim=-1)
        q, k, v = (t.view(B, T, self.n_heads, self.d_head).transpose(1, 2) for t in (q, k, v))
        if self.rotary:
            q, k = rotate(q), rotate(k)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)  # [batch, head, pos, pos]
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        pattern = scores.masked_fill(mask, float("-inf")).softmax(-1)
        z = (pattern @ v).transpose(1, 2).reshape(B, T, -1)
        return self.out(z)


class AttnOnly(nn.Module):
    def __init__(self, n_layers, d_model, n_heads, d_head, d_vocab, n_ctx, rotary):
        super().__init__()
        self.embed = nn.Embedding(d_vocab, d_model)
        self.pos = None if rotary else nn.Parameter(torch.randn(n_ctx, d_model) * 0.02)
        self.blocks = nn.ModuleList(Attention(d_model, n_heads, d_head, rotary) for _ in range(n_layers))
        self.unembed = nn.Linear(d_model, d_vocab)

    def forward(self, tokens):
        x = self.embed(tokens)
        if self.pos is not None:
            x = x + self.pos[: tokens.shape[1]]
        for b in self.blocks:
            x = x + b(x)
        return self.unembed(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n-layers", type=int, default=2)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--d-head", type=int, default=16)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--positional", choices=["rotary", "standard"], default="rotary")
    p.add_argument("--vocab", type=int, default=1024)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = AttnOnly(a.n_layers, a.d_model, a.n_heads, a.d_head, a.vocab, a.context, a.positional == "rotary")
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.01)
    data = torch.randint(0, a.vocab, (1 << 20,))

    def step():
        starts = torch.randint(0, len(data) - a.context - 1, (a.batch,))
        win = torch.stack([data[s : s + a.context + 1] for s in starts])
        logits = m(win[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), win[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    el = time.perf_counter() - t0
    tok = a.steps * a.batch * a.context
    print(f"torch {torch.__version__} threads {a.threads}: {tok / el:.0f} tok/s ({el / a.steps * 1e3:.1f} ms/step)")


if __name__ == "__main__":
    main()
