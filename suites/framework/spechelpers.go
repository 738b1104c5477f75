package framework

import (
	"context"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// The helpers below are the specs' vocabulary: each fails the running spec
// (through Gomega) instead of returning an error.

// NewUserTab opens a person's tab, closed after the spec, with evidence
// (its screenshot and the admin's) if the spec fails.
func (s *Suite) NewUserTab(name string) *User {
	GinkgoHelper()
	u, err := s.Env.NewUser(context.Background())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(u.Close)
	s.Env.EvidenceOnFailure(map[string]context.Context{name: u.Tab, "admin": s.Admin.Tab})
	return u
}

// SignIn signs a person in through the IdP (SP-initiated) and expects to
// land signed in as l.Username.
func (s *Suite) SignIn(u *User, l Login) Outcome {
	GinkgoHelper()
	return s.SignInAs(u, l, l.Username)
}

// SignInAs is SignIn for a login whose account is keyed by something else
// than the username (another Unique Identifier attribute, or the spelling
// of an account that already exists): it expects to land signed in as
// identifier.
func (s *Suite) SignInAs(u *User, l Login, identifier string) Outcome {
	GinkgoHelper()
	out, err := u.SignInViaSP(l)
	Expect(err).NotTo(HaveOccurred())
	Expect(out.SignedIn).To(BeTrue(), "the SP did not sign %s in: %s", l.Username, out.Text)
	Expect(out.Identifier).To(Equal(identifier), "the SP signed %s in as someone else", l.Username)
	return out
}

// MustUsersNamed reads the Users page for rows with this identifier.
func (s *Suite) MustUsersNamed(id string) []UserRow {
	GinkgoHelper()
	rows, err := s.Admin.UsersNamed(id)
	Expect(err).NotTo(HaveOccurred())
	return rows
}

// GroupsOf expects exactly one Users-page row for id and returns its groups.
func (s *Suite) GroupsOf(id string) []string {
	GinkgoHelper()
	rows := s.MustUsersNamed(id)
	Expect(rows).To(HaveLen(1), "Users page rows for %s", id)
	return rows[0].Groups
}

// Configure saves JIT settings with this Group Membership attribute and
// these defaults (or, in safe mode, skips unless the target has them).
func (s *Suite) Configure(groupAttr string, defaults ...string) {
	GinkgoHelper()
	Expect(s.ConfigureJIT(groupAttr, defaults...)).To(Succeed())
}

// MustNewGroups creates groups with unique names from these prefixes.
func (s *Suite) MustNewGroups(prefixes ...string) []string {
	GinkgoHelper()
	names, err := s.NewGroups(prefixes...)
	Expect(err).NotTo(HaveOccurred())
	return names
}

// SignedIn reports whether the person's tab still has an SP session: the
// SP's home shows the signed-in page (true) or sends the browser to sign
// in (false); anything else fails the spec, so a broken SP's error page
// never counts as "signed out". From an SP page it asks with one request
// (User.ProbeHome), else it visits the home page.
func (s *Suite) SignedIn(u *User) bool {
	GinkgoHelper()
	if p, ok, err := u.ProbeHome(); ok && err == nil {
		Expect(p.SignedIn || p.Redirected).To(BeTrue(), "the SP's home answered neither signed in nor with a redirect to sign in: HTTP %d: %s", p.Status, p.Text)
		return p.SignedIn
	}
	out, err := u.Visit("/")
	Expect(err).NotTo(HaveOccurred())
	if !out.SignedIn {
		Expect(out.Location).To(HavePrefix(s.Env.IdPURL("/")), "the SP's home neither showed the signed-in page nor sent the browser to the IdP: %s", out.Text)
	}
	return out.SignedIn
}

// SignInLocally signs haiadmin in at /login in a fresh tab and returns
// whether Administration was reached, and the page text.
func (s *Suite) SignInLocally(password string) (reachedAdmin bool, page string) {
	GinkgoHelper()
	u := s.NewUserTab("local-login")
	Expect(browser.Run(u.Tab, StepTimeout,
		Open(s.Env.SPURL(s.Env.Pages.Login), "#login-form"),
		WaitForVisible("login-form"),
		SetFields([2]string{"username", "haiadmin"}, [2]string{"password", password}),
		ClickAndWaitFor("login-submit", "#admin-nav, #login-error"),
	)).To(Succeed())
	out, err := u.Read()
	Expect(err).NotTo(HaveOccurred())
	n, err := browser.Get(u.Tab, StepTimeout, chromedp.Evaluate[bool](`!!document.querySelector('#admin-nav')`))
	Expect(err).NotTo(HaveOccurred())
	return n, out.Text
}
