package stack

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/tlsutil"
)

// countingHandler counts log records by message.
type countingHandler struct {
	mu     *sync.Mutex
	counts map[string]int
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[r.Message]++
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

func (h countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

// `hmpconform run` (Start, then ConfigureForManualTesting) registers the
// SP with the IdP once, and the IdP still knows it.
func TestManualStartRegistersTheSPOnce(t *testing.T) {
	ca, err := tlsutil.NewCA("stack test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := countingHandler{mu: &sync.Mutex{}, counts: map[string]int{}}
	s, err := Start(t.Context(), Options{DataDir: t.TempDir(), IdPHost: "idp.mock.test", SPHost: "hmp.sp.test", CA: ca, Rollover: true, PasswordCost: 4, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.ConfigureForManualTesting(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if m.SLOURL == "" || m.TrustedCertificates != 2 {
		t.Fatalf("the manual setup changed nothing (%+v): the test proves nothing", m)
	}
	if n := h.count("mockidp: registered service provider"); n != 1 {
		t.Errorf("the SP was registered %d times", n)
	}
	rec := httptest.NewRecorder()
	s.IdP.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/sps", nil))
	if !strings.Contains(rec.Body.String(), s.SP.Server.SAML().DefaultEntityID()) {
		t.Errorf("the IdP does not know the SP: %d %s", rec.Code, rec.Body)
	}
}
