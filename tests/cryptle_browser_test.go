package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserDeadline bounds everything one browser does in a test; it is a
// hang guard, not a timing assertion (the scenario takes seconds).
const browserDeadline = 3 * time.Minute

// chromiumPath finds the headless browser for the browser tests: Debian's
// chromium (.ci/run installs it), or $KEEP_CHROMIUM if set. Without it the
// test fails, unless KEEP_SKIP_BROWSER=1 says to skip it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "/usr/bin/chromium"}
	if p := os.Getenv("KEEP_CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("KEEP_SKIP_BROWSER") == "1" {
		t.Skipf("no %s, and KEEP_SKIP_BROWSER=1: skipping the browser test", strings.Join(names, " or "))
	}
	t.Fatalf("the browser test needs %s (Debian: apt-get install chromium; .ci/run installs it); KEEP_SKIP_BROWSER=1 skips it",
		strings.Join(names, " or "))
	return ""
}

// artifactsDir is where tests leave files worth keeping (screenshots):
// $KEEP_ARTIFACTS if set (make test sets it), else a temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KEEP_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("KEEP_ARTIFACTS: %v", err)
	}
	return dir
}

// browser is one headless Chromium with its own profile: one player.
type browser struct {
	name string          // the player's name
	tab  context.Context // the tab, without a deadline
	ctx  context.Context // the tab, with the test's deadline
	out  *syncBuffer     // the browser's own output and chromedp's errors
}

// newBrowser starts a fresh Chromium (its own process and --user-data-dir,
// so players share no cookies or storage) and opens one tab. It may run
// off the test's goroutine: it reports failure as an error.
func newBrowser(t *testing.T, execPath, name string) (*browser, error) {
	profile, err := os.MkdirTemp("", "keep-chromium-")
	if err != nil {
		return nil, err
	}
	b := &browser{name: name, out: &syncBuffer{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// The network here is closed: nothing may try to reach out.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
		chromedp.CombinedOutput(b.out),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(f string, a ...any) {
		fmt.Fprintf(b.out, "chromedp: "+f+"\n", a...)
	}))
	t.Cleanup(func() {
		bcancel()
		acancel() // waits for the browser to exit
		os.RemoveAll(profile)
	})
	// The first Run starts the browser and must not carry a deadline (it
	// would bound the browser's life); later actions use ctx.
	if err := chromedp.Do(bctx); err != nil {
		return nil, fmt.Errorf("starting %s for %s: %v\n%s", execPath, name, err, b.out.String())
	}
	ctx, cancel := context.WithTimeout(bctx, browserDeadline)
	t.Cleanup(cancel)
	b.tab, b.ctx = bctx, ctx
	return b, nil
}

// do runs steps in b's tab; on error it fails the test naming what was
// being done, with the page's text and the browser's output.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %s: %v\npage:\n%s\nbrowser output:\n%s", b.name, what, err, b.pageText(), b.out.String())
	}
}

// eval evaluates a JavaScript expression in b's tab and returns its value.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: evaluating %s: %v", b.name, expr, err)
	}
	return v
}

// pageText is the visible text of b's page, for failure messages.
func (b *browser) pageText() string {
	ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// until waits (within the browser's deadline) for a JavaScript condition
// on the page: a DOM state, never a fixed delay. args are the function's.
func until(fn string, args ...any) chromedp.Action[chromedp.Void] {
	p := chromedp.PollFunction[bool](fn,
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(browserDeadline),
		chromedp.WithPollingArgs(args...))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := p(ctx, t)
		return chromedp.Void{}, err
	}
}

// css is a CSS selector for the first matching element.
type css = chromedp.CSS

