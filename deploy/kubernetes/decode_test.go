package kubernetes

import (
	"strings"
	"testing"
)

// TestDecodeStrict: what the strict decode must refuse, so that a typo in
// a manifest (a field Kubernetes would silently drop) fails make test.
func TestDecodeStrict(t *testing.T) {
	const svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: keep\nspec:\n  ports:\n  - port: 443\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"ok", svc, ""},
		{"two documents", svc + "---\n" + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n", ""},
		{"unknown field", svc + "  sessionAfinity: ClientIP\n", `unknown field "sessionAfinity"`},
		{"unknown nested field", strings.Replace(svc, "- port: 443", "- port: 443\n    targetPorts: 8443", 1), `unknown field "targetPorts"`},
		{"duplicate field", svc + "  type: ClusterIP\n  type: LoadBalancer\n", `"type" already set`},
		{"wrong type", strings.Replace(svc, "port: 443", "port: https", 1), "cannot unmarshal"},
		{"unexpected kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n", `unexpected kind "Pod"`},
		{"kind under another group", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: d\n", `unexpected kind "Deployment"`},
		{"not yaml", "apiVersion: [\n", "document 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := Render(dir); err == nil || !strings.Contains(err.Error(), "kustomize build") {
		t.Errorf("a directory with no kustomization: %v", err)
	}
}
