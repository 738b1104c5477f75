package reports

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/hmpconform/hmpconform/fixtures"
)

//go:embed report.html.tmpl
var pageTemplate string

// Verdicts of a requirement.
const (
	VerdictPass       = "pass"
	VerdictFail       = "fail"
	VerdictSkipped    = "skipped"
	VerdictNotCovered = "not covered"
)

// Meta is what the page says about the run beyond the Ginkgo report.
type Meta struct {
	Run     string // the run's name, e.g. 20261203T162512Z
	Harness string // the harness version, e.g. `git describe` output
}

// Page is everything index.html shows.
type Page struct {
	Meta
	Targets      []string
	Browsers     []string
	Start, End   time.Time
	NoReport     string // set when the run left no usable Ginkgo report
	Totals       Totals
	Areas        []Area
	Observations []Observation
	Suites       []Suite
}

// Totals count specs by state and requirements by verdict.
type Totals struct {
	Specs, Passed, Failed, Skipped, Pending int
	Reqs, ReqPass, ReqFail, ReqSkipped      int
	ReqNotCovered                           int
}

// Area is one group of the requirement matrix.
type Area struct {
	Name         string
	Requirements []Requirement
}

// Requirement is one row of the matrix.
type Requirement struct {
	fixtures.Requirement
	Verdict string
	Reason  string // for skipped: why
	Specs   []SpecLink
}

// SpecLink points at a spec's section.
type SpecLink struct {
	Anchor, Text, State string
}

// Observation is a spec's "observation: ..." entry.
type Observation struct {
	Title, Text string
	Spec        SpecLink
}

// Suite is one Ginkgo suite of the run.
type Suite struct {
	Name, Path string
	Succeeded  bool
	Problems   []string // special failure reasons, failed suite-level nodes
	Specs      []Spec
}

// Spec is one It.
type Spec struct {
	Anchor     string
	Hierarchy  []string
	Leaf       string
	Labels     []Label
	State      string // passed, failed, skipped, pending, panicked, ...
	Class      string // pass, fail, skip
	Duration   string
	Process    int
	SkipReason string
	Failure    *Failure
	Steps      []Image
	SAML       []Text // the responses the mock IdP sent, decoded
	Notes      []Text // observations and other entries
	Evidence   Evidence
}

// Label is a spec label; Req says whether it names a catalogue entry.
type Label struct {
	Name string
	Req  bool
}

// Failure is why a spec failed.
type Failure struct {
	Message, Location string
}

// Image is a screenshot: Src is relative to index.html; Missing holds the
// path recorded when the file is gone.
type Image struct {
	Caption, Src, Missing string
}

// Text is a titled block of text; Href, when set, links to the file it
// was read from.
type Text struct {
	Title, Body, Href string
}

// Evidence is what a failed spec left.
type Evidence struct {
	Screenshots []Image
	Files       []Image // page HTML; Src as for images
	Locations   []Text
	ServerLog   *Text
}

// Has reports whether there is any failure evidence.
func (e Evidence) Has() bool {
	return len(e.Screenshots)+len(e.Files)+len(e.Locations) > 0 || e.ServerLog != nil
}

// Load reads runDir/ginkgo.json.
func Load(runDir string) ([]types.Report, error) {
	b, err := os.ReadFile(filepath.Join(runDir, JSONFile))
	if err != nil {
		return nil, err
	}
	var rs []types.Report
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, JSONFile), err)
	}
	return rs, nil
}

