package mockidp

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/google/uuid"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/hmpconform/hmpconform/fixtures"
)

// flavourServer is an IdP with a persona whose Engineering group has an
// object ID in its groupIDs map.
func flavourServer(t *testing.T, spFlavours map[string]string) *Server {
	t.Helper()
	key, cert, err := LoadOrCreateKeyPair(t.TempDir(), time.Now(), "idp.mock.test")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(idpBase)
	s, err := New(Config{BaseURL: base, Key: key, Certificate: cert, SPFlavours: spFlavours,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Personas: []fixtures.Persona{{ID: "alice", NameID: "alice@example.com", FirstName: "Alice", LastName: "Liddell",
			Email: "alice@example.com", ShortName: "alice", Groups: []string{"Engineering", "Sales"},
			GroupIDs: map[string]string{"Engineering": "6F1D1C8E-3A52-4F4E-9D0B-2B7C0E5A9A11"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shape resolves a login as alice with these options and returns the
// identity and the attributes it would send, by name.
func shape(t *testing.T, s *Server, opts loginOptions) (*identity, map[string]saml.Attribute) {
	t.Helper()
	id, msg := s.resolve(loginForm{Persona: "alice", Options: opts})
	if msg != "" {
		t.Fatalf("resolve %+v: %s", opts, msg)
	}
	attrs := map[string]saml.Attribute{}
	for _, a := range s.attributes(id) {
		if _, dup := attrs[a.Name]; dup {
			t.Fatalf("attribute %s sent twice", a.Name)
		}
		attrs[a.Name] = a
	}
	return id, attrs
}

func values(a saml.Attribute) []string {
	var out []string
	for _, v := range a.Values {
		out = append(out, v.Value)
	}
	return out
}

func TestFlavourTable(t *testing.T) {
	engGUID := "6f1d1c8e-3a52-4f4e-9d0b-2b7c0e5a9a11" // alice's groupIDs, lower-cased
	for _, tc := range []struct {
		flavour                 string
		first, last, email      string
		nameFormat              string // of the first-name attribute
		friendly                string // of the first-name attribute
		groupAttr, groupFormat  string
		groups                  []string
		nameID                  string
		signAssertion, signResp bool
	}{
		{"", "firstName", "lastName", "email", attrNameFormatBasic, "", "groups", attrNameFormatBasic,
			[]string{"Engineering", "Sales"}, string(saml.UnspecifiedNameIDFormat), true, true},
		{"okta", "firstName", "lastName", "email", attrNameFormatUnspecified, "", "groups", attrNameFormatUnspecified,
			[]string{"Engineering", "Sales"}, string(saml.UnspecifiedNameIDFormat), true, true},
		{"entra", claimGivenName, claimSurname, claimEmailAddress, "", "", claimEntraGroups, "",
			[]string{engGUID, GroupObjectID("Sales")}, string(saml.EmailAddressNameIDFormat), true, false},
		{"adfs", claimGivenName, claimSurname, claimEmailAddress, "", "", claimADFSGroup, "",
			[]string{"Engineering", "Sales"}, string(saml.EmailAddressNameIDFormat), true, false},
		{"google", "firstName", "lastName", "email", "", "", "groups", "",
			[]string{"Engineering", "Sales"}, string(saml.UnspecifiedNameIDFormat), true, false},
		{"keycloak", "urn:oid:2.5.4.42", "urn:oid:2.5.4.4", "urn:oid:1.2.840.113549.1.9.1", attrNameFormatURI, "givenName", "member", attrNameFormatBasic,
			[]string{"/Engineering", "/Sales"}, string(saml.UnspecifiedNameIDFormat), false, true},
	} {
		t.Run("flavour="+tc.flavour, func(t *testing.T) {
			s := flavourServer(t, nil)
			id, attrs := shape(t, s, loginOptions{Flavour: tc.flavour})
			want := tc.flavour
			if want == "" {
				want = FlavourGeneric
			}
			if id.Flavour != want {
				t.Errorf("flavour %q, want %q", id.Flavour, want)
			}
			first, ok := attrs[tc.first]
			if !ok || values(first)[0] != "Alice" || first.NameFormat != tc.nameFormat || first.FriendlyName != tc.friendly {
				t.Errorf("first name attribute %s: %+v (present %v); want NameFormat %q, FriendlyName %q", tc.first, first, ok, tc.nameFormat, tc.friendly)
			}
			if a, ok := attrs[tc.last]; !ok || values(a)[0] != "Liddell" {
				t.Errorf("last name attribute %s: %+v", tc.last, a)
			}
			if a, ok := attrs[tc.email]; !ok || values(a)[0] != "alice@example.com" {
				t.Errorf("email attribute %s: %+v", tc.email, a)
			}
			g, ok := attrs[tc.groupAttr]
			if !ok || !slices.Equal(values(g), tc.groups) || g.NameFormat != tc.groupFormat {
				t.Errorf("group attribute %s: %+v (present %v); want %v with NameFormat %q", tc.groupAttr, g, ok, tc.groups, tc.groupFormat)
			}
			if id.GroupAttribute != tc.groupAttr {
				t.Errorf("identity group attribute %q, want %q", id.GroupAttribute, tc.groupAttr)
			}
			if id.Options.NameIDFormat != tc.nameID {
				t.Errorf("NameID format %q, want %q", id.Options.NameIDFormat, tc.nameID)
			}
			if id.Options.SignAssertion != tc.signAssertion || id.Options.SignResponse != tc.signResp || id.Options.SignatureMethod != dsig.RSASHA256SignatureMethod {
				t.Errorf("signing assertion %v response %v %s; want %v %v RSA-SHA256", id.Options.SignAssertion, id.Options.SignResponse, id.Options.SignatureMethod, tc.signAssertion, tc.signResp)
			}
			_, short := attrs["shortName"]
			if short != (want == FlavourGeneric) {
				t.Errorf("shortName sent: %v; only generic sends it", short)
			}
		})
	}
}

func TestEveryFlavourIsDocumented(t *testing.T) {
	for _, f := range Flavours() {
		if f.ID != FlavourGeneric && len(f.Sources) == 0 {
			t.Errorf("%s has no source", f.ID)
		}
		for _, d := range []struct {
			list []option
			v    string
		}{{nameIDFormats, f.NameIDFormat}, {signWhats, f.SignWhat}, {signAlgs, f.SignAlg}, {groupFormats, f.GroupFormat}} {
			if _, ok := lookupOption(d.list, d.v, ""); !ok || d.v == "" {
				t.Errorf("%s: default %q is not an option value", f.ID, d.v)
			}
		}
	}
}

func TestEntraUserClaims(t *testing.T) {
	s := flavourServer(t, nil)
	_, attrs := shape(t, s, loginOptions{Flavour: "entra"})
	if v := values(attrs[claimName]); !slices.Equal(v, []string{"alice@example.com"}) {
		t.Errorf("name claim %v", v)
	}
	if v := values(attrs[claimEntraOID]); !slices.Equal(v, []string{UserObjectID("alice@example.com")}) {
		t.Errorf("objectidentifier %v", v)
	}
	if v := values(attrs[claimEntraTenant]); !slices.Equal(v, []string{TenantID(s.EntityID())}) {
		t.Errorf("tenantid %v", v)
	}
	if _, ok := attrs[claimGroupsLink]; ok {
		t.Error("groups.link sent with two groups")
	}
}

func TestGroupObjectID(t *testing.T) {
	a, b := GroupObjectID("Engineering"), GroupObjectID("Engineering")
	if a != b {
		t.Fatalf("not deterministic: %s %s", a, b)
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 5 || u.Variant() != uuid.RFC4122 {
		t.Errorf("%s: %v, version %d, variant %v", a, err, u.Version(), u.Variant())
	}
	if GroupObjectID("engineering") == a || GroupObjectID("Sales") == a {
		t.Error("different names share an ID")
	}
	if UserObjectID("Engineering") == a || TenantID("Engineering") == a {
		t.Error("a user or tenant ID equals a group's: the kinds must not collide")
	}
	// The persona's map wins; other groups are derived.
	ids := map[string]string{"Engineering": "6F1D1C8E-3A52-4F4E-9D0B-2B7C0E5A9A11"}
	if got := groupValue("Engineering", GroupFormatGUID, ids); got != "6f1d1c8e-3a52-4f4e-9d0b-2b7c0e5a9a11" {
		t.Errorf("mapped group: %s", got)
	}
	if got := groupValue("Sales", GroupFormatGUID, ids); got != GroupObjectID("Sales") {
		t.Errorf("unmapped group: %s", got)
	}
	if got := groupValue("/Top/Sub", GroupFormatPath, nil); got != "/Top/Sub" {
		t.Errorf("a path stays a path: %s", got)
	}
}

func manyGroups(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "Team-%03d\n", i)
	}
	return b.String()
}

func TestEntraGroupOverage(t *testing.T) {
	s := flavourServer(t, nil)
	for _, tc := range []struct {
		n        int
		overage  bool
		flavour  string
		groupFmt string
	}{
		{150, false, "entra", ""}, // Entra's documented SAML limit
		{151, true, "entra", ""},
		{151, true, "entra", "name"}, // group names do not lift the limit
		{200, false, "okta", ""},     // only Entra has one
	} {
		t.Run(fmt.Sprintf("%s-%d-%s", tc.flavour, tc.n, tc.groupFmt), func(t *testing.T) {
			id, msg := s.resolve(loginForm{Username: "many@example.com", Groups: manyGroups(tc.n), Options: loginOptions{Flavour: tc.flavour, GroupFormat: tc.groupFmt}})
			if msg != "" {
				t.Fatal(msg)
			}
			attrs := map[string][]string{}
			for _, a := range s.attributes(id) {
				attrs[a.Name] = values(a)
			}
			fl, _ := LookupFlavour(tc.flavour)
			groups, sent := attrs[fl.groupAttributeName(s.groupAttr)]
			link, linked := attrs[claimGroupsLink]
			if tc.overage {
				want := fmt.Sprintf("https://graph.windows.net/%s/users/%s/getMemberObjects", TenantID(s.EntityID()), UserObjectID("many@example.com"))
				if sent || !linked || !slices.Equal(link, []string{want}) {
					t.Errorf("%d groups: group claim sent %v, link %v; want no group claim and %s", tc.n, sent, link, want)
				}
				return
			}
			if !sent || len(groups) != tc.n || linked {
				t.Errorf("%d groups: sent %d values (present %v), link %v", tc.n, len(groups), sent, linked)
			}
		})
	}
}

func TestExplicitOptionsWinOverTheFlavour(t *testing.T) {
	s := flavourServer(t, nil)
	id, attrs := shape(t, s, loginOptions{Flavour: "entra", GroupFormat: "name", SignWhat: "both", SignAlg: "sha512",
		NameIDFormat: "persistent", GroupNameFormat: "uri", GroupsMode: "joined", GroupsDelimiter: ";"})
	if g := values(attrs[claimEntraGroups]); !slices.Equal(g, []string{"Engineering;Sales"}) {
		t.Errorf("groups %v, want names joined by ;", g)
	}
	if attrs[claimEntraGroups].NameFormat != attrNameFormatURI {
		t.Errorf("group NameFormat %q", attrs[claimEntraGroups].NameFormat)
	}
	o := id.Options
	if !o.SignAssertion || !o.SignResponse || o.SignatureMethod != dsig.RSASHA512SignatureMethod || o.NameIDFormat != string(saml.PersistentNameIDFormat) {
		t.Errorf("options %+v", o)
	}
	// A group attribute name typed on the form wins too.
	id, msg := s.resolve(loginForm{Persona: "alice", GroupAttribute: "memberOf", Options: loginOptions{Flavour: "keycloak"}})
	if msg != "" || id.GroupAttribute != "memberOf" || id.GroupFormat != GroupFormatPath {
		t.Errorf("keycloak with memberOf: %q %q %q", msg, id.GroupAttribute, id.GroupFormat)
	}
}

func TestUnknownFlavourOrGroupFormat(t *testing.T) {
	s := flavourServer(t, nil)
	for opts, want := range map[loginOptions]string{
		{Flavour: "ping"}:                      "Unknown IdP flavour ping (generic, okta, entra, adfs, google, keycloak).",
		{Flavour: "entra", GroupFormat: "sid"}: "Unknown group format sid (name, guid or path).",
	} {
		if id, msg := s.resolve(loginForm{Persona: "alice", Options: opts}); id != nil || msg != want {
			t.Errorf("%+v: %q, want %q", opts, msg, want)
		}
	}
	if _, err := New(Config{BaseURL: s.cfg.BaseURL, Key: s.cfg.Key, Certificate: s.cfg.Certificate, SPFlavours: map[string]string{"https://sp": "ping"}}); err == nil {
		t.Error("New accepted an unknown SP flavour")
	}
}

// TestFlavourLoginEndToEnd signs in over HTTP as an Entra- and a
// Keycloak-flavoured IdP and checks what the SP receives and what the log
// records; the second login takes the SP's default flavour.
func TestFlavourLoginEndToEnd(t *testing.T) {
	e := newEnv(t, envOpts{register: true, plaintext: true})
	raw := e.initiateWith(t, url.Values{"flavour": {"entra"}})
	r, a := sigMethods(t, raw)
	if r != "" || a != dsig.RSASHA256SignatureMethod {
		t.Errorf("entra: response signature %q, assertion %q; want the assertion only", r, a)
	}
	assertion, err := e.sp.ParseXMLResponse(raw, nil, e.sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refused the response: %v", err)
	}
	if got := attrValues(assertion, claimEntraGroups); !slices.Equal(got, []string{GroupObjectID("Engineering"), GroupObjectID("Sales, EMEA")}) {
		t.Errorf("groups %v", got)
	}
	if assertion.Subject.NameID.Format != string(saml.EmailAddressNameIDFormat) {
		t.Errorf("NameID format %s", assertion.Subject.NameID.Format)
	}
	if !regexp.MustCompile(`<saml:Attribute Name="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname">`).Match(raw) {
		t.Error("the givenname claim should carry no NameFormat")
	}
	l := e.idp.Log()
	if len(l) != 1 || l[0].Flavour != "entra" {
		t.Fatalf("log %+v", l)
	}
	rec := e.get(idpBase + "/log")
	if !strings.Contains(rec.Body.String(), `<td class="flavour">entra</td>`) {
		t.Error("the log page does not show the flavour")
	}
	if rec := e.get(idpBase + "/api/log"); !strings.Contains(rec.Body.String(), `"flavour": "entra"`) {
		t.Error("the JSON log does not show the flavour")
	}

	// The SP's default flavour preselects the form and applies to a
	// scripted POST that names none.
	e.idp.spFlavours = map[string]string{testSPEntityID: "keycloak"}
	page := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode()).Body.String()
	if !strings.Contains(page, `<option value="keycloak" data-group-attribute="member" selected>`) || !strings.Contains(page, `id="groupAttribute" name="groupAttribute" value="member"`) {
		t.Errorf("the login page does not preselect the SP's flavour:\n%s", page)
	}
	action, form := parseLogin(t, page)
	form.Set("persona", "alice")
	raw = samlResponse(t, e.post(idpBase+action, form))
	if r, a := sigMethods(t, raw); r != dsig.RSASHA256SignatureMethod || a != "" {
		t.Errorf("keycloak: response signature %q, assertion %q; want the response only", r, a)
	}
	if !strings.Contains(string(raw), `FriendlyName="givenName" Name="urn:oid:2.5.4.42" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"`) {
		t.Errorf("no X500 givenName attribute in\n%s", raw)
	}
	if l := e.idp.Log(); len(l) != 2 || l[1].Flavour != "keycloak" || !slices.Equal(l[1].Attributes["member"], []string{"/Engineering", "/Sales, EMEA"}) {
		t.Errorf("log %+v", l[len(l)-1])
	}
}
