// Builds the small tokenizer.json files of this folder and the ids and
// decoded strings transformers.js' tokenizer (npm @huggingface/tokenizers,
// the library transformers.js 4 uses) gives for a corpus of tricky
// strings, written to expected.json. The vocabularies and merges are
// learned here, by plain pair-counting BPE on a short training text, so
// every file is our own. Run, with the package installed in SCRATCH:
//
//   node tokenizer/testdata/spm/gen.mjs SCRATCH
//
// (SCRATCH holds node_modules/@huggingface/tokenizers; 0.2.0 was used.)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const scratch = process.argv[2];
if (!scratch) throw new Error("usage: node gen.mjs SCRATCH_DIR");
const lib = path.join(scratch, "node_modules/@huggingface/tokenizers");
const { Tokenizer } = await import(path.join(lib, "dist/tokenizers.mjs"));
const libVersion = JSON.parse(fs.readFileSync(path.join(lib, "package.json"), "utf8")).version;

const TRAIN = `The quick brown fox jumps over the lazy dog. When Mary and John went to the store,
John gave a drink to Mary. It's what they'd done before; we've seen it, and I'll say it again.
In 2024 the numbers 1234 and 56789 were printed on 3.14 pages of the the the report.
Café au lait, naïve résumé, déjà vu: these words keep their accents. Straße and Übermut.
The tokenizer learns pieces of words: tokens, tokenize, tokenization, token, taken, talking.
Hello world! Hello again, world. Another line	with a tab and   several   spaces.
日本語のテキストと東京。 こんにちは世界。 Привет, мир! Γειά σου κόσμε.
function main() { return x + y * 2; } // code has brackets and operators == != <= >=
`.repeat(3);

const SP = "\u2581";

// learn runs pair-counting BPE on words (symbol arrays with counts):
// the most frequent adjacent pair merges first, ties to the smaller
// pair in code-unit order. It returns the merges in order.
function learn(words, n) {
  const merges = [];
  for (let step = 0; step < n; step++) {
    const counts = new Map();
    for (const [syms, c] of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = JSON.stringify([syms[i], syms[i + 1]]);
        counts.set(k, (counts.get(k) ?? 0) + c);
      }
    }
    let best = null;
    let bestN = 0;
    for (const [k, c] of counts) {
      if (c > bestN || (c === bestN && k < best)) {
        best = k;
        bestN = c;
      }
    }
    if (best === null || bestN < 2) break;
    const [a, b] = JSON.parse(best);
    merges.push([a, b]);
    for (const w of words) {
      const s = w[0];
      const out = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(s[i]);
      }
      w[0] = out;
    }
  }
  return merges;
}

function countWords(pieces) {
  const m = new Map();
  for (const p of pieces) if (p) m.set(p, (m.get(p) ?? 0) + 1);
  return [...m].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).map(([w, c]) => [Array.from(w), c]);
}

// A SentencePiece-style vocabulary: <unk> <s> </s>, the 256 byte tokens,
// the characters seen at least twice, then one token per merge.
function spmVocab(text, nMerges) {
  const norm = SP + text.replaceAll(" ", SP).replaceAll("\n", SP);
  const words = countWords(norm.split(new RegExp(`(?=${SP})`, "u")));
  const chars = new Map();
  for (const ch of norm) chars.set(ch, (chars.get(ch) ?? 0) + 1);
  const base = [...chars].filter(([, c]) => c >= 2).map(([ch]) => ch).sort();
  const kept = new Set(base);
  for (const w of words) w[0] = w[0].map((c) => (kept.has(c) ? c : "\u0000"));
  const merges = learn(words, nMerges).filter(([a, b]) => !(a + b).includes("\u0000"));
  const vocab = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  for (const ch of base) if (!(ch in vocab)) vocab[ch] = Object.keys(vocab).length;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  return { vocab, merges };
}

// GPT-2's byte alphabet.
function byteAlphabet() {
  const keep = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const table = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return table;
}

function byteLevelVocab(text, nMerges) {
  const alpha = byteAlphabet();
  const enc = new TextEncoder();
  const re = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
  const pieces = (text.toLowerCase().match(re) ?? []).map((p) => Array.from(enc.encode(p), (b) => alpha[b]).join(""));
  const merges = learn(countWords(pieces), nMerges);
  const vocab = {};
  alpha.forEach((ch, b) => (vocab[ch] = b));
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  return { vocab, merges };
}

