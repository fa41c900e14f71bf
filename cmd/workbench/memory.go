package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/mechinterp/workbench/train/induction"
	"github.com/mechinterp/workbench/transformer"
)

// memoryShare is the part of the available memory a command may plan to
// use: the rest is left to the runtime's garbage (a collected heap grows to
// about twice its live size) and to the other programs on the machine.
const memoryShare = 0.5

// availableMemory returns the bytes this process can still use: the
// kernel's MemAvailable, lowered to the cgroup's remaining limit when there
// is one. It returns 0 when neither can be read (not Linux): then no
// estimate is refused.
func availableMemory() float64 {
	avail := 0.0
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
				if kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64); err == nil {
					avail = kb * 1024
				}
			}
		}
		f.Close()
	}
	limit, lerr := readNumber("/sys/fs/cgroup/memory.max")
	used, uerr := readNumber("/sys/fs/cgroup/memory.current")
	if lerr == nil && uerr == nil && limit > used && (avail == 0 || limit-used < avail) {
		avail = limit - used
	}
	return avail
}

// readNumber reads a file holding one number ("max" is an error).
func readNumber(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
}

// gib formats a byte count.
func gib(b float64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", b/(1<<20))
}

// checkMemory refuses work whose estimate (bytes) exceeds memoryShare of
// the available memory, with a message naming both and what to change.
func checkMemory(what string, estimate float64, change string) error {
	avail := availableMemory()
	if avail == 0 || estimate <= memoryShare*avail {
		return nil
	}
	return fmt.Errorf("%s needs about %s of memory, more than this machine can spare (%s available); %s", what, gib(estimate), gib(avail), change)
}

// forwardBytes estimates the memory of one forward pass of a model of
// config c over batch sequences of pos tokens: the activation buffers of a
// transformer Workspace (float32; every hook point's tensor, the attention
// scores and pattern [batch, head, pos, pos] included) and the softmax of
// the logits. Computed in float64 so that absurd sizes do not overflow.
func forwardBytes(c transformer.Config, batch, pos int) float64 {
	d, H, dh := float64(c.DModel), float64(c.NHeads), float64(c.DHead)
	T := float64(pos)
	perRow := 3 * d // embed, pos_embed, resid_pre 0
	block := 4*H*dh + 2*H*T + H*d + 2*d
	if c.HasNorm() {
		block += 1 + d
	}
	if c.PositionalEmbeddingType == transformer.PosShortformer {
		block += d
	}
	if c.HasMLP() {
		block += d + 2*float64(c.DMLP) + d
		if c.HasNorm() {
			block += 1 + d
		}
	}
	perRow += float64(c.NLayers) * block
	if c.HasNorm() {
		perRow += 1 + d
	}
	perRow += 2 * float64(c.DVocabOut) // logits and their softmax
	return 4 * (float64(batch)*T*perRow + T*T)
}

// inductionBytes estimates a training run's memory: forward activations
// and their gradients for the training batch, the evaluation batch's
// forward pass, and parameters with gradients and two AdamW moments.
func inductionBytes(c induction.Config) float64 {
	m := c.Model().WithDefaults()
	T := c.Task().SeqLen()
	params := float64(m.DVocab*m.DModel+T*m.DModel+m.DModel*m.DVocabOut) + float64(m.NLayers)*(4*float64(m.NHeads*m.DModel*m.DHead)+2*float64(m.DModel*m.DMLP))
	return 2*forwardBytes(m, c.Batch, T) + forwardBytes(m, c.EvalSize, T) + 4*4*params
}

// checkInductionMemory refuses an induction run too large for the machine
// before anything is allocated.
func checkInductionMemory(c induction.Config) error {
	return checkMemory(fmt.Sprintf("train induction: a batch of %d sequences of %d tokens (--seq-len %d)", c.Batch, c.Task().SeqLen(), c.SeqLen),
		inductionBytes(c), "lower --seq-len, --batch or --d-model")
}
