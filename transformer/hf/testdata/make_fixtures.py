#!/usr/bin/python3
"""Tiny random Hugging Face model folders and their expected logits.

Run from this directory with Debian's python3-numpy (nothing else):

    /usr/bin/python3 make_fixtures.py

For each fixture it writes FOLDER/config.json, FOLDER/model.safetensors
(written here byte by byte from the safetensors format: an 8-byte
little-endian header length, a JSON header, the raw little-endian data) and
FOLDER/expected.json ({"tokens": [[...]], "logits": [batch][pos][vocab]}).

The expected logits come from an independent float64 forward pass written
from the published architecture descriptions (the model cards and papers:
GPT-Neo = GPT-2 blocks with separate bias-free q/k/v projections, no
1/sqrt(d_head) scaling, and layers alternating global and local causal
attention where query i sees keys i-window < j <= i; Qwen2 = Llama with
biases on q, k and v only; Mistral = Llama with a sliding window of the
same shape on every layer; GPT-2 with scale_attn_by_inverse_layer_idx =
block l's scores divided by sqrt(d_head) * (l + 1)). It uses the weights as stored in the file
(after rounding to F32, F16 or BF16), so a loader must convert them exactly.

Everything is seeded: running the script again gives the same files.
"""

import json
import os
import struct

import numpy as np


# --- safetensors -----------------------------------------------------------

