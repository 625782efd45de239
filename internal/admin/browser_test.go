package admin

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"perfect/store"
)

// chromiumPath finds a Chromium or Chrome binary: $CHROMIUM_BIN first, then
// the usual names on PATH.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_BIN"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts headless Chromium with a fresh profile and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no chromium binary found (apt-get install chromium, or set CHROMIUM_BIN): browser test skipped")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelTab)
	return tab
}

// screenshotDir is $ADMIN_SCREENSHOTS_DIR, or the test's artifact directory
// (kept with `go test -artifacts`).
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("ADMIN_SCREENSHOTS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("create screenshot dir: %v", err)
		}
		return d
	}
	return t.ArtifactDir()
}

func screenshot(t *testing.T, dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tgt)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			return err
		}
		t.Logf("screenshot: %s", path)
		return nil
	})
}

// css is a CSS selector for the first matching element.
type css = chromedp.CSS

// TestBrowser_CancelFromTimeline signs in with headless Chromium, finds the
// fixture contact, opens its timeline, cancels one planned email through
// the confirmation page, and checks the store.
func TestBrowser_CancelFromTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	tab := browser(t)
	hs := newHarness(t, harnessOpts{token: testToken})
	res := hs.startSignup("lead_nurture_critical")
	email := res.Steps[0].Email
	target := res.Steps[1] // E3, planned
	srv := httptest.NewServer(hs.h.Handler())
	t.Cleanup(srv.Close)
	dir := screenshotDir(t)
	stepSel := "#step-" + target.ID

	err := chromedp.Do(tab,
		chromedp.Navigate(srv.URL+"/admin/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), testToken),
		chromedp.Click(css(".login button[type=submit]")),
		chromedp.WaitVisible(css("section.modes")),
		screenshot(t, dir, "overview.png"),

		chromedp.SendKeys(css("form.search input[name=q]"), email),
		chromedp.Submit(css("form.search input[name=q]")),
		chromedp.WaitVisible(css("p.contacts a")),
		chromedp.Click(css("p.contacts a")),
		chromedp.WaitVisible(css("ol.timeline")),
		screenshot(t, dir, "timeline.png"),

		chromedp.Click(css(stepSel+" button.danger")),
		chromedp.WaitVisible(css("section.confirm")),
		chromedp.SendKeys(css("#reason"), "asked to stop by phone"),
		screenshot(t, dir, "confirm.png"),
		chromedp.Click(css("section.confirm button.danger")),
		chromedp.WaitVisible(css("p.flash")),
		screenshot(t, dir, "timeline-after-cancel.png"),
	)
	if err != nil {
		t.Fatalf("browser run: %v", err)
	}
	flash, err := chromedp.Run(tab, chromedp.Text(css("p.flash")))
	if err != nil {
		t.Fatalf("read flash: %v", err)
	}
	badge, err := chromedp.Run(tab, chromedp.Text(css(stepSel+" .badge")))
	if err != nil {
		t.Fatalf("read badge: %v", err)
	}
	if flash != flashes["cancel"] || strings.TrimSpace(badge) != "cancelled" {
		t.Errorf("page shows flash %q and badge %q, want the cancel message and cancelled", flash, badge)
	}

	got := hs.step(target.ID)
	if got.Status != store.StatusCancelled || got.CancelReason != "asked to stop by phone" {
		t.Fatalf("stored step = %s (%q), want cancelled with the reason", got.Status, got.CancelReason)
	}
	if by := got.History[len(got.History)-1].By; by != "admin@127.0.0.1" {
		t.Errorf("cancelled by %q, want admin@127.0.0.1", by)
	}
	for _, s := range res.Steps {
		if s.ID != target.ID && hs.step(s.ID).Status != store.StatusPlanned {
			t.Errorf("step %s changed too", s.ID)
		}
	}

	// The step page frames the email as it will be sent.
	err = chromedp.Do(tab,
		chromedp.Navigate(srv.URL+"/admin/steps/"+res.Steps[0].ID),
		chromedp.WaitVisible(css("iframe.preview")),
		screenshot(t, dir, "step.png"),
	)
	if err != nil {
		t.Fatalf("browser run: %v", err)
	}

	// The queue view agrees with the store.
	err = chromedp.Do(tab,
		chromedp.Navigate(srv.URL+"/admin/steps?status=cancelled"),
		chromedp.WaitVisible(css("table.list")),
	)
	if err != nil {
		t.Fatalf("browser run: %v", err)
	}
	rows, err := chromedp.Run(tab, chromedp.Text(css("table.list tbody")))
	if err != nil {
		t.Fatalf("read list: %v", err)
	}
	if !strings.Contains(rows, email) || !strings.Contains(rows, target.Template) {
		t.Errorf("cancelled list = %q, want the cancelled email", rows)
	}
}
