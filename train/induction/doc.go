// Package induction is Workbench's first experiment: train a small
// transformer on repeated random tokens until a previous-token head forms in
// layer 0 and an induction head in layer 1 that K-composes with it (Elhage
// et al. 2021, "A Mathematical Framework for Transformer Circuits"; Olsson
// et al. 2022, "In-context Learning and Induction Heads"), with circuit
// telemetry while it trains and the phase change located afterwards.
//
// Telemetry, computed on a held-out set (fixed seed, repeat length L):
//
//	eval_loss, eval_acc     loss and accuracy on the predictable second half
//	probe_acc               accuracy on the generalisation probe (period L/2+1),
//	                        which a positional shortcut fails
//	prev_token_score        [layer][head] mean attention from i to i−1
//	induction_score         [layer][head] mean attention from i to i−L+1 over
//	                        the second block
//	k_composition_max       largest layer-0 → layer-1 K-composition score, beside
//	                        k_composition_baseline = 1/√d_model
//
// CLI and dashboard share this package; it never prints.
package induction
