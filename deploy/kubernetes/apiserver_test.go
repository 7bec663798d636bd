package kubernetes

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// TestAPIServerDryRun server-side applies every overlay, dry-run, with
// strict field validation, on a real kube-apiserver and etcd started by
// envtest. make test-k8s builds both (bin/build.sh) and sets KEEP_K8S_BIN;
// without it the test is skipped (make test runs the offline checks).
func TestAPIServerDryRun(t *testing.T) {
	dir := os.Getenv("KEEP_K8S_BIN")
	if dir == "" {
		t.Skip("KEEP_K8S_BIN is not set: `make test-k8s` builds kube-apiserver and etcd and runs this test")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(dir + "/" + b); err != nil {
			t.Fatalf("KEEP_K8S_BIN=%s: %v", dir, err)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir, ControlPlaneStartTimeout: 5 * time.Minute}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	cs, err := clientset.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver %s", v.GitVersion)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))

	// The runtime classes the CoCo overlays name (CoCo's operator creates
	// them on a real cluster).
	for _, rc := range []string{"kata-qemu-tdx", "kata-qemu-snp"} {
		_, err := cs.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: rc}, Handler: rc}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}

	apply := func(ns string, doc []byte) error {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return err
		}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		force := true
		_, err = dyn.Resource(m.Resource).Namespace(ns).Patch(ctx, u.GetName(), types.ApplyPatchType, js, metav1.PatchOptions{
			DryRun: []string{metav1.DryRunAll}, FieldManager: "keep-test", FieldValidation: "Strict", Force: &force,
		})
		return err
	}

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
			ns := "keep-" + name
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			for i, doc := range objs.Docs {
				if err := apply(ns, doc); err != nil {
					t.Errorf("document %d: %v", i, err)
				}
			}
		})
	}

	// The server does check: an unknown field and an invalid value are
	// refused, so the passes above are not vacuous.
	out, err := Render("overlays/sim")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	var dep []byte
	for _, doc := range objs.Docs {
		if strings.Contains(string(doc), "kind: Deployment") {
			dep = doc
		}
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown field", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: true\n          readOnlyRootFS: true", "securityContext.readOnlyRootFS: field not declared in schema"},
		{"invalid port name", "name: health", "name: health-and-metrics-port", "must be no more than 15 characters"},
		{"request above limit", "cpu: 250m", "cpu: \"2\"", "must be less than or equal to cpu limit"},
	} {
		bad := strings.Replace(string(dep), tc.from, tc.to, 1)
		if bad == string(dep) {
			t.Fatalf("%s: %q not in the Deployment", tc.name, tc.from)
		}
		err := apply("keep-sim", []byte(bad))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		// Server-side apply refuses an unknown field while building the
		// typed patch (a 500 with the field named, as kube-apiserver 1.37
		// answers); invalid values are 422s.
		if err != nil && !apierrors.IsBadRequest(err) && !apierrors.IsInvalid(err) && !strings.Contains(err.Error(), "field not declared in schema") {
			t.Errorf("%s: not a validation error (HTTP %d): %v", tc.name, statusCode(err), err)
		}
	}
}

// statusCode is the HTTP status of an API error, or 0.
func statusCode(err error) int32 {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return 0
}
