package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the web dashboard (/ui/) in headless Chromium
// (Debian package chromium; .ci/run installs it) against devstack.
// UPDATE_SCREENSHOTS=1 also writes the screenshots to docs/screenshots/.

// chromiumPath finds the browser; the test fails without it (it is part of
// make test, not optional).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install the Debian package chromium (.ci/run does), or set CHROMIUM to the browser's path")
	return ""
}

// browser is one headless Chromium tab with its console errors collected.
type browser struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	mu      sync.Mutex
	errs    []string
	allowed []*regexp.Regexp // network errors a step expects (a 401, a 400)
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	// Chromium sends DOM events this chromedp version does not know (the
	// dialogs' top layer): not errors of the page.
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "unhandled node event") {
			t.Log("chromedp: " + msg)
		}
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: t.ArtifactDir()}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.addErr("console." + string(e.Type) + ": " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.addErr("exception: " + msg)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				b.addErr(fmt.Sprintf("log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	})
	// The first Run starts the browser and must not have a timeout: its
	// context's end would stop the browser.
	if err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error { return cdplog.Enable().Do(ctx) })); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) addErr(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, re := range b.allowed {
		if re.MatchString(msg) {
			return
		}
	}
	b.errs = append(b.errs, msg)
}

// allow accepts network errors matching re from now on (the step that
// provokes them says why).
func (b *browser) allow(re string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, regexp.MustCompile(re))
}

func (b *browser) run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var loc string
		_ = chromedp.Run(b.ctx, chromedp.Location(&loc))
		b.screenshot("failed-" + strings.ReplaceAll(step, " ", "-"))
		b.t.Fatalf("%s: %v (at %s)", step, err, loc)
	}
}

// screenshot saves a full-page PNG into the test's artifact directory and,
// with UPDATE_SCREENSHOTS=1, into docs/screenshots/.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	dirs := []string{b.shots}
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		dirs = append(dirs, filepath.Join("..", "docs", "screenshots"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o600); err != nil {
			b.t.Fatal(err)
		}
	}
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// waitJS polls a JavaScript expression until it is true.
// clickJS clicks the element with this id once it is there and enabled,
// finding it when it clicks: a page that re-renders as the job changes
// (the job page follows the watch stream) can replace the node between
// chromedp.Click's query and its click ("Could not find node with given
// id").
func clickJS(id string) chromedp.Action {
	return waitJS(fmt.Sprintf(`(() => { const e = document.getElementById(%q); if (!e || e.disabled) return false; e.click(); return true })()`, id))
}

func waitJS(expr string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			var ok bool
			if err := chromedp.Evaluate(expr, &ok).Do(ctx); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(100 * time.Millisecond): // polling interval
			}
		}
	})
}

