package mockidp

import (
	"strings"
	"testing"
)

func TestSPFlavourFlag(t *testing.T) {
	f := SPFlavourFlag{}
	for _, v := range []string{"https://sp.test/md?a=b=Entra", " urn:x = keycloak "} {
		if err := f.Set(v); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
	}
	if f["https://sp.test/md?a=b"] != "entra" || f["urn:x"] != "keycloak" || len(f) != 2 {
		t.Errorf("parsed %v", f)
	}
	if got := f.String(); got != "https://sp.test/md?a=b=entra,urn:x=keycloak" {
		t.Errorf("String() = %q", got)
	}
	// A flavour or entity ID blank after trimming is refused like an
	// empty one: LookupFlavour would read "" as generic.
	for _, bad := range []string{"https://sp.test", "=entra", " =entra", "urn:x=", "urn:x= ", "urn:x=\t", "urn:x=ping", "="} {
		if err := (SPFlavourFlag{}).Set(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSPFlavourFlagFromEnv(t *testing.T) {
	f := SPFlavourFlag{}
	if err := f.SetFromEnv("X_FLAVOUR", "a=okta, ,b=Entra,"); err != nil || f["a"] != "okta" || f["b"] != "entra" || len(f) != 2 {
		t.Errorf("%v %v", f, err)
	}
	for _, bad := range []string{"a= ", "a=okta,b= ", "a=ping"} {
		err := (SPFlavourFlag{}).SetFromEnv("X_FLAVOUR", bad)
		if err == nil || !strings.Contains(err.Error(), "X_FLAVOUR") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