const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const spmAdded = [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")];
const bpe = (v, extra) => ({
  type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
  fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: v.vocab, merges: v.merges, ...extra,
});
const file = (added, parts) => ({ version: "1.0", truncation: null, padding: null, added_tokens: added, ...parts });
const str = (s) => ({ String: s });
const bosTemplate = (bos, id) => ({
  type: "TemplateProcessing",
  single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
  pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
  special_tokens: { [bos]: { id: bos, ids: [id], tokens: [bos] } },
});

const spm = spmVocab(TRAIN, 400);
const spmLower = spmVocab(TRAIN.toLowerCase(), 300);
const bl = byteLevelVocab(TRAIN, 300);
// whole words no merge makes, which only ignore_merges finds
const blWords = { ...bl, vocab: { ...bl.vocab } };
for (const w of ["\u0120tokenization", "\u0120pneumonoultramicroscopicsilicovolcanoconiosis", "\u0120function", "\u0120snake"]) {
  if (!(w in blWords.vocab)) blWords.vocab[w] = Object.keys(blWords.vocab).length;
}
const blAdded = [special(Object.keys(blWords.vocab).length, "<|begin_of_text|>"), special(Object.keys(blWords.vocab).length + 1, "<|end_of_text|>")];
const llama3Pattern = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";


const tokenizers = {
  // Llama 2 / TinyLlama as published: Prepend and Replace normalizers, no pre-tokenizer.
  "spm-legacy": file(spmAdded, {
    normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: SP }, { type: "Replace", pattern: str(" "), content: SP }] },
    pre_tokenizer: null,
    post_processor: bosTemplate("<s>", 1),
    decoder: { type: "Sequence", decoders: [
      { type: "Replace", pattern: str(SP), content: " " }, { type: "ByteFallback" }, { type: "Fuse" },
      { type: "Strip", content: " ", start: 1, stop: 0 }] },
    model: bpe(spm, { unk_token: "<unk>", fuse_unk: true, byte_fallback: true }),
  }),
  // The newer form: a Metaspace pre-tokenizer (prepend_scheme first) and decoder.
  "spm-metaspace": file(spmAdded, {
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: SP, prepend_scheme: "first", split: false },
    post_processor: null,
    decoder: { type: "Sequence", decoders: [
      { type: "Metaspace", replacement: SP, prepend_scheme: "first", split: false }, { type: "ByteFallback" }, { type: "Fuse" }] },
    model: bpe(spm, { unk_token: "<unk>", byte_fallback: true }),
  }),
  // No byte fallback: unknown characters become <unk>, runs fused; NFKC,
  // Lowercase, Replace (regex), Strip; individual digits.
  "spm-unk-nfkc": file(spmAdded, {
    normalizer: { type: "Sequence", normalizers: [
      { type: "NFKC" }, { type: "Lowercase" }, { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
      { type: "Strip", strip_left: true, strip_right: true }] },
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Digits", individual_digits: true }, { type: "Metaspace", replacement: SP, prepend_scheme: "always", split: false }] },
    post_processor: null,
    decoder: { type: "Metaspace", replacement: SP, prepend_scheme: "always", split: false },
    model: bpe(spmLower, { unk_token: "<unk>", fuse_unk: true }),
  }),
  // Byte-level BPE through the general path: NFD, Lowercase, a literal
  // Replace, a Split with a Go-compiled regex, contiguous Digits and a
  // ByteLevel with add_prefix_space; ignore_merges.
  "bytelevel-zoo": file([], {
    normalizer: { type: "Sequence", normalizers: [{ type: "NFD" }, { type: "Lowercase" }, { type: "Replace", pattern: str("''"), content: "\"" }] },
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { Regex: "[\\p{P}\\p{S}]+" }, behavior: "Isolated", invert: false },
      { type: "Digits", individual_digits: false },
      { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true }] },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpe(blWords, { ignore_merges: true }),
  }),
  // Llama 3's layout: its Split regex (the scanner), ignore_merges, and a
  // Sequence post-processor with a BOS template.
  "bytelevel-llama3": file(blAdded, {
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { Regex: llama3Pattern }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: "Sequence", processors: [
      { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
      bosTemplate("<|begin_of_text|>", blAdded[0].id)] },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpe(blWords, { ignore_merges: true }),
  }),
  // Whitespace splitting and a Split kept by invert, NFKD.
  "spm-split": file(spmAdded, {
    normalizer: { type: "NFKD" },
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "WhitespaceSplit" },
      { type: "Split", pattern: { Regex: "[^\\s,.!?]+|[,.!?]" }, behavior: "Removed", invert: true },
      { type: "Metaspace", replacement: SP, prepend_scheme: "always", split: false }] },
    post_processor: null,
    decoder: { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Metaspace", replacement: SP, prepend_scheme: "always", split: false }] },
    model: bpe(spm, { unk_token: "<unk>", byte_fallback: true }),
  }),
  // The Whitespace pre-tokenizer (\\w+|[^\\w\\s]+); transformers.js reads \\w
  // as ASCII, Hugging Face as Unicode, so only ASCII cases compare.
  "spm-whitespace": file(spmAdded, {
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Whitespace" }, { type: "Metaspace", replacement: SP, prepend_scheme: "always", split: false }] },
    post_processor: null,
    decoder: { type: "Metaspace", replacement: SP, prepend_scheme: "always", split: false },
    model: bpe(spm, { unk_token: "<unk>", byte_fallback: true }),
  }),
};

