package kubernetes

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/keepwasm/keep/netattest"
	"github.com/keepwasm/keep/runtime"
)

var (
	imageByDigest  = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$`)
	moduleByDigest = regexp.MustCompile(`^oci://[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$`)
)

// overlaySpec is what differs between overlays.
type overlaySpec struct {
	backend      string // --backend value
	requireTEE   bool
	runtimeClass string
	nodeSelector map[string]string
	device       corev1.ResourceName // device-plugin resource, "" for none
	configfs     bool                // the configfs-tsm hostPath mount
	root         bool                // uid 0 (configfs-tsm, TEE device), caps still dropped
	tee          string              // the policy's only tee; "" for sim
}

var overlaySpecs = map[string]overlaySpec{
	"coco-tdx": {backend: "tdx", requireTEE: true, runtimeClass: "kata-qemu-tdx", tee: "tdx"},
	"coco-snp": {backend: "snp", requireTEE: true, runtimeClass: "kata-qemu-snp", tee: "snp"},
	"gke-tdx": {backend: "tdx", requireTEE: true, nodeSelector: map[string]string{"cloud.google.com/gke-confidential-nodes-instance-type": "TDX"},
		device: "intel.com/tdx", configfs: true, root: true, tee: "tdx"},
	"gke-snp": {backend: "snp", requireTEE: true, nodeSelector: map[string]string{"cloud.google.com/gke-confidential-nodes-instance-type": "SEV_SNP"},
		device: "amd.com/sev-snp", configfs: true, root: true, tee: "snp"},
	"sim": {backend: "sim"},
}

func TestOverlaysListed(t *testing.T) {
	if len(overlaySpecs) != len(Overlays) {
		t.Fatalf("%d overlay specs for %d overlays", len(overlaySpecs), len(Overlays))
	}
	for _, o := range Overlays {
		if _, ok := overlaySpecs[o]; !ok {
			t.Errorf("overlay %s has no spec in this test", o)
		}
	}
}

func TestOverlays(t *testing.T) {
	for _, name := range Overlays {
		t.Run(name, func(t *testing.T) {
			out, err := Render("overlays/" + name)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			checkOverlay(t, name, overlaySpecs[name], objs)
		})
	}
}

// flagsOf splits keep's arguments into flags (name -> value) and the
// operands after them.
func flagsOf(t *testing.T, args []string) (map[string]string, []string) {
	t.Helper()
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("args %q: want keep run", args)
	}
	flags := map[string]string{}
	boolFlags := map[string]bool{"--require-tee": true}
	i := 1
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		k, v, ok := strings.Cut(args[i], "=")
		if !ok && !boolFlags[k] {
			i++
			if i == len(args) {
				t.Fatalf("args %q: flag %s without a value", args, k)
			}
			v = args[i]
		}
		if _, dup := flags[k]; dup {
			t.Errorf("args %q: %s twice", args, k)
		}
		flags[k] = v
	}
	return flags, args[i:]
}

// parseMaxMemory reads --max-memory as keep does: pages, or KiB/MiB/GiB.
func parseMaxMemory(t *testing.T, s string) int64 {
	t.Helper()
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("--max-memory %q", s)
			}
			return v * u.mult
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("--max-memory %q", s)
	}
	return v << 16
}

// memoryOverhead is what a keep needs beyond the module's linear memory.
var memoryOverhead = resource.MustParse("256Mi")

