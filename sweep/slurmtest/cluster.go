// Package slurmtest starts a real single-node Slurm cluster for a test, in
// a temporary folder: its own munged (key and socket in the folder),
// slurmctld and slurmd in the foreground as root, select/cons_tres,
// proctrack/linuxproc, task/none, no accounting, free ports. It needs the
// Debian packages slurm-wlm and munge (.ci/run installs them) and root;
// without them Start skips the test with a message, or fails it when
// CI=true (testenv.Installed). Only tests import it.
package slurmtest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mechinterp/workbench/internal/testenv"
)

// Cluster is a running single-node cluster. Its client commands (sbatch,
// squeue, …) find it through the SLURM_CONF environment variable, which
// Start sets for the test.
type Cluster struct {
	Dir  string // the cluster's folder: config, state, logs
	Conf string // slurm.conf
	Node string // the node's name (this host's)
}

// startTimeout bounds how long the daemons may take to report the node
// idle.
const startTimeout = 60 * time.Second

// Start starts a cluster for t and stops it when t ends. It sets
// SLURM_CONF for t (t.Setenv: the test may not be parallel).
func Start(t *testing.T) *Cluster {
	t.Helper()
	var missing []string
	for _, b := range []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		testenv.Installed(t, "slurm-wlm munge", fmt.Errorf("%w: %s not on PATH", fs.ErrNotExist, strings.Join(missing, ", ")))
	}
	if os.Geteuid() != 0 {
		testenv.Installed(t, "slurm-wlm munge", fmt.Errorf("%w: slurmd must run as root", fs.ErrNotExist))
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	// A short path: munge's socket path has a length limit.
	dir, err := os.MkdirTemp("", "slurm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &Cluster{Dir: dir, Conf: filepath.Join(dir, "slurm.conf"), Node: host}
	for _, d := range []string{"munge", "state", "spool"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o711); err != nil { // munged wants its socket's folders executable by all
		t.Fatal(err)
	}
	key := make([]byte, 1024)
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, err = f.Read(key)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "munge", "munge.key")
	if err := os.WriteFile(keyPath, key, 0o400); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "munge", "munge.sock")
	c.start(t, "munged", "-F", "--force", "--socket="+sock, "--key-file="+keyPath,
		"--log-file="+filepath.Join(dir, "munge", "munged.log"), "--pid-file="+filepath.Join(dir, "munge", "munged.pid"),
		"--seed-file="+filepath.Join(dir, "munge", "seed"))
	ports := freePorts(t, 2)
	conf := fmt.Sprintf(`ClusterName=wbtest
SlurmctldHost=%[1]s
SlurmctldPort=%[3]d
SlurmdPort=%[4]d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=%[5]s
StateSaveLocation=%[2]s/state
SlurmdSpoolDir=%[2]s/spool
SlurmctldPidFile=%[2]s/slurmctld.pid
SlurmdPidFile=%[2]s/slurmd.pid
SlurmctldLogFile=%[2]s/slurmctld.log
SlurmdLogFile=%[2]s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=%[1]s CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP
`, host, dir, ports[0], ports[1], sock)
	if err := os.WriteFile(c.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_CONF", c.Conf)
	c.waitFor(t, sock)
	c.start(t, "slurmctld", "-D", "-f", c.Conf)
	c.start(t, "slurmd", "-D", "-f", c.Conf)
	deadline := time.Now().Add(startTimeout)
	for {
		out, err := exec.Command("sinfo", "--noheader", "--format=%T").Output()
		if err == nil && strings.TrimSpace(string(out)) == "idle" {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("slurmtest: the node is not idle after %v (sinfo: %q, %v); logs in %s:\n%s", startTimeout, out, err, dir, c.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// start runs a daemon in the foreground in its own process group, and
// stops the group when t ends: SIGTERM, then SIGKILL after 10 s.
func (c *Cluster) start(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(c.Dir, name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "SLURM_CONF="+c.Conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("slurmtest: start %s: %v", name, err)
	}
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		kill := time.AfterFunc(10*time.Second, func() { syscall.Kill(-pgid, syscall.SIGKILL) })
		cmd.Wait()
		kill.Stop()
		out.Close()
	})
}

// waitFor waits until path exists (a daemon's socket).
func (c *Cluster) waitFor(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := os.Stat(path)
		if err == nil {
			return
		}
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("slurmtest: %s: %v; logs:\n%s", path, err, c.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logs returns the daemons' output, for a failure message.
func (c *Cluster) logs() string {
	var b strings.Builder
	for _, f := range []string{"munged.out", "slurmctld.out", "slurmd.out", "slurmctld.log", "slurmd.log"} {
		data, _ := os.ReadFile(filepath.Join(c.Dir, f))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", f, data)
	}
	return b.String()
}

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
