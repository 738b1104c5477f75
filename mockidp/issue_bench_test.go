package mockidp_test

// Benchmarks for issue 8: the cost of issuing a signed SAML response through
// the mock IdP's real code path (the IdP-initiated login form POST, as a
// browser sends it, through Server.Handler) against the physical floor of
// that work, a bare RSA PKCS#1 v1.5 signature over a SHA-256 digest with the
// same key.
//
// A response whose Response and Assertion are both signed counts two
// signatures; the benchmarks report "sigs/op" so that `make bench` can turn
// ns/op into signatures per second. No timed assertions: figures only.

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/hmpconform/hmpconform/mockidp"
)

const (
	benchIdPBase    = "https://idp.mock.test:8443"
	benchSPEntityID = "https://hmp.sp.test:8443/saml/metadata"
	benchSPACS      = "https://hmp.sp.test:8443/sso/callback"
)

var benchSAMLRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

// benchIdP is a mock IdP with the reference SP registered the way the stack
// registers it: one HTTP-POST ACS, no encryption key (plain, signed
// assertions).
type benchIdP struct {
	srv *mockidp.Server
	h   http.Handler
	key *rsa.PrivateKey
	n   atomic.Int64
}

func newBenchIdP(b *testing.B) *benchIdP {
	b.Helper()
	key, cert, err := mockidp.LoadOrCreateKeyPair(b.TempDir(), time.Now(), "idp.mock.test")
	if err != nil {
		b.Fatal(err)
	}
	base, _ := url.Parse(benchIdPBase)
	srv, err := mockidp.New(mockidp.Config{
		BaseURL: base, Key: key, Certificate: cert,
		// Info level, formatted and thrown away: the server's logging is
		// part of the cost of a login.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	md := &saml.EntityDescriptor{
		EntityID: benchSPEntityID,
		SPSSODescriptors: []saml.SPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			}},
			AssertionConsumerServices: []saml.IndexedEndpoint{{Binding: saml.HTTPPostBinding, Location: benchSPACS, Index: 1}},
		}},
	}
	if err := srv.RegisterSP(md); err != nil {
		b.Fatal(err)
	}
	return &benchIdP{srv: srv, h: srv.Handler(), key: key}
}

