package ui_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"larder/api"
	"larder/broker"
	"larder/broker/brokertest"
	"larder/broker/ui"
	"larder/fault"
	"larder/internal/testkit"
)

// chromium finds Debian's chromium. Without it the browser tests skip,
// except in CI (CI=1), where its absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: CI installs it (.ci/run: apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium): the dashboard's browser tests skip outside CI")
	return ""
}

// pageLog collects what the pages report as errors: script exceptions
// and console errors (a CSP violation is one).
type pageLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *pageLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

// reset forgets what was reported (the errors a check caused on purpose).
func (l *pageLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = nil
}

func (l *pageLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// newBrowser starts one headless chromium for a test, closed with it.
func newBrowser(t *testing.T) (context.Context, *pageLog) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	logs := &pageLog{}
	messages := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				logs.add(m.String())
			}
		}
	})
	t.Cleanup(func() { cancel(); cancelAlloc(); wg.Wait() })
	return ctx, logs
}

// do runs steps in the browser within limit.
func do(t *testing.T, ctx context.Context, limit time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for i, step := range steps {
		if err := chromedp.Do(c, step); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s: step %d of %d (at %s): %v; the page says:\n%s", what, i+1, len(steps), loc, err, body)
		}
	}
}

// read runs one action that reads something from the page.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// TestDashboardInBrowser drives the dashboard in headless chromium against
// a real broker and real nodes: a wrong token cannot log in, the right one
// shows the add-on, the app page follows changes made through the API
// without a reload, the add-on's charts have points, an add-on is created
// and destroyed through the forms (the typed name checked), and a POST
// without the CSRF token is refused.
func TestDashboardInBrowser(t *testing.T) {
	ctx, logs := newBrowser(t)
	d := newDash(t, ui.Config{}, func(c *broker.Config) { c.Metrics.Interval = 200 * time.Millisecond })
	d.app("web")
	cache := d.addon("web", "larder-redis:mini", "cache")
	base := d.srv.URL + "/ui"
	shots := os.Getenv("LARDER_UI_SCREENSHOTS") // a directory: save the docs' screenshots there
	type css = chromedp.CSS

	if !t.Run("wrong token cannot log in", func(t *testing.T) {
		do(t, ctx, 15*time.Second, "log in with a wrong token",
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(chromedp.ID("token")),
			screenshot(shots, "dashboard-login", nil),
			chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
			chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(css(".flash-error")))
		msg := read(t, ctx, "the message", chromedp.Text(css(".flash-error")))
		loc := read(t, ctx, "the location", chromedp.Location())
		if !strings.Contains(msg, "not this broker's API token") || !strings.HasSuffix(loc, "/ui/login") {
			t.Errorf("after a wrong token: %q at %s", msg, loc)
		}
	}) {
		return
	}

	// The wrong token's answer is a 401, which the browser reports.
	logs.reset()

	if !t.Run("log in and see the add-on", func(t *testing.T) {
		do(t, ctx, 15*time.Second, "log in",
			chromedp.SendKeys(chromedp.ID("token"), brokertest.Token),
			chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(css(`[data-app="web"]`)),
			chromedp.Click(css(`[data-app="web"] a`)),
			chromedp.WaitVisible(css(`tr[data-addon="cache"][data-state="provisioned"]`)))
	}) {
		return
	}

	if !t.Run("live view follows the API", func(t *testing.T) {
		do(t, ctx, 15*time.Second, "follow the feed", chromedp.WaitVisible(css("body.is-live")))
		read(t, ctx, "mark the page", chromedp.Evaluate[int](`window.larderMarker = 42`))
		if _, err := d.api.CreateAddon(context.Background(), "web", api.AddonCreate{Plan: "larder-redis:mini", Name: "live"}); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, 30*time.Second, "see the API's add-on appear",
			chromedp.WaitVisible(css(`tr[data-addon="live"][data-state="provisioned"]`)))
		if marker := read(t, ctx, "read the mark", chromedp.Evaluate[int](`window.larderMarker || 0`)); marker != 42 {
			t.Errorf("the page was reloaded (marker %d): the live view must update it in place", marker)
		}
	}) {
		return
	}

	if !t.Run("chart has points", func(t *testing.T) {
		const memory = `figure[data-metric="memory_used_bytes"]`
		deadline := time.Now().Add(20 * time.Second)
		for {
			traffic(t, d, cache.Name)
			do(t, ctx, 15*time.Second, "open the add-on page",
				chromedp.Navigate(base+"/apps/web/addons/cache"),
				chromedp.WaitVisible(css(memory)))
			points := read(t, ctx, "the chart's points", chromedp.AttributeValue(css(memory), "data-points"))
			if n, _ := strconv.Atoi(points.Value); n >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the memory chart has %s points after 20 s of sampling every 200 ms", points.Value)
			}
		}
		lines := read(t, ctx, "the chart's lines", chromedp.Nodes(chromedp.CSSAll(memory+" polyline.line")))
		limits := read(t, ctx, "the chart's limit", chromedp.Nodes(chromedp.CSSAll(memory+" line.limit")))
		if len(lines) == 0 || len(limits) != 1 {
			t.Errorf("the memory chart has %d lines and %d limits, want some and 1", len(lines), len(limits))
		}
	}) {
		return
	}

	if !t.Run("create an add-on through the form", func(t *testing.T) {
		do(t, ctx, 30*time.Second, "create made-in-ui",
			chromedp.Navigate(base+"/apps/web"),
			chromedp.WaitVisible(chromedp.ID("create-addon")),
			chromedp.SetValue(chromedp.ID("plan"), "larder-redis:mini"),
			chromedp.SendKeys(chromedp.ID("addon-name"), "made-in-ui"),
			chromedp.Click(css(`#create-addon button[type="submit"]`)),
			chromedp.WaitVisible(css(`tr[data-addon="made-in-ui"][data-state="provisioned"]`)))
		if a, err := d.api.Addon(context.Background(), "web", "made-in-ui"); err != nil || a.Plan != "larder-redis:mini" {
			t.Errorf("made-in-ui through the API: %+v, %v", a, err)
		}
	}) {
		return
	}

	if !t.Run("destroy needs the typed name", func(t *testing.T) {
		do(t, ctx, 15*time.Second, "destroy with a wrong name",
			chromedp.Navigate(base+"/apps/web/addons/made-in-ui"),
			chromedp.WaitVisible(chromedp.ID("confirm-name")),
			chromedp.SendKeys(chromedp.ID("confirm-name"), "made-in-u"),
			chromedp.Click(css(`.danger button[type="submit"]`)),
			chromedp.WaitVisible(css(".flash-error")))
		if msg := read(t, ctx, "the message", chromedp.Text(css(".flash-error"))); !strings.Contains(msg, "Not destroyed") {
			t.Errorf("wrong name: %q", msg)
		}
		if a, err := d.api.Addon(context.Background(), "web", "made-in-ui"); err != nil || a.State != api.StateProvisioned {
			t.Fatalf("after a wrong name: %+v, %v; want it untouched", a, err)
		}
		do(t, ctx, 30*time.Second, "destroy with its name",
			chromedp.SendKeys(chromedp.ID("confirm-name"), "made-in-ui"),
			chromedp.Click(css(`.danger button[type="submit"]`)),
			chromedp.WaitVisible(css(`.op[data-op-state="succeeded"]`)))
		if _, err := d.api.Addon(context.Background(), "web", "made-in-ui"); !errors.Is(err, fault.NotFound) {
			t.Errorf("after destroy: %v, want not found", err)
		}
		do(t, ctx, 15*time.Second, "see the add-on go", chromedp.WaitNotPresent(css(`tr[data-addon="made-in-ui"]`)))
	}) {
		return
	}

	// The pages so far reported no error (a CSP violation, a failed
	// script, a missing file); the next check's refusal is one, on purpose.
	if l := logs.String(); l != "" {
		t.Fatalf("the pages reported errors:\n%s", l)
	}

	if !t.Run("a POST without the CSRF token is refused", func(t *testing.T) {
		status := read(t, ctx, "post without the token", chromedp.Evaluate[int](`fetch('/ui/apps', {method: 'POST',
			headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=no-csrf'}).then(r => r.status)`,
			func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
		if status != 403 {
			t.Errorf("status %d, want 403", status)
		}
		if _, err := d.api.App(context.Background(), "no-csrf"); !errors.Is(err, fault.NotFound) {
			t.Errorf("app no-csrf: %v, want not found", err)
		}
	}) {
		return
	}

	if shots != "" {
		t.Run("screenshots", func(t *testing.T) { takeScreenshots(t, ctx, d, shots) })
	}
}

// traffic writes and reads keys on the add-on, so its figures move.
func traffic(t *testing.T, d *dash, addon string) {
	t.Helper()
	ctx := context.Background()
	rc := brokertest.AddonClient(t, d.api, "web", addon)
	for i := range 200 {
		rc.Set(ctx, fmt.Sprint("k", i), strings.Repeat("v", 2000), 0)
		rc.Get(ctx, fmt.Sprint("k", i/2))
	}
}

// screenshot saves what a viewport of size shows of the page (its top) as
// dir/name.png when dir is set; a nil size keeps the window's.
func screenshot(dir, name string, size *[2]int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if dir == "" {
			return nil
		}
		if size != nil {
			if _, err := chromedp.EmulateViewport(size[0], size[1])(ctx, t); err != nil {
				return err
			}
		}
		buf, err := chromedp.CaptureScreenshot()(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// takeScreenshots saves the docs' screenshots: the app page with an HA
// add-on and the add-on page with its charts, wide and narrow.
func takeScreenshots(t *testing.T, ctx context.Context, d *dash, dir string) {
	d.addon("web", "larder-redis:premium-0", "sessions")
	testkit.WaitFor(t, 30*time.Second, func() error {
		infos, err := d.api.RedisInfo(context.Background(), "web", "sessions")
		if err != nil || len(infos) != 1 || infos[0].HA == nil || !infos[0].HA.InSync {
			return fmt.Errorf("sessions not in sync: %+v, %v", infos, err)
		}
		return nil
	})
	traffic(t, d, "cache")
	base := d.srv.URL + "/ui"
	for _, v := range []struct {
		suffix     string
		app, addon [2]int64
	}{{"", [2]int64{1280, 1060}, [2]int64{1280, 1260}}, {"-390", [2]int64{390, 1500}, [2]int64{390, 1500}}} {
		do(t, ctx, 30*time.Second, "screenshots"+v.suffix,
			chromedp.EmulateViewport(v.app[0], v.app[1]),
			chromedp.Navigate(base+"/apps/web"),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-addon="sessions"]`)),
			screenshot(dir, "dashboard-app"+v.suffix, &v.app),
			chromedp.Navigate(base+"/apps/web/addons/cache"),
			chromedp.WaitVisible(chromedp.CSS(`figure[data-metric="memory_used_bytes"]`)),
			screenshot(dir, "dashboard-addon"+v.suffix, &v.addon))
	}
}
