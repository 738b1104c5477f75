package stack

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/tlsutil"
)

func startTestStackOn(t *testing.T, dir string, idpPort int) *Stack {
	t.Helper()
	ca, err := tlsutil.NewCA("stack test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(t.Context(), Options{DataDir: dir, IdPHost: "idp.mock.test", SPHost: "hmp.sp.test", IdPPort: idpPort, CA: ca, PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A data directory kept from a run on another port: the SP's settings are
// kept, and the start warns that they trust another IdP, naming both URLs
// and the way out.
func TestStartWarnsWhenKeptSettingsTrustAnotherIdP(t *testing.T) {
	dir := t.TempDir()
	s := startTestStackOn(t, dir, 0) // --idp-port 0
	if len(s.Warnings) != 0 {
		t.Errorf("a first start warns: %q", s.Warnings)
	}
	oldSSO, oldEntity := s.IdP.SSOURL(), s.IdP.EntityID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = startTestStackOn(t, dir, freePort(t)) // then a fixed port
	cfg, err := s.SP.Store.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SSOURL != oldSSO || cfg.IdPEntityID != oldEntity {
		t.Errorf("kept settings were changed: %q %q", cfg.SSOURL, cfg.IdPEntityID)
	}
	w := strings.Join(s.Warnings, "\n")
	for _, want := range []string{oldSSO, s.IdP.SSOURL(), oldEntity, s.IdP.EntityID(), "Settings", filepath.Join(dir, "refsp")} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q does not name %q", w, want)
		}
	}

	// Settings that trust this IdP again: the next start on that port
	// does not warn.
	port := s.IdPURL.Port()
	cfg.SSOURL, cfg.IdPEntityID = s.IdP.SSOURL(), s.IdP.EntityID()
	if _, err := s.SP.Store.SaveSettings(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	s = startTestStackOn(t, dir, p)
	defer s.Close()
	if len(s.Warnings) != 0 {
		t.Errorf("settings that trust this IdP warn: %q", s.Warnings)
	}
}
