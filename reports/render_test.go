package reports

import (
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hmpconform/hmpconform/fixtures"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// fixtureRun lays out a run directory from testdata/ginkgo.json: the
// report with $RUN and $OUTSIDE replaced, and the files its entries name
// ($OUTSIDE is a directory outside the run, whose files Render copies in).
func fixtureRun(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	run := filepath.Join(root, "reports", "20261203T162512Z")
	outside := filepath.Join(root, "elsewhere")
	b, err := os.ReadFile("testdata/ginkgo.json")
	if err != nil {
		t.Fatal(err)
	}
	js := strings.NewReplacer("$RUN", run, "$OUTSIDE", outside).Replace(string(b))
	write := func(p string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(run, JSONFile), []byte(js))
	write(filepath.Join(run, JUnitFile), []byte(`<testsuites></testsuites>`))
	// Every path an entry names, as a real run would have left it.
	var reports []struct {
		SpecReports []struct {
			ReportEntries []struct {
				Name  string
				Value struct{ Representation string }
			}
		}
	}
	if err := json.Unmarshal([]byte(js), &reports); err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		for _, s := range r.SpecReports {
			for _, e := range s.ReportEntries {
				p := e.Value.Representation
				switch {
				case !strings.HasPrefix(p, root):
				case strings.HasSuffix(p, ".jpg"), strings.HasSuffix(p, ".png"):
					write(p, testImage(t, p))
				case strings.HasSuffix(p, ".xml"):
					write(p, []byte(`<samlp:Response ID="id-2"><saml:NameID>mallory@example.com</saml:NameID></samlp:Response>`))
				default:
					write(p, []byte("<html><body>page</body></html>"))
				}
			}
		}
	}
	return run
}

func testImage(t *testing.T, name string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{40, 120, 200, 255}}, image.Point{}, draw.Src)
	var buf strings.Builder
	var err error
	if strings.HasSuffix(name, ".jpg") {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 60})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return []byte(buf.String())
}