// Build assembles the page from the run's suite reports and the catalogue.
// Files named by report entries are linked relative to runDir; a file
// outside runDir is copied into runDir/files first, so the page and its
// directory are all a reader needs.
func Build(runDir string, suites []types.Report, catalogue []fixtures.Requirement, meta Meta) (*Page, error) {
	p := &Page{Meta: meta}
	known := map[string]bool{}
	for _, r := range catalogue {
		known[r.ID] = true
	}
	files := fileLinker{runDir: runDir}
	byReq := map[string][]Spec{}
	targets, browsers := set{}, set{}
	for _, sr := range suites {
		s := Suite{Name: sr.SuiteDescription, Path: sr.SuitePath, Succeeded: sr.SuiteSucceeded}
		if s.Name == "" {
			s.Name = filepath.Base(sr.SuitePath)
		}
		s.Problems = append(s.Problems, sr.SpecialSuiteFailureReasons...)
		if !sr.StartTime.IsZero() && (p.Start.IsZero() || sr.StartTime.Before(p.Start)) {
			p.Start = sr.StartTime
		}
		if sr.EndTime.After(p.End) {
			p.End = sr.EndTime
		}
		for _, r := range sr.SpecReports {
			for _, e := range r.ReportEntries {
				switch e.Name {
				case EntryEnvironment + EnvTarget:
					targets.add(e.StringRepresentation())
				case EntryEnvironment + EnvBrowser:
					browsers.add(e.StringRepresentation())
				}
			}
			if r.LeafNodeType != types.NodeTypeIt {
				if r.State.Is(types.SpecStateFailureStates) {
					s.Problems = append(s.Problems, fmt.Sprintf("%s %s: %s", r.LeafNodeType, r.LeafNodeText, firstLine(r.Failure.Message)))
				}
				continue
			}
			spec := buildSpec(sr, r, known, &files)
			s.Specs = append(s.Specs, spec)
			link := SpecLink{Anchor: spec.Anchor, Text: spec.Leaf, State: spec.State}
			for _, e := range r.ReportEntries {
				if title, ok := strings.CutPrefix(e.Name, EntryObservation); ok {
					p.Observations = append(p.Observations, Observation{Title: title, Text: e.StringRepresentation(), Spec: link})
				}
			}
			for _, l := range spec.Labels {
				if l.Req {
					byReq[l.Name] = append(byReq[l.Name], spec)
				}
			}
			p.Totals.Specs++
			switch spec.Class {
			case "pass":
				p.Totals.Passed++
			case "fail":
				p.Totals.Failed++
			case "pending":
				p.Totals.Pending++
			default:
				p.Totals.Skipped++
			}
		}
		p.Suites = append(p.Suites, s)
	}
	p.Targets, p.Browsers = targets.list, browsers.list

	var areas []Area
	for _, r := range catalogue {
		row := verdict(r, byReq[r.ID])
		p.Totals.Reqs++
		switch row.Verdict {
		case VerdictPass:
			p.Totals.ReqPass++
		case VerdictFail:
			p.Totals.ReqFail++
		case VerdictSkipped:
			p.Totals.ReqSkipped++
		default:
			p.Totals.ReqNotCovered++
		}
		if len(areas) == 0 || areas[len(areas)-1].Name != r.Area {
			areas = append(areas, Area{Name: r.Area})
		}
		areas[len(areas)-1].Requirements = append(areas[len(areas)-1].Requirements, row)
	}
	p.Areas = areas
	return p, files.err
}

// verdict judges a requirement from the specs that carry its label.
func verdict(r fixtures.Requirement, specs []Spec) Requirement {
	row := Requirement{Requirement: r, Verdict: VerdictNotCovered}
	var passed, failed bool
	reasons := set{}
	for _, s := range specs {
		row.Specs = append(row.Specs, SpecLink{Anchor: s.Anchor, Text: s.Leaf, State: s.State})
		switch s.Class {
		case "pass":
			passed = true
		case "fail":
			failed = true
		default:
			reasons.add(s.SkipReason)
		}
	}
	switch {
	case failed:
		row.Verdict = VerdictFail
	case passed:
		row.Verdict = VerdictPass
	case len(specs) > 0:
		row.Verdict = VerdictSkipped
		row.Reason = strings.Join(reasons.list, "; ")
	}
	return row
}

