package samlsso_test

// Benchmark for issue 8: the SAML half of the ACS alone, samlsso.SP.Verify
// (signature, timing, audience, destination, issuer, one assertion, the
// replay cache in SQLite) on real responses from the mock IdP, issued with
// the timer stopped. No timed assertions: figures only.

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/samlsso"
	"github.com/hmpconform/hmpconform/sp/store/sqlite"
)

func BenchmarkVerify(b *testing.B) {
	spPair, err := keypair.New(nil, "bench sp", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	idpPair, err := keypair.New(nil, "bench idp", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	idpURL, _ := url.Parse("https://idp.mock.test:8443")
	idp, err := mockidp.New(mockidp.Config{BaseURL: idpURL, Key: idpPair.Key, Certificate: idpPair.Certificate,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "hmp.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	base, _ := url.Parse(spBase)
	sp := &samlsso.SP{BaseURL: base, Key: spPair.Key, Certificate: spPair.Certificate, Store: st, Now: time.Now}
	cfg := stack.JITSettings(idp, sp.DefaultEntityID())
	md, err := sp.Metadata(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := idp.RegisterSPMetadataXML(md); err != nil {
		b.Fatal(err)
	}
	h := idp.Handler()
	issue := func(i int) string {
		form := url.Values{
			"mockidp_login": {"1"}, "sp": {cfg.AudienceURI}, "RelayState": {"/"},
			"username": {fmt.Sprintf("user%07d@example.com", i)}, "firstName": {"Bench"}, "lastName": {"User"},
			"groups": {"Engineering\nSales"},
		}
		req := httptest.NewRequest(http.MethodPost, "https://idp.mock.test:8443/idp/initiate", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		m := samlRespRe.FindStringSubmatch(rec.Body.String())
		if rec.Code != http.StatusOK || m == nil {
			b.Fatalf("mock IdP: no SAMLResponse (status %d):\n%s", rec.Code, rec.Body)
		}
		return html.UnescapeString(m[1])
	}

	ctx := context.Background()
	var pending []string
	var cpu time.Duration
	i := 0
	runtime.LockOSThread() // cpu-ns/op: the CPU time of this OS thread per Verify
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	for b.Loop() {
		if len(pending) == 0 {
			b.StopTimer()
			for range 32 {
				pending = append(pending, issue(i+len(pending)))
			}
			b.StartTimer()
		}
		c0 := threadCPU()
		a, err := sp.Verify(ctx, cfg, pending[0])
		cpu += threadCPU() - c0
		if err != nil || a.NameID == "" {
			b.Fatalf("Verify: %v (%+v)", err, a)
		}
		pending = pending[1:]
		i++
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
