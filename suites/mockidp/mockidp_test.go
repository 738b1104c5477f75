package mockidp_test

import (
	"strings"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

var _ = Describe("The mock IdP", Label("mockidp"), func() {
	Describe("personas", func() {
		It("signs in as a persona in one click", Label("SET-SPINIT"), func(ctx SpecContext) {
			suite.Configure("groups")
			u := suite.NewUserTab("persona")
			openLoginViaSP(u)
			out := submit(u, "persona-alice")
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			Expect(out.Identifier).To(Equal("alice@example.com"))
			e := suite.LastSent("alice@example.com")
			Expect(e.Persona).To(Equal("alice"))
			Expect(e.Attributes).To(HaveKeyWithValue("firstName", []string{"Alice"}))
			Expect(e.Groups).To(Equal([]string{"Engineering"}))
		})

		It("edits a persona for one login: the edit link copies it into the form", Label("JIT-CREATE", "JIT-ATTRS"), func(ctx SpecContext) {
			suite.Configure("groups")
			id := suite.NewUserID("edited-bob")
			u := suite.NewUserTab("persona-edit")
			openLoginViaSP(u)
			Expect(browser.Run(u.Tab, framework.StepTimeout,
				chromedp.Click(chromedp.CSS(`a.persona-edit[data-persona="bob"]`)))).To(Succeed())
			first, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[string](`document.getElementById('firstName').value`))
			Expect(err).NotTo(HaveOccurred())
			groups, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[string](`document.getElementById('groups').value`))
			Expect(err).NotTo(HaveOccurred())
			Expect(first).To(Equal("Bob"), "edit should copy the persona's first name")
			Expect(groups).To(Equal("SALES\nsupport"), "edit should copy the persona's groups")
			fill(u, [2]string{"username", id}, [2]string{"lastName", "Edited"})
			out := submit(u, "signin")
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			Expect(out.Identifier).To(Equal(id))
			e := suite.LastSent(id)
			Expect(e.Persona).To(BeEmpty(), "an edited persona is a manual login")
			Expect(e.Attributes).To(HaveKeyWithValue("firstName", []string{"Bob"}))
			Expect(e.Attributes).To(HaveKeyWithValue("lastName", []string{"Edited"}))
			Expect(e.Attributes).To(HaveKeyWithValue("groups", []string{"SALES", "support"}))
			rows := suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1))
		})
	})

	Describe("how groups are sent", func() {
		It("sends one multi-valued attribute by default, and the SP matches each value", Label("GRP-MATCH"), func(ctx SpecContext) {
			g := suite.MustNewGroups("A", "B")
			suite.Configure("groups")
			id := suite.NewUserID("multi")
			out := signInWith(suite.NewUserTab("multi"), id, g, [2]string{"groupsMode", "multi"})
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			a := groupAttr(responseDoc(suite.LastSent(id)), "groups")
			Expect(a).NotTo(BeNil())
			Expect(attrValues(a)).To(Equal(g))
			Expect(a.SelectAttrValue("NameFormat", "")).To(Equal("urn:oasis:names:tc:SAML:2.0:attrname-format:basic"))
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]))
		})

		It("sends groups joined into one value, which the reference SP does not split", Label("GRP-MATCH", "GRP-UNKNOWN"), func(ctx SpecContext) {
			g := suite.MustNewGroups("A", "B")
			suite.Configure("groups")
			id := suite.NewUserID("joined")
			out := signInWith(suite.NewUserTab("joined"), id, g,
				[2]string{"groupsMode", "joined"}, [2]string{"groupsDelimiter", ","}, [2]string{"groupNameFormat", "uri"})
			a := groupAttr(responseDoc(suite.LastSent(id)), "groups")
			Expect(a).NotTo(BeNil())
			Expect(attrValues(a)).To(Equal([]string{g[0] + "," + g[1]}), "one value, joined")
			Expect(a.SelectAttrValue("NameFormat", "")).To(Equal("urn:oasis:names:tc:SAML:2.0:attrname-format:uri"))
			// "A,B" names no existing group: the user gets neither A nor B,
			// and with no Default User Groups signs in without permissions.
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			Expect(out.NoPermissions).To(BeTrue(), out.Text)
			Expect(out.Groups).To(BeEmpty(), out.Text)
			Expect(suite.GroupsOf(id)).To(BeEmpty())
		})
	})

	DescribeTable("NameID formats", Label("JIT-CREATE"),
		func(ctx SpecContext, value, uri string) {
			suite.Configure("groups")
			id := suite.NewUserID("fmt-" + strings.ToLower(value))
			out := signInWith(suite.NewUserTab("nameid"), id, nil, [2]string{"nameIDFormat", value})
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			if uri == "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" {
				// A fresh opaque value per login: the SP's account is named by it.
				e := suite.LastSentBy(id)
				Expect(e.NameID).NotTo(Equal(id))
				Expect(e.NameID).NotTo(BeEmpty())
				Expect(out.Identifier).To(Equal(e.NameID))
				again := signInWith(suite.NewUserTab("nameid-again"), id, nil, [2]string{"nameIDFormat", value})
				Expect(again.SignedIn).To(BeTrue(), again.Text)
				Expect(suite.LastSentBy(id).NameID).NotTo(Equal(e.NameID), "a transient NameID is new at every login")
				return
			}
			Expect(out.Identifier).To(Equal(id))
			n := responseDoc(suite.LastSent(id)).FindElement("./Assertion/Subject/NameID")
			Expect(n).NotTo(BeNil())
			Expect(n.SelectAttrValue("Format", "")).To(Equal(uri))
			Expect(n.Text()).To(Equal(id))
		},
		Entry("unspecified", "unspecified", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
		Entry("emailAddress", "emailAddress", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
		Entry("persistent", "persistent", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
		Entry("transient", "transient", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"),
	)

	DescribeTable("signing options", Label("SEC-SIG"),
		func(ctx SpecContext, signWhat, signAlg, wantResponse, wantAssertion string) {
			suite.Configure("groups")
			id := suite.NewUserID("sig-" + signWhat + "-" + signAlg)
			out := signInWith(suite.NewUserTab("signing"), id, nil, [2]string{"signWhat", signWhat}, [2]string{"signAlg", signAlg})
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			r, a := signatureAlgorithms(responseDoc(suite.LastSent(id)))
			Expect(r).To(Equal(wantResponse), "the Response's own signature")
			Expect(a).To(Equal(wantAssertion), "the Assertion's signature")
		},
		Entry("both, SHA-256 (the default)", "both", "sha256", nsSHA256, nsSHA256),
		Entry("response only", "response", "sha256", nsSHA256, ""),
		Entry("assertion only", "assertion", "sha256", "", nsSHA256),
		Entry("both, SHA-512", "both", "sha512", nsSHA512, nsSHA512),
	)

	It("signs in IdP-initiated, with no InResponseTo and the RelayState kept", Label("SET-IDPINIT"), func(ctx SpecContext) {
		suite.Configure("groups")
		id := suite.NewUserID("idpinit")
		u := suite.NewUserTab("idp-initiated")
		openLoginViaIdP(u, "/")
		hasRequest, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[bool](`!!document.querySelector('#request-id')`))
		Expect(err).NotTo(HaveOccurred())
		Expect(hasRequest).To(BeFalse(), "an IdP-initiated login page shows no AuthnRequest")
		fill(u, [2]string{"username", id})
		out := submit(u, "signin")
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		e := suite.LastSent(id)
		Expect(e.InResponseTo).To(BeEmpty())
		Expect(e.RelayState).To(Equal("/"))
		Expect(responseDoc(e).SelectAttr("InResponseTo")).To(BeNil())
	})

	It("shows the login on the response log page", func(ctx SpecContext) {
		suite.Configure("groups")
		id := suite.NewUserID("logged")
		u := suite.NewUserTab("log")
		out := signInWith(u, id, []string{"Group, with comma", "Other"})
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		Expect(browser.Run(u.Tab, framework.StepTimeout,
			chromedp.Navigate(suite.Env.IdPURL("/log")),
			chromedp.WaitReady(chromedp.CSS("section.entry")),
		)).To(Succeed())
		nameIDs, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('td.nameid')).map(td => td.textContent.trim())`))
		Expect(err).NotTo(HaveOccurred())
		xml, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[string](`document.querySelector('section.entry pre.response-xml').textContent`))
		Expect(err).NotTo(HaveOccurred())
		Expect(nameIDs).NotTo(BeEmpty())
		Expect(nameIDs[0]).To(Equal(id), "the newest entry is first")
		Expect(xml).To(ContainSubstring(id))
		Expect(xml).To(ContainSubstring("Group, with comma"))
	})
})