func TestVerdicts(t *testing.T) {
	run := fixtureRun(t)
	p, err := WriteRun(run, Meta{Harness: "test"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Requirement{}
	for _, a := range p.Areas {
		for _, r := range a.Requirements {
			got[r.ID] = r
		}
	}
	want := map[string]string{
		"JIT-CREATE": VerdictPass, "GRP-CASE": VerdictFail, "GRP-RESYNC": VerdictSkipped,
		"SET-IDPINIT": VerdictPass, "SEC-SIG": VerdictPass, "GRP-MATCH": VerdictNotCovered,
	}
	for id, v := range want {
		if got[id].Verdict != v {
			t.Errorf("%s: verdict %q, want %q", id, got[id].Verdict, v)
		}
	}
	if r := got["GRP-RESYNC"].Reason; r != "the target keeps no group state between sign-ins" {
		t.Errorf("skip reason: %q", r)
	}
	catalogue, _ := fixtures.Requirements()
	if len(got) != len(catalogue) || p.Totals.Reqs != len(catalogue) {
		t.Errorf("matrix has %d rows, catalogue %d", len(got), len(catalogue))
	}
	if p.Totals.Specs != 5 || p.Totals.Passed != 3 || p.Totals.Failed != 1 || p.Totals.Skipped != 1 {
		t.Errorf("totals: %+v", p.Totals)
	}
	if len(p.Observations) != 1 || len(p.Targets) != 1 || len(p.Browsers) != 1 {
		t.Errorf("observations %d, targets %v, browsers %v", len(p.Observations), p.Targets, p.Browsers)
	}
}

func TestPublish(t *testing.T) {
	run := fixtureRun(t)
	reportsDir := filepath.Dir(run)
	if err := Publish(reportsDir, run); err != nil {
		t.Fatal(err)
	}
	if err := Publish(reportsDir, run); err != nil { // again: replaces the link
		t.Fatal(err)
	}
	if dest, err := os.Readlink(filepath.Join(reportsDir, LatestLink)); err != nil || dest != filepath.Base(run) {
		t.Fatalf("latest -> %q (%v)", dest, err)
	}
	for _, f := range []string{JSONFile, JUnitFile} {
		if _, err := os.Stat(filepath.Join(reportsDir, f)); err != nil {
			t.Errorf("not copied: %v", err)
		}
	}
}

// TestPageInChromium opens the rendered page from disk in headless
// Chromium and checks what a reader relies on: every catalogue ID is in
// the matrix, every screenshot shows, and no link is broken.
func TestPageInChromium(t *testing.T) {
	if err := browser.CheckExecPath(browser.ResolveExecPath("")); err != nil {
		t.Skip(err)
	}
	run := fixtureRun(t)
	if _, err := WriteRun(run, Meta{Harness: "test"}); err != nil {
		t.Fatal(err)
	}
	b, err := browser.Start(browser.Options{UserDataDir: filepath.Join(t.TempDir(), "chromium")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tab, cancel, err := b.NewTab(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := browser.Run(tab, 30*time.Second,
		chromedp.Navigate("file://"+filepath.Join(run, IndexFile)),
		chromedp.WaitVisible(chromedp.ID("matrix")),
	); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		done, err := browser.Get(tab, 5*time.Second, chromedp.Evaluate[bool](`Array.from(document.images).every(i => i.complete)`))
		if err != nil || done || time.Since(start) > 10*time.Second {
			break
		}
	}
	var page struct {
		Rows   []string `json:"rows"`
		Text   string   `json:"text"`
		Images []struct {
			Src   string `json:"src"`
			Width int    `json:"width"`
		} `json:"images"`
		Anchors []string `json:"anchors"`
		Missing []string `json:"missing"`
		Files   []string `json:"files"`
	}
	s, err := browser.Get(tab, 30*time.Second, chromedp.Evaluate[string](`JSON.stringify({
		rows: Array.from(document.querySelectorAll('tr[id^="req-"]')).map(tr => tr.id.slice(4)),
		text: document.body.innerText,
		images: Array.from(document.images).map(i => ({src: i.getAttribute('src'), width: i.naturalWidth})),
		anchors: Array.from(document.querySelectorAll('a[href^="#"]')).map(a => a.getAttribute('href')),
		missing: Array.from(document.querySelectorAll('a[href^="#"]')).map(a => a.getAttribute('href')).filter(h => !document.getElementById(decodeURIComponent(h.slice(1)))),
		files: Array.from(document.querySelectorAll('a[href]:not([href^="#"])')).map(a => a.getAttribute('href')),
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(s), &page); err != nil {
		t.Fatal(err)
	}

	catalogue, _ := fixtures.Requirements()
	rows := map[string]bool{}
	for _, id := range page.Rows {
		rows[id] = true
	}
	for _, r := range catalogue {
		if !rows[r.ID] || !strings.Contains(page.Text, r.ID) {
			t.Errorf("requirement %s is not in the matrix", r.ID)
		}
	}
	// 6 steps, 1 failure screenshot.
	if len(page.Images) != 7 {
		t.Errorf("%d images, want 7: %+v", len(page.Images), page.Images)
	}
	for _, img := range page.Images {
		if img.Width == 0 {
			t.Errorf("image %s does not show", img.Src)
		}
		if strings.Contains(img.Src, ":") || strings.HasPrefix(img.Src, "/") {
			t.Errorf("image %s is not a relative link", img.Src)
		}
	}
	// Navigation (3), matrix to specs (5), observation to spec (1), labels to matrix (5).
	if len(page.Anchors) < 14 {
		t.Errorf("only %d in-page links: %v", len(page.Anchors), page.Anchors)
	}
	for _, h := range page.Missing {
		t.Errorf("link %s has no target", h)
	}
	for _, f := range page.Files {
		if strings.Contains(f, "://") || strings.HasPrefix(f, "/") {
			t.Errorf("link %s leaves the run directory", f)
			continue
		}
		dec, err := url.PathUnescape(f)
		if err != nil {
			t.Errorf("link %s: %v", f, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(run, filepath.FromSlash(dec))); err != nil {
			t.Errorf("link %s: %v", f, err)
		}
	}
	for _, want := range []string{"Chromium 143.0.7499.169", "the bundled reference SP", "IdP-initiated sign-in with no SAML SSO URL",
		"the target keeps no group state between sign-ins", "provisioning_test.go:57", "SAML response sent for alice@example.com",
		"SAML response sent for mallory@example.com"} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("page does not say %q", want)
		}
	}
	html := readFile(t, filepath.Join(run, IndexFile))
	if !strings.Contains(html, "NameID&gt;mallory@example.com") {
		t.Errorf("the SAML response kept in a file is not on the page")
	}
	for _, net := range []string{`src="http`, `href="http`, `url(http`, `@import`} {
		if strings.Contains(html, net) {
			t.Errorf("the page refers to the network: %s", net)
		}
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
