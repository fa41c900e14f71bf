// Package lm trains small language models on a text corpus and measures,
// while they train, what Olsson et al. (2022, "In-context Learning and
// Induction Heads") measured: the in-context-learning score, per-head
// prefix-matching and copying scores, previous-token and induction scores,
// per-position loss, and the phase change in which induction heads form.
//
// The corpus (a file, or every file under a folder) is tokenized once —
// bytes, or a tokenizer.json / GPT-2 folder — into a data.Shard written to
// the run folder (corpus.tokens: uint16 ids when the vocabulary fits, else
// uint32), read back on resume. The last HeldOut fraction of the tokens (10%
// by default) is held out. Training draws windows of Context tokens at
// random offsets of the rest (step s's batch is a pure function of the seed
// and s), a fraction RepeatFrac of them with a random earlier span repeated
// later in the window (data.TextLM), so that copying from context pays.
//
// # Telemetry
//
// Every EvalEvery steps, on fixed sets:
//
//	eval_loss              mean loss on EvalWindows held-out windows, spread
//	                       evenly over the held-out text
//	per_position_loss      [Context] that loss by position (every
//	                       PerPositionEvery-th evaluation and the last)
//	icl_score              mean loss around position late minus around early
//	                       (ICLPositions: the paper's tokens 500 and 50 of 512
//	                       scaled to Context; each averaged over ±Context/32
//	                       positions), nats; icl_positions = [early, late]
//	prefix_matching_score  [layer][head] circuits.PrefixMatching on 16 sequences
//	                       of 4 repeats of 25 distinct tokens (fewer when the
//	                       context is short) drawn from the 100 most frequent
//	                       tokens of the training text
//	copying_score          [layer][head] circuits.CopyingScores on the same
//	prev_token_score       [layer][head] mean attention from i to i−1, on 8
//	                       sequences of min(Context, 256) tokens whose second
//	                       half repeats the first (a block of frequent tokens
//	                       drawn with replacement)
//	induction_score        [layer][head] attention-based, on the same: mean
//	                       attention from each position of the second copy to
//	                       the token after the same token's first occurrence
//	                       (TransformerLens's induction score)
//	prefix_matching_max, induction_max   the best head's scores
//
// The phase change is detected on the best head's prefix-matching score
// (train.PhaseChange, a rise of at least PhaseMinRise: the first evaluation
// halfway up the rise seen so far) as soon as it happens; metrics.jsonl then
// gets a line {"step", "event": "phase_change", "phase_change_step",
// "before_step", "icl_score_before", "icl_score", ...}, and the checkpoints
// at before_step and phase_change_step are kept besides the final one.
//
// # The default configuration
//
// Default does not meet the bar: in the search (byte and 1,024-token
// BPE vocabularies, learned, shortformer and rotary positions, contexts 128
// and 256, 4 or 8 heads, attention-only or with MLPs and LayerNorm, batches
// 16–64, repeat mixing from none to every window, up to ~25 M tokens per
// run on a shared machine), previous-token heads formed — fastest with
// rotary positions — and the ICL score fell by up to 0.3 nats with MLPs,
// but no head reached a prefix-matching score above 0.04 on repeated random
// tokens. The same code forms an induction head within 800 steps when the
// text is random letters repeated (TestTelemetryOnTheSyntheticDemo checks
// the detectors on the synthetic demo model).
//
// CLI and dashboard share this package; it never prints.
package lm
