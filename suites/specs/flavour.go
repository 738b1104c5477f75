package specs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/sp/store"
	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// Flavours registers the IdP-flavour specs: the core JIT requirements run
// through each flavour of the mock IdP (mockidp/flavour_table.go), with the
// SP's attribute mapping set to the names that flavour sends, as an
// administrator would from the IdP's documentation. Call it at package
// level in a suite: var _ = specs.Flavours(suite).
func Flavours(suite *framework.Suite, decorators ...any) bool {
	Describe("IdP flavours", append(decorators, Label("flavour"), func() {
		for _, fl := range mockidp.Flavours() {
			flavourSpecs(suite, fl)
		}
		entraSpecs(suite)
		keycloakSpecs(suite)
		manyGroupsSpecs(suite)
	})...)
	return true
}

// flavourLogin is a login on the mock IdP's form with a flavour and, in
// Options, form options set explicitly (select ID → value).
type flavourLogin struct {
	framework.Login
	Flavour mockidp.Flavour
	Options map[string]string
}

// noteFlavour puts the flavour in the running spec's report.
func noteFlavour(fl mockidp.Flavour) {
	AddReportEntry("IdP flavour", fmt.Sprintf("%s (%s): %s", fl.ID, fl.Label, strings.Join(fl.Sources, " ")), ReportEntryVisibilityFailureOrVerbose)
}

// flavourGroupAttr is the group attribute name a flavour sends, as the
// login form shows it once the flavour is chosen.
func flavourGroupAttr(suite *framework.Suite, fl mockidp.Flavour) string {
	if fl.Groups.Name != "" {
		return fl.Groups.Name
	}
	return suite.JITFields(nil)["groupMembershipAttr"] // the IdP's default
}

// configureFor saves JIT settings that map the flavour's attribute names,
// with Group Membership from its group attribute and these defaults.
func configureFor(suite *framework.Suite, fl mockidp.Flavour, defaults ...string) {
	GinkgoHelper()
	Expect(suite.Admin.MustSaveSettings(suite.JITFields(map[string]string{
		"firstNameAttr": fl.FirstName.Name, "lastNameAttr": fl.LastName.Name, "emailAttr": fl.Email.Name,
		"shortNameAttr": fl.ShortName.Name, "groupMembershipAttr": flavourGroupAttr(suite, fl),
		"defaultUserGroups": strings.Join(defaults, ", "),
	}))).To(Succeed())
}

// signInFlavoured signs a person in through the IdP (SP-initiated) with
// the flavour chosen on the login form, and expects to land signed in.
func signInFlavoured(suite *framework.Suite, u *framework.User, l flavourLogin) framework.Outcome {
	GinkgoHelper()
	Expect(browser.Run(u.Tab, framework.StepTimeout,
		framework.Open(suite.Env.SPURL("/"), "#login"), framework.WaitForVisible("login"),
		framework.SetField("flavour", l.Flavour.ID))).To(Succeed(), "choose the IdP flavour")
	// Choosing the flavour brings its group attribute name into the form.
	attr, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[string](`document.getElementById('groupAttribute').value`))
	Expect(err).NotTo(HaveOccurred())
	Expect(attr).To(Equal(flavourGroupAttr(suite, l.Flavour)), "the login form's group attribute after choosing %s", l.Flavour.ID)
	fields := [][2]string{
		{"username", l.Username}, {"firstName", l.FirstName}, {"lastName", l.LastName},
		{"email", l.Email}, {"shortName", l.ShortName}, {"groups", strings.Join(l.Groups, "\n")},
	}
	for id, v := range l.Options {
		fields = append(fields, [2]string{id, v})
	}
	Expect(browser.Run(u.Tab, framework.StepTimeout, framework.SetFields(fields...))).To(Succeed(), "fill the IdP form")
	suite.Env.Step(u.Tab, fmt.Sprintf("IdP login page as %s, filled in for %s", l.Flavour.Label, l.Username))
	out, err := u.SubmitAndWaitForSP("signin")
	Expect(err).NotTo(HaveOccurred())
	Expect(out.SignedIn).To(BeTrue(), "the SP did not sign %s in: %s", l.Username, out.Text)
	return out
}

// sendsGroupNames says which flavours send plain group names by default,
// as the vendors document it (README, "IdP flavours"); Entra sends object
// IDs and Keycloak group paths ("/Engineering"). Written out here rather
// than read from the IdP's table, so that a table sending the wrong kind
// of value turns these specs red.
var sendsGroupNames = map[string]bool{
	"generic": true, "okta": true, "adfs": true, "google": true, "entra": false, "keycloak": false,
}

