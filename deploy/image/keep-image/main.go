// Command keep-image builds Keep's container image (see package
// github.com/keepwasm/keep/deploy/image) without a container engine: it
// builds a static keep binary from the source tree, puts it in a minimal
// image and writes an OCI image layout, or pushes the image when -repo is
// given. It prints the image's manifest digest (sha256:...) on stdout, the
// digest that Kubernetes manifests pin. `make image` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/keepwasm/keep/deploy/image"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `Usage: keep-image [flags]

Builds keep's container image and prints its manifest digest.

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keep-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	src := fs.String("src", ".", "keep's source tree (`DIR` holding go.mod)")
	out := fs.String("out", "build/image", "write an OCI image layout to `DIR` (replaced if it is one already)")
	repo := fs.String("repo", "", "push to `REGISTRY/REPOSITORY` instead of writing a layout")
	tag := fs.String("tag", "", "with -repo, also tag the image `TAG`")
	arch := fs.String("arch", goruntime.GOARCH, "GOARCH of the image")
	version := fs.String("version", "devel", "keep version to build in (what `keep version` prints)")
	binary := fs.String("binary", "", "use this static linux keep `FILE` instead of building one")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "keep-image: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := build(*src, *out, *repo, *tag, *arch, *version, *binary, stdout); err != nil {
		fmt.Fprintf(stderr, "keep-image: %v\n", err)
		return 1
	}
	return 0
}

func build(src, out, repo, tag, arch, version, binary string, stdout io.Writer) error {
	ctx := context.Background()
	created, err := image.CreatedTime()
	if err != nil {
		return err
	}
	if tag != "" && repo == "" {
		return fmt.Errorf("-tag %q needs -repo", tag)
	}
	if binary == "" {
		tmp, err := os.MkdirTemp("", "keep-image-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		binary = filepath.Join(tmp, "keep")
		if err := image.BuildBinary(ctx, image.BinaryOptions{Src: src, Out: binary, Arch: arch, Version: version}); err != nil {
			return err
		}
	}
	img, err := image.Build(image.Options{Binary: binary, Arch: arch, Version: version, Created: created})
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if repo != "" {
		ref, err := image.Push(ctx, img, repo, tag)
		if err != nil {
			return fmt.Errorf("push %s: %v", repo, err)
		}
		fmt.Fprintf(os.Stderr, "keep-image: pushed %s\n", ref)
	} else {
		if err := image.WriteLayout(out, img, "keep:"+version); err != nil {
			return fmt.Errorf("-out %s: %v", out, err)
		}
		fmt.Fprintf(os.Stderr, "keep-image: wrote OCI image layout %s\n", out)
	}
	fmt.Fprintln(stdout, d.String())
	return nil
}
