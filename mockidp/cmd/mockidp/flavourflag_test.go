package main

import "testing"

func TestFlavourFlag(t *testing.T) {
	o, err := parseFlags([]string{"--sp-flavour", "https://sp.test/md?a=b=Entra", "--sp-flavour", "urn:x=keycloak"})
	if err != nil {
		t.Fatal(err)
	}
	if o.spFlavours["https://sp.test/md?a=b"] != "entra" || o.spFlavours["urn:x"] != "keycloak" || len(o.spFlavours) != 2 {
		t.Errorf("parsed %v", o.spFlavours)
	}
	for _, bad := range []string{"https://sp.test", "=entra", "urn:x=", "urn:x=ping"} {
		if _, err := parseFlags([]string{"--sp-flavour", bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
