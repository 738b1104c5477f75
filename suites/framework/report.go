package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/hmpconform/hmpconform/reports"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// StepsEnv turns the step screenshots and SAML-response files "on" or
// "off". Unset, they are on when the run has a report directory
// (HMPCONFORM_RUN_DIR, as `make e2e` sets it), so ad hoc ginkgo runs stay
// quick and leave nothing behind. Mutant runs, which no one reads, never
// take them.
const StepsEnv = "HMPCONFORM_STEPS"

// stepQuality is the JPEG quality of step screenshots: small files, quick
// to take, still legible.
const stepQuality = 60

// stepsOn reports whether step screenshots and SAML responses are
// recorded in this process.
func (e *Env) stepsOn() bool {
	switch {
	case e.Mutant != "":
		return false
	case os.Getenv(StepsEnv) != "":
		return os.Getenv(StepsEnv) == "on"
	}
	return os.Getenv(reports.RunDirEnv) != ""
}

// RenderEnv set to "all" makes the harness render every page a person
// or the admin would see even when steps are off (see quick): to compare
// the two ways, or when the quick way is in doubt.
const RenderEnv = "HMPCONFORM_RENDER"

// quick reports whether this process may skip rendering the pages whose
// only use is the harness's own: with steps off (nobody will look at a
// screenshot), admin pages are fetched and parsed in the admin's tab
// instead of shown (admin_fetch.go), and a person signs in through an IdP
// session instead of the IdP's login form (user.go). The SP sees the same
// requests; Chromium renders fewer documents. With steps on, every page is
// shown, so the report can show it.
func (e *Env) quick() bool {
	return !e.stepsOn() && os.Getenv(RenderEnv) != "all"
}

// specArtifactsDir is where the running spec's files go:
// ArtifactsDir()/<the spec's full text, made file-name safe>.
func specArtifactsDir(spec SpecReport) string {
	name := unsafeChars.ReplaceAllString(spec.FullText(), "_")
	if len(name) > 150 {
		name = name[:150]
	}
	return filepath.Join(ArtifactsDir(), name)
}

// Step records what tab shows now as a key step of the running spec: a
// JPEG of the whole page under the spec's artifacts directory, named in
// the report by a "step: <what>" entry (the HTML report shows them in
// order). Outside an It or when steps are off (see StepsEnv) it does
// nothing; a failed capture is not a spec failure.
func (e *Env) Step(tab context.Context, what string) {
	if e == nil || !e.stepsOn() {
		return
	}
	spec := CurrentSpecReport()
	if spec.LeafNodeType != types.NodeTypeIt {
		return
	}
	n := 1
	for _, r := range spec.ReportEntries {
		if strings.HasPrefix(r.Name, reports.EntryStep) {
			n++
		}
	}
	img, err := browser.Get(tab, 10*time.Second, chromedp.FullScreenshot(stepQuality))
	if err != nil {
		fmt.Fprintf(GinkgoWriter, "step %q: no screenshot: %v\n", what, err)
		return
	}
	dir := specArtifactsDir(spec)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	slug := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(what), "-"), "-")
	if len(slug) > 60 {
		slug = slug[:60]
	}
	// O_EXCL: steps taken at once in several goroutines get files of their own.
	for ; n < 1000; n++ {
		p := filepath.Join(dir, fmt.Sprintf("step-%02d-%s.jpg", n, slug))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return
		}
		_, err = f.Write(img)
		if f.Close() == nil && err == nil {
			AddReportEntry(reports.EntryStep+what, p, ReportEntryVisibilityNever)
		}
		return
	}
}

// recordSAML records, for the running spec, each response the mock IdP
// sent since the spec started: its decoded XML (and the assertion before
// encryption, when it was encrypted) in a file under the spec's artifacts
// directory, named by a "saml response: <NameID>" entry. The HTML report
// shows the XML; keeping it out of the entry keeps junit.xml and
// ginkgo.json small.
func (e *Env) recordSAML() {
	if e == nil || e.IdP == nil || !e.stepsOn() {
		return
	}
	spec := CurrentSpecReport()
	if spec.LeafNodeType != types.NodeTypeIt {
		return
	}
	dir := specArtifactsDir(spec)
	for _, l := range e.IdP.Log() {
		if l.Time.Before(spec.StartTime) || l.ResponseXML == "" {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "<!-- sent %s to %s · status %s", l.Time.UTC().Format("15:04:05.000"), l.ACS, l.Status)
		if l.Fault != "" {
			fmt.Fprintf(&b, " · fault %s", l.Fault)
		}
		if l.Flavour != "" {
			fmt.Fprintf(&b, " · IdP flavour %s", l.Flavour)
		}
		b.WriteString(" -->\n")
		b.WriteString(l.ResponseXML)
		if l.Encrypted && l.AssertionXML != "" {
			b.WriteString("\n<!-- the encrypted assertion, decrypted -->\n")
			b.WriteString(l.AssertionXML)
		}
		if os.MkdirAll(dir, 0o755) != nil {
			return
		}
		// One file per response; O_EXCL: a response already recorded (by an
		// earlier call, or at once in another goroutine) is skipped.
		p := filepath.Join(dir, fmt.Sprintf("saml-%d.xml", l.Time.UnixNano()))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			continue
		}
		_, err = f.WriteString(b.String())
		if f.Close() != nil || err != nil {
			continue
		}
		name := l.NameID
		if name == "" {
			name = "(no NameID)"
		}
		AddReportEntry(reports.EntrySAML+name, p, ReportEntryVisibilityNever)
	}
}