def to_bf16_bits(a):
    """Round float32 values to bfloat16 (nearest, ties to even); uint16 bits."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype(np.uint16)


def stored(a, dtype):
    """The float64 values a tensor holds once written as dtype."""
    if dtype == "F32":
        return np.asarray(a, dtype=np.float32).astype(np.float64)
    if dtype == "F16":
        return np.asarray(a, dtype=np.float16).astype(np.float64)
    if dtype == "BF16":
        bits = to_bf16_bits(a).astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64)
    raise ValueError(dtype)


def raw_bytes(a, dtype):
    if dtype == "F32":
        return np.asarray(a, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.asarray(a, dtype="<f2").tobytes()
    if dtype == "BF16":
        return to_bf16_bits(a).astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        b = raw_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# --- building blocks (float64) ---------------------------------------------

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1 + np.exp(-x))


def visible(T, window):
    """[T, T] booleans: query i sees key j when j <= i and i - window < j."""
    i = np.arange(T)[:, None]
    j = np.arange(T)[None, :]
    return (j <= i) & (j > i - window)


def attend(q, k, v, scale, window):
    """q [T, H, dh], k and v [T, Hkv, dh] (query head h uses K/V head
    h // (H/Hkv)); returns z [T, H, dh]."""
    T, H, dh = q.shape
    group = H // k.shape[1]
    z = np.zeros_like(q)
    mask = visible(T, window)
    for h in range(H):
        s = q[:, h, :] @ k[:, h // group, :].T * scale
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        z[:, h, :] = p @ v[:, h // group, :]
    return z


def rotate_half(x, pos, theta):
    """Rotary embedding in the rotate-half layout on the whole head:
    dimension i < dh/2 pairs with i + dh/2, angle pos * theta^(-2i/dh)."""
    T, H, dh = x.shape
    half = dh // 2
    inv = theta ** (-np.arange(half) * 2.0 / dh)
    ang = pos[:, None] * inv[None, :]          # [T, half]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


# --- GPT-Neo ---------------------------------------------------------------

def gpt_mlp_weights(t, p, r, d, n, conv1d):
    """ln_2 and the MLP of a GPT-2-style block (prefix p): nn.Linear stores
    [out, in], GPT-2's Conv1D [in, out]."""
    t[p + "ln_2.weight"] = 1 + r(d, std=0.1)
    t[p + "ln_2.bias"] = r(d, std=0.1)
    t[p + "mlp.c_fc.weight"] = r(d, n) if conv1d else r(n, d)
    t[p + "mlp.c_fc.bias"] = r(n, std=0.1)
    t[p + "mlp.c_proj.weight"] = r(n, d, std=0.2) if conv1d else r(d, n, std=0.2)
    t[p + "mlp.c_proj.bias"] = r(d, std=0.1)


def gpt_mlp(x, w, p, conv1d):
    """The MLP sublayer's output: c_proj(gelu_new(c_fc(ln_2(x))))."""
    mat = (lambda a: a) if conv1d else (lambda a: a.T)
    h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], 1e-5)
    m = gelu_tanh(h @ mat(w[p + "mlp.c_fc.weight"]) + w[p + "mlp.c_fc.bias"])
    return m @ mat(w[p + "mlp.c_proj.weight"]) + w[p + "mlp.c_proj.bias"]

def gpt_neo(rng, dtype):
    V, d, H, L, P, window = 40, 16, 4, 4, 32, 3
    n = 4 * d
    cfg = {
        "architectures": ["GPTNeoForCausalLM"], "model_type": "gpt_neo",
        "vocab_size": V, "max_position_embeddings": P, "hidden_size": d,
        "num_layers": L, "num_heads": H, "intermediate_size": None,
        "attention_types": [[["global", "local"], L // 2]],
        "attention_layers": ["global", "local"] * (L // 2),
        "window_size": window, "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "embed_dropout": 0.0, "resid_dropout": 0.0, "attention_dropout": 0.0,
        "classifier_dropout": 0.1, "use_cache": True,
        "bos_token_id": 0, "eos_token_id": 0, "tie_word_embeddings": True,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
    }
    r = lambda *s, std=0.3: rng.normal(0, std, s)
    t = {"transformer.wte.weight": r(V, d), "transformer.wpe.weight": r(P, d, std=0.2)}
    for l in range(L):
        p = f"transformer.h.{l}."
        t[p + "ln_1.weight"] = 1 + r(d, std=0.1)
        t[p + "ln_1.bias"] = r(d, std=0.1)
        for name in ("q_proj", "k_proj", "v_proj"):
            t[p + f"attn.attention.{name}.weight"] = r(d, d, std=0.2)  # [out, in]
        t[p + "attn.attention.out_proj.weight"] = r(d, d)
        t[p + "attn.attention.out_proj.bias"] = r(d, std=0.1)
        gpt_mlp_weights(t, p, r, d, n, conv1d=False)
    t["transformer.ln_f.weight"] = 1 + r(d, std=0.1)
    t["transformer.ln_f.bias"] = r(d, std=0.1)

    def forward(ids):
        w = {k: stored(a, dtype) for k, a in t.items()}
        T = len(ids)
        x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
        for l in range(L):
            p = f"transformer.h.{l}."
            a = p + "attn.attention."
            h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
            q, k, v = (
                (h @ w[a + f"{n_}_proj.weight"].T).reshape(T, H, d // H) for n_ in "qkv")
            win = window if cfg["attention_layers"][l] == "local" else T
            z = attend(q, k, v, 1.0, win).reshape(T, d)  # GPT-Neo: no scaling
            x = x + z @ w[a + "out_proj.weight"].T + w[a + "out_proj.bias"]
            x = x + gpt_mlp(x, w, p, conv1d=False)
        x = layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], 1e-5)
        return x @ w["transformer.wte.weight"].T  # lm_head tied to wte

    return cfg, t, forward, V


# --- GPT-2 with scale_attn_by_inverse_layer_idx ---------------------------

def gpt2_inverse_layer(rng, dtype):
    """GPT-2 (Conv1D weights stored [in, out]; q, k, v merged in c_attn)
    whose block l divides its scores by sqrt(d_head) * (l + 1)."""
    V, d, H, L, P = 40, 16, 4, 3, 32
    dh, n = d // H, 4 * d
    cfg = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": V, "n_positions": P, "n_ctx": P, "n_embd": d, "n_layer": L,
        "n_head": H, "n_inner": None, "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": True,
        "reorder_and_upcast_attn": False, "attn_pdrop": 0.0, "embd_pdrop": 0.0,
        "resid_pdrop": 0.0, "bos_token_id": 0, "eos_token_id": 0,
    }
    r = lambda *s, std=0.3: rng.normal(0, std, s)
    t = {"transformer.wte.weight": r(V, d), "transformer.wpe.weight": r(P, d, std=0.2)}
    for l in range(L):
        p = f"transformer.h.{l}."
        t[p + "ln_1.weight"] = 1 + r(d, std=0.1)
        t[p + "ln_1.bias"] = r(d, std=0.1)
        t[p + "attn.c_attn.weight"] = r(d, 3 * d, std=0.5)  # [in, out]: q | k | v
        t[p + "attn.c_attn.bias"] = r(3 * d, std=0.1)
        t[p + "attn.c_proj.weight"] = r(d, d)
        t[p + "attn.c_proj.bias"] = r(d, std=0.1)
        gpt_mlp_weights(t, p, r, d, n, conv1d=True)
    t["transformer.ln_f.weight"] = 1 + r(d, std=0.1)
    t["transformer.ln_f.bias"] = r(d, std=0.1)

    def forward(ids):
        w = {k: stored(a, dtype) for k, a in t.items()}
        T = len(ids)
        x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
        for l in range(L):
            p = f"transformer.h.{l}."
            h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], 1e-5)
            qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
            q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(T, H, dh) for i in range(3))
            z = attend(q, k, v, 1 / (np.sqrt(dh) * (l + 1)), T).reshape(T, d)
            x = x + z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            x = x + gpt_mlp(x, w, p, conv1d=True)
        x = layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], 1e-5)
        return x @ w["transformer.wte.weight"].T  # lm_head tied to wte

    return cfg, t, forward, V


# --- Llama family: Qwen2 and Mistral ---------------------------------------