// vendorDefault is what a product puts on the wire by default, as its
// vendor documents it (README, "IdP flavours", has the sources).
type vendorDefault struct {
	firstNameAttr string // Name of the first-name attribute
	groupsAttr    string // Name of the groups attribute; "" for the IdP's configured one
	nameIDFormat  string
	signsResponse bool // an enveloped signature on the Response
	signsAssert   bool // an enveloped signature on the Assertion
}

const (
	nameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	nameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	rsaSHA256         = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	// entraGroupLimit is Microsoft's documented SAML limit: above it Entra
	// sends groups.link instead of the groups claim.
	entraGroupLimit = 150
)

// vendorDefaults is written out here, not read from the IdP's table, so that
// a flavour table drifting from the vendors' documentation turns the
// flavour specs red, not just the IdP's unit tests.
var vendorDefaults = map[string]vendorDefault{
	"generic":  {"firstName", "", nameIDUnspecified, true, true},
	"okta":     {"firstName", "groups", nameIDUnspecified, true, true},
	"entra":    {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", nameIDEmail, false, true},
	"adfs":     {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "http://schemas.xmlsoap.org/claims/Group", nameIDEmail, false, true},
	"google":   {"firstName", "groups", nameIDUnspecified, false, true},
	"keycloak": {"urn:oid:2.5.4.42", "member", nameIDUnspecified, true, false},
}

// expectVendorShape checks the response the IdP logged against the
// vendor's defaults: attribute names, NameID format, which elements are
// signed and with which algorithm. It reads the XML, not the IdP's own
// account of its options.
func expectVendorShape(fl mockidp.Flavour, sent mockidp.LoggedResponse, firstName string) {
	GinkgoHelper()
	want, ok := vendorDefaults[fl.ID]
	Expect(ok).To(BeTrue(), "no vendor defaults written down for flavour %q: add them to vendorDefaults", fl.ID)
	doc := etree.NewDocument()
	Expect(doc.ReadFromString(sent.ResponseXML)).To(Succeed(), "the logged response")
	resp := doc.Root()
	Expect(resp).NotTo(BeNil())
	assertion := loggedAssertion(sent)
	nameID := assertion.FindElement("./Subject/NameID")
	Expect(nameID).NotTo(BeNil())
	Expect(nameID.SelectAttrValue("Format", "")).To(Equal(want.nameIDFormat), "NameID Format")
	Expect(valuesSent(sent, want.firstNameAttr)).To(Equal([]string{firstName}), "the first name under the vendor's attribute name")

	for _, el := range []struct {
		what   string
		e      *etree.Element
		signed bool
	}{{"Response", resp, want.signsResponse}, {"Assertion", assertion, want.signsAssert}} {
		sig := el.e.FindElement("./Signature")
		if !el.signed {
			Expect(sig).To(BeNil(), "%s signs no %s by default", fl.Label, el.what)
			continue
		}
		Expect(sig).NotTo(BeNil(), "%s signs the %s by default", fl.Label, el.what)
		m := sig.FindElement("./SignedInfo/SignatureMethod")
		Expect(m).NotTo(BeNil())
		Expect(m.SelectAttrValue("Algorithm", "")).To(Equal(rsaSHA256), "%s signature algorithm", el.what)
	}
}

// loggedAssertion is the assertion of a logged response: the one in its
// XML or, when it went out encrypted, the one the IdP encrypted.
func loggedAssertion(sent mockidp.LoggedResponse) *etree.Element {
	GinkgoHelper()
	doc := etree.NewDocument()
	if sent.Encrypted {
		Expect(doc.ReadFromString(sent.AssertionXML)).To(Succeed(), "the logged assertion")
		return doc.Root()
	}
	Expect(doc.ReadFromString(sent.ResponseXML)).To(Succeed(), "the logged response")
	a := doc.Root().FindElement("./Assertion")
	Expect(a).NotTo(BeNil(), "no assertion in the response")
	return a
}

// valuesSent are the values of the attribute with this Name in the logged
// response's XML.
func valuesSent(sent mockidp.LoggedResponse, name string) []string {
	GinkgoHelper()
	var out []string
	for _, a := range loggedAssertion(sent).FindElements("./AttributeStatement/Attribute") {
		if a.SelectAttrValue("Name", "") == name {
			for _, v := range a.SelectElements("AttributeValue") {
				out = append(out, v.Text())
			}
		}
	}
	return out
}

func flavourSpecs(suite *framework.Suite, fl mockidp.Flavour) {
	Describe("as "+fl.Label+" (flavour "+fl.ID+")", func() {
		BeforeEach(func() { noteFlavour(fl) })

		It("creates the account at first sign-in, profile from the flavour's attribute names, and reuses it", Label("JIT-CREATE", "JIT-ATTRS"), func(ctx SpecContext) {
			configureFor(suite, fl)
			id := suite.NewUserID("flavour-" + fl.ID)
			email := strings.Replace(id, "@", ".mail@", 1)
			login := flavourLogin{Flavour: fl, Login: framework.Login{Username: id, FirstName: "Nina", LastName: "Neumann", Email: email}}
			out := signInFlavoured(suite, suite.NewUserTab("first"), login)
			Expect(out.Identifier).To(Equal(id))

			sent := suite.LastSent(id)
			Expect(sent.Flavour).To(Equal(fl.ID), "the IdP log's flavour")
			Expect(sent.Attributes).To(HaveKeyWithValue(fl.FirstName.Name, []string{"Nina"}), "the IdP sent the first name under the flavour's name")
			expectVendorShape(fl, sent, "Nina")

			rows := suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1))
			Expect(rows[0].DisplayName).To(Equal("Nina Neumann"))
			d, err := suite.Admin.User(rows[0].ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(d).To(And(HaveField("FirstName", "Nina"), HaveField("LastName", "Neumann"), HaveField("Email", email)))

			signInFlavoured(suite, suite.NewUserTab("second"), login)
			again := suite.MustUsersNamed(id)
			Expect(again).To(HaveLen(1), "a second sign-in made a second account")
			Expect(again[0].ID).To(Equal(rows[0].ID))
		})

		if sendsGroupNames[fl.ID] {
			It("matches asserted group names ignoring case, ignores unknown ones, and adds no defaults", Label("GRP-MATCH", "GRP-CASE", "GRP-UNKNOWN", "GRP-DEFAULT"), func(ctx SpecContext) {
				g := suite.MustNewGroups("Engineering", "Sales", "Support")
				configureFor(suite, fl, g[2])
				ghost := suite.Env.Unique("Ghost")
				id := suite.NewUserID("flavour-groups-" + fl.ID)
				out := signInFlavoured(suite, suite.NewUserTab("user"), flavourLogin{Flavour: fl,
					Login: framework.Login{Username: id, Groups: []string{strings.ToUpper(g[0]), strings.ToLower(g[1]), ghost}}})
				Expect(out.Groups).To(ConsistOf(g[0], g[1]), "the user's own page")
				Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]), "the Users page: matched with the SP's spelling, no defaults")
				sentNames := []string{strings.ToUpper(g[0]), strings.ToLower(g[1]), ghost}
				Expect(suite.LastSent(id).Attributes).To(HaveKeyWithValue(flavourGroupAttr(suite, fl), sentNames), "the IdP sent the names as typed")
				if attr := vendorDefaults[fl.ID].groupsAttr; attr != "" {
					Expect(valuesSent(suite.LastSent(id), attr)).To(Equal(sentNames), "the names under the vendor's group attribute")
				}
				names, err := suite.Admin.Groups()
				Expect(err).NotTo(HaveOccurred())
				Expect(names).NotTo(ContainElement(MatchRegexp("(?i)^" + ghost + "$")))
			})
		} else {
			It("sends groups the SP cannot match by display name: the Default User Groups apply", Label("GRP-UNKNOWN", "GRP-DEFAULT"), func(ctx SpecContext) {
				g := suite.MustNewGroups("Engineering", "Support")
				configureFor(suite, fl, g[1])
				id := suite.NewUserID("flavour-groups-" + fl.ID)
				out := signInFlavoured(suite, suite.NewUserTab("user"), flavourLogin{Flavour: fl, Login: framework.Login{Username: id, Groups: []string{g[0]}}})
				sent := suite.LastSent(id).Attributes[flavourGroupAttr(suite, fl)]
				Expect(sent).To(HaveLen(1))
				Expect(valuesSent(suite.LastSent(id), vendorDefaults[fl.ID].groupsAttr)).To(Equal(sent), "under the vendor's group attribute")
				Expect(sent[0]).NotTo(Equal(g[0]), "the %s flavour should not send the bare group name", fl.ID)
				Expect(out.Groups).To(ConsistOf(g[1]))
				Expect(suite.GroupsOf(id)).To(ConsistOf(g[1]), "only the Default User Groups")
			})
		}
	})
}

