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

// Ambiguous --sp-flavour values are refused rather than read one way.
func TestSPFlavourFlagAmbiguities(t *testing.T) {
	f := SPFlavourFlag{}
	if err := f.Set("x=entra"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("x=Entra"); err != nil { // the same flavour again
		t.Errorf("the same flavour twice: %v", err)
	}
	if err := f.Set("x=okta"); err == nil || !strings.Contains(err.Error(), "given twice") || f["x"] != "entra" {
		t.Errorf("conflicting duplicate: %v, %v", err, f)
	}
	if err := (SPFlavourFlag{}).Set("x=entra,y=okta"); err == nil || !strings.Contains(err.Error(), "one SP per --sp-flavour") {
		t.Errorf("a list in one flag: %v", err)
	}
	// A comma inside an entity ID that is not a list is fine.
	g := SPFlavourFlag{}
	if err := g.Set("urn:a,b=okta"); err != nil || g["urn:a,b"] != "okta" {
		t.Errorf("comma in an entity ID: %v %v", err, g)
	}
	for _, v := range []string{" ", ",", " , "} {
		if err := (SPFlavourFlag{}).SetFromEnv("X_FLAVOUR", v); err == nil || !strings.Contains(err.Error(), "X_FLAVOUR") {
			t.Errorf("%q: %v", v, err)
		}
	}
	if err := (SPFlavourFlag{}).SetFromEnv("X_FLAVOUR", ""); err != nil {
		t.Errorf("empty: %v", err)
	}
	if err := (SPFlavourFlag{}).SetFromEnv("X_FLAVOUR", "a=okta,a=entra"); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("conflicting duplicate in the variable: %v", err)
	}
}