func buildSpec(sr types.Report, r types.SpecReport, known map[string]bool, files *fileLinker) Spec {
	s := Spec{
		Anchor:    SpecAnchor(sr.SuitePath, r.FullText()),
		Hierarchy: r.ContainerHierarchyTexts,
		Leaf:      r.LeafNodeText,
		State:     r.State.String(),
		Duration:  r.RunTime.Round(100 * time.Millisecond).String(),
		Process:   r.ParallelProcess,
	}
	for _, l := range r.Labels() {
		s.Labels = append(s.Labels, Label{Name: l, Req: known[l]})
	}
	switch {
	case r.State.Is(types.SpecStatePassed):
		s.Class = "pass"
	case r.State.Is(types.SpecStateFailureStates):
		s.Class = "fail"
		s.Failure = &Failure{Message: r.Failure.Message, Location: r.Failure.Location.String()}
	case r.State.Is(types.SpecStatePending):
		s.Class, s.SkipReason = "pending", "pending (marked as not yet written)"
	default:
		s.Class = "skip"
		s.SkipReason = strings.TrimSpace(r.Failure.Message)
		if s.SkipReason == "" {
			s.SkipReason = "not selected in this run (label or focus filter)"
		}
	}
	for _, e := range r.ReportEntries {
		v := e.StringRepresentation()
		switch {
		case strings.HasPrefix(e.Name, EntryStep):
			s.Steps = append(s.Steps, files.image(strings.TrimPrefix(e.Name, EntryStep), v))
		case strings.HasPrefix(e.Name, EntrySAML):
			s.SAML = append(s.SAML, files.text(strings.TrimPrefix(e.Name, EntrySAML), v))
		case strings.HasPrefix(e.Name, EntryScreenshot):
			s.Evidence.Screenshots = append(s.Evidence.Screenshots, files.image(strings.TrimPrefix(e.Name, EntryScreenshot), v))
		case strings.HasPrefix(e.Name, EntryPageHTML):
			s.Evidence.Files = append(s.Evidence.Files, files.image("page HTML: "+strings.TrimPrefix(e.Name, EntryPageHTML), v))
		case strings.HasPrefix(e.Name, EntryLocation):
			s.Evidence.Locations = append(s.Evidence.Locations, Text{Title: strings.TrimPrefix(e.Name, EntryLocation), Body: v})
		case e.Name == EntryServerLog:
			s.Evidence.ServerLog = &Text{Title: e.Name, Body: v}
		case strings.HasPrefix(e.Name, EntryObservation):
			s.Notes = append(s.Notes, Text{Title: "Observation: " + strings.TrimPrefix(e.Name, EntryObservation), Body: v})
		case strings.HasPrefix(e.Name, EntryEnvironment):
		default:
			s.Notes = append(s.Notes, Text{Title: e.Name, Body: v})
		}
	}
	return s
}

// SpecAnchor is the stable id of a spec's section: the same spec has the
// same anchor in every run.
func SpecAnchor(suitePath, fullText string) string {
	h := sha256.Sum256([]byte(filepath.Base(suitePath) + "\x00" + fullText))
	return "spec-" + hex.EncodeToString(h[:5])
}

// fileLinker turns recorded paths into links relative to the run dir.
type fileLinker struct {
	runDir string
	err    error
}

// text is a file's contents when value names a file (the href links to
// it), else value itself.
func (f *fileLinker) text(title, value string) Text {
	if strings.HasPrefix(value, "<") || strings.Contains(value, "\n") {
		return Text{Title: title, Body: value}
	}
	p := value
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.runDir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Text{Title: title, Body: "(missing: " + value + ")"}
	}
	href, _ := f.link(value)
	return Text{Title: title, Body: string(b), Href: href}
}

func (f *fileLinker) image(caption, path string) Image {
	href, ok := f.link(path)
	if !ok {
		return Image{Caption: caption, Missing: path}
	}
	return Image{Caption: caption, Src: href}
}

