package mockidp

import "testing"

// TestFlavourNamesAsVendorsWriteThem pins the attribute names to the
// strings the vendors document, written out literally: the other flavour
// tests and the flavour suite take the names from the table's constants,
// so a typo there would pass them all.
func TestFlavourNamesAsVendorsWriteThem(t *testing.T) {
	for id, want := range map[string][4]string{ // first, last, email, groups
		"entra": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
			"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"},
		"adfs": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
			"http://schemas.xmlsoap.org/claims/Group"},
		"keycloak": {"urn:oid:2.5.4.42", "urn:oid:2.5.4.4", "urn:oid:1.2.840.113549.1.9.1", "member"},
	} {
		fl, ok := LookupFlavour(id)
		if !ok {
			t.Fatalf("no flavour %s", id)
		}
		got := [4]string{fl.FirstName.Name, fl.LastName.Name, fl.Email.Name, fl.Groups.Name}
		if got != want {
			t.Errorf("%s names\n got %q\nwant %q", id, got, want)
		}
	}
	for name, want := range map[string]string{
		claimName:        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		claimEntraOID:    "http://schemas.microsoft.com/identity/claims/objectidentifier",
		claimEntraTenant: "http://schemas.microsoft.com/identity/claims/tenantid",
		claimGroupsLink:  "http://schemas.microsoft.com/claims/groups.link",
		entraGroupsLink:  "https://graph.windows.net/%s/users/%s/getMemberObjects",
	} {
		if name != want {
			t.Errorf("%q, want %q", name, want)
		}
	}
	if EntraGroupLimit != 150 {
		t.Errorf("Entra's SAML group limit is 150, not %d", EntraGroupLimit)
	}
}
