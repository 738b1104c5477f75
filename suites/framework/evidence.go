package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"

	"github.com/hmpconform/hmpconform/reports"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// ArtifactsEnv overrides where failure evidence is written.
const ArtifactsEnv = "HMPCONFORM_ARTIFACTS"

// ArtifactsDir is $HMPCONFORM_ARTIFACTS, else <run dir>/artifacts when
// HMPCONFORM_RUN_DIR names the run's report directory, else
// reports/artifacts at the repository root.
func ArtifactsDir() string {
	if d := os.Getenv(ArtifactsEnv); d != "" {
		return d
	}
	if d := os.Getenv(reports.RunDirEnv); d != "" {
		return filepath.Join(d, "artifacts")
	}
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "reports", "artifacts")
		}
	}
	return filepath.Join(dir, "artifacts")
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// EvidenceOnFailure registers, for the running spec, a capture of each
// named tab (screenshot and HTML) and of the servers' log lines since now,
// run before teardown if the spec fails.
func (e *Env) EvidenceOnFailure(tabs map[string]context.Context) {
	mark := e.Log.Mark()
	DeferOnFailure(func() {
		dir := specArtifactsDir(CurrentSpecReport())
		_ = os.MkdirAll(dir, 0o755)
		for name, tab := range tabs {
			if png, err := browser.Screenshot(tab); err == nil {
				p := filepath.Join(dir, name+".png")
				if os.WriteFile(p, png, 0o644) == nil {
					AddReportEntry("screenshot: "+name, p)
				}
			}
			if html, err := browser.HTML(tab); err == nil {
				p := filepath.Join(dir, name+".html")
				if os.WriteFile(p, []byte(html), 0o644) == nil {
					AddReportEntry("page html: "+name, p)
				}
			}
			// In quick mode the admin reads pages it never shows: the last
			// one it parsed is the page the spec was looking at.
			if parsed, err := browser.Get(tab, 5*time.Second, chromedp.Evaluate[string](`window.__hmpDoc ? window.__hmpDoc.documentElement.outerHTML : ''`)); err == nil && parsed != "" {
				p := filepath.Join(dir, name+"-parsed.html")
				if os.WriteFile(p, []byte(parsed), 0o644) == nil {
					AddReportEntry(reports.EntryPageHTML+name+" (fetched, not shown)", p)
				}
			}
			if loc, err := browser.Location(tab); err == nil {
				AddReportEntry("location: "+name, loc)
			}
		}
		lines := e.Log.Since(mark)
		AddReportEntry("server log", fmt.Sprintf("%d lines\n%s", len(lines), strings.Join(lines, "\n")))
	})
}
