// Package checkpoint reads and writes the safetensors format, in which
// Workbench stores every model's weights.
//
// # Format
//
// A safetensors file (https://github.com/huggingface/safetensors) is
//
//	[8 bytes]  N, a little-endian uint64: the length of the header
//	[N bytes]  a JSON object, UTF-8
//	[rest]     the data section: raw little-endian tensor bytes
//
// The header maps each tensor name to
//
//	{"dtype": "F32", "shape": [4, 64, 16], "data_offsets": [begin, end]}
//
// where [begin, end) is the tensor's byte range relative to the start of the
// data section, and may hold one more key, "__metadata__", mapping strings to
// strings. Tensors are dense and row-major; a scalar has shape [] and one
// element. Workbench checkpoints use TransformerLens state-dict names and
// shapes (embed.W_E [d_vocab, d_model], blocks.0.attn.W_Q
// [n_heads, d_model, d_head], ...) and keep the model config JSON in the
// metadata, so a state dict saved by safetensors.torch.save_file loads
// directly.
//
// # Guarantees
//
// Open, Read and Parse validate the whole header before returning a File, and
// report every problem as an error matching ErrFormat whose message names the
// tensor and the problem. They never panic, and allocate in proportion to the
// file's stated header length once it has been checked against the file size
// and MaxHeaderSize; reading a tensor allocates no more than its converted
// values. A File's header is a single JSON object, with no duplicate
// names, fields or metadata keys; every entry has exactly the fields dtype
// (one of the specification's types), shape (non-negative integers) and
// data_offsets (two integers, begin ≤ end ≤ data size); metadata values are
// strings; the shape's element count times the dtype size, computed without
// overflow, equals end − begin; and the tensors tile the data section
// exactly, with no overlap, gap or trailing byte, as the specification
// requires.
//
// Reading converts to float32 (File.Float32, File.Float32Into): F32, F16 and
// BF16 exactly with NaN payloads preserved, F64 and integers rounded to
// nearest.
//
// Write and WriteFile produce F32 files laid out byte for byte as the
// official Python library lays them out (tensors sorted by name, header
// padded with spaces to a multiple of 8 bytes), so writing what was read
// reproduces a file bit for bit. WriteFile is atomic: a synced temporary file
// in the same directory is renamed into place, and nothing is left behind on
// error.
//
// # Concurrency
//
// A File is immutable once returned and safe for concurrent use: many
// goroutines may read tensors from it at once. Write and WriteFile may be
// called concurrently for distinct destinations.
//
// This package imports only the standard library.
package checkpoint
