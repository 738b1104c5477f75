package stack

import (
	"context"
	"fmt"
	"strings"
)

// ManualSetup is what ConfigureForManualTesting left in the SP's settings,
// for the banner of `hmpconform run`.
type ManualSetup struct {
	SLOURL                string // the SP's IdP Single Logout URL; "" = local sign-out only
	TrustedCertificates   int    // IdP certificates the SP trusts
	AnnouncedCertificates int    // signing certificates the IdP's metadata announces
}

// ConfigureForManualTesting gives a person single logout and a certificate
// rollover out of the box (`make run`; start the stack with Rollover): the
// SP's IdP Single Logout URL becomes the mock IdP's /slo, and the SP trusts
// the IdP's current and next certificates. Only settings still as
// configure leaves them change (a blank SLO URL, the current certificate
// alone), so a tester's own choices in a kept data directory stay. The
// suites do not call it: their SP starts with local sign-out and one
// trusted certificate.
func (s *Stack) ConfigureForManualTesting(ctx context.Context) (ManualSetup, error) {
	st := s.SP.Store
	cfg, err := st.Settings(ctx)
	if err != nil {
		return ManualSetup{}, fmt.Errorf("read sp settings: %w", err)
	}
	changed := false
	if cfg.SLOURL == "" {
		cfg.SLOURL, changed = s.IdP.SLOURL(), true
	}
	if s.IdP.HasNextKey() && strings.TrimSpace(cfg.IdPCertificatePEM) == strings.TrimSpace(s.IdP.CertificatePEM()) {
		cfg.IdPCertificatePEM, changed = s.IdP.CertificatesPEM(), true
	}
	if changed {
		// Neither the IdP's SLO URL nor the IdP certificates the SP trusts
		// are in the SP's metadata, so the registration Start made stands:
		// registering again only logged the SP a second time.
		if _, err := st.SaveSettings(ctx, cfg); err != nil {
			return ManualSetup{}, fmt.Errorf("save sp settings: %w", err)
		}
	}
	announced := 1
	if s.IdP.HasNextKey() {
		announced = 2
	}
	return ManualSetup{
		SLOURL:                cfg.SLOURL,
		TrustedCertificates:   strings.Count(cfg.IdPCertificatePEM, "-----BEGIN CERTIFICATE-----"),
		AnnouncedCertificates: announced,
	}, nil
}
