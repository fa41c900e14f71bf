// Package web is Workbench's local dashboard: a chi router serving a JSON API
// under /api/, server-sent events for live training, and pages built from
// embedded html/template files and plain JavaScript that draws SVG (canvas
// for large grids). The pages load nothing from the network; every response
// carries Content-Security-Policy: default-src 'self'.
//
// # Models and runs
//
// The dashboard shows, first, the embedded text demo "shakespeare" (a small
// language model trained by `workbench train lm` on tinyshakespeare, with
// its tokenizer and its run's metrics; see textdemo.go), the embedded demo
// (a toy induction model trained by Workbench, see demo.go for the command
// that made it), an embedded
// Fashion-MNIST classifier with 32 test images for the CNN page (see
// cnnstore.go), a small DCGAN for the GAN page (gan.go), and every run found
// in Deps.RunsDir: a subdirectory holding model.safetensors is a model (a
// CNN or a GAN when its metadata says so), one
// holding metrics.jsonl a run with curves (its training configuration is
// train.json, or config.json in runs written before that name). Model and run names are the
// directory names; anything but letters, digits, '.', '_' and '-' (or a
// leading '.') is rejected, so no name reaches outside RunsDir. The runs
// folder is read on every listing, so checkpoints that trainings write
// appear without a restart (the pages refetch the list when the picker is
// pressed). A run's checkpoints are models too, named RUN.step-NNNNNN
// (checkpoints/step-NNNNNN.safetensors): not listed, but any page opens
// one (?model=), and /api/models?with=NAME lists it for the picker.
//
// Deps.Models (serve --model, repeatable) adds models loaded at start:
// Hugging Face folders, TransformerLens safetensors files or run folders,
// named by their base names (never their paths) and listed with an
// architecture summary ("arch") and their tokenizer: tokenizer.json, or
// vocab.json + merges.txt, in the model's folder. A model with a tokenizer
// takes text: every analysis accepts {"prompt": "...", "bos":
// "auto|always|never"} besides token ids and answers with each token's
// text ("pieces", and "text" beside predicted and ranked token ids);
// models without one refuse a prompt saying why. Prompts are bounded to 64
// KiB and n_ctx tokens.
//
// # API
//
//	GET  /api/models?with=                               models: the text demo, the demo and runs with a model (and the checkpoint with= names)
//	GET  /api/models/{name}                              config, hook points, tensors (name, shape, stats)
//	GET  /api/models/{name}/tensors/{tensor}             one tensor's values
//	GET  /api/models/{name}/tokens/repeated?seed=&repeat= a generated repeated random sequence
//	POST /api/models/{name}/tokens/generate              greedy continuation {tokens, n}
//	POST /api/models/{name}/tokens/encode                a prompt's tokens, pieces and byte spans {prompt, bos}
//	GET  /api/models/{name}/attention?tokens=1,2,3       patterns [layer][head][dest][src ≤ dest] (or ?text=, ?prompt=)
//	POST /api/models/{name}/attention                    the same for {"tokens": [...]}, {"text": "1 2 3"} or {"prompt": "..."};
//	                                                     long sequences: {"heads": ["L0H1", "max"], "thumbnail": N}
//	GET  /api/models/{name}/circuits/composition         Q/K/V composition scores and the random baseline
//	GET  /api/models/{name}/circuits/heads               per-head previous-token, induction, copying scores
//	GET  /api/models/{name}/circuits/heads/{l}/{h}/{ov|qk}?token=&k=  full-circuit rows, eigenvalues (or ?token_text= a word)
//	POST /api/models/{name}/lens                         logit and tuned lens tables and per-point metrics
//	POST /api/models/{name}/lens/dla                     direct logit attribution of {answer|answer_text, wrong|wrong_text}
//	GET  /api/models/{name}/patching/example             an induction clean/corrupted pair
//	POST /api/models/{name}/patching                     an activation-patching sweep (ids, or clean_prompt, corrupted_prompt, answer_text, wrong_text)
//	GET  /api/models/{name}/discover/example?seed=&batch= an induction clean/corrupted batch pair and its position weights
//	POST /api/models/{name}/discover                     circuit discovery {clean, corrupted, metric, method: eap|eap-ig|acdc, steps, tau, ablation}:
//	                                                     nodes, edges by |score|, the faithfulness curve, full and empty
//	POST /api/models/{name}/discover/edge                one edge's exact patching effect {the same inputs, edge: "L0H1->L1H2.k"}
//	GET  /api/models/{name}/figures/{figure}.{png|svg}   attention, composition-{q,k,v}, heads, circuit, lens, patching
//	GET  /api/features?model=                            sparse dictionaries (the embedded demo-sae, serve --sae MODEL=DIR)
//	GET  /api/features/{dict}/features?by=id|token&q=    the feature list, densest first, searched by id or top token
//	GET  /api/features/{dict}/features/{id}              a feature's dashboard: top contexts, histogram, logit effects, similar
//	POST /api/features/{dict}/steer                      {feature, alpha, tokens|text|prompt, max_new, top}: prediction changes
//	GET  /api/runs                                       runs (the text demo's and the demo's included) and live trainings
//	GET  /api/runs/{run}                                 a run's config, summary and status
//	GET  /api/runs/{run}/metrics?format=json|csv|jsonl   its metrics, with the phase change
//	GET  /api/runs/{run}/checkpoints                     its checkpoints as models, the pair around the phase change marked
//	GET  /api/runs/{run}/figures/{figure}.{png|svg}      loss, accuracy, induction, prev-token, k-composition, icl, prefix-matching
//	GET  /api/cnn/models                                 CNNs: the embedded Fashion-MNIST classifier and runs with a CNN
//	GET  /api/cnn/models/{name}                          config, classes, hook points with shapes, BatchNorm layers
//	GET  /api/cnn/samples                                the 32 embedded test images, and whether the test set is installed
//	POST /api/cnn/models/{name}/run                      probabilities with and without {ablate, mode}, feature maps at {point}
//	POST /api/cnn/models/{name}/attribution              saliency and integrated gradients of a class logit, completeness
//	POST /api/cnn/models/{name}/batchnorm                per-layer batch against running statistics
//	POST /api/cnn/models/{name}/maximize                 activation maximisation of a unit
//	GET  /api/cnn/models/{name}/figures/{figure}.{png|svg}  features, attribution, batchnorm, maximize
//	GET  /api/gan/models                                 image GANs: the embedded DCGAN and runs with one
//	GET  /api/gan/models/{name}                          config, the judge's classes, generator hook points
//	POST /api/gan/models/{name}/samples                  a judged sample grid {seed, n, ablate}
//	POST /api/gan/models/{name}/walk                     a linear or spherical latent walk between two samples
//	GET  /api/gan/models/{name}/figures/{samples|walk}.{png|svg}
//	GET  /api/sweeps                                     sweeps: the runs folder (".") and its subfolders holding a plan.json, with their counts
//	GET  /api/sweeps/{name}                              task states, axes and results, statistics across tasks ("-" or "." for the runs folder)
//	POST /api/train                                      start "Train one now" (induction defaults)
//	GET  /api/train/{id}                                 a training's status
//	POST /api/train/{id}/stop                            stop it (its checkpoint is saved)
//	GET  /api/train/{id}/events                          its records as server-sent events
//
// A model trained by train/induction (the demo included) is listed with
// "trained_on", its task in words. The text demo is listed with "about"
// (what it is, in a line, from its train.json and summary.json),
// "examples" (lines with a name said twice; the Attention and Lens pages
// open on the first) and "induction_head" (its head of highest
// prefix-matching score on repeated random tokens of text, computed at
// start; the Attention page focuses it). The lens answers, beside each point's
// means, "positions": loss and accuracy by position and over two stated
// sets, every position ("all") and the positions whose next token is
// predictable ("predictable": on the input, data.RepeatedPositions, listed
// in "predictable"; on the held-out sequences, the task's scored targets).
// The positional QK circuit ranks a query position's keys among those at
// or before it (the causal mask); eigenvalues and their positivity are
// answered for the OV circuit only.
//
// The pages keep their input in the URL: ?model=, ?tokens= (ids, comma
// separated) or ?text= with ?bos=, and ?head= (L1H2 or max), carried by the
// navigation links; the Patching page adds its own ?clean=, ?corrupted=,
// ?answer=, ?wrong= and ?what=.
//
// Figures are rendered by the figures package (gonum/plot) from the same
// computations as the JSON; their query holds what the page's request
// holds, plus ?w=&h= for the size in pixels.
//
// Bad input answers 4xx with {"error": "...", "status": N, "request_id": "..."};
// unknown /api/ routes answer a JSON 404. Answers name a run's files
// relative to the runs folder, never by absolute path.
//
// # Security and limits
//
// The dashboard has no authentication, so it answers only requests whose
// Host header is a loopback name or address ("localhost", 127.0.0.0/8,
// ::1) or one of Deps.AllowedHosts (421 otherwise: this defeats DNS
// rebinding), and whose Origin, when a browser sends one, is this server's
// own scheme, an allowed host and the port the request came to (403
// otherwise, "null" included). Request bodies must arrive within
// Deps.BodyTimeout (408) and fit in Deps.MaxBodyBytes (413); requests end
// after Deps.RequestTimeout (504), event streams excepted. At most
// Deps.AnalysisSlots analysis requests compute at once, leaving a core to a
// training; at most Deps.MaxStreams event streams are open (503 beyond).
// "Train one now" bounds every field it accepts (400 naming the bound),
// keeps a run's newest checkpoints and the phase-change pair while it
// trains, and is refused (507) when the runs folder could grow past
// Deps.RunsBudget.
//
// # Concurrency
//
// A Server is safe for concurrent use. Models are immutable once loaded and
// shared by all requests; analyses computed from weights alone (composition
// scores, head scores, the tuned lens and its curves on held-out sequences)
// are computed once per model and kept. Trainings run on goroutines owned
// by the Server; Shutdown stops them, waits for their checkpoints and ends
// every event stream. A finished training's event history is pruned to its
// final status (its records are in the run's metrics file), and the server
// forgets all but the newest finished trainings.
package web
