package stack

import (
	"strings"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/tlsutil"
)

func startTestStack(t *testing.T, dir string, rollover bool) *Stack {
	t.Helper()
	ca, err := tlsutil.NewCA("stack test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(t.Context(), Options{DataDir: dir, IdPHost: "idp.mock.test", SPHost: "hmp.sp.test", CA: ca, Rollover: rollover, PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// `hmpconform run` (make run) gets single logout and both rollover
// certificates; a stack that does not ask (the suites) keeps local
// sign-out and one trusted certificate; a tester's own settings in a kept
// data directory are not overwritten.
func TestConfigureForManualTesting(t *testing.T) {
	dir := t.TempDir()
	s := startTestStack(t, dir, true)
	cfg, err := s.SP.Store.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SLOURL != "" || strings.TrimSpace(cfg.IdPCertificatePEM) != strings.TrimSpace(s.IdP.CertificatePEM()) {
		t.Fatalf("a stack's defaults changed: SLO %q, %d certificates", cfg.SLOURL, strings.Count(cfg.IdPCertificatePEM, "BEGIN CERTIFICATE"))
	}
	m, err := s.ConfigureForManualTesting(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := ManualSetup{SLOURL: s.IdP.SLOURL(), TrustedCertificates: 2, AnnouncedCertificates: 2}
	if m != want {
		t.Errorf("setup %+v, want %+v", m, want)
	}
	cfg, _ = s.SP.Store.Settings(t.Context())
	if cfg.SLOURL != s.IdP.SLOURL() || cfg.IdPCertificatePEM != s.IdP.CertificatesPEM() {
		t.Errorf("saved SLO %q, certificates %q", cfg.SLOURL, cfg.IdPCertificatePEM)
	}

	// A tester sets another SLO URL, then restarts with the same data
	// directory.
	cfg.SLOURL = "https://elsewhere.test/slo"
	if _, err := s.SP.Store.SaveSettings(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = startTestStack(t, dir, true)
	defer s.Close()
	if m, err = s.ConfigureForManualTesting(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.SLOURL != "https://elsewhere.test/slo" || m.TrustedCertificates != 2 {
		t.Errorf("a kept data directory's settings were overwritten: %+v", m)
	}
}

// Without a rollover the SP still gets single logout, and one certificate.
func TestConfigureForManualTestingWithoutRollover(t *testing.T) {
	s := startTestStack(t, t.TempDir(), false)
	defer s.Close()
	m, err := s.ConfigureForManualTesting(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := (ManualSetup{SLOURL: s.IdP.SLOURL(), TrustedCertificates: 1, AnnouncedCertificates: 1}); m != want {
		t.Errorf("setup %+v, want %+v", m, want)
	}
}
