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
// later in the window (data.TextLM), so that copying from context pays;
// with RepeatRandom that span is first filled with tokens from random
// places of the text, and with RepeatSteps the fraction becomes
// RepeatFracAfter from that step on (a curriculum).
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
// Default, with the 1,024-token BPE that 'workbench train lm' learns on the
// corpus, forms induction heads on tinyshakespeare: in the run embedded in
// the dashboard (web/textdemo) the phase change comes at step 1,750 (about
// a minute), and after 10,000 steps (6 minutes on two cores) the best
// heads score 0.80 (prefix matching) and 0.93 (induction); the held-out
// ICL score goes from −0.015 before the phase change to −0.199, and back to
// −0.080 with the two induction heads mean-ablated (Summary.InductionAblated).
//
// What it took, in order (2 attention-only layers, d_model 64 unless said):
// on plain text no run formed an induction head — bytes or BPE, contexts
// 128 to 512, learned, shortformer or rotary positions, 4 or 8 heads, with
// MLPs and LayerNorm, up to 164 M tokens (prefix matching ≤ 0.03);
// repeating a span of the text itself later in the window did not either
// (n-gram statistics already predict most of a repeated span). Repeating a
// random sequence does: with one in every window an induction head forms in
// 1,000 steps at context 128 (bytes) or 1,750 (BPE) but not in 2,500 at 256
// or 512, where a query's attention starts spread over more keys; in half
// of the windows it had not formed after 20,000 steps. Trained on such
// windows throughout, the model over-trusts copying: at the phase change
// the held-out ICL score rises (−0.015 → +0.23) instead of falling, and
// the held-out loss is worse. On plain text after the head formed, the head
// fades within 1,000 steps at bytes and context 128, where text rarely
// repeats within a window; with a quarter of the windows still mixed it
// stays, and once most windows are plain text the model learns when
// copying pays, which is when the ICL score falls. A BPE vocabulary makes
// that pay more: at position 116 of 128 the previous two tokens occurred
// earlier in the window, followed by the same token, 6.8% of the time
// (bytes: the previous five, 2.6%).
//
// CLI and dashboard share this package; it never prints.
package lm
