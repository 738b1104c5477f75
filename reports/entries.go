// Package reports turns a run's Ginkgo JSON report into one HTML page a
// person reads: the target and when, the versions, the totals, the
// requirement matrix (every catalogue entry with its verdict and its
// specs), the observations, and per spec its steps with screenshots, the
// SAML responses the mock IdP sent and, on failure, the evidence.
//
// The suites and this package agree on report-entry names: a spec (or the
// framework acting for it) calls AddReportEntry(name, value) with one of the
// prefixes below, and Render shows the entry accordingly. Paths are
// absolute, or relative to the run directory.
package reports

// Report-entry names (or name prefixes, followed by a caption) understood
// by Render.
const (
	// EntryStep: a key step of the spec; the value is an image path.
	EntryStep = "step: "
	// EntrySAML: a SAML response the mock IdP sent during the spec; the
	// value is the path of a file holding its XML, decoded and indented (or
	// the XML itself). The caption is the NameID.
	EntrySAML = "saml response: "
	// EntryObservation: something the target does where the vendor is
	// silent; the value is text. Listed in the page's observations.
	EntryObservation = "observation: "
	// EntryScreenshot and EntryPageHTML: failure evidence (a tab's
	// screenshot and its HTML); the value is a file path.
	EntryScreenshot = "screenshot: "
	EntryPageHTML   = "page html: "
	// EntryLocation: failure evidence, the URL a tab showed.
	EntryLocation = "location: "
	// EntryServerLog: failure evidence, the servers' log lines.
	EntryServerLog = "server log"
	// EntryEnvironment: recorded once per process in BeforeSuite, e.g.
	// "environment: target" and "environment: browser".
	EntryEnvironment = "environment: "
)

// Environment keys used with EntryEnvironment.
const (
	EnvTarget  = "target"
	EnvBrowser = "browser"
)

// Files a run directory holds.
const (
	IndexFile   = "index.html"
	JSONFile    = "ginkgo.json"
	JUnitFile   = "junit.xml"
	LatestLink  = "latest"
	ProgressLog = "progress.log"
)

// RunDirEnv names the environment variable that gives every Ginkgo process
// of a run the run's directory (reports/<UTC timestamp>).
const RunDirEnv = "HMPCONFORM_RUN_DIR"