func entraSpecs(suite *framework.Suite) {
	entra, ok := mockidp.LookupFlavour("entra")
	if !ok {
		return
	}
	Describe("as Microsoft Entra ID, groups in detail", func() {
		BeforeEach(func() { noteFlavour(entra) })

		It("matches SP groups named by the group object ID", Label("GRP-MATCH"), func(ctx SpecContext) {
			display := suite.Env.Unique("Engineering")
			byID := mockidp.GroupObjectID(display)
			Expect(suite.Admin.CreateGroup(byID, store.RoleViewer)).To(Succeed())
			def := suite.MustNewGroups("Support")[0]
			configureFor(suite, entra, def)
			id := suite.NewUserID("entra-guid")
			out := signInFlavoured(suite, suite.NewUserTab("user"), flavourLogin{Flavour: entra, Login: framework.Login{Username: id, Groups: []string{display}}})
			Expect(suite.LastSent(id).Attributes).To(HaveKeyWithValue(entra.Groups.Name, []string{byID}))
			Expect(out.Groups).To(ConsistOf(byID))
			Expect(suite.GroupsOf(id)).To(ConsistOf(byID), "the GUID-named group, and no defaults")
		})

		It("matches display names when the tester sets the group format to names", Label("GRP-MATCH", "GRP-CASE"), func(ctx SpecContext) {
			g := suite.MustNewGroups("Engineering", "Support")
			configureFor(suite, entra, g[1])
			id := suite.NewUserID("entra-names")
			signInFlavoured(suite, suite.NewUserTab("user"), flavourLogin{Flavour: entra, Options: map[string]string{"groupFormat": "name"},
				Login: framework.Login{Username: id, Groups: []string{strings.ToLower(g[0])}}})
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0]))
		})

		It(fmt.Sprintf("sends %d groups, but above that no group claim, only groups.link: the defaults apply", entraGroupLimit), Label("GRP-MATCH", "GRP-DEFAULT"), func(ctx SpecContext) {
			display := suite.Env.Unique("Engineering")
			byID := mockidp.GroupObjectID(display)
			Expect(suite.Admin.CreateGroup(byID, store.RoleViewer)).To(Succeed())
			def := suite.MustNewGroups("Support")[0]
			configureFor(suite, entra, def)
			groups := []string{display}
			for i := 2; i <= entraGroupLimit; i++ {
				groups = append(groups, fmt.Sprintf("%s-extra-%03d", display, i))
			}

			atLimit := suite.NewUserID("entra-150")
			signInFlavoured(suite, suite.NewUserTab("at-limit"), flavourLogin{Flavour: entra, Login: framework.Login{Username: atLimit, Groups: groups}})
			Expect(suite.LastSent(atLimit).Attributes[entra.Groups.Name]).To(HaveLen(entraGroupLimit))
			Expect(valuesSent(suite.LastSent(atLimit), vendorDefaults["entra"].groupsAttr)).To(HaveLen(entraGroupLimit), "the groups claim, as Microsoft names it")
			Expect(suite.GroupsOf(atLimit)).To(ConsistOf(byID), "at the limit the group claim is sent and matches")

			over := suite.NewUserID("entra-151")
			signInFlavoured(suite, suite.NewUserTab("over-limit"), flavourLogin{Flavour: entra,
				Login: framework.Login{Username: over, Groups: append(groups, display+"-one-more")}})
			sent := suite.LastSent(over).Attributes
			Expect(sent).NotTo(HaveKey(entra.Groups.Name), "above the limit Entra sends no group claim")
			Expect(sent).To(HaveKeyWithValue("http://schemas.microsoft.com/claims/groups.link", ConsistOf(HavePrefix("https://graph.windows.net/"))))
			Expect(suite.GroupsOf(over)).To(ConsistOf(def), "no group claim: the Default User Groups")
		})
	})
}

