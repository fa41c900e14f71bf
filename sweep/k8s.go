package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
)

// K8sOptions configure a Kubernetes Indexed Job.
type K8sOptions struct {
	Image     string // the container image holding the workbench program (required)
	Workbench string // the program's path in the image ("workbench": on its PATH)
	Claim     string // the PersistentVolumeClaim that holds the sweep folder (required)
	// MountPath is where the claim is mounted in the container: the sweep
	// folder as the tasks see it.
	MountPath   string
	Parallelism int    // pods running at once (at least 1)
	CPU         string // resources.requests.cpu ("1"), if set
	Memory      string // resources.requests.memory ("2Gi"), if set
}

// The manifest's types: the fields of batch/v1 Job this backend sets,
// under their Kubernetes names.
type (
	k8sJob struct {
		APIVersion string     `json:"apiVersion"`
		Kind       string     `json:"kind"`
		Metadata   k8sMeta    `json:"metadata"`
		Spec       k8sJobSpec `json:"spec"`
	}
	k8sMeta struct {
		Name   string            `json:"name,omitempty"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	k8sJobSpec struct {
		CompletionMode string      `json:"completionMode"`
		Completions    int         `json:"completions"`
		Parallelism    int         `json:"parallelism"`
		BackoffLimit   int         `json:"backoffLimit"`
		Template       k8sTemplate `json:"template"`
	}
	k8sTemplate struct {
		Metadata k8sMeta    `json:"metadata"`
		Spec     k8sPodSpec `json:"spec"`
	}
	k8sPodSpec struct {
		RestartPolicy string         `json:"restartPolicy"`
		Containers    []k8sContainer `json:"containers"`
		Volumes       []k8sVolume    `json:"volumes"`
	}
	k8sContainer struct {
		Name         string           `json:"name"`
		Image        string           `json:"image"`
		Command      []string         `json:"command"`
		VolumeMounts []k8sVolumeMount `json:"volumeMounts"`
		Resources    *k8sResources    `json:"resources,omitempty"`
	}
	k8sResources struct {
		Requests map[string]string `json:"requests"`
	}
	k8sVolumeMount struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	}
	k8sVolume struct {
		Name                  string   `json:"name"`
		PersistentVolumeClaim k8sClaim `json:"persistentVolumeClaim"`
	}
	k8sClaim struct {
		ClaimName string `json:"claimName"`
	}
)

// dnsLabel is Kubernetes' rule for names (RFC 1123 labels).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// K8sJob returns the manifest (JSON, which kubectl apply reads as it reads
// YAML) of an Indexed Job running the plan's tasks: completion index i
// runs `workbench sweep run-task MOUNT`, which reads the index from
// JOB_COMPLETION_INDEX. The job's name is derived from the plan's task IDs,
// so that the same plan gives the same manifest.
func K8sJob(p Plan, o K8sOptions) ([]byte, error) {
	switch {
	case len(p.Tasks) == 0:
		return nil, fmt.Errorf("sweep: k8s: the plan has no tasks")
	case o.Image == "":
		return nil, fmt.Errorf("sweep: k8s: --image is required (an image with the workbench program)")
	case !dnsLabel.MatchString(o.Claim) || len(o.Claim) > 253:
		return nil, fmt.Errorf("sweep: k8s: --pvc %q: want the name of a PersistentVolumeClaim (lower-case letters, digits, '-')", o.Claim)
	case !path.IsAbs(o.MountPath):
		return nil, fmt.Errorf("sweep: k8s: --mount %q: want an absolute path in the container", o.MountPath)
	case o.Parallelism < 1:
		return nil, fmt.Errorf("sweep: k8s: --parallelism %d: want at least 1", o.Parallelism)
	}
	if o.Workbench == "" {
		o.Workbench = "workbench"
	}
	h := sha256.New()
	for _, t := range p.Tasks {
		h.Write([]byte(t.ID))
	}
	name := "workbench-sweep-" + hex.EncodeToString(h.Sum(nil))[:10]
	c := k8sContainer{
		Name: "task", Image: o.Image,
		Command:      []string{o.Workbench, "sweep", "run-task", o.MountPath},
		VolumeMounts: []k8sVolumeMount{{Name: "sweep", MountPath: o.MountPath}},
	}
	req := map[string]string{}
	if o.CPU != "" {
		req["cpu"] = o.CPU
	}
	if o.Memory != "" {
		req["memory"] = o.Memory
	}
	if len(req) > 0 {
		c.Resources = &k8sResources{Requests: req}
	}
	labels := map[string]string{"app.kubernetes.io/name": "workbench-sweep", "workbench/sweep": name}
	job := k8sJob{
		APIVersion: "batch/v1", Kind: "Job",
		Metadata: k8sMeta{Name: name, Labels: labels},
		Spec: k8sJobSpec{
			CompletionMode: "Indexed", Completions: len(p.Tasks), Parallelism: min(o.Parallelism, len(p.Tasks)),
			// A pod may fail (a node lost): run-task resumes, so let
			// every index retry a few times.
			BackoffLimit: 3 * len(p.Tasks),
			Template: k8sTemplate{
				Metadata: k8sMeta{Labels: labels},
				Spec: k8sPodSpec{
					RestartPolicy: "Never", Containers: []k8sContainer{c},
					Volumes: []k8sVolume{{Name: "sweep", PersistentVolumeClaim: k8sClaim{ClaimName: o.Claim}}},
				},
			},
		},
	}
	b, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sweep: k8s: %w", err)
	}
	return append(b, '\n'), nil
}
