package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mechinterp/workbench/train"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs runServe on a free loopback port and returns its base
// URL, a cancel function and the channel runServe's error arrives on.
func startServe(t *testing.T, args ...string) (string, context.CancelFunc, <-chan error, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), &stdout, &stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out := stdout.String()
		if i := strings.Index(out, "http://"); i >= 0 {
			if j := strings.Index(out[i:], "/ "); j >= 0 {
				return out[i : i+j], cancel, done, &stderr
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v; stderr %s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve printed no URL; stdout %q", stdout.String())
	return "", nil, nil, nil
}

func TestServe(t *testing.T) {
	runs := t.TempDir()
	base, cancel, done, _ := startServe(t, "--runs", runs)
	defer cancel()
	res, err := http.Get(base + "/api/models")
	if err != nil {
		t.Fatal(err)
	}
	var models []struct{ Name string }
	json.NewDecoder(res.Body).Decode(&models)
	res.Body.Close()
	if len(models) < 2 || models[0].Name != "shakespeare" || models[1].Name != "demo" {
		t.Fatalf("GET /api/models: %+v", models)
	}
	res, err = http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("Attention")) || res.Request.URL.Path != "/attention" {
		t.Errorf("GET /: %d at %s", res.StatusCode, res.Request.URL)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("serve did not stop within 3 s of cancellation")
	}
}

// TestServeShutdownWithStream cancels serve while a training runs and a
// client follows its event stream: serve must stop within about a second
// and the training must have saved a checkpoint.
func TestServeShutdownWithStream(t *testing.T) {
	runs := t.TempDir()
	base, cancel, done, stderr := startServe(t, "--runs", runs)
	defer cancel()
	res, err := http.Post(base+"/api/train", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var job struct{ ID, Events string }
	json.NewDecoder(res.Body).Decode(&job)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/train: %d", res.StatusCode)
	}
	stream, err := http.Get(base + job.Events)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	sc := bufio.NewScanner(stream.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: record") {
	}
	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop within 5 s with a stream open")
	}
	took := time.Since(began)
	const grace = shutdownGrace + 500*time.Millisecond // the target, plus scheduling slack
	if took > grace {
		t.Errorf("serve took %v to stop, want under %v", took, grace)
	}
	for sc.Scan() { // the stream ends
	}
	steps, err := train.Checkpoints(filepath.Join(runs, job.ID))
	if err != nil || len(steps) == 0 {
		t.Errorf("no checkpoint after stopping: %v %v", steps, err)
	}
	if _, err := os.Stat(filepath.Join(runs, job.ID, "model.safetensors")); err != nil {
		t.Errorf("no model after stopping: %v", err)
	}
	t.Logf("stopped in %v with a training and an event stream open; checkpoint at step %v", took, steps)
}

func TestServeFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "0.0.0.0:0"}, "needs --allow-remote"},
		{[]string{"--addr", ":0"}, "needs --allow-remote"},
		{[]string{"--addr", "nonsense"}, "--addr"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--nope"}, "unknown flag --nope"},
		{[]string{"--allowed-hosts", "box.lan"}, "needs --allow-remote"},
		{[]string{"--runs-budget", "0"}, "--runs-budget"},
		{[]string{"--runs-budget", "4 parsecs"}, "--runs-budget"},
		{[]string{"--allow-remote", "--addr", "0.0.0.0:0"}, "--allowed-hosts"},
		{[]string{"--allow-remote", "--addr", "0.0.0.0:0", "--allowed-hosts", "box.lan:80"}, "without ports"},
	} {
		var out, errOut bytes.Buffer
		err := runServe(context.Background(), tt.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error()+errOut.String(), tt.want) {
			t.Errorf("serve %q: error %v (stderr %q), want %q", tt.args, err, errOut.String(), tt.want)
		}
	}
}

func TestAllowedHosts(t *testing.T) {
	for _, tt := range []struct {
		addr, list string
		remote     bool
		want       string // joined with commas, or the error's text
	}{
		{"127.0.0.1:8080", "", false, "127.0.0.1"},
		{"localhost:8080", "", false, "localhost"},
		{"192.168.1.2:80", "", true, "192.168.1.2"},
		{"box.lan:80", "", true, "box.lan"},
		{"0.0.0.0:80", "box.lan, 10.0.0.2", true, "box.lan,10.0.0.2"},
		{"[::]:80", "[fe80::1]", true, "[fe80::1]"},
		{":80", "", true, "--allowed-hosts"},
		{"127.0.0.1:80", "box.lan", false, "needs --allow-remote"},
		{"0.0.0.0:80", "a,,b", true, "without ports"},
	} {
		hosts, err := allowedHosts(tt.addr, tt.list, tt.remote)
		got := strings.Join(hosts, ",")
		if err != nil {
			got = err.Error()
		}
		if err != nil && !strings.Contains(got, tt.want) || err == nil && got != tt.want {
			t.Errorf("allowedHosts(%q, %q, %v) = %q, want %q", tt.addr, tt.list, tt.remote, got, tt.want)
		}
	}
}

// TestServeRefusesOtherHosts sends requests naming another host, as a
// DNS-rebinding page would, to a running serve.
func TestServeRefusesOtherHosts(t *testing.T) {
	base, cancel, done, _ := startServe(t, "--runs", t.TempDir())
	defer func() { cancel(); <-done }()
	for _, tc := range []struct {
		method, host, origin string
		want                 int
	}{
		{"GET", "evil.example", "", http.StatusMisdirectedRequest},
		{"POST", "evil.example", "http://evil.example", http.StatusMisdirectedRequest},
		{"POST", "", "http://evil.example", http.StatusForbidden},
		{"GET", "", "", http.StatusOK},
	} {
		req, _ := http.NewRequest(tc.method, base+"/api/models/demo/attention?tokens=1,2", nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s with Host %q Origin %q: %d, want %d", tc.method, tc.host, tc.origin, res.StatusCode, tc.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"4GiB", 4 << 30}, {"512MiB", 512 << 20}, {"1.5KiB", 1536}, {"1000", 1000}, {"10B", 10}, {"2 TiB", 2 << 40},
		{"0", 0}, {"-1GiB", 0}, {"4GB", 0}, {"GiB", 0}, {"", 0}, {"NaN", 0}, {"1e30", 0}, {"4gib", 0},
	} {
		got, err := parseBytes(tt.in)
		if got != tt.want || (err == nil) != (tt.want > 0) {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// TestServeRunsBudget starts serve with a budget smaller than one
// training: "Train one now" is refused with 507.
func TestServeRunsBudget(t *testing.T) {
	base, cancel, done, _ := startServe(t, "--runs", t.TempDir(), "--runs-budget", "1MiB")
	defer func() { cancel(); <-done }()
	res, err := http.Post(base+"/api/train", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInsufficientStorage || !bytes.Contains(body, []byte("1.0 MiB")) {
		t.Errorf("POST /api/train over a 1MiB budget: %d %s, want 507 naming the budget", res.StatusCode, body)
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true}, {"127.1.2.3:0", true}, {"[::1]:8080", true}, {"localhost:80", true},
		{"0.0.0.0:8080", false}, {":8080", false}, {"[::]:8080", false}, {"192.168.1.2:80", false}, {"example.com:80", false},
	} {
		got, err := isLoopback(tt.addr)
		if err != nil || got != tt.want {
			t.Errorf("isLoopback(%q) = %v, %v; want %v", tt.addr, got, err, tt.want)
		}
	}
}
