// Command verifyinfo prints, before `make verify` runs the suites against a
// target profile, what the target's administrator must enter so that it
// trusts the run's mock IdP: the IdP's entity ID, SSO URL and signing
// certificate, and the JIT settings the specs expect.
package main

import (
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/suites/framework"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: verifyinfo <target profile.yaml>")
		os.Exit(2)
	}
	p, err := framework.LoadProfile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(2)
	}
	pair, err := keypair.LoadOrCreate(p.IdP.DataDir, "idp-signing", "hmpconform mock IdP", time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify: idp key:", err)
		os.Exit(2)
	}
	host := p.IdP.Host
	if p.IdP.Port != 0 {
		host = net.JoinHostPort(p.IdP.Host, strconv.Itoa(p.IdP.Port))
	}
	base := "https://" + host
	mode := "settings are saved by the specs (Save Settings signs the target's other users out)"
	if p.SafeMode || !p.Capabilities.SettingsWritable {
		mode = "SAFE MODE: settings are never saved; specs needing other settings are skipped"
	}
	fmt.Printf(`verify: target %q at %s
  %s

Enter in the target's Administration > System Settings > User Provisioning/SSO (Just-in-Time):
  SAML SSO URL          %s/sso
  IdP Entity ID/Issuer  %s/metadata
  Group Membership      %s
  IdP certificate       (below; also in %s/idp-signing-cert.pem)
%s`, p.Name, p.BaseURL, mode, base, base, groupAttr(p), p.IdP.DataDir,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Certificate.Raw}))
	if p.IdP.Port == 0 {
		fmt.Println("  (idp.port is 0: the IdP's port is chosen at run time; set idp.port in the profile for settings that stay valid)")
	}
	fmt.Println("  The IdP's metadata is served at " + base + "/metadata while the run lasts.")
}

func groupAttr(p *framework.Profile) string {
	if p.IdP.GroupAttribute != "" {
		return p.IdP.GroupAttribute
	}
	return "groups"
}