// The corpus: hand-picked tricky strings, then seeded random ones.
const cases = [
  "Hello world", "Hello, world!", " leading space", "  two leading spaces", "trailing  ", "a", "A", " ", "   ",
  "\n", "\n\n\n", "CRLF\r\nline\r\n", "tabs\there\t\t", "multiple     spaces   in    a row",
  "digits 1234567 and 3.14159, 2024-01-01, 007", "x1y22z333w4444", "When Mary and John went to the store, John gave a drink to",
  "Ünïcödé", "e\u0301 vs \u00e9", "Cafe\u0301 au lait", "Å Å Å", "ﬁ ligature ① Ａ ㎏ ½ ™", "İstanbul", "ΣΊΣΥΦΟΣ ΟΔΟΣ. όδος Σ",
  "emoji 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵", "日本語のテキスト", "東京 こんにちは世界。", "한국어 텍스트", "مرحبا بالعالم", "Привет, мир!",
  "unknown ☃ ⚡ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ♞", "<s> special </s> mid<s>dle", "<unk><unk>x", "it's I'LL we've THEY'RE", "zero\u200bwidth",
  "nbsp\u00a0here", "ideographic\u3000space", "line\u2028sep", "quote ''double'' \"x\"", "a''b", "tokenization tokenize",
  "the the the the", "function main() { return x + y * 2; }", "x".repeat(200), "ab".repeat(80), "▁already▁meta", " ▁ ▁▁ ",
  "Hello! How are you? I'm fine, thank you.", "snake_case_name x_1 __init__ a--b",
  "Straße ǅ ﬀ ẞ", "ΑΣ. ΑΣ ΑΣ'Σ", "\u0000\u0001 control \u007f", "𝟘𝟙𝟚 ²³ ٣٤", "very long words: pneumonoultramicroscopicsilicovolcanoconiosis",
];
let seed = 14;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
// randomStrings adds count strings of 1 to 40 runes drawn from pool.
function randomStrings(pool, count) {
  for (let k = 0; k < count; k++) {
    const n = 1 + Math.floor(rand() * 40);
    let s = "";
    for (let i = 0; i < n; i++) s += pool[Math.floor(rand() * pool.length)];
    cases.push(s);
  }
}
randomStrings(Array.from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ    \n\r\t0123456789.,'!?-éüßÉ日本語😀👍🏽\u200d\u0301ﬁ™Ａ☃ΣİĞ▁<>s/"), 200);
randomStrings(Array.from("abcdefgh ABC  \n\r\t0123456789.,;:'\"!?-_()[]<>/\\@#$%^&*+=~`|{}"), 100);

const out = { source: `@huggingface/tokenizers ${libVersion} (transformers.js), node ${process.version}`, tokenizers: Object.keys(tokenizers), cases: [] };
const toks = {};
for (const [name, json] of Object.entries(tokenizers)) {
  fs.writeFileSync(path.join(here, `${name}.json`), JSON.stringify(json));
  toks[name] = new Tokenizer(json, { clean_up_tokenization_spaces: false });
}
for (const text of cases) {
  const c = { text, ids: {}, decoded: {} };
  for (const [name, tok] of Object.entries(toks)) {
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    c.ids[name] = ids;
    c.decoded[name] = ids.length ? tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
  }
  out.cases.push(c);
}
fs.writeFileSync(path.join(here, "expected.json"), JSON.stringify(out, null, 0) + "\n");
console.log(`${out.cases.length} cases, ${out.tokenizers.length} tokenizers`);
