# Keep: a confidential WebAssembly runtime. `make run` and `make test` are the
# two commands the README promises; both work on a fresh machine that has Go
# (and, for the tests, wabt, clang-14 and chromium: .ci/run installs them).

GO       ?= go
BUILD    := build
KEEP     := $(BUILD)/keep
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -X github.com/keepwasm/keep/runtime.version=$(VERSION)
GUESTS   := $(patsubst guests/%/main.go,$(BUILD)/%.wasm,$(wildcard guests/*/main.go))
GOFILES  := $(shell find . -name '*.go' -not -path './build/*')

.PHONY: all build guests run cryptle test check unit e2e fuzz fuzz-smoke bench bench-start clean image deploy-test test-k8s

all: build guests

build: $(KEEP)

$(KEEP): $(GOFILES) go.mod go.sum
	$(GO) build -ldflags '$(LDFLAGS)' -o $@ ./cmd/keep

guests: $(GUESTS)

# -trimpath: a guest's digest (what policies pin) must not depend on the
# directory it was built in, so that anyone can rebuild and compare it.
$(BUILD)/%.wasm: guests/%/*.go
	GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -o $@ ./guests/$*

# The cryptle guest embeds its page and word list.
$(BUILD)/cryptle.wasm: $(wildcard guests/cryptle/static/*) guests/cryptle/words.txt

# run: build keep and the hello guest and run it on this machine (sim backend).
run: $(KEEP) $(BUILD)/hello.wasm
	$(KEEP) run $(BUILD)/hello.wasm Keep

# cryptle: the multi-player Wordle demo in a keep (sim backend) behind
# keep proxy, until Ctrl-C (scripts/cryptle.sh; README). The keep listens on
# 127.0.0.1:$(CRYPTLE_PORT) and the first player's proxy on
# 127.0.0.1:$(PROXY_PORT):  make cryptle CRYPTLE_PORT=9443 PROXY_PORT=9080
# On a terminal the script runs as its own foreground job (bash -m), so
# that Ctrl-C reaches it and not make: it stops both and exits 0.
CRYPTLE_PORT ?= 8443
PROXY_PORT   ?= 8080
CRYPTLE_CONFIG := $(BUILD)/cryptle-enarx-$(CRYPTLE_PORT).toml
CRYPTLE_POLICY := $(BUILD)/cryptle-policy-$(CRYPTLE_PORT).toml
cryptle: $(KEEP) $(BUILD)/cryptle.wasm $(CRYPTLE_CONFIG) $(CRYPTLE_POLICY)
	@export KEEP=$(KEEP) CRYPTLE_WASM=$(BUILD)/cryptle.wasm CRYPTLE_CONFIG=$(CRYPTLE_CONFIG) \
	  CRYPTLE_POLICY=$(CRYPTLE_POLICY) CRYPTLE_KEEP=127.0.0.1:$(CRYPTLE_PORT) CRYPTLE_PROXY=127.0.0.1:$(PROXY_PORT); \
	if [ -t 0 ]; then bash -m -c 'scripts/cryptle.sh; exit $$?'; else scripts/cryptle.sh; fi

# The keep's Enarx.toml for a port: guests/cryptle/Enarx.toml with its
# listener's port replaced (the policy pins this file's SHA-384).
$(BUILD)/cryptle-enarx-%.toml: guests/cryptle/Enarx.toml
	@case '$*' in ''|*[!0-9]*) echo "CRYPTLE_PORT=$* is not a port number"; exit 1;; esac
	@[ '$*' -ge 1 ] && [ '$*' -le 65535 ] || { echo "CRYPTLE_PORT=$* is not a port (1-65535)"; exit 1; }
	@mkdir -p $(BUILD)
	sed -e 's/^port = 8443$$/port = $*/' $< > $@.tmp && grep -q '^port = $*$$' $@.tmp && mv $@.tmp $@

# The players' policy: examples/cryptle-policy.toml with this build's module
# digest and that config's SHA-384 filled in.
$(BUILD)/cryptle-policy-%.toml: examples/cryptle-policy.toml $(BUILD)/cryptle.wasm $(BUILD)/cryptle-enarx-%.toml $(KEEP)
	module=$$($(KEEP) digest $(BUILD)/cryptle.wasm) && \
	config=sha384:$$(sha384sum < $(BUILD)/cryptle-enarx-$*.toml | cut -d' ' -f1) && \
	sed -e "s|@MODULE_HASH@|$$module|" -e "s|@CONFIG_HASH@|$$config|" $< > $@.tmp && mv $@.tmp $@

# test: static checks, unit tests (with -race), then end-to-end tests through
# the keep binary: WAT exit-code/error tests, bad input, WASI conformance,
# Cryptle in headless Chromium (its screenshot goes to build/artifacts/).
test: check unit deploy-test e2e fuzz-smoke

check:
	@command -v wat2wasm >/dev/null || { echo "make test needs wat2wasm (Debian: apt-get install wabt; .ci/run installs it)"; exit 1; }
	@command -v chromium >/dev/null || [ "$$KEEP_SKIP_BROWSER" = 1 ] || { echo "make test needs chromium for the browser test (Debian: apt-get install chromium; .ci/run installs it), or KEEP_SKIP_BROWSER=1 to skip it"; exit 1; }
	@test -d ../shared/wasi-testsuite || { echo "make test needs ../shared beside the repository"; exit 1; }
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./runtime/... ./cmd/... ./wasi/... ./netattest/... ./keeps/... ./internal/... ./guests/... ./ca/... ./caverify/... ./metrics/... ./health/... ./oci/...

ARTIFACTS := $(CURDIR)/$(BUILD)/artifacts
e2e:
	KEEP_ARTIFACTS=$(ARTIFACTS) $(GO) test -count=1 -timeout 50m ./tests/...

# fuzz-smoke: every fuzz target briefly (part of make test); fuzz: longer.
fuzz-smoke:
	FUZZTIME=300x scripts/fuzz.sh

FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# bench: start-up, compute, HTTP, bulk TLS, idle CPU and RA-TLS verification
# against wazero and native Go; writes docs/BENCHMARKS.md (not part of make
# test; needs wrk and hey, see bench/run.sh). BENCH_ARGS go to the harness.
bench:
	bench/run.sh $(BENCH_ARGS)

# bench-start: cold vs cached start of the hello guest (not part of make test).
bench-start:
	$(GO) test ./runtime -run '^$$' -bench 'Start' -benchtime 10x

# image: keep's container image (static binary, user 65532, CA roots, no
# shell), built reproducibly without a container engine (deploy/image). It
# writes an OCI image layout to $(IMAGE_OUT), or pushes to $(IMAGE_REPO)
# (REGISTRY/REPOSITORY, credentials from ~/.docker/config.json; tagged
# $(IMAGE_TAG) if set), and prints the manifest digest sha256:... that the
# Kubernetes manifests pin. SOURCE_DATE_EPOCH sets the image time (default 0).
IMAGE_OUT  ?= $(BUILD)/image
IMAGE_REPO ?=
IMAGE_TAG  ?=
image:
	$(GO) run ./deploy/image/keep-image -version $(VERSION) \
	  $(if $(IMAGE_REPO),-repo $(IMAGE_REPO) $(if $(IMAGE_TAG),-tag $(IMAGE_TAG)),-out $(IMAGE_OUT))

# deploy-test (part of make test): the image builder's tests, and every
# Kubernetes overlay rendered with kustomize and decoded strictly into
# k8s.io/api types (deploy/kubernetes).
deploy-test:
	$(GO) test -count=1 ./deploy/...

# test-k8s (not part of make test: docs/KUBERNETES.md says why): builds
# kube-apiserver and etcd from the Go module proxy once into $(K8S_BIN)
# (outside build/, so make clean keeps them), starts them with envtest and
# server-side dry-run applies every overlay with strict field validation.
K8S_BIN ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/keep/k8s-bin/v1.37.2-etcd3.7.3
test-k8s:
	deploy/kubernetes/bin/build.sh $(K8S_BIN)
	KEEP_K8S_BIN=$(K8S_BIN) $(GO) test -count=1 -run TestAPIServerDryRun -v ./deploy/kubernetes

clean:
	rm -rf $(BUILD)
