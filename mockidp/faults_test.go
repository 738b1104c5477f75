package mockidp_test

import (
	"context"
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/samlsso"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store/sqlite"
)

const faultIdPBase = "https://idp.mock.test:8443"

type faultEnv struct {
	t   *testing.T
	idp *mockidp.Server
	h   http.Handler
	sp  *samlsso.SP
	cfg settings.Settings
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	now := time.Now()
	idpPair, err := keypair.New(nil, "idp", now)
	if err != nil {
		t.Fatal(err)
	}
	spPair, err := keypair.New(nil, "sp", now)
	if err != nil {
		t.Fatal(err)
	}
	idpURL, _ := url.Parse(faultIdPBase)
	idp, err := mockidp.New(mockidp.Config{BaseURL: idpURL, Key: idpPair.Key, Certificate: idpPair.Certificate, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "sp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	base, _ := url.Parse("https://hmp.sp.test:8443")
	sp := &samlsso.SP{BaseURL: base, Key: spPair.Key, Certificate: spPair.Certificate, Store: st, Now: time.Now}
	cfg := stack.JITSettings(idp, sp.DefaultEntityID())
	md, err := sp.Metadata(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.RegisterSPMetadataXML(md); err != nil {
		t.Fatal(err)
	}
	return &faultEnv{t: t, idp: idp, h: idp.Handler(), sp: sp, cfg: cfg}
}

var (
	faultSAMLRe   = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)
	faultRelayRe  = regexp.MustCompile(`name="RelayState" value="([^"]*)"`)
	faultHiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

func (e *faultEnv) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *faultEnv) post(path string, form url.Values) (samlResponse, relayState string) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, faultIdPBase+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := e.do(req)
	m := faultSAMLRe.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		e.t.Fatalf("IdP answered %d:\n%s", rec.Code, rec.Body)
	}
	if r := faultRelayRe.FindStringSubmatch(rec.Body.String()); r != nil {
		relayState = html.UnescapeString(r[1])
	}
	return html.UnescapeString(m[1]), relayState
}

// idpInitiated returns the faulted IdP-initiated response for nameID.
func (e *faultEnv) idpInitiated(nameID, fault string) (string, string) {
	return e.post("/idp/initiate", url.Values{
		"mockidp_login": {"1"}, "sp": {e.sp.DefaultEntityID()}, "username": {nameID},
		"groups": {"Engineering"}, "firstName": {"Eve"}, "fault": {fault},
	})
}

