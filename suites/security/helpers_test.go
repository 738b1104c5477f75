package security_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/sp/store"
	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// newUser opens a person's tab, closed after the spec, with evidence on failure.
func newUser(name string) *framework.User {
	u, err := suite.Env.NewUser(context.Background())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(u.Close)
	suite.Env.EvidenceOnFailure(map[string]context.Context{name: u.Tab, "admin": suite.Admin.Tab})
	return u
}

// openIdPLoginViaSP opens the SP, which sends the browser to the IdP's
// login page (SP-initiated).
func openIdPLoginViaSP(u *framework.User) {
	GinkgoHelper()
	Expect(browser.Run(u.Tab, framework.StepTimeout,
		framework.Open(suite.Env.SPURL("/"), "#login"), framework.WaitForVisible("login"))).
		To(Succeed(), "an unauthenticated visit to the SP should reach the IdP's login page")
}

// submitIdPForm fills the IdP's login form, picks the fault ("" for none)
// and signs in; it returns the SP page the login ended on.
func submitIdPForm(u *framework.User, l framework.Login, fault string) framework.Outcome {
	GinkgoHelper()
	Expect(browser.Run(u.Tab, framework.StepTimeout, framework.SetFields(
		[2]string{"username", l.Username},
		[2]string{"groups", strings.Join(l.Groups, "\n")},
		[2]string{"fault", fault},
	))).To(Succeed())
	out, err := u.SubmitAndWaitForSP("signin")
	Expect(err).NotTo(HaveOccurred())
	return out
}

// signInWithFault is an SP-initiated login whose response carries fault
// ("" for none): through the IdP's form, or in quick mode an IdP session.
func signInWithFault(u *framework.User, l framework.Login, fault string) framework.Outcome {
	GinkgoHelper()
	l.Fault = fault
	out, err := u.SignInViaSP(l)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// usersNamed reads the Users page for rows with this identifier.
func usersNamed(id string) []framework.UserRow {
	GinkgoHelper()
	rows, err := suite.Admin.UsersNamed(id)
	Expect(err).NotTo(HaveOccurred())
	return rows
}

// storeUsers is the number of accounts in the SP's store, or, for a target
// whose store the harness cannot read, the rows on its Users page.
func storeUsers(ctx context.Context) int {
	GinkgoHelper()
	if st := suite.Env.Target.Store(); st != nil {
		all, err := st.Users(ctx)
		Expect(err).NotTo(HaveOccurred())
		return len(all)
	}
	rows, err := suite.Admin.Users()
	Expect(err).NotTo(HaveOccurred())
	return len(rows)
}

// expectNoAccount checks, as an admin would and in the SP's store, that
// no account exists for any of ids.
func expectNoAccount(ctx context.Context, ids ...string) {
	GinkgoHelper()
	// One read of the Users page for all of ids.
	rows, err := suite.Admin.Users()
	Expect(err).NotTo(HaveOccurred())
	for _, id := range ids {
		for _, r := range rows {
			Expect(strings.EqualFold(r.Identifier, id)).To(BeFalse(), "the Users page lists %s", id)
		}
		if st := suite.Env.Target.Store(); st != nil {
			_, err := st.UserByKey(ctx, id)
			Expect(err).To(MatchError(store.ErrNotFound), "the SP's store has an account for %s", id)
		}
	}
}

// expectNotSignedIn checks that the tab has no SP session: the SP's home,
// asked for with the tab's cookies, redirects (to sign in) rather than
// showing the signed-in page. On the SP's origin that is a fetch
// (User.ProbeHome); elsewhere a visit, which must land on the IdP.
func expectNotSignedIn(u *framework.User) {
	GinkgoHelper()
	probe, ok, err := u.ProbeHome()
	Expect(err).NotTo(HaveOccurred())
	if ok {
		Expect(probe.SignedIn).To(BeFalse(), "the refused login left a session: the SP's home shows %s", probe.Text)
		Expect(probe.Redirected).To(BeTrue(), "an unauthenticated request for the SP's home should be redirected to sign in; got HTTP %d: %s", probe.Status, probe.Text)
		return
	}
	Expect(browser.Run(u.Tab, framework.StepTimeout,
		framework.Open(suite.Env.SPURL("/"), "#login, #whoami"))).To(Succeed())
	out, err := u.Read()
	Expect(err).NotTo(HaveOccurred())
	Expect(out.SignedIn).To(BeFalse(), "the refused login left a session: %s", out.Text)
	Expect(out.Location).To(HavePrefix(suite.Env.IdPURL("/")), "an unauthenticated visit should be sent to the IdP")
}

// expectRefusalPage checks that the login ended on the SP's SAML refusal
// page (#sso-error[data-code]), with one of codes when given. A generic
// error page (#error), or any 5xx, is a broken SP, not a refusal: it must
// not pass, whatever it says.
func expectRefusalPage(out framework.Outcome, codes ...string) {
	GinkgoHelper()
	Expect(out.SignedIn).To(BeFalse(), "the SP signed the person in: %s", out.Text)
	shown := "another page"
	if out.ErrorPage {
		shown = "its generic error page (#error)"
	}
	Expect(out.RefusalPage).To(BeTrue(), "the SP did not show its refusal page (#sso-error[data-code]) but %s (HTTP %d, code %q): %s",
		shown, out.Status, out.RefusalCode, out.Text)
	Expect(out.RefusalCode).NotTo(BeEmpty(), "the refusal page has no code (#sso-error[data-code]): %s", out.Text)
	Expect(out.Status).To(BeNumerically("<", 500), "the refusal came with a server error; page: %s", out.Text)
	if len(codes) > 0 {
		Expect(out.RefusalCode).To(BeElementOf(codes), "refusal code; page: %s", out.Text)
	}
}

// expectRefused checks the three things a refusal must show: the SP says
// so on its refusal page (with one of codes, when given), and no account
// or session appeared.
func expectRefused(ctx context.Context, u *framework.User, out framework.Outcome, before int, codes []string, ids ...string) {
	GinkgoHelper()
	expectRefusalPage(out, codes...)
	Expect(out.Location).To(HavePrefix(suite.Env.SPURL("/")), "the refusal should be on the SP")
	expectNoAccount(ctx, ids...)
	Expect(storeUsers(ctx)).To(Equal(before), "the number of accounts in the SP's store changed")
	expectNotSignedIn(u)
}

// postFromIdPSite opens the IdP's home page (another site than the SP, as
// a real IdP's auto-post is) and submits a form with fields to action
// there; it waits for the SP page the post ends on.
func postFromIdPSite(u *framework.User, action string, fields [][2]string) framework.Outcome {
	GinkgoHelper()
	actionJSON, _ := json.Marshal(action)
	fieldsJSON, _ := json.Marshal(fields)
	Expect(browser.Run(u.Tab, framework.StepTimeout,
		framework.Open(suite.Env.IdPURL("/"), "body"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
			const f = document.createElement('form'); f.method = 'post'; f.action = %s;
			for (const [k, v] of %s) { const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }
			const b = document.createElement('button'); b.type = 'submit'; b.id = 'crafted-submit'; b.textContent = 'post'; f.appendChild(b);
			document.body.appendChild(f); return true; })()`, actionJSON, fieldsJSON))(ctx, t)
			return err
		}),
	)).To(Succeed())
	out, err := u.SubmitAndWaitForSP("crafted-submit")
	Expect(err).NotTo(HaveOccurred())
	return out
}

// hostOf is the host:port of a URL.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	Expect(err).NotTo(HaveOccurred())
	return u.Host
}