var headlessChrome = regexp.MustCompile(`(Headless)?Chrome/([0-9.]+)`)

// recordEnvironment notes, once per process, the target and the browser
// for the report's header.
func recordEnvironment(e *Env, tab context.Context) {
	target := "the bundled reference SP (in-process, https://" + SPHost + ")"
	if e.Mutant != "" {
		target = fmt.Sprintf("the bundled reference SP running the mutant %q", e.Mutant)
	}
	AddReportEntry(reports.EntryEnvironment+reports.EnvTarget, target, ReportEntryVisibilityNever)
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	version := "unknown version"
	if v, err := chromedp.CallBrowser(ctx, cdpbrowser.GetVersion, cdp.Empty{}); err == nil {
		if m := headlessChrome.FindStringSubmatch(v.Product); m != nil {
			version = m[2]
			if m[1] != "" {
				version += ", headless"
			}
		}
	}
	AddReportEntry(reports.EntryEnvironment+reports.EnvBrowser,
		fmt.Sprintf("Chromium %s (%s)", version, e.Browser.ExecPath()), ReportEntryVisibilityNever)
}

// registerProgress prints "[n/total] spec" as each spec starts. Ginkgo
// keeps a parallel process's stdout until the end, so with
// HMPCONFORM_RUN_DIR set the lines go to <run dir>/progress.log, shared by
// all processes (`make e2e` shows it as it grows); in a serial run without
// it they go to stdout. Mutant runs print nothing.
func registerProgress() {
	p := progress{dir: os.Getenv(reports.RunDirEnv)}
	var total int
	ReportBeforeSuite(func(r Report) {
		total = r.PreRunStats.SpecsThatWillRun
		p.printf("== %s: %d specs on %d process(es)\n", r.SuiteDescription, total, r.SuiteConfig.ParallelTotal)
	})
	var serialN int
	ReportBeforeEach(func(r SpecReport) {
		if r.State.Is(types.SpecStateSkipped | types.SpecStatePending) {
			return
		}
		serialN++
		p.spec(serialN, total, r.FullText())
	})
	ReportAfterEach(func(r SpecReport) {
		if r.State.Is(types.SpecStateFailureStates) {
			p.printf("   ✗ %s: %s\n", r.State, r.FullText())
		}
	})
}

type progress struct{ dir string }

func (p progress) off() bool { return os.Getenv(MutantEnv) != "" }

// file returns the shared progress log, locked, or nil when the run has
// no directory.
func (p progress) file() *os.File {
	if p.dir == "" {
		return nil
	}
	_ = os.MkdirAll(p.dir, 0o755)
	f, err := os.OpenFile(filepath.Join(p.dir, reports.ProgressLog), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil
	}
	// Held until Close; the processes of a run take turns.
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	return f
}

func (p progress) printf(format string, args ...any) {
	if p.off() {
		return
	}
	if f := p.file(); f != nil {
		defer f.Close()
		fmt.Fprintf(f, format, args...)
		return
	}
	if cfg, _ := GinkgoConfiguration(); cfg.ParallelTotal <= 1 {
		fmt.Fprintf(os.Stdout, format, args...)
	}
}

// spec prints a spec's start. In the shared log, n is the number of spec
// lines after the suite's last "==" header, plus one (the processes of a
// suite share the count); total comes from that header, written by
// process 1 before any spec starts.
func (p progress) spec(serialN, total int, text string) {
	if p.off() {
		return
	}
	f := p.file()
	if f == nil {
		p.printf("[%d/%d] %s\n", serialN, total, text)
		return
	}
	defer f.Close()
	b, _ := os.ReadFile(f.Name())
	n := 1
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "== "):
			n = 1
			if i := strings.LastIndex(line, ": "); i >= 0 {
				_, _ = fmt.Sscanf(line[i+2:], "%d", &total)
			}
		case strings.HasPrefix(line, "["):
			n++
		}
	}
	fmt.Fprintf(f, "[%d/%d] %s (p%d)\n", n, total, text, GinkgoParallelProcess())
}
