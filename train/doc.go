// Package train is Workbench's model-agnostic training loop: it steps an
// optimizer over a Trainable, evaluates every N steps, writes one JSON
// object per logged step to metrics.jsonl, checkpoints atomically, resumes
// exactly, stops cleanly on context cancellation (Ctrl-C) with a final
// checkpoint, prints a progress line on a terminal, and hands every record
// to listeners (the dashboard subscribes there).
//
// # Run directory
//
//	DIR/train.json                            the training config (Options.Config)
//	DIR/metrics.jsonl                         one object per logged step
//	DIR/checkpoints/step-NNNNNN.safetensors   parameters + optimizer state
//	DIR/model.safetensors                     the final model (the experiment writes it)
//	DIR/summary.json                          written when the run ends
//	DIR/.lock                                 held locked while a run writes
//
// Folders written before train.json had the training config in
// config.json; it is still read (ReadTrainConfig), never written. The
// model's own config is in model.safetensors' metadata, so
// transformer.Load takes the folder.
//
// One writer at a time: Run (or the experiment around it) holds an
// exclusive lock on DIR/.lock for the run's life, and a second writer gets
// an error wrapping ErrLocked. Files are written atomically (temporary
// file and rename); temporary files a killed writer left behind are
// removed by the next Run and by Prune.
//
// A checkpoint holds the Trainable's tensors under their own names, the
// optimizer state under "optim/<name>", and metadata: "step" (steps done),
// "optim_steps", and whatever the caller adds (the model config).
//
// # Exact resume
//
// A Trainable must make step s's batch a pure function of (seed, s), so that
// a run resumed from a checkpoint at step s continues with the same data;
// with the optimizer state and the step-indexed schedule restored, the
// resumed run ends bit-identical to an uninterrupted one.
//
// The loop imports no model or analysis package: models plug in through
// Trainable, telemetry through the Eval function and listeners.
package train