// spInitiated follows a real AuthnRequest of the SP through the login form.
func (e *faultEnv) spInitiated(nameID, fault string) (string, string) {
	e.t.Helper()
	u, err := e.sp.AuthnRedirect(context.Background(), e.cfg, "/home")
	if err != nil {
		e.t.Fatal(err)
	}
	rec := e.do(httptest.NewRequest(http.MethodGet, u.String(), nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("login page: %d", rec.Code)
	}
	form := url.Values{"username": {nameID}, "groups": {"Engineering"}, "fault": {fault}}
	for _, m := range faultHiddenRe.FindAllStringSubmatch(rec.Body.String(), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return e.post("/sso", form)
}

// TestFaultsAgainstReferenceSP sends every fault, IdP- and SP-initiated,
// to the reference SP's verification and checks the fault's expectation.
// The browser suite (suites/security) checks the same end to end.
func TestFaultsAgainstReferenceSP(t *testing.T) {
	e := newFaultEnv(t)
	for _, f := range mockidp.Faults() {
		for _, flow := range []string{"idp", "sp"} {
			t.Run(f.Name+"/"+flow, func(t *testing.T) {
				id := strings.ToLower(f.Name) + "-" + flow + "@example.com"
				var resp, relay string
				if flow == "idp" {
					resp, relay = e.idpInitiated(id, f.Name)
				} else {
					resp, relay = e.spInitiated(id, f.Name)
				}
				a, err := e.sp.Verify(context.Background(), e.cfg, resp)
				switch f.Expect {
				case mockidp.ExpectAccept:
					if err != nil {
						t.Fatalf("%s must be accepted: %v", f.Name, err)
					}
					want := id
					if f.Name == "xml-nameid-comment" {
						want = id + mockidp.EvilSuffix
					}
					if a.NameID != want {
						t.Errorf("NameID %q, want %q", a.NameID, want)
					}
					if f.Name == "relaystate-foreign" && relay != mockidp.ForeignRelayState {
						t.Errorf("RelayState %q", relay)
					}
				case mockidp.ExpectRefuse:
					ref, ok := samlsso.IsRefusal(err)
					if !ok {
						t.Fatalf("%s must be refused, got %+v, %v", f.Name, a, err)
					}
					t.Logf("%s/%s refused: %s (%v)", f.Name, flow, ref.Code, ref.Err)
				default:
					t.Fatalf("fault %s: expect %q", f.Name, f.Expect)
				}
			})
		}
	}
}

func TestFaultCatalogue(t *testing.T) {
	seen := map[string]bool{}
	reqs := map[string]int{}
	for _, f := range mockidp.Faults() {
		if f.Name == "" || f.Name == "none" || seen[f.Name] {
			t.Errorf("bad or duplicate fault name %q", f.Name)
		}
		seen[f.Name] = true
		if f.Description == "" || strings.Contains(f.Description, "\n") {
			t.Errorf("%s: description must be one line", f.Name)
		}
		if !strings.HasPrefix(f.Requirement, "SEC-") {
			t.Errorf("%s: requirement %q", f.Name, f.Requirement)
		}
		if f.Expect != mockidp.ExpectAccept && f.Expect != mockidp.ExpectRefuse {
			t.Errorf("%s: expect %q", f.Name, f.Expect)
		}
		reqs[f.Requirement]++
		if _, ok := mockidp.LookupFault(f.Name); !ok {
			t.Errorf("LookupFault(%q)", f.Name)
		}
	}
	for _, id := range []string{"SEC-SIG", "SEC-XSW", "SEC-TIME", "SEC-AUD", "SEC-REPLAY", "SEC-XML", "SEC-MULTI", "SEC-REDIRECT"} {
		if reqs[id] == 0 {
			t.Errorf("no fault for %s", id)
		}
	}
}

func TestFaultAPIAndLoginPage(t *testing.T) {
	e := newFaultEnv(t)
	rec := e.do(httptest.NewRequest(http.MethodGet, faultIdPBase+"/api/faults", nil))
	var list []mockidp.Fault
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list) != len(mockidp.Faults()) {
		t.Fatalf("/api/faults: %v, %d entries", err, len(list))
	}
	page := e.do(httptest.NewRequest(http.MethodGet, faultIdPBase+"/idp/initiate?sp="+url.QueryEscape(e.sp.DefaultEntityID())+"&fault=xsw3", nil)).Body.String()
	if !strings.Contains(page, `<select id="fault" name="fault">`) || !strings.Contains(page, `<option value="xsw3" selected>`) {
		t.Fatalf("login page has no fault select with xsw3 preselected:\n%s", page)
	}
	// An unknown fault is an error on the login page, not a normal login.
	req := httptest.NewRequest(http.MethodPost, faultIdPBase+"/idp/initiate", strings.NewReader(url.Values{
		"mockidp_login": {"1"}, "sp": {e.sp.DefaultEntityID()}, "username": {"x@example.com"}, "fault": {"no-such-fault"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rec := e.do(req); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Unknown fault") {
		t.Fatalf("unknown fault: %d", rec.Code)
	}
	// The log names the fault and keeps the exact SAMLResponse sent.
	sent, _ := e.idpInitiated("logged@example.com", "sig-none")
	log := e.idp.Log()
	last := log[len(log)-1]
	if last.Fault != "sig-none" || last.SAMLResponse != sent {
		t.Fatalf("log entry: fault %q, samlResponse matches: %v", last.Fault, last.SAMLResponse == sent)
	}
	plain, _ := e.idpInitiated("plain@example.com", "")
	log = e.idp.Log()
	if last := log[len(log)-1]; last.Fault != "" || last.SAMLResponse != plain {
		t.Fatalf("normal log entry: fault %q, samlResponse matches: %v", last.Fault, last.SAMLResponse == plain)
	}
}
