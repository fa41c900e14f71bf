// Package discover finds circuits: which edges of a model's computational
// graph carry a behaviour. It scores every edge by edge attribution
// patching (EAP, and EAP with integrated gradients), prunes the graph by
// ACDC, evaluates any circuit with every edge outside it ablated, and
// measures how faithful a circuit is.
//
// # The graph
//
// Senders write into the residual stream: the token embedding (embed), the
// positional embedding (pos_embed, for learned positions), each attention
// head (L{l}H{h}) and each MLP (MLP{l}). Receivers read it: each head's
// query, key and value inputs separately (L{l}H{h}.q, .k, .v; under
// grouped-query attention keys and values belong to key/value heads,
// L{l}KV{g}.k, .v, read by their whole query group), each MLP's input and
// the logits' (the final residual stream). Every sender upstream of a
// receiver has an edge to it. The residual stream being the sum of the
// senders' outputs plus constant biases, a receiver's input is exactly the
// sum of its edges; ablating an edge replaces one term of that sum by the
// sender's ablated output (its output on a corrupted batch, the mean of
// that over the batch, or zero), and the receiver is recomputed from its
// own input: normalization, projection, rotary embedding and attention for
// a head; normalization and MLP; the final normalization and unembedding.
//
// # Methods
//
//   - Experiment.Evaluate runs one circuit: a forward pass of the clean
//     batch with every edge outside it ablated.
//   - EAP (Syed, Rager and Conmy 2023) scores every edge with one forward
//     and one backward pass: (ablated − clean output of the sender) ·
//     ∂metric/∂(receiver input), the first-order estimate of ablating the
//     edge alone.
//   - EAPIG (Hanna, Pezzelle and Belinkov 2024) averages that gradient over
//     runs whose embeddings move from ablated to clean.
//
// Metrics are patching.Metric values: logit difference, probability, or a
// caller's own.
package discover
