package jit_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
)

// newUser opens a person's tab, closed after the spec, with evidence on failure.
func newUser(ctx context.Context, name string) *framework.User {
	u, err := suite.Env.NewUser(context.Background())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(u.Close)
	suite.Env.EvidenceOnFailure(map[string]context.Context{name: u.Tab, "admin": suite.Admin.Tab})
	return u
}

// signIn signs a person in through the IdP and expects to land signed in.
func signIn(u *framework.User, l framework.Login) framework.Outcome {
	GinkgoHelper()
	out, err := u.SignInViaSP(l)
	Expect(err).NotTo(HaveOccurred())
	Expect(out.SignedIn).To(BeTrue(), "the SP did not sign %s in: %s", l.Username, out.Text)
	return out
}

// usersNamed reads the Users page for rows with this identifier.
func usersNamed(id string) []framework.UserRow {
	GinkgoHelper()
	rows, err := suite.Admin.UsersNamed(id)
	Expect(err).NotTo(HaveOccurred())
	return rows
}

// groupsOf expects exactly one Users-page row for id and returns its groups.
func groupsOf(id string) []string {
	GinkgoHelper()
	rows := usersNamed(id)
	Expect(rows).To(HaveLen(1), "Users page rows for %s", id)
	return rows[0].Groups
}

func configure(groupAttr string, defaults ...string) {
	GinkgoHelper()
	Expect(suite.ConfigureJIT(groupAttr, defaults...)).To(Succeed())
}

func newGroups(prefixes ...string) []string {
	GinkgoHelper()
	names, err := suite.NewGroups(prefixes...)
	Expect(err).NotTo(HaveOccurred())
	return names
}