func keycloakSpecs(suite *framework.Suite) {
	kc, ok := mockidp.LookupFlavour("keycloak")
	if !ok {
		return
	}
	Describe("as Keycloak with Full group path off", func() {
		BeforeEach(func() { noteFlavour(kc) })

		It("reads the profile by FriendlyName when the SP is mapped to givenName, surname and email", Label("JIT-ATTRS"), func(ctx SpecContext) {
			// Keycloak's X500 mappers send Name="urn:oid:2.5.4.42" FriendlyName="givenName":
			// an administrator may map either.
			Expect(suite.Admin.MustSaveSettings(suite.JITFields(map[string]string{
				"firstNameAttr": "givenName", "lastNameAttr": "surname", "emailAttr": "email",
				"groupMembershipAttr": flavourGroupAttr(suite, kc),
			}))).To(Succeed())
			id := suite.NewUserID("keycloak-friendly")
			email := strings.Replace(id, "@", ".mail@", 1)
			signInFlavoured(suite, suite.NewUserTab("user"), flavourLogin{Flavour: kc,
				Login: framework.Login{Username: id, FirstName: "Fred", LastName: "Friendly", Email: email}})
			rows := suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1))
			d, err := suite.Admin.User(rows[0].ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(d).To(And(HaveField("FirstName", "Fred"), HaveField("LastName", "Friendly"), HaveField("Email", email)))
		})

		It("matches group names when the tester sends names instead of paths", Label("GRP-MATCH"), func(ctx SpecContext) {
			g := suite.MustNewGroups("Engineering", "Support")
			configureFor(suite, kc, g[1])
			id := suite.NewUserID("keycloak-names")
			signInFlavoured(suite, suite.NewUserTab("user"), flavourLogin{Flavour: kc, Options: map[string]string{"groupFormat": "name"},
				Login: framework.Login{Username: id, Groups: []string{g[0]}}})
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0]))
		})
	})
}

