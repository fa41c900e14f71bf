"""Independent reference for tokenizer's tests: writes reference.json.

Pre-tokenizes with Python's `regex` module (which has \\p{L} and look-ahead)
using the patterns exactly as GPT-2 and Qwen3's tokenizer.json state them,
and applies byte-level BPE with the classic lowest-rank-pair loop. It
shares no code with the Go package. Run from the repository root:

    python3 tokenizer/testdata/reference.py ../shared/testdata/tokenizers
"""
import json
import random
import sys
import unicodedata

import regex

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_alphabet():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class BPE:
    def __init__(self, vocab, merges, pattern, nfc):
        self.vocab, self.nfc = vocab, nfc
        self.ranks = {tuple(m): r for r, m in reversed(list(enumerate(merges)))}
        self.pattern = regex.compile(pattern)
        self.alpha = byte_alphabet()

    def word(self, w):
        parts = [self.alpha[b] for b in w.encode("utf-8")]
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 60), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 60:
                break
            a, b = next((parts[i], parts[i + 1]) for r, i in pairs if r == rank)
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        return [self.vocab[p] for p in parts]

    def encode(self, text):
        if self.nfc:
            text = unicodedata.normalize("NFC", text)
        ids, words = [], self.pattern.findall(text)
        for w in words:
            ids += self.word(w)
        return words, ids


def corpus():
    fixed = [
        "", " ", "  ", "\n", "\r\n", "a\r\nb\r\n\r\nc", "x \r\n y", "\t\t\tindented\n\t\tless",
        "trailing spaces   ", "   ", "a" + " " * 40 + "b", "\n\n\n\nfour newlines", " \n \n ",
        "I'M SURE IT'S FINE, ISN'T IT? WE'LL SEE, THEY'VE SAID, YOU'RE RIGHT, I'D GO",
        "don't 'tis o'clock rock'n'roll ''s '''", "it's' 's 'S 'Re 'vE 'LL",
        "12345678901234567890", "3.14159e-10 -42 +7 1,000,000.00", "٣٤٥ Ⅻ ½ ²³ 𝟙𝟚",
        "naïve café résumé", "nai\u0308ve cafe\u0301", "Å vs A\u030a, ﬁ ligature, Ｆｕｌｌ",
        "👨‍👩‍👧‍👦 family 🏳️‍🌈 flag 👍🏽 thumbs", "emoji😀glued😀", "日本語のテキスト、漢字とかな。",
        "Привет, мир! Ελληνικά. עברית. العربية", "한국어 텍스트 입니다", "ไทย ภาษา",
        "<|endoftext|> is plain text here", "a<|im_start|>b", "tabs\tand\u00a0nbsp\u2003em space",
        "def f(x):\n    return {'a': [1, 2]}  # comment\n", "https://example.com/path?q=1&r=2#frag",
        "MiXeD CaSe WoRdS", "snake_case_name camelCaseName", "$$$ %%% ^^^ !!! ???",
        "\u2028line sep\u2029para sep\u0085nel", "zero\u200bwidth\u200djoiner", "\u00adsoft hyphen",
        "a  b   c    d", " leading", "x\n\n", "!\n\n", "a!\r\n\r\nb", " \t\n",
    ]
    rng = random.Random(14)
    alphabet = list("aZ09 '\t\n\r!.,-") + ["é", "ß", "日", "😀", "\u200d", "\u00a0", "\u0301", "١", "Σ", "\u3000"]
    for _ in range(300):
        fixed.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))))
    return fixed


def main(root):
    g_vocab = json.load(open(f"{root}/gpt2/vocab.json", encoding="utf-8"))
    g_merges = [l.split(" ") for l in open(f"{root}/gpt2/merges.txt", encoding="utf-8").read().split("\n")[1:] if l]
    q = json.load(open(f"{root}/qwen3/tokenizer.json", encoding="utf-8"))
    q_pat = q["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    gpt2 = BPE(g_vocab, g_merges, GPT2, False)
    qwen = BPE(q["model"]["vocab"], q["model"]["merges"], q_pat, True)
    cases = []
    for text in corpus():
        gw, gi = gpt2.encode(text)
        qw, qi = qwen.encode(text)
        cases.append({"text": text, "gpt2_words": gw, "gpt2": gi, "qwen3_words": qw, "qwen3": qi})
    with open("tokenizer/testdata/reference.json", "w", encoding="utf-8") as f:
        json.dump({"source": "tokenizer/testdata/reference.py (Python regex " + regex.__version__ + ")", "cases": cases}, f, ensure_ascii=True, indent=0)


if __name__ == "__main__":
    main(sys.argv[1])
