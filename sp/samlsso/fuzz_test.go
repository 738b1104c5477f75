package samlsso_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
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

// verifyDeadline bounds one verification under fuzzing.
const verifyDeadline = 5 * time.Second

var fuzzSAMLRe = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

// FuzzVerify feeds decoded SAML responses to the SP's verification, with
// a real SQLite store, and requires that nothing panics and that every
// failure is a refusal with a code. The seeds are genuine responses of
// the mock IdP (made at a fixed instant the SP's clock is frozen at) and
// each fault of its library, plus testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	idpPair, err := keypair.New(nil, "idp", now)
	if err != nil {
		f.Fatal(err)
	}
	spPair, err := keypair.New(nil, "sp", now)
	if err != nil {
		f.Fatal(err)
	}
	idpURL, _ := url.Parse("https://idp.mock.test:8443")
	idp, err := mockidp.New(mockidp.Config{BaseURL: idpURL, Key: idpPair.Key, Certificate: idpPair.Certificate, Now: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(f.TempDir(), "sp.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	base, _ := url.Parse("https://hmp.sp.test:8443")
	sp := &samlsso.SP{BaseURL: base, Key: spPair.Key, Certificate: spPair.Certificate, Store: st, Now: clock}
	cfg := stack.JITSettings(idp, sp.DefaultEntityID())
	md, err := sp.Metadata(cfg)
	if err != nil {
		f.Fatal(err)
	}
	if err := idp.RegisterSPMetadataXML(md); err != nil {
		f.Fatal(err)
	}

	response := func(nameID, fault string) []byte {
		form := url.Values{"mockidp_login": {"1"}, "sp": {sp.DefaultEntityID()}, "username": {nameID},
			"groups": {"Engineering\nSales"}, "firstName": {"Fuzz"}, "fault": {fault}}
		req := httptest.NewRequest(http.MethodPost, "https://idp.mock.test:8443/idp/initiate", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		idp.Handler().ServeHTTP(rec, req)
		m := fuzzSAMLRe.FindStringSubmatch(rec.Body.String())
		if m == nil {
			f.Fatalf("IdP: %d", rec.Code)
		}
		b, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
		if err != nil {
			return []byte(html.UnescapeString(m[1])) // the broken-base64 fault
		}
		return b
	}
	f.Add(response("genuine@example.com", ""))
	for _, fault := range mockidp.Faults() {
		if fault.Name == "xml-very-large" {
			continue // 1.5 MiB: too slow a seed to mutate
		}
		f.Add(response(fault.Name+"@example.com", fault.Name))
	}

	f.Fuzz(func(t *testing.T, raw []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// SEC-XML: no input may tie the SP up. A stuck verification crashes
		// the worker with every goroutine's stack, so that the fuzzer keeps
		// the input (a timeout alone would only stall it).
		watchdog := time.AfterFunc(verifyDeadline, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("Verify took longer than %s:\n%s", verifyDeadline, buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		a, err := sp.Verify(ctx, cfg, base64.StdEncoding.EncodeToString(raw))
		if err == nil {
			if a.NameID == "" {
				t.Fatalf("accepted a response without a NameID")
			}
			return
		}
		r, ok := samlsso.IsRefusal(err)
		if !ok {
			t.Fatalf("not a refusal: %v", err)
		}
		if r.Code == "" || r.Reason == "" {
			t.Fatalf("refusal without code or reason: %+v", r)
		}
	})
}
