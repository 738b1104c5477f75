package security_test

import (
	"encoding/json"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// accountState is what must not change when a login is refused.
type accountState struct {
	ID     string
	Groups []string
}

func stateOf(id string) accountState {
	GinkgoHelper()
	rows := usersNamed(id)
	Expect(rows).To(HaveLen(1), "Users page rows for %s", id)
	return accountState{ID: rows[0].ID, Groups: rows[0].Groups}
}

var _ = Describe("Replayed responses", func() {
	It("refuses the same response posted a second time", Label("SEC-REPLAY"), func(ctx SpecContext) {
		id := suite.NewUserID("replay")
		first := newUser("first")
		out, err := first.SignInViaIdP(framework.Login{Username: id, Groups: []string{"Engineering"}}, "/")
		Expect(err).NotTo(HaveOccurred())
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		sent := suite.LastSent(id)
		Expect(sent.SAMLResponse).NotTo(BeEmpty())
		was := stateOf(id)
		before := storeUsers(ctx)

		// Another browser (no session) posts the captured response again.
		attacker := newUser("attacker")
		again := postFromIdPSite(attacker, sent.ACS, [][2]string{{"SAMLResponse", sent.SAMLResponse}, {"RelayState", "/"}})
		Expect(again.SignedIn).To(BeFalse(), "the replayed response signed the attacker in")
		expectRefusalPage(again, "replayed")
		Expect(stateOf(id)).To(Equal(was), "the account changed")
		Expect(storeUsers(ctx)).To(Equal(before))
		expectNotSignedIn(attacker)
	})

	It("refuses an SP-initiated response posted a second time", Label("SEC-REPLAY"), func(ctx SpecContext) {
		id := suite.NewUserID("replay-sp")
		first := newUser("first")
		out := signInWithFault(first, framework.Login{Username: id, Groups: []string{"Engineering"}}, "")
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		sent := suite.LastSent(id)
		Expect(sent.InResponseTo).NotTo(BeEmpty())
		was := stateOf(id)
		before := storeUsers(ctx)

		attacker := newUser("attacker")
		again := postFromIdPSite(attacker, sent.ACS, [][2]string{{"SAMLResponse", sent.SAMLResponse}, {"RelayState", "/"}})
		Expect(again.SignedIn).To(BeFalse(), "the replayed response signed the attacker in")
		// Its request ID is used up, which the SP checks before the
		// assertion's: either reason is a correct refusal.
		expectRefusalPage(again, "replayed", "request-id")
		Expect(stateOf(id)).To(Equal(was), "the account changed")
		Expect(storeUsers(ctx)).To(Equal(before))
		expectNotSignedIn(attacker)
	})

	It("refuses a fresh response to a login request that was already used", Label("SEC-REPLAY"), func(ctx SpecContext) {
		id := suite.NewUserID("reused-request")
		first := newUser("first")
		openIdPLoginViaSP(first)
		// What the IdP's login form will post: the SP's AuthnRequest.
		var form struct {
			Action string      `json:"action"`
			Fields [][2]string `json:"fields"`
		}
		js, err := browser.Get(first.Tab, framework.StepTimeout, chromedp.Evaluate[string](`JSON.stringify({
			action: document.getElementById('login').action,
			fields: Array.from(document.querySelectorAll('#login input[type=hidden]')).map(i => [i.name, i.value])})`))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal([]byte(js), &form)).To(Succeed())
		out := submitIdPForm(first, framework.Login{Username: id, Groups: []string{"Engineering"}}, "")
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		used := suite.LastSent(id).InResponseTo
		was := stateOf(id)
		before := storeUsers(ctx)

		// The same AuthnRequest through the IdP again: a new, validly
		// signed response whose InResponseTo the SP has already used.
		other := suite.NewUserID("reused-request-other")
		attacker := newUser("attacker")
		again := postFromIdPSite(attacker, form.Action, append(form.Fields, [2]string{"username", other}))
		Expect(suite.LastSent(other).InResponseTo).To(Equal(used), "the IdP did not answer the used request")
		expectRefused(ctx, attacker, again, before, []string{"request-id"}, other)
		Expect(stateOf(id)).To(Equal(was), "the account changed")
	})
})

var _ = Describe("A refused login for an existing account", func() {
	DescribeTable("leaves its groups and sessions as they were",
		func(ctx SpecContext, fault string) {
			id := suite.NewUserID("existing-" + fault)
			first := newUser("first")
			Expect(signInWithFault(first, framework.Login{Username: id, Groups: []string{"Engineering"}}, "").SignedIn).To(BeTrue())
			was := stateOf(id)
			Expect(was.Groups).To(ConsistOf("Engineering"))
			before := storeUsers(ctx)

			second := newUser("second")
			out := signInWithFault(second, framework.Login{Username: id, Groups: []string{"Sales", "Support"}}, fault)
			expectRefusalPage(out)
			Expect(stateOf(id)).To(Equal(was), "the refused login changed the account")
			Expect(storeUsers(ctx)).To(Equal(before))
			expectNotSignedIn(second)
		},
		Entry("signature: NameID altered", Label("SEC-SIG"), "sig-nameid-altered"),
		Entry("signature: untrusted key", Label("SEC-SIG"), "sig-untrusted-key-keyinfo"),
		Entry("audience: another SP", Label("SEC-AUD"), "aud-wrong"),
		Entry("time: expired", Label("SEC-TIME"), "time-expired"),
		Entry("two assertions", Label("SEC-MULTI"), "multi-unsigned-first"),
		Entry("wrapping: XSW3", Label("SEC-XSW"), "xsw3"),
		Entry("hostile XML: entity-expansion bomb", Label("SEC-XML"), "xml-entity-bomb"),
		Entry("hostile XML: a DOCTYPE with an external entity", Label("SEC-XML"), "xml-doctype-external-entity"),
	)
})

var _ = Describe("RelayState", func() {
	DescribeTable("cannot send the browser to another site after an IdP-initiated login",
		func(ctx SpecContext, relayState string) {
			id := suite.NewUserID("relay")
			u := newUser("user")
			out, err := u.SignInViaIdP(framework.Login{Username: id, Groups: []string{"Engineering"}}, relayState)
			Expect(err).NotTo(HaveOccurred())
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			Expect(hostOf(out.Location)).To(Equal(hostOf(suite.Env.SPURL("/"))), "the browser left the SP for %s", out.Location)
			Expect(suite.LastSent(id).RelayState).To(Equal(relayState))
		},
		Entry("an absolute URL", Label("SEC-REDIRECT"), mockidp.ForeignRelayState),
		Entry("a scheme-relative URL", Label("SEC-REDIRECT"), "//evil.example/"),
		Entry("a backslash URL", Label("SEC-REDIRECT"), "/\\evil.example/"),
		Entry("a javascript: URL", Label("SEC-REDIRECT"), "javascript:alert(document.domain)"),
	)
})