// link returns an href relative to the run dir for path, copying the file
// into runDir/files when it lies outside; false when the file is missing.
func (f *fileLinker) link(path string) (string, bool) {
	if path == "" {
		return "", false
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(f.runDir, path)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return "", false
	}
	absRun, _ := filepath.Abs(f.runDir)
	rel, err := filepath.Rel(absRun, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		h := sha256.Sum256([]byte(path))
		rel = filepath.Join("files", hex.EncodeToString(h[:4])+"-"+filepath.Base(path))
		if err := copyFile(path, filepath.Join(f.runDir, rel)); err != nil {
			f.err = errors.Join(f.err, err)
			return "", false
		}
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/"), true
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// set is an ordered set of non-empty strings.
type set struct {
	list []string
	seen map[string]bool
}

func (s *set) add(v string) {
	if v == "" || s.seen[v] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[v] = true
	s.list = append(s.list, v)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Render writes the page as HTML.
func Render(w io.Writer, p *Page) error {
	t, err := template.New("page").Funcs(template.FuncMap{
		"utc": func(t time.Time) string {
			if t.IsZero() {
				return "unknown"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"duration": func(a, b time.Time) string {
			if a.IsZero() || b.Before(a) {
				return ""
			}
			return b.Sub(a).Round(time.Second).String()
		},
		"join": strings.Join,
		"verdictClass": func(v string) string {
			return map[string]string{VerdictPass: "pass", VerdictFail: "fail", VerdictSkipped: "skip"}[v] + " verdict"
		},
		"stateClass": func(state string) string {
			switch state {
			case "passed":
				return "pass"
			case "skipped":
				return "skip"
			case "pending":
				return "pending"
			}
			return "fail"
		},
		"lines": func(s string) int { return strings.Count(s, "\n") + 1 },
		"inc":   func(i int) int { return i + 1 },
	}).Parse(pageTemplate)
	if err != nil {
		return err
	}
	return t.Execute(w, p)
}

// WriteRun renders runDir/index.html from runDir/ginkgo.json and the
// catalogue. A missing or unreadable ginkgo.json still gives a page: every
// requirement not covered, and the reason at the top.
func WriteRun(runDir string, meta Meta) (*Page, error) {
	catalogue, err := fixtures.Requirements()
	if err != nil {
		return nil, err
	}
	if meta.Run == "" {
		meta.Run = filepath.Base(runDir)
	}
	suites, loadErr := Load(runDir)
	p, err := Build(runDir, suites, catalogue, meta)
	if err != nil {
		return nil, err
	}
	if loadErr != nil {
		p.NoReport = "No usable Ginkgo report: " + loadErr.Error()
	}
	sort.SliceStable(p.Suites, func(i, j int) bool { return p.Suites[i].Name < p.Suites[j].Name })
	var buf bytes.Buffer
	if err := Render(&buf, p); err != nil {
		return nil, err
	}
	return p, os.WriteFile(filepath.Join(runDir, IndexFile), buf.Bytes(), 0o644)
}

// Publish points reportsDir/latest at runDir (a relative symlink when
// runDir is inside reportsDir) and copies the run's junit.xml and
// ginkgo.json to reportsDir, where CI jobs look for them.
func Publish(reportsDir, runDir string) error {
	var errs []error
	for _, name := range []string{JUnitFile, JSONFile} {
		src := filepath.Join(runDir, name)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := copyFile(src, filepath.Join(reportsDir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	target, err := filepath.Abs(runDir)
	if err != nil {
		return err
	}
	absReports, _ := filepath.Abs(reportsDir)
	if rel, err := filepath.Rel(absReports, target); err == nil && !strings.HasPrefix(rel, "..") {
		target = rel
	}
	link := filepath.Join(reportsDir, LatestLink)
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := os.Rename(tmp, link); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