// login submits the IdP-initiated login form for a fresh user name, as the
// browser does, and returns the auto-submit page's status and body.
func (e *benchIdP) login() (int, []byte) {
	i := e.n.Add(1)
	form := url.Values{
		"mockidp_login": {"1"},
		"sp":            {benchSPEntityID},
		"RelayState":    {"/"},
		"username":      {"user" + strconv.FormatInt(i, 10) + "@example.com"},
		"firstName":     {"Bench"},
		"lastName":      {"User"},
		"email":         {"user" + strconv.FormatInt(i, 10) + "@example.com"},
		"groups":        {"Engineering\nSales\nUnknown Group"},
	}
	req := httptest.NewRequest(http.MethodPost, benchIdPBase+"/idp/initiate", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// signaturesPerResponse issues one response and counts its ds:Signature
// elements (Response and Assertion: two).
func (e *benchIdP) signaturesPerResponse(b *testing.B) int {
	b.Helper()
	code, body := e.login()
	m := benchSAMLRe.FindSubmatch(body)
	if code != http.StatusOK || m == nil {
		b.Fatalf("no SAMLResponse form (status %d):\n%s", code, body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(m[1])))
	if err != nil {
		b.Fatal(err)
	}
	n := bytes.Count(raw, []byte(":SignatureValue>")) / 2 // open and close tags
	if n < 1 {
		b.Fatalf("the response is not signed:\n%s", raw)
	}
	return n
}

func (e *benchIdP) mustLogin(b *testing.B) {
	if code, body := e.login(); code != http.StatusOK || !bytes.Contains(body, []byte(`name="SAMLResponse"`)) {
		b.Fatalf("login failed (status %d):\n%s", code, body)
	}
}

// bareSign is the floor: one RSA PKCS#1 v1.5 signature over a SHA-256
// digest, as goxmldsig makes for each SignedInfo.
func bareSign(b *testing.B, key *rsa.PrivateKey, msg []byte) {
	digest := sha256.Sum256(msg)
	if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
		b.Fatal(err)
	}
}

// signedInfo is a message of the size goxmldsig signs.
var signedInfo = []byte(strings.Repeat("<ds:SignedInfo>canonical XML of the signed info</ds:SignedInfo>", 8))

// onOneCore runs the rest of the benchmark with GOMAXPROCS=1, so that the
// process's CPU time is the benchmark's work including its garbage
// collection (with more Ps, idle Ps run GC workers that soak up spare CPU),
// and the figures are per core: what a saturated IdP achieves on each.
func onOneCore(b *testing.B) {
	prev := runtime.GOMAXPROCS(1)
	b.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// cpuPerOp reports the process CPU time per operation as "cpu-ns/op": on a
// shared machine it leaves out the time other processes held the CPU, which
// ns/op includes.
func cpuPerOp(b *testing.B, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkIssueResponse: one IdP-initiated login through the HTTP handler,
// from the posted login form to the auto-submit page with the signed
// SAMLResponse, including the response log; on one core.
func BenchmarkIssueResponse(b *testing.B) {
	e := newBenchIdP(b)
	sigs := e.signaturesPerResponse(b)
	onOneCore(b)
	runtime.GC()
	var c0 time.Duration
	b.ReportAllocs()
	for b.Loop() {
		if c0 == 0 {
			c0 = processCPU()
		}
		e.mustLogin(b)
	}
	cpuPerOp(b, processCPU()-c0)
	b.ReportMetric(float64(sigs), "sigs/op")
}

// BenchmarkBareRSASign: the bare signature with the IdP's own key; on one
// core.
func BenchmarkBareRSASign(b *testing.B) {
	e := newBenchIdP(b)
	onOneCore(b)
	runtime.GC()
	var c0 time.Duration
	b.ReportAllocs()
	for b.Loop() {
		if c0 == 0 {
			c0 = processCPU()
		}
		bareSign(b, e.key, signedInfo)
	}
	cpuPerOp(b, processCPU()-c0)
	b.ReportMetric(1, "sigs/op")
}

// ratioBlock is how many responses each turn of BenchmarkIssueSignRatio
// issues before its bare signatures.
const ratioBlock = 32

// BenchmarkIssueSignRatio interleaves the two on one core, in turns of
// ratioBlock responses then as many bare signatures as they carried, and
// times each part, so that both see the same machine: on a shared, noisy
// machine the ratio of two benchmarks run one after the other moves with
// the neighbours' load. The garbage collector, paced as usual, is charged
// to the issuing: each issuing turn ends by finishing any GC cycle under way
// (debug.SetGCPercent(-1) waits for it), the collector stays off during the
// bare signatures, which allocate next to nothing, and is switched back on
// at the start of the next issuing turn. Otherwise a cycle started while
// issuing runs on into the bare signatures and is charged to them.
//
// idp-sign-ratio = signatures per second while issuing ÷ bare signatures
// per second. It is reported over wall time (wall-ratio), as the median of
// the per-turn ratios (median-ratio), and over the process's CPU time
// (cpu-ratio, the robust one: it leaves out the time other processes held
// the CPU).
func BenchmarkIssueSignRatio(b *testing.B) {
	e := newBenchIdP(b)
	sigs := e.signaturesPerResponse(b)
	onOneCore(b)
	runtime.GC()
	var issue, bare, issueCPU, bareCPU time.Duration
	var ratios []float64
	responses := 0
	gcPercent := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gcPercent)
	for b.Loop() {
		c0, t0 := processCPU(), time.Now()
		debug.SetGCPercent(gcPercent)
		for range ratioBlock {
			e.mustLogin(b)
		}
		debug.SetGCPercent(-1)
		c1, t1 := processCPU(), time.Now()
		for range ratioBlock * sigs {
			bareSign(b, e.key, signedInfo)
		}
		c2, t2 := processCPU(), time.Now()
		issue += t1.Sub(t0)
		bare += t2.Sub(t1)
		issueCPU += c1 - c0
		bareCPU += c2 - c1
		ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
		responses += ratioBlock
	}
	slices.Sort(ratios)
	issueSigsPerSec := float64(responses*sigs) / issue.Seconds()
	bareSigsPerSec := float64(responses*sigs) / bare.Seconds()
	b.ReportMetric(float64(responses)/issue.Seconds(), "responses/s")
	b.ReportMetric(issueSigsPerSec, "issue-sigs/s")
	b.ReportMetric(bareSigsPerSec, "bare-sigs/s")
	b.ReportMetric(issueSigsPerSec/bareSigsPerSec, "wall-ratio")
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
	if issueCPU > 0 && bareCPU > 0 {
		b.ReportMetric(float64(bareCPU)/float64(issueCPU), "cpu-ratio")
	}
}
