package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Overlays are the directories under overlays/, one per kind of cluster.
var Overlays = []string{"coco-tdx", "coco-snp", "gke-tdx", "gke-snp", "sim"}

// Render builds the kustomization in dir (e.g. "overlays/gke-tdx") and
// returns the multi-document YAML that `kustomize build dir` prints.
func Render(dir string) ([]byte, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// Plugins and remote bases off: the manifests build from this
	// repository's files alone.
	opts := krusty.MakeDefaultOptions()
	k := krusty.MakeKustomizer(opts)
	m, err := k.Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %v", dir, err)
	}
	return m.AsYaml()
}

// Objects are the decoded objects of a rendered overlay, by kind.
type Objects struct {
	Deployments         []*appsv1.Deployment
	Services            []*corev1.Service
	ConfigMaps          []*corev1.ConfigMap
	PodDisruptionBudget []*policyv1.PodDisruptionBudget
	NetworkPolicies     []*networkingv1.NetworkPolicy
	// Docs are the documents as rendered, in order, for applying them.
	Docs [][]byte
}

// maxDoc bounds one YAML document.
const maxDoc = 1 << 20

// Decode splits multi-document YAML and decodes each document strictly
// (sigs.k8s.io/yaml.UnmarshalStrict: unknown fields and duplicate keys are
// errors) into the k8s.io/api type its apiVersion and kind name. Any other
// kind is an error: the manifests contain these five kinds and nothing else.
func Decode(data []byte) (*Objects, error) {
	var o Objects
	r := utilyaml.NewYAMLReader(bufioReader(data))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return &o, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if len(doc) > maxDoc {
			return nil, fmt.Errorf("document %d: larger than %d bytes", i, maxDoc)
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			d := new(appsv1.Deployment)
			o.Deployments, obj = append(o.Deployments, d), d
		case "v1 Service":
			s := new(corev1.Service)
			o.Services, obj = append(o.Services, s), s
		case "v1 ConfigMap":
			c := new(corev1.ConfigMap)
			o.ConfigMaps, obj = append(o.ConfigMaps, c), c
		case "policy/v1 PodDisruptionBudget":
			p := new(policyv1.PodDisruptionBudget)
			o.PodDisruptionBudget, obj = append(o.PodDisruptionBudget, p), p
		case "networking.k8s.io/v1 NetworkPolicy":
			n := new(networkingv1.NetworkPolicy)
			o.NetworkPolicies, obj = append(o.NetworkPolicies, n), n
		default:
			return nil, fmt.Errorf("document %d: unexpected kind %q (apiVersion %q)", i, tm.Kind, tm.APIVersion)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %v", i, tm.Kind, err)
		}
		o.Docs = append(o.Docs, doc)
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
