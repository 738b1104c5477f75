package main

import (
	"strings"
	"testing"
)

func TestFlavourFlag(t *testing.T) {
	o, err := parseFlags([]string{"--sp-flavour", "https://sp.test/md?a=b=Entra", "--sp-flavour", "urn:x=keycloak"})
	if err != nil {
		t.Fatal(err)
	}
	if o.spFlavours["https://sp.test/md?a=b"] != "entra" || o.spFlavours["urn:x"] != "keycloak" || len(o.spFlavours) != 2 {
		t.Errorf("parsed %v", o.spFlavours)
	}
	for _, bad := range []string{"https://sp.test", "=entra", "urn:x=", "urn:x= ", "urn:x=ping"} {
		if _, err := parseFlags([]string{"--sp-flavour", bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// MOCKIDP_SP_FLAVOUR sets the SP flavours as every other flag's variable
// does (comma-separated, like MOCKIDP_SP_METADATA); a flag wins over it.
func TestFlavourFlagFromEnvironment(t *testing.T) {
	t.Setenv("MOCKIDP_SP_FLAVOUR", "https://sp.test/md=Entra, urn:x=keycloak")
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.spFlavours["https://sp.test/md"] != "entra" || o.spFlavours["urn:x"] != "keycloak" || len(o.spFlavours) != 2 {
		t.Errorf("from the environment: %v", o.spFlavours)
	}
	if o, err = parseFlags([]string{"--sp-flavour", "urn:y=okta"}); err != nil || len(o.spFlavours) != 1 || o.spFlavours["urn:y"] != "okta" {
		t.Errorf("the flag should win over the environment: %v %v", o.spFlavours, err)
	}
	for _, bad := range []string{"urn:x=ping", "a= "} {
		t.Setenv("MOCKIDP_SP_FLAVOUR", bad)
		if _, err := parseFlags(nil); err == nil || !strings.Contains(err.Error(), "MOCKIDP_SP_FLAVOUR") {
			t.Errorf("MOCKIDP_SP_FLAVOUR=%q: %v", bad, err)
		}
	}
}
