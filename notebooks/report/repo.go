package report

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mechinterp/workbench/transformer"
)

// modulePath is the module whose files RepoFile finds.
const modulePath = "github.com/mechinterp/workbench"

// DemoModelPath is the dashboard's embedded demo model inside the
// repository: the toy induction model trained by `workbench train
// induction --seed 0` (see web/demo/README.md).
const DemoModelPath = "web/demo/model.safetensors"

// RepoFile returns the path of rel, a slash-separated path inside the
// Workbench repository, found by walking up from the working directory to
// the module root (the directory whose go.mod declares the module). `go
// run ./notebooks/...` runs from the root and `go test` from the
// notebook's directory; both find it. The error says where it looked.
func RepoFile(rel string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	for dir := wd; ; {
		if isModuleRoot(dir) {
			p := filepath.Join(dir, filepath.FromSlash(rel))
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("report: %w", err)
			}
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("report: %s: no %s module root above %s (run from the repository)", rel, modulePath, wd)
		}
		dir = up
	}
}

func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := bytes.Fields(sc.Bytes()); len(f) == 2 && string(f[0]) == "module" {
			return string(f[1]) == modulePath
		}
	}
	return false
}

// DemoModel loads the repository's demo induction model (DemoModelPath)
// and returns it with the path it was read from.
func DemoModel() (*transformer.Model, string, error) {
	p, err := RepoFile(DemoModelPath)
	if err != nil {
		return nil, "", err
	}
	m, err := transformer.Load(p)
	if err != nil {
		return nil, "", fmt.Errorf("report: demo model: %w", err)
	}
	return m, p, nil
}
