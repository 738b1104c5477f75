package jit_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
)

var _ = Describe("Just-in-Time accounts", func() {
	It("creates the account on first sign-in and reuses it on the next", Label("JIT-CREATE"), func(ctx SpecContext) {
		eng := newGroups("Engineering")[0]
		configure("groups")
		id := suite.NewUserID("newcomer")
		Expect(usersNamed(id)).To(BeEmpty(), "the account exists before its first sign-in")

		first := newUser(ctx, "first-login")
		out := signIn(first, framework.Login{Username: id, FirstName: "Nina", LastName: "Neumann", Email: id, Groups: []string{eng}})
		Expect(out.Identifier).To(Equal(id))

		rows := usersNamed(id)
		Expect(rows).To(HaveLen(1))
		Expect(rows[0].DisplayName).To(Equal("Nina Neumann"))
		Expect(rows[0].Email).To(Equal(id))
		accountID := rows[0].ID

		second := newUser(ctx, "second-login")
		signIn(second, framework.Login{Username: id, FirstName: "Nina", LastName: "Neumann", Email: id, Groups: []string{eng}})
		rows = usersNamed(id)
		Expect(rows).To(HaveLen(1), "a second sign-in made a second account")
		Expect(rows[0].ID).To(Equal(accountID), "the second sign-in replaced the account")
	})
})

var _ = Describe("Group mapping with Group Membership configured", func() {
	It("makes the user a member of each asserted group that exists", Label("GRP-MATCH"), func(ctx SpecContext) {
		g := newGroups("Engineering", "Sales", "Support")
		configure("groups")
		id := suite.NewUserID("matcher")
		out := signIn(newUser(ctx, "user"), framework.Login{Username: id, Groups: []string{g[0], g[1]}})
		Expect(out.Groups).To(ConsistOf(g[0], g[1]), "the user's own page")
		Expect(groupsOf(id)).To(ConsistOf(g[0], g[1]), "the Users page")
	})

	It("does not add the Default User Groups when an asserted group matches", Label("GRP-MATCH", "GRP-DEFAULT"), func(ctx SpecContext) {
		g := newGroups("Engineering", "Support")
		configure("groups", g[1])
		id := suite.NewUserID("matched")
		signIn(newUser(ctx, "user"), framework.Login{Username: id, Groups: []string{g[0]}})
		Expect(groupsOf(id)).To(ConsistOf(g[0]))
	})

	It("matches a group asserted in another case", Label("GRP-CASE"), func(ctx SpecContext) {
		eng := newGroups("Engineering")[0]
		configure("groups")
		id := suite.NewUserID("shouty")
		signIn(newUser(ctx, "user"), framework.Login{Username: id, Groups: []string{strings.ToUpper(eng)}})
		Expect(groupsOf(id)).To(ConsistOf(eng), "the SP group keeps its own spelling")
	})

	It("gives one membership however many spellings arrive", Label("GRP-CASE"), func(ctx SpecContext) {
		eng := newGroups("Engineering")[0]
		configure("groups")
		id := suite.NewUserID("spellings")
		signIn(newUser(ctx, "user"), framework.Login{Username: id,
			Groups: []string{strings.ToLower(eng), strings.ToUpper(eng), strings.ToLower(eng[:1]) + strings.ToUpper(eng[1:])}})
		Expect(groupsOf(id)).To(Equal([]string{eng}))
	})

	It("ignores asserted groups that do not exist, creates none, and still applies the matches", Label("GRP-UNKNOWN"), func(ctx SpecContext) {
		sales := newGroups("Sales")[0]
		configure("groups")
		ghost := suite.Env.Unique("Ghost")
		id := suite.NewUserID("ghostly")
		out := signIn(newUser(ctx, "user"), framework.Login{Username: id, Groups: []string{ghost, sales}})
		Expect(out.RefusalCode).To(BeEmpty())
		Expect(groupsOf(id)).To(ConsistOf(sales))
		names, err := suite.Admin.Groups()
		Expect(err).NotTo(HaveOccurred())
		for _, n := range names {
			Expect(strings.EqualFold(n, ghost)).To(BeFalse(), "the SP created the unknown group %q", n)
		}
	})

	It("signs in a user whose only groups are unknown, with no group and no defaults", Label("GRP-UNKNOWN", "GRP-DEFAULT"), func(ctx SpecContext) {
		configure("groups")
		id := suite.NewUserID("nomatch")
		out := signIn(newUser(ctx, "user"), framework.Login{Username: id, Groups: []string{suite.Env.Unique("Ghost")}})
		Expect(out.Groups).To(BeEmpty())
		Expect(groupsOf(id)).To(BeEmpty())
	})

	DescribeTable("applies the Default User Groups when no asserted group matches",
		Label("GRP-DEFAULT"),
		func(ctx SpecContext, login func(id string) framework.Login) {
			g := newGroups("Support", "Sales")
			configure("groups", g[0], g[1])
			id := suite.NewUserID("defaulted")
			signIn(newUser(ctx, "user"), login(id))
			Expect(groupsOf(id)).To(ConsistOf(g[0], g[1]))
		},
		Entry("no group sent", func(id string) framework.Login { return framework.Login{Username: id} }),
		Entry("the attribute sent under another name", func(id string) framework.Login {
			return framework.Login{Username: id, Groups: []string{"Support"}, GroupAttribute: "memberOf"}
		}),
		Entry("the attribute with only a blank value", func(id string) framework.Login {
			return framework.Login{Username: id, Groups: []string{"  "}}
		}),
		Entry("only unknown groups", func(id string) framework.Login {
			return framework.Login{Username: id, Groups: []string{"No-Such-Group-A", "No-Such-Group-B"}}
		}),
	)
})

var _ = Describe("Group mapping with Group Membership not configured", func() {
	It("ignores asserted groups, applies the defaults, and keeps what the administrator assigns", Label("GRP-NOATTR"), func(ctx SpecContext) {
		g := newGroups("Engineering", "Support")
		configure("", g[1])
		id := suite.NewUserID("assigned")
		signIn(newUser(ctx, "user"), framework.Login{Username: id, Groups: []string{g[0]}})
		Expect(groupsOf(id)).To(ConsistOf(g[1]), "asserted groups must be ignored; only the defaults apply")

		rows := usersNamed(id)
		Expect(suite.Admin.SetUserGroups(rows[0].ID, []string{g[0], g[1]})).To(Succeed())
		Expect(groupsOf(id)).To(ConsistOf(g[0], g[1]), "the administrator's assignment")

		signIn(newUser(ctx, "user-again"), framework.Login{Username: id, Groups: []string{}})
		Expect(groupsOf(id)).To(ConsistOf(g[0], g[1]), "a later sign-in must keep the administrator's assignment")
	})
})