def llama_family(rng, dtype, kind):
    V, d, H, Hkv, L, P, n = 40, 16, 4, 2, 2, 32, 40
    dh = d // H
    theta = 500.0
    cfg = {
        "vocab_size": V, "hidden_size": d, "intermediate_size": n,
        "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": Hkv,
        "hidden_act": "silu", "max_position_embeddings": P, "initializer_range": 0.02,
        "rms_norm_eps": 1e-6, "use_cache": True, "rope_theta": theta,
        "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "transformers_version": "4.44.0",
    }
    if kind == "qwen2":
        window = P  # no sliding window (use_sliding_window false)
        cfg.update({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
                    "tie_word_embeddings": True, "use_sliding_window": False,
                    "sliding_window": 4096, "max_window_layers": 21, "rope_scaling": None})
    else:
        window = 5
        cfg.update({"architectures": ["MistralForCausalLM"], "model_type": "mistral",
                    "tie_word_embeddings": False, "sliding_window": window, "head_dim": dh})
    r = lambda *s, std=0.3: rng.normal(0, std, s)
    t = {"model.embed_tokens.weight": r(V, d)}
    for l in range(L):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = 1 + r(d, std=0.1)
        t[p + "self_attn.q_proj.weight"] = r(H * dh, d)
        t[p + "self_attn.k_proj.weight"] = r(Hkv * dh, d)
        t[p + "self_attn.v_proj.weight"] = r(Hkv * dh, d)
        t[p + "self_attn.o_proj.weight"] = r(d, H * dh)
        if kind == "qwen2":  # biases on q, k and v only
            t[p + "self_attn.q_proj.bias"] = r(H * dh, std=0.3)
            t[p + "self_attn.k_proj.bias"] = r(Hkv * dh, std=0.3)
            t[p + "self_attn.v_proj.bias"] = r(Hkv * dh, std=0.3)
        t[p + "post_attention_layernorm.weight"] = 1 + r(d, std=0.1)
        t[p + "mlp.gate_proj.weight"] = r(n, d)
        t[p + "mlp.up_proj.weight"] = r(n, d)
        t[p + "mlp.down_proj.weight"] = r(d, n, std=0.2)
    t["model.norm.weight"] = 1 + r(d, std=0.1)
    if not cfg["tie_word_embeddings"]:
        t["lm_head.weight"] = r(V, d)

    def forward(ids):
        w = {k: stored(a, dtype) for k, a in t.items()}
        T = len(ids)
        pos = np.arange(T, dtype=np.float64)
        x = w["model.embed_tokens.weight"][ids]
        for l in range(L):
            p = f"model.layers.{l}."
            a = p + "self_attn."
            h = rms_norm(x, w[p + "input_layernorm.weight"], 1e-6)

            def proj(name, heads):
                y = h @ w[a + name + ".weight"].T
                if a + name + ".bias" in w:
                    y = y + w[a + name + ".bias"]
                return y.reshape(T, heads, dh)
            q, k, v = proj("q_proj", H), proj("k_proj", Hkv), proj("v_proj", Hkv)
            q, k = rotate_half(q, pos, theta), rotate_half(k, pos, theta)
            z = attend(q, k, v, 1 / np.sqrt(dh), window).reshape(T, H * dh)
            x = x + z @ w[a + "o_proj.weight"].T  # no output bias
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], 1e-6)
            g = silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
            x = x + g @ w[p + "mlp.down_proj.weight"].T
        x = rms_norm(x, w["model.norm.weight"], 1e-6)
        out = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
        return x @ out.T

    return cfg, t, forward, V


# --- main ------------------------------------------------------------------

def write_fixture(name, cfg, tensors, forward, V, dtype, rng):
    os.makedirs(name, exist_ok=True)
    with open(os.path.join(name, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(name, "model.safetensors"), tensors, dtype)
    tokens = rng.integers(0, V, size=(2, 12)).tolist()
    logits = [forward(np.array(seq)).tolist() for seq in tokens]
    with open(os.path.join(name, "expected.json"), "w") as f:
        json.dump({"tokens": tokens, "logits": logits}, f)
        f.write("\n")


def main():
    fixtures = [
        ("gpt_neo_tiny", "F32", lambda rng, dt: gpt_neo(rng, dt)),
        ("gpt_neo_tiny_f16", "F16", lambda rng, dt: gpt_neo(rng, dt)),
        ("qwen2_tiny", "F32", lambda rng, dt: llama_family(rng, dt, "qwen2")),
        ("qwen2_tiny_bf16", "BF16", lambda rng, dt: llama_family(rng, dt, "qwen2")),
        ("mistral_tiny", "F32", lambda rng, dt: llama_family(rng, dt, "mistral")),
        ("gpt2_inverse_layer_tiny", "F32", lambda rng, dt: gpt2_inverse_layer(rng, dt)),
    ]
    for i, (name, dtype, build) in enumerate(fixtures):
        rng = np.random.default_rng(1000 + i)
        cfg, tensors, forward, V = build(rng, dtype)
        write_fixture(name, cfg, tensors, forward, V, dtype, rng)


if __name__ == "__main__":
    main()