// setValue sets a form field as typing would (an input event follows).
func setValue(sel, value string) chromedp.Action {
	js, _ := json.Marshal(value)
	sjs, _ := json.Marshal(sel)
	return chromedp.Evaluate(fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s; el.dispatchEvent(new Event("input", {bubbles: true})); return true })()`, sjs, js), nil)
}

func TestUI(t *testing.T) {
	s := startStack(t, 1, 2, "JAEGER_UI_URL=http://jaeger.test:16686")

	t.Run("http", func(t *testing.T) {
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(s.baseURL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
			t.Errorf("GET /: %d Location %q, want 302 /ui/", resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, c := range []struct{ path, want string }{
			{"/ui/", `<div id="toast"`},
			{"/ui/config.json", `{"jaeger_ui_url":"http://jaeger.test:16686","trace_service":"client-application"}`},
			{"/docs/", `swagger-ui-bundle.js`},
			{"/docs/openapi.json", `/v1/cluster/stats`},
			{"/docs/openapi.json", `/v1/jobs/{id}:watch`},
		} {
			path, want := c.path, c.want
			r := s.do(t, "GET", path, "", nil, "-")
			if r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
				t.Errorf("GET %s: %d, want 200 with %q; got %.200s", path, r.status, want, r.body)
			}
		}
		// Unknown paths still get the gateway's 404, and the API its 401.
		if r := s.do(t, "GET", "/nope", "", nil, "-"); r.status != http.StatusNotFound {
			t.Errorf("GET /nope: %d, want 404", r.status)
		}
		if r := s.do(t, "GET", "/v1/jobs", "", nil, "-"); r.status != http.StatusUnauthorized {
			t.Errorf("GET /v1/jobs without token: %d, want 401", r.status)
		}
	})

	// A metric with a few samples for the metrics page.
	for i, v := range []float64{12.5, 20, 31.25, 8, 17} {
		body := fmt.Sprintf(`{"metric_name":"ui.demo.latency_ms","value":%g,"time":"%s"}`, v, time.Now().Add(time.Duration(i-5)*time.Second).UTC().Format(time.RFC3339Nano))
		if r := s.do(t, "POST", "/v1/metrics", "application/json", []byte(body)); r.status != http.StatusOK {
			t.Fatalf("record metric: %d %s", r.status, r.body)
		}
	}

	b := newBrowser(t)

	// Sign in: / redirects to /ui/, which asks for the token. A wrong token
	// is refused (401) and the prompt comes back.
	b.allow(`log \(network\): Failed to load resource: the server responded with a status of 401`)
	b.run("open", chromedp.Navigate(s.baseURL()+"/"), chromedp.WaitVisible("#login-token", chromedp.ByID))
	var loc string
	b.run("location", chromedp.Location(&loc))
	if !strings.HasSuffix(strings.SplitN(loc, "#", 2)[0], "/ui/") {
		t.Errorf("/ went to %s, want /ui/", loc)
	}
	b.screenshot("login")
	b.run("wrong token",
		chromedp.SendKeys("#login-token", "not-the-token\r", chromedp.ByID),
		waitJS(`document.getElementById("login").open && document.getElementById("login-reason").textContent.includes("401")`))
	b.run("sign in",
		chromedp.SendKeys("#login-token", token+"\r", chromedp.ByID),
		chromedp.WaitNotVisible("#login", chromedp.ByID),
		chromedp.WaitVisible("#ops", chromedp.ByID))
	var stored string
	b.run("token stored", chromedp.Evaluate(`sessionStorage.getItem("jobplane.token")`, &stored))
	if stored != token {
		t.Fatalf("session storage token %q, want %q", stored, token)
	}

	// Keyboard: a page moves focus to its heading; Tab then reaches the
	// page's first control, with a visible focus ring.
	var focus struct {
		Text    string `json:"text"`
		Outline string `json:"outline"`
	}
	b.run("keyboard",
		waitJS(`document.activeElement.tagName === "H1"`),
		chromedp.KeyEvent("\t"),
		chromedp.Evaluate(`({text: document.activeElement.textContent, outline: getComputedStyle(document.activeElement).outlineStyle})`, &focus))
	if focus.Text != "New job" || focus.Outline == "none" {
		t.Errorf("Tab from the heading focused %q with outline %q, want New job with a visible outline", focus.Text, focus.Outline)
	}

	// A blank line is a validation error shown next to line 2.
	b.allow(`log \(network\): Failed to load resource: the server responded with a status of 400`)
	var note string
	b.run("validation error",
		setValue("#ops", "1 + 2\n   \n3 * 4\n"),
		chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(".note", chromedp.ByQuery),
		chromedp.Text(".note", &note, chromedp.ByQuery),
		waitJS(`[...document.querySelectorAll(".ln.bad")].map(e => e.textContent).join() === "2"`),
		waitJS(`document.querySelector("#ops-errors").textContent.includes("Line 2")`),
		waitJS(`parseFloat(document.querySelector(".note").style.top) === 22`))
	if !strings.Contains(note, "must not be blank") {
		t.Errorf("note next to line 2 = %q, want the blank-line violation", note)
	}
	b.screenshot("jobs-validation-error")

	// Create a job from the form and watch it complete live.
	b.run("create job",
		setValue("#ops", "1 + 2\n2 * (3 + 4)\n10 / 4.0\n(1 + 2) * 3\n1 + 2 + 3 - 7 * 2 +\n"),
		chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		waitJS(`/^#\/jobs\/[0-9a-f-]{36}$/.test(location.hash)`),
		waitJS(`!!document.querySelector(".head-row .s-failed, .head-row .s-succeeded")`),
		waitJS(`document.querySelectorAll("table.ops tbody tr").length === 5`),
		waitJS(`document.querySelector(".progress").getAttribute("aria-valuenow") === "5"`))
	var jobID, traceHref string
	b.run("job page",
		chromedp.Evaluate(`location.hash.split("/")[2]`, &jobID),
		chromedp.AttributeValue("#trace-link", "href", &traceHref, nil, chromedp.ByID),
		waitJS(`document.querySelector("table.ops tbody").textContent.includes("missing its right operand")`),
		waitJS(`!!document.querySelector("#agg-title")`))
	if !strings.HasPrefix(traceHref, "http://jaeger.test:16686/search?service=client-application&tags=") || !strings.Contains(traceHref, jobID) {
		t.Errorf("trace link %q, want a Jaeger search for job %s", traceHref, jobID)
	}
	if j := s.getJob(t, jobID); j.TotalOperations != 5 || j.OperationCounts.Succeeded != 4 || j.OperationCounts.Failed != 1 {
		t.Errorf("job created from the form: %+v, want 5 operations, 4 succeeded, 1 failed", j)
	}
	b.screenshot("job")

	// Open an operation.
	var result string
	b.run("operation",
		chromedp.Click(`table.ops tbody tr:nth-child(2) a`, chromedp.ByQuery),
		chromedp.WaitVisible("#op-result", chromedp.ByID),
		chromedp.Text("#op-result", &result, chromedp.ByID))
	if result != "14" {
		t.Errorf("operation 1 (2 * (3 + 4)) result %q, want 14", result)
	}
	b.screenshot("operation")

	// The list shows the job, with counts by state.
	b.run("jobs list",
		chromedp.Navigate(s.baseURL()+"/ui/#/jobs"),
		waitJS(fmt.Sprintf(`document.querySelector("table.jobs tbody").textContent.includes(%q)`, jobID)),
		waitJS(`document.querySelector(".counts .s-failed .n").textContent === "1"`))
	b.screenshot("jobs")
	b.run("state filter",
		chromedp.SetValue("#state-filter", "SUCCEEDED", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("state-filter").dispatchEvent(new Event("change")), true`, nil),
		waitJS(`document.querySelector("table.jobs tbody").textContent.includes("No succeeded jobs")`))

	// Cancel a running job: 20,000 operations in one partition (in order)
	// take long enough (10,000 could all finish, on 2026-12-05's faster
	// servers, before the page had its cancel button).
	var body strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&body, "%d + 1\n", i)
	}
	long := s.createText(t, body.String(), "partition_key=ui-cancel")
	b.run("cancel",
		chromedp.Navigate(s.baseURL()+"/ui/#/jobs/"+long.ID),
		chromedp.WaitEnabled("#cancel-job", chromedp.ByID),
		waitJS(`document.querySelector(".live").textContent.includes("live")`),
		clickJS("cancel-job"),
		waitJS(`document.getElementById("toast").textContent === "Job cancelled"`))
	// The job turns CANCELLED once its last pending operation is; the page
	// follows through the watch stream.
	if j := s.awaitJob(t, long.ID, 3*time.Minute); j.State != "JOB_STATE_CANCELLED" || j.OperationCounts.Cancelled == 0 {
		t.Errorf("after Cancel in the UI: %+v, want CANCELLED", j)
	}
	b.run("cancelled",
		waitJS(`!!document.querySelector(".head-row .s-cancelled")`),
		waitJS(`document.querySelector("#cancel-job").disabled`))
	b.screenshot("job-cancelled")

	// Delete it (with the confirmation dialog).
	b.run("delete",
		clickJS("delete-job"),
		chromedp.WaitVisible("#confirm-yes", chromedp.ByID),
		chromedp.Click("#confirm-yes", chromedp.ByID),
		waitJS(`location.hash === "#/jobs"`))
	if r := s.do(t, "GET", "/v1/jobs/"+long.ID, "", nil); r.status != http.StatusNotFound {
		t.Errorf("after Delete in the UI: GET job %d, want 404", r.status)
	}

	// Cluster: 1 client and 2 servers.
	b.run("cluster",
		chromedp.Navigate(s.baseURL()+"/ui/#/cluster"),
		waitJS(`document.querySelectorAll("#nodes tbody tr").length === 3`),
		waitJS(`document.querySelector("#nodes tbody").textContent.includes("server")`),
		waitJS(`!!document.querySelector("#lag")`))
	b.screenshot("cluster")

	// Throughput: a job in the background so that the charts have data.
	var load strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&load, "%d * 2\n", i)
	}
	b.run("throughput", chromedp.Navigate(s.baseURL()+"/ui/#/throughput"), chromedp.WaitVisible(".uplot canvas", chromedp.ByQuery))
	s.createText(t, load.String())
	b.run("throughput data", waitJS(`parseFloat(document.getElementById("ops-rate")?.textContent.replace(/,/g, "")) > 0`),
		waitJS(`Number(document.querySelector(".chart").dataset.points) >= 5`))
	b.screenshot("throughput")

	// Metrics: look a name up; it is remembered.
	b.run("metrics",
		chromedp.Navigate(s.baseURL()+"/ui/#/metrics"),
		chromedp.WaitVisible("#metric-name", chromedp.ByID),
		chromedp.SendKeys("#metric-name", "ui.demo.latency_ms\r", chromedp.ByID),
		waitJS(`document.querySelector("#metric-title")?.textContent === "ui.demo.latency_ms"`),
		waitJS(`document.querySelector("#metrics-table tbody tr td:nth-child(2)")?.textContent === "5"`),
		chromedp.WaitVisible(".chart .uplot", chromedp.ByQuery))
	b.screenshot("metrics")

	// Swagger UI.
	b.run("docs",
		chromedp.Navigate(s.baseURL()+"/docs/"),
		chromedp.WaitVisible(".swagger-ui .opblock", chromedp.ByQuery))
	b.screenshot("docs")

	// Back to the app: the token is still there (session storage).
	b.run("back", chromedp.Navigate(s.baseURL()+"/ui/#/jobs"), chromedp.WaitVisible("table.jobs", chromedp.ByQuery),
		waitJS(`!document.getElementById("login").open`))

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("screenshots in %s", b.shots)
}