// Cryptle in two headless browsers, each player through his own keep
// proxy pinning the module: Alice sets a word, Bob sees its card, gets
// coloured tiles for a wrong guess and "Solved!" for the right one; both
// attestation panels show the module's `keep digest` and that the evidence
// is simulated. A proxy pinning another module serves no page at all.
// Bob's page is saved as a PNG (in $KEEP_ARTIFACTS when set).
func TestCryptleBrowser(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	dir := t.TempDir()
	guest := buildGuest(t, "cryptle")
	k := startKeep(t, 1, "--config", writeFile(t, dir, "Enarx.toml", listenConfig("tls", "")), guest)
	keepAddr := k.addrs["ingest"]

	r := keep(t, "", nil, "digest", guest)
	hash := strings.TrimSpace(r.stdout)
	if r.code != 0 || hash != digestOf(t, guest) {
		t.Fatalf("keep digest = %d %q %q, want %s", r.code, r.stdout, r.stderr, digestOf(t, guest))
	}
	policy := writeFile(t, dir, "policy.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", hash))
	proxyA := startProxy(t, "--policy", policy, "127.0.0.1:0", keepAddr)
	proxyB := startProxy(t, "--policy", policy, "127.0.0.1:0", keepAddr)
	other := writeFile(t, dir, "other.toml", fmt.Sprintf("allow_simulated = true\nmodule_hashes = [%q]\n", otherHash))
	proxyBad := startProxy(t, "--policy", other, "127.0.0.1:0", keepAddr)

	// Two browsers, started side by side (start-up is most of the time).
	names := []string{"Alice", "Bob"}
	bs := make([]*browser, len(names))
	errs := make(chan error, len(names))
	for i, name := range names {
		go func() {
			var err error
			bs[i], err = newBrowser(t, chromium, name)
			errs <- err
		}()
	}
	var startErr error
	for range names {
		startErr = errors.Join(startErr, <-errs)
	}
	if startErr != nil {
		t.Fatal(startErr)
	}
	alice, bob := bs[0], bs[1]
	shots := artifactsDir(t)
	t.Cleanup(func() {
		if t.Failed() {
			for _, b := range bs {
				if err := b.screenshot(t, filepath.Join(shots, "cryptle-failed-"+strings.ToLower(b.name)+".png")); err != nil {
					t.Log(err)
				}
			}
		}
	})

	// Alice joins through her proxy and sets a word.
	alice.do(t, "join and set a word",
		chromedp.Navigate("http://"+proxyA.addr+"/"),
		chromedp.WaitVisible(css("#join-name")),
		chromedp.SendKeys(css("#join-name"), "Alice"),
		chromedp.Click(css("#join-btn")),
		chromedp.WaitVisible(css("#word-input")),
		chromedp.SendKeys(css("#word-input"), "crane"),
		chromedp.Click(css("#set-word-btn")),
		until(`() => [...document.querySelectorAll("#my-words li .secret")].some(e => e.textContent === "crane")`),
	)

	// Bob joins through his and sees Alice's card, without the word.
	bob.do(t, "join and see Alice's word",
		chromedp.Navigate("http://"+proxyB.addr+"/"),
		chromedp.WaitVisible(css("#join-name")),
		chromedp.SendKeys(css("#join-name"), "Bob"),
		chromedp.Click(css("#join-btn")),
		chromedp.WaitVisible(css(".word-card[data-word-id]")),
	)
	card := eval[struct {
		ID    string `json:"id"`
		Owner string `json:"owner"`
		N     int    `json:"n"`
		Page  string `json:"page"`
	}](t, bob, `(() => { const c = document.querySelector(".word-card[data-word-id]");
		return {id: c.dataset.wordId, owner: c.querySelector(".owner").textContent,
			n: document.querySelectorAll(".word-card").length, page: document.documentElement.outerHTML}; })()`)
	if card.ID == "" || card.Owner != "by Alice" || card.N != 1 {
		t.Fatalf("Bob's word cards: id %q, owner %q, %d cards", card.ID, card.Owner, card.N)
	}
	if strings.Contains(strings.ToLower(card.Page), "crane") {
		t.Fatal("Bob's page holds the secret word before he solved it")
	}
	sel := fmt.Sprintf(".word-card[data-word-id=%q]", card.ID)
	rowColours := func(row int) []string {
		return eval[[]string](t, bob, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(t =>
			["green", "yellow", "grey"].filter(c => t.classList.contains(c)).join("+") + ":" + t.textContent)`,
			fmt.Sprintf("%s .row:nth-child(%d) .tile", sel, row)))
	}
	coloured := `(sel, row) => document.querySelectorAll(sel + " .row:nth-child(" + row + ") .tile:is(.green,.yellow,.grey)").length === 5`

	// A wrong guess colours the first row: r, e, c are in the word
	// elsewhere, a is in place, t is not in it.
	bob.do(t, "guess react",
		chromedp.SendKeys(css(sel+" .guess-input"), "react"),
		chromedp.Click(css(sel+" .guess-btn")),
		until(coloured, sel, 1),
	)
	if got, want := strings.Join(rowColours(1), " "), "yellow:r yellow:e green:a yellow:c grey:t"; got != want {
		t.Fatalf("tiles after guessing react = %s, want %s", got, want)
	}
	if s := eval[string](t, bob, fmt.Sprintf(`document.querySelector(%q).textContent`, sel+" .status")); s != "5 tries left" {
		t.Fatalf("status after one wrong guess = %q", s)
	}

	// The right word solves it; the scoreboard says so on both pages.
	bob.do(t, "guess crane",
		chromedp.SendKeys(css(sel+" .guess-input"), "crane"),
		chromedp.Click(css(sel+" .guess-btn")),
		until(`sel => document.querySelector(sel + " .status").textContent === "Solved!"`, sel),
		until(coloured, sel, 2),
	)
	if got, want := strings.Join(rowColours(2), " "), "green:c green:r green:a green:n green:e"; got != want {
		t.Fatalf("tiles after guessing crane = %s, want %s", got, want)
	}
	scoreboardHas := `(name, solved, tries) => [...document.querySelectorAll("#scoreboard tbody tr")].some(tr =>
		tr.querySelector(".name")?.textContent === name && tr.querySelector(".solved").textContent === String(solved) &&
		tr.querySelector(".tries").textContent === String(tries))`
	bob.do(t, "see the scoreboard", until(scoreboardHas, "Bob", 1, 2))
	// Alice's page polls the keep: her scoreboard and word list catch up.
	alice.do(t, "see Bob's solve",
		until(scoreboardHas, "Bob", 1, 2),
		// Bob, the only other player, solved it: he is not also counted as
		// playing.
		until(`() => document.querySelector("#my-words li .word-summary")?.textContent === " — 1 player: 1 solved"`),
	)

	// Both attestation panels lead with one plain sentence: checked by the
	// player's own proxy, but simulated, so nothing is guaranteed (never a
	// green "verified" alone); the hashes wait under a closed disclosure
	// that says to compare them with keep digest.
	type panel struct {
		State      string `json:"state"`
		Status     string `json:"status"`
		StatusCls  string `json:"status_class"`
		Summary    string `json:"summary"`
		Open       bool   `json:"open"`
		Details    string `json:"details"`
		TEE        string `json:"tee"`
		Simulated  string `json:"simulated"`
		Policy     string `json:"policy"`
		ModuleHash string `json:"module_hash"`
	}
	readPanel := `({state: document.querySelector("#attestation").dataset.state,
			status: document.querySelector("#att-status").textContent,
			status_class: document.querySelector("#att-status").className,
			summary: document.querySelector("#att-summary").textContent,
			open: document.querySelector("#att-details").open,
			details: document.querySelector("#att-details").textContent,
			tee: document.querySelector("#att-tee").textContent,
			simulated: document.querySelector("#att-simulated").textContent,
			policy: document.querySelector("#att-policy").textContent,
			module_hash: document.querySelector("#att-module-hash").textContent})`
	for _, b := range []*browser{alice, bob} {
		b.do(t, "wait for the attestation panel",
			until(`h => document.querySelector("#att-module-hash").textContent === h`, hash))
		p := eval[panel](t, b, readPanel)
		if p.State != "simulated" || !strings.Contains(p.Status, "SIMULATED") || !strings.Contains(p.Status, "nothing is guaranteed") ||
			strings.Contains(p.StatusCls, "ok") || p.TEE != "sim" || !strings.Contains(p.Simulated, "SIMULATED") ||
			p.Policy != "accepted" || p.ModuleHash != hash {
			t.Fatalf("%s: attestation panel = %+v, want simulated, not green, sim, SIMULATED, accepted, %s", b.name, p, hash)
		}
		for _, want := range []string{"keep proxy", "nothing is guaranteed", "simulated"} {
			if !strings.Contains(p.Summary, want) {
				t.Errorf("%s: the panel's sentence %q does not say %q", b.name, p.Summary, want)
			}
		}
		if strings.Contains(p.Summary, "sha384:") || p.Open || !strings.Contains(p.Details, "keep digest") {
			t.Errorf("%s: hashes not tucked under a closed disclosure that names keep digest: open=%v summary=%q", b.name, p.Open, p.Summary)
		}
	}

	// Screenshots of the panel, with its details open, at desktop width
	// and at 390 px (a phone), where nothing may overflow sideways.
	bob.do(t, "open the details", chromedp.Click(css("#att-details summary")),
		until(`() => document.querySelector("#att-details").open`))
	shot := filepath.Join(shots, "cryptle-player-b.png")
	if err := bob.screenshot(t, shot); err != nil {
		t.Fatal(err)
	}
	if err := bob.panelScreenshot(t, filepath.Join(shots, "cryptle-attestation-desktop.png")); err != nil {
		t.Fatal(err)
	}
	bob.do(t, "narrow the window to 390 px", chromedp.EmulateViewport(390, 844),
		until(`() => window.innerWidth === 390`))
	if w := eval[int](t, bob, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("at 390 px the page is %d px wide: it overflows sideways", w)
	}
	if w := eval[int](t, bob, `Math.ceil(document.querySelector("#attestation").getBoundingClientRect().right)`); w > 390 {
		t.Errorf("at 390 px the attestation panel reaches x=%d: it overflows", w)
	}
	if err := bob.panelScreenshot(t, filepath.Join(shots, "cryptle-attestation-390px.png")); err != nil {
		t.Fatal(err)
	}
	bob.do(t, "widen the window again", chromedp.EmulateViewport(1280, 1000))

	// A proxy pinning another module serves a browser no game, only the
	// proxy's 502 (TestCryptle checks the same with plain HTTP).
	tab, cancel := chromedp.NewContext(bob.ctx)
	defer cancel()
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse("http://"+proxyBad.addr+"/"))
	var loadErr *chromedp.LoadError
	switch {
	case errors.As(err, &loadErr): // an error page: nothing served either
	case err != nil:
		t.Fatalf("opening the refusing proxy's page: %v", err)
	case resp.Status != 502:
		t.Fatalf("the refusing proxy's page: status %d, want 502", resp.Status)
	}
	got, err := chromedp.Run(tab, chromedp.Evaluate[struct {
		Join bool   `json:"join"`
		Text string `json:"text"`
	}](`({join: document.querySelector("#join-name") !== null, text: document.body ? document.body.innerText : ""})`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Join || strings.Contains(got.Text, "Cryptle") || !strings.Contains(got.Text, "not in the policy") {
		t.Fatalf("a proxy pinning another module served the game: %q", got.Text)
	}
}

// panelScreenshot saves a PNG of b's attestation panel to path.
func (b *browser) panelScreenshot(t *testing.T, path string) error {
	ctx, cancel := context.WithTimeout(b.tab, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(css("#attestation")))
	if err != nil {
		return fmt.Errorf("%s: panel screenshot: %v", b.name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		return fmt.Errorf("%s: panel screenshot is not a PNG (%d bytes)", b.name, len(png))
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return err
	}
	t.Logf("screenshot of %s's attestation panel: %s", b.name, path)
	return nil
}

// screenshot saves a PNG of b's whole page to path; it also logs the path.
func (b *browser) screenshot(t *testing.T, path string) error {
	ctx, cancel := context.WithTimeout(b.tab, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("%s: screenshot: %v", b.name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		return fmt.Errorf("%s: screenshot is not a PNG (%d bytes)", b.name, len(png))
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return err
	}
	t.Logf("screenshot of %s's page: %s", b.name, path)
	return nil
}