// manyGroupsSpecs: a login with hundreds of groups goes through the form,
// the IdP, its log and the SP whole.
func manyGroupsSpecs(suite *framework.Suite) {
	okta, ok := mockidp.LookupFlavour("okta")
	if !ok {
		return
	}
	Describe("with hundreds of groups", func() {
		BeforeEach(func() { noteFlavour(okta) })

		It("sends all 300 groups and the SP matches the one that exists", Label("GRP-MATCH", "GRP-UNKNOWN"), func(ctx SpecContext) {
			prefix := suite.Env.Unique("Project")
			var groups []string
			for i := 1; i <= 300; i++ {
				groups = append(groups, fmt.Sprintf("%s-%03d", prefix, i))
			}
			Expect(suite.Admin.CreateGroup(groups[249], store.RoleViewer)).To(Succeed())
			configureFor(suite, okta)
			id := suite.NewUserID("many-groups")
			out := signInFlavoured(suite, suite.NewUserTab("user"), flavourLogin{Flavour: okta, Login: framework.Login{Username: id, Groups: groups}})
			Expect(suite.LastSent(id).Attributes[okta.Groups.Name]).To(Equal(groups), "every group, in order, untruncated")
			Expect(out.Groups).To(ConsistOf(groups[249]))
			Expect(suite.GroupsOf(id)).To(ConsistOf(groups[249]))
		})

		It("signs in the persona grace, with 201 groups, in one click: Engineering matches, 200 are ignored", Label("GRP-MATCH", "GRP-UNKNOWN"), func(ctx SpecContext) {
			// grace's groups are fixed (personas.yaml): Engineering and
			// Project-001..200. The bundled stack makes Engineering; make sure.
			names, err := suite.Admin.Groups()
			Expect(err).NotTo(HaveOccurred())
			if !slices.Contains(names, "Engineering") {
				Expect(suite.Admin.CreateGroup("Engineering", store.RoleViewer)).To(Succeed())
			}
			configureFor(suite, okta)
			u := suite.NewUserTab("grace")
			Expect(browser.Run(u.Tab, framework.StepTimeout,
				framework.Open(suite.Env.SPURL("/"), "#persona-grace"), framework.WaitForVisible("persona-grace"),
				framework.SetField("flavour", okta.ID))).To(Succeed())
			out, err := u.SubmitAndWaitForSP("persona-grace")
			Expect(err).NotTo(HaveOccurred())
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			sent := suite.LastSent("grace@example.com")
			Expect(sent.Groups).To(HaveLen(201))
			Expect(sent.Attributes[okta.Groups.Name]).To(HaveLen(201), "every group sent")
			Expect(out.Groups).To(ConsistOf("Engineering"))
			Expect(suite.GroupsOf("grace@example.com")).To(ConsistOf("Engineering"))
		})
	})
}
