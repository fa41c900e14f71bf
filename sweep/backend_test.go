package sweep

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestSlurmScript(t *testing.T) {
	o := SlurmOptions{Workbench: "/opt/wb", CPUs: 2, PerJob: 3, Throttle: 4, Partition: "short", Time: "1:00:00", Mem: "2G", Extra: []string{"--qos=low"}}
	s, err := SlurmScript("/scratch/sw", 7, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#!/bin/bash\n", "#SBATCH --array=0-2%4\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --partition=short\n",
		"#SBATCH --time=1:00:00\n", "#SBATCH --mem=2G\n", "#SBATCH --qos=low\n", "#SBATCH --output=/scratch/sw/slurm/%A_%a.out\n",
		"workbench='/opt/wb'\n", "dir='/scratch/sw'\n", "per=3\n", "n=7\n",
		`"$workbench" sweep run-task "$dir" --index "$i"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	o.Throttle, o.PerJob = 0, 1
	if s, _ := SlurmScript("/d", 7, o); !strings.Contains(s, "#SBATCH --array=0-6\n") {
		t.Errorf("no throttle, one task per element: want --array=0-6:\n%s", s)
	}
	for _, c := range []struct {
		dir  string
		o    SlurmOptions
		want string
	}{
		{"/my sweep", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 1}, "white space"},
		{"/d", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 1, Extra: []string{"--qos=low\n#SBATCH --x"}}, "white space"},
		{"/d", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 1, Extra: []string{"qos=low"}}, "want an sbatch option"},
		{"/d", SlurmOptions{Workbench: "/wb", CPUs: 1, PerJob: 0}, "at least 1"},
		{"/d", SlurmOptions{Workbench: "/w'b", CPUs: 1, PerJob: 1}, "quotes"},
	} {
		if _, err := SlurmScript(c.dir, 3, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SlurmScript(%q, %+v) = %v, want an error containing %q", c.dir, c.o, err, c.want)
		}
	}
}

// k8sSchema lists, for each object path of a batch/v1 Job manifest that
// K8sJob writes, the field names the Kubernetes API defines there (from
// the API reference: Job, JobSpec, PodTemplateSpec, PodSpec, Container,
// VolumeMount, Volume, PersistentVolumeClaimVolumeSource,
// ResourceRequirements): a misspelt field would be dropped or refused by
// the API server.
var k8sSchema = map[string][]string{
	"":                              {"apiVersion", "kind", "metadata", "spec", "status"},
	"metadata":                      {"name", "generateName", "namespace", "labels", "annotations"},
	"spec":                          {"activeDeadlineSeconds", "backoffLimit", "backoffLimitPerIndex", "completionMode", "completions", "manualSelector", "maxFailedIndexes", "parallelism", "podFailurePolicy", "podReplacementPolicy", "selector", "suspend", "template", "ttlSecondsAfterFinished"},
	"spec.template":                 {"metadata", "spec"},
	"spec.template.metadata":        {"name", "labels", "annotations"},
	"spec.template.spec":            {"containers", "initContainers", "restartPolicy", "volumes", "nodeSelector", "serviceAccountName", "securityContext", "tolerations", "affinity"},
	"spec.template.spec.containers": {"name", "image", "command", "args", "env", "envFrom", "volumeMounts", "resources", "workingDir", "imagePullPolicy", "securityContext"},
	"spec.template.spec.containers.volumeMounts":       {"name", "mountPath", "readOnly", "subPath"},
	"spec.template.spec.containers.resources":          {"limits", "requests", "claims"},
	"spec.template.spec.volumes":                       {"name", "persistentVolumeClaim", "emptyDir", "hostPath", "nfs", "configMap", "secret"},
	"spec.template.spec.volumes.persistentVolumeClaim": {"claimName", "readOnly"},
}

// checkSchema walks v and fails t on a field k8sSchema does not list at
// its path; maps under labels and requests are free-form.
func checkSchema(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			checkSchema(t, at, e)
		}
	case map[string]any:
		if strings.HasSuffix(at, "labels") || strings.HasSuffix(at, "requests") {
			return
		}
		known, ok := k8sSchema[at]
		if !ok {
			t.Errorf("manifest: object at %q is not in the schema", at)
			return
		}
		for k, e := range v {
			if !slices.Contains(known, k) {
				t.Errorf("manifest: %q has no field %q in batch/v1", at, k)
			}
			checkSchema(t, strings.TrimPrefix(at+"."+k, "."), e)
		}
	}
}

func TestK8sJob(t *testing.T) {
	var cli fakeCLI
	p, err := NewPlan(context.Background(), mustSpec(t, `{"command": "train toy", "grid": {"seed": [0, 1, 2, 3, 4]}}`), cli.run)
	if err != nil {
		t.Fatal(err)
	}
	o := K8sOptions{Image: "registry.example/workbench:1", Claim: "sweeps", MountPath: "/sweep", Parallelism: 8, CPU: "1", Memory: "1Gi"}
	b, err := K8sJob(p, o)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "", m)
	spec := m["spec"].(map[string]any)
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	vol := pod["volumes"].([]any)[0].(map[string]any)
	mount := c["volumeMounts"].([]any)[0].(map[string]any)
	name, _ := m["metadata"].(map[string]any)["name"].(string)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"apiVersion", m["apiVersion"], "batch/v1"},
		{"kind", m["kind"], "Job"},
		{"completionMode", spec["completionMode"], "Indexed"},
		{"completions", spec["completions"], 5.0},
		{"parallelism (at most the tasks)", spec["parallelism"], 5.0},
		{"restartPolicy", pod["restartPolicy"], "Never"},
		{"command", strings.Join(toStrings(c["command"]), " "), "workbench sweep run-task /sweep"},
		{"image", c["image"], o.Image},
		{"mount", mount["mountPath"], "/sweep"},
		{"volume name", mount["name"], vol["name"]},
		{"claim", vol["persistentVolumeClaim"].(map[string]any)["claimName"], "sweeps"},
		{"name is a DNS label", dnsLabel.MatchString(name) && len(name) <= 63, true},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	again, _ := K8sJob(p, o)
	if string(again) != string(b) {
		t.Error("the same plan gave two manifests")
	}
	for _, bad := range []K8sOptions{
		{Claim: "sweeps", MountPath: "/s", Parallelism: 1},
		{Image: "i", Claim: "Sweeps_1", MountPath: "/s", Parallelism: 1},
		{Image: "i", Claim: "sweeps", MountPath: "s", Parallelism: 1},
		{Image: "i", Claim: "sweeps", MountPath: "/s"},
	} {
		if _, err := K8sJob(p, bad); err == nil {
			t.Errorf("K8sJob(%+v) accepted", bad)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
