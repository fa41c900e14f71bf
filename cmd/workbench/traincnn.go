package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/cnn"
	"github.com/mechinterp/workbench/data"
)

func runTrainCNN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := cnn.DefaultFashionOptions(runtime.GOMAXPROCS(0))
	rc := newRunCommand("train cnn", "run `DIR` for train.json, metrics.jsonl, checkpoints/, model.safetensors and summary.json (required)",
		`Usage: workbench train cnn --out DIR [flags]

Trains a convolutional classifier on Fashion-MNIST with SGD and momentum, data-parallel
over --workers cores, and reports the test accuracy after every epoch. Ctrl-C saves a
checkpoint; --resume continues it exactly.

Example: workbench train cnn --out runs/cnn --epochs 3 --json`, stderr)
	fs, out, resume, asJSON := rc.fs, &rc.out, &rc.resume, &rc.json
	fs.IntVar(&o.Epochs, "epochs", o.Epochs, "passes over the training set")
	fs.IntVar(&o.Batch, "batch", o.Batch, "images per step (the last partial batch of an epoch is dropped)")
	fs.Float64Var(&o.LR, "lr", o.LR, "SGD learning rate")
	fs.Float64Var(&o.Momentum, "momentum", o.Momentum, "SGD momentum")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed for the initialisation, the data order and dropout")
	fs.StringVar(&o.Data, "data", "", "`DIR` holding the Fashion-MNIST IDX files (default: Debian's "+data.FashionMNISTDir+")")
	arch := fs.String("arch", cnn.ArchCNN, "cnn (conv16–BN–pool–conv32–BN–pool–FC), resnet or plain")
	block := fs.String("block", cnn.BlockBasic, "resnet/plain block: basic or bottleneck")
	stages := fs.String("stages", "3,3,3", "resnet/plain blocks per stage (3,3,3 is ResNet-20)")
	fs.Float64Var(&o.Model.Dropout, "dropout", 0, "cnn: drop probability before the head")
	fs.IntVar(&o.Workers, "workers", o.Workers, "worker goroutines (results do not depend on it)")
	fs.IntVar(&o.Limit, "limit", 0, "train on the first N images only (0: all)")
	fs.BoolVar(&o.AllowConfigChange, "allow-config-change", false, "with --resume, accept flags other than --epochs and --workers that differ from the run's train.json (recorded in metrics.jsonl)")
	if err := rc.parse(args); err != nil {
		return err
	}
	switch *arch {
	case cnn.ArchCNN:
	case cnn.ArchResNet, cnn.ArchPlain:
		var st []int
		for _, f := range strings.Split(*stages, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("train cnn: --stages %q: %w", *stages, err)
			}
			st = append(st, n)
		}
		drop := o.Model.Dropout
		o.Model = cnn.ResNet(*block, st...)
		o.Model.Arch, o.Model.Dropout = *arch, drop
	default:
		return fmt.Errorf("train cnn: unknown --arch %q (want cnn, resnet or plain)", *arch)
	}
	o.Model.Seed = o.Seed
	o.Dir, o.Resume = *out, *resume
	if isTerminal(stderr) {
		o.Progress = stderr
	}
	o.Log = stderr
	res, err := cnn.TrainFashionMNIST(ctx, o)
	if err != nil {
		return resumeHint(err)
	}
	if res.AlreadyFinished {
		fmt.Fprintf(stderr, "%s already finished at step %d: nothing to do (raise --epochs to continue it)\n", *out, res.Steps)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		for i, a := range res.EpochAccuracy {
			fmt.Fprintf(stdout, "epoch %d: test accuracy %.4f", i+1, a)
			if i < len(res.EpochSeconds) {
				fmt.Fprintf(stdout, " (%.1f s training)", res.EpochSeconds[i])
			}
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "trained %d steps in %.1f s (%.0f images/s while training); test accuracy %.4f, loss %.4f\n",
			res.Steps, res.WallSeconds, res.ImagesPerSecond, res.TestAccuracy, res.TestLoss)
		fmt.Fprintf(stdout, "model: %s\ncheckpoint: %s\n", res.Model, res.Checkpoint)
	}
	if res.Interrupted {
		return rc.interrupted(res.Steps)
	}
	return nil
}