func checkOverlay(t *testing.T, name string, spec overlaySpec, o *Objects) {
	if len(o.Deployments) != 1 || len(o.Services) != 1 || len(o.ConfigMaps) != 2 || len(o.PodDisruptionBudget) != 1 || len(o.NetworkPolicies) != 1 {
		t.Fatalf("objects: %d Deployments, %d Services, %d ConfigMaps, %d PDBs, %d NetworkPolicies; want 1, 1, 2, 1, 1",
			len(o.Deployments), len(o.Services), len(o.ConfigMaps), len(o.PodDisruptionBudget), len(o.NetworkPolicies))
	}
	d := o.Deployments[0]
	pod := d.Spec.Template.Spec
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1LabelSelector(d)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector does not match its pods (%v)", err)
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 || len(pod.EphemeralContainers) != 0 {
		t.Fatalf("%d containers, %d init containers: want only keep", len(pod.Containers), len(pod.InitContainers))
	}
	c := pod.Containers[0]

	// Image and module by digest.
	if !imageByDigest.MatchString(c.Image) {
		t.Errorf("image %q is not pinned by digest", c.Image)
	}
	flags, operands := flagsOf(t, c.Args)
	if len(c.Command) != 0 {
		t.Errorf("command %q overrides the image's entrypoint", c.Command)
	}
	if len(operands) != 1 || !moduleByDigest.MatchString(operands[0]) {
		t.Errorf("module %q: want one oci://REGISTRY/REPO@sha256:DIGEST", operands)
	}
	if flags["--config"] != "/etc/keep/Enarx.toml" {
		t.Errorf("--config %q", flags["--config"])
	}
	if got := flags["--backend"]; got != spec.backend {
		t.Errorf("--backend %q, want %q", got, spec.backend)
	}
	if _, ok := flags["--require-tee"]; ok != spec.requireTEE {
		t.Errorf("--require-tee present: %v, want %v", ok, spec.requireTEE)
	}

	// Ports: https for the Service, health for probes.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
		if p.HostPort != 0 {
			t.Errorf("port %s: hostPort %d", p.Name, p.HostPort)
		}
	}
	healthAddr := flags["--health-addr"]
	if _, port, _ := strings.Cut(healthAddr, ":"); port != strconv.Itoa(int(ports["health"])) || ports["health"] == 0 {
		t.Errorf("--health-addr %q does not match the health port %d", healthAddr, ports["health"])
	}
	resolve := func(p intstr.IntOrString) int32 {
		if p.Type == intstr.String {
			return ports[p.StrVal]
		}
		return p.IntVal
	}
	for _, pr := range []struct {
		name string
		p    *corev1.Probe
		path string
	}{{"startup", c.StartupProbe, "/healthz"}, {"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET", pr.name)
			continue
		}
		g := pr.p.HTTPGet
		if g.Path != pr.path || resolve(g.Port) != ports["health"] || (g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP) {
			t.Errorf("%s probe %s %v %s: want plain HTTP %s on the health port (never a handshake on the RA-TLS port)", pr.name, g.Scheme, g.Port.String(), g.Path, pr.path)
		}
	}

	// Memory: the limit covers --max-memory plus the runtime, and the
	// request equals it.
	maxMem := parseMaxMemory(t, flags["--max-memory"])
	lim, req := c.Resources.Limits[corev1.ResourceMemory], c.Resources.Requests[corev1.ResourceMemory]
	need := resource.NewQuantity(maxMem, resource.BinarySI)
	need.Add(memoryOverhead)
	if lim.IsZero() || lim.Cmp(*need) < 0 {
		t.Errorf("memory limit %s < --max-memory %s + %s", lim.String(), flags["--max-memory"], memoryOverhead.String())
	}
	if req.Cmp(lim) != 0 {
		t.Errorf("memory request %s != limit %s", req.String(), lim.String())
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
		t.Error("no CPU limit")
	}

	// Security context.
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no container securityContext")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem not true")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged")
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 || fmt.Sprint(sc.Capabilities.Drop) != "[ALL]" {
		t.Errorf("capabilities %+v: want drop [ALL], add none", sc.Capabilities)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("host namespaces")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("service account token mounted")
	}
	psc := pod.SecurityContext
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("no RuntimeDefault seccomp profile")
	}
	nonRoot := func(b *bool) bool { return b != nil && *b }
	if spec.root {
		if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 0 || nonRoot(psc.RunAsNonRoot) || nonRoot(sc.RunAsNonRoot) {
			t.Error("want uid 0 (configfs-tsm, TEE device) stated explicitly")
		}
	} else {
		if !nonRoot(sc.RunAsNonRoot) || psc == nil || !nonRoot(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Error("runAsNonRoot not true, or uid 0")
		}
	}

	// Volumes: the config, emptyDirs, and configfs only where needed.
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	sawConfigfs := false
	for _, v := range pod.Volumes {
		m, mounted := mounts[v.Name]
		switch {
		case v.ConfigMap != nil:
			if !m.ReadOnly || m.MountPath != "/etc/keep" {
				t.Errorf("config volume %s mounted at %s, read-only %v", v.Name, m.MountPath, m.ReadOnly)
			}
		case v.EmptyDir != nil:
			if v.EmptyDir.SizeLimit == nil {
				t.Errorf("emptyDir %s has no size limit", v.Name)
			}
		case v.HostPath != nil:
			if !spec.configfs || v.HostPath.Path != "/sys/kernel/config/tsm" || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectory ||
				m.MountPath != "/sys/kernel/config/tsm" {
				t.Errorf("hostPath %s (%s at %s): only the configfs-tsm directory, only where the attester needs it", v.Name, v.HostPath.Path, m.MountPath)
			}
			sawConfigfs = true
		default:
			t.Errorf("volume %s: unexpected kind", v.Name)
		}
		if !mounted {
			t.Errorf("volume %s not mounted", v.Name)
		}
	}
	if sawConfigfs != spec.configfs {
		t.Errorf("configfs-tsm mount present: %v, want %v", sawConfigfs, spec.configfs)
	}

	// Placement.
	if got := ptrString(pod.RuntimeClassName); got != spec.runtimeClass {
		t.Errorf("runtimeClassName %q, want %q", got, spec.runtimeClass)
	}
	if fmt.Sprint(pod.NodeSelector) != fmt.Sprint(spec.nodeSelector) && (len(pod.NodeSelector) != 0 || len(spec.nodeSelector) != 0) {
		t.Errorf("nodeSelector %v, want %v", pod.NodeSelector, spec.nodeSelector)
	}
	for _, rl := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
		q, ok := rl[spec.device]
		if spec.device != "" && (!ok || q.Value() != 1) {
			t.Errorf("device resource %s: %v", spec.device, rl)
		}
		for r := range rl {
			if r != corev1.ResourceCPU && r != corev1.ResourceMemory && r != spec.device {
				t.Errorf("unexpected resource %s", r)
			}
		}
	}

	// Service: L4 to the https port only, selecting these pods.
	s := o.Services[0]
	if s.Spec.Type != corev1.ServiceTypeClusterIP && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("service type %s", s.Spec.Type)
	}
	if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) || len(s.Spec.Selector) == 0 {
		t.Error("the Service does not select the keep pods")
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Protocol != corev1.ProtocolTCP || resolve(s.Spec.Ports[0].TargetPort) != ports["https"] || ports["https"] == 0 {
		t.Errorf("service ports %+v: want only TCP to the https port", s.Spec.Ports)
	}

	pdb := o.PodDisruptionBudget[0]
	if ps, err := metav1AsSelector(pdb.Spec.Selector); err != nil || !ps.Matches(podLabels) {
		t.Error("the PodDisruptionBudget does not select the keep pods")
	}
	np := o.NetworkPolicies[0]
	if ps, err := metav1AsSelector(&np.Spec.PodSelector); err != nil || !ps.Matches(podLabels) || len(np.Spec.PolicyTypes) != 2 {
		t.Error("the NetworkPolicy does not govern the keep pods' ingress and egress")
	}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port != nil && resolve(*p.Port) == ports["health"] && len(rule.From) == 0 {
				t.Error("the health/metrics port is open to every pod")
			}
		}
	}

	// The Enarx.toml parses and serves TLS on the https port; the policy
	// parses and is for this overlay's TEE.
	cfg, pol := configMapFile(t, o, &pod, "keep-config", "Enarx.toml"), configMapFile(t, o, nil, "keep-policy", "policy.toml")
	rc, err := runtime.ParseConfig("Enarx.toml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Unsupported(); err != nil {
		t.Fatal(err)
	}
	tlsOnHTTPS := false
	for _, f := range rc.Files {
		if f.Kind == runtime.KindListen && f.Prot == runtime.ProtTLS && int32(f.Port) == ports["https"] {
			tlsOnHTTPS = true
		}
		if f.Kind == runtime.KindListen && f.Prot != runtime.ProtTLS {
			t.Errorf("listener %s is not TLS", f.Name)
		}
	}
	if !tlsOnHTTPS {
		t.Error("Enarx.toml has no TLS listener on the https port")
	}
	p, err := netattest.ParsePolicy("policy.toml", []byte(pol))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ModuleHashes) == 0 || len(p.ConfigHashes) == 0 {
		t.Error("the policy pins no module or no config")
	}
	if spec.tee == "" {
		if !p.AllowSimulated || d.Annotations["keep.dev/warning"] == "" || !strings.Contains(d.Name, "sim") || d.Spec.Template.Labels["keep.dev/tee"] != "sim-proves-nothing" {
			t.Error("the sim overlay is not labelled as simulated everywhere")
		}
	} else {
		if p.AllowSimulated || p.AllowDebug || fmt.Sprint(p.TEE) != "["+spec.tee+"]" {
			t.Errorf("policy: allow_simulated %v, allow_debug %v, tee %v; want only %s", p.AllowSimulated, p.AllowDebug, p.TEE, spec.tee)
		}
		if spec.tee == "tdx" && (len(p.TDX.MRTD) == 0 || len(p.TDX.RTMR0) == 0) || spec.tee == "snp" && len(p.SNP.Measurement) == 0 {
			t.Error("the policy pins no TEE measurement")
		}
	}
}

// configMapFile returns key of the ConfigMap generated from name (the
// generated name carries a hash suffix); with pod, the ConfigMap must be
// the one the pod mounts.
func configMapFile(t *testing.T, o *Objects, pod *corev1.PodSpec, name, key string) string {
	t.Helper()
	for _, cm := range o.ConfigMaps {
		if !strings.HasPrefix(cm.Name, name) {
			continue
		}
		if pod != nil {
			used := false
			for _, v := range pod.Volumes {
				used = used || v.ConfigMap != nil && v.ConfigMap.Name == cm.Name
			}
			if !used {
				t.Errorf("ConfigMap %s is not the one the pod mounts", cm.Name)
			}
		}
		if v, ok := cm.Data[key]; ok {
			return v
		}
	}
	t.Fatalf("no ConfigMap %s with %s", name, key)
	return ""
}

func ptrString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func metav1LabelSelector(d *appsv1.Deployment) (labels.Selector, error) {
	return metav1AsSelector(d.Spec.Selector)
}
