package specs

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
)

func provisioningSpecs(suite *framework.Suite) {
	Describe("Just-in-Time accounts", func() {
		It("creates the account on first sign-in and reuses it on the next", Label("JIT-CREATE"), func(ctx SpecContext) {
			eng := suite.MustNewGroups("Engineering")[0]
			suite.Configure("groups")
			id := suite.NewUserID("newcomer")
			Expect(suite.MustUsersNamed(id)).To(BeEmpty(), "the account exists before its first sign-in")

			first := suite.NewUserTab("first-login")
			out := suite.SignIn(first, framework.Login{Username: id, FirstName: "Nina", LastName: "Neumann", Email: id, Groups: []string{eng}})
			Expect(out.Identifier).To(Equal(id))

			rows := suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1))
			Expect(rows[0].DisplayName).To(Equal("Nina Neumann"))
			Expect(rows[0].Email).To(Equal(id))
			accountID := rows[0].ID

			second := suite.NewUserTab("second-login")
			suite.SignIn(second, framework.Login{Username: id, FirstName: "Nina", LastName: "Neumann", Email: id, Groups: []string{eng}})
			rows = suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1), "a second sign-in made a second account")
			Expect(rows[0].ID).To(Equal(accountID), "the second sign-in replaced the account")
		})
	})

	Describe("Group mapping with Group Membership configured", func() {
		It("makes the user a member of each asserted group that exists", Label("GRP-MATCH"), func(ctx SpecContext) {
			g := suite.MustNewGroups("Engineering", "Sales", "Support")
			suite.Configure("groups")
			id := suite.NewUserID("matcher")
			out := suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, Groups: []string{g[0], g[1]}})
			Expect(out.Groups).To(ConsistOf(g[0], g[1]), "the user's own page")
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]), "the Users page")
		})

		It("does not add the Default User Groups when an asserted group matches", Label("GRP-MATCH", "GRP-DEFAULT"), func(ctx SpecContext) {
			g := suite.MustNewGroups("Engineering", "Support")
			suite.Configure("groups", g[1])
			id := suite.NewUserID("matched")
			suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, Groups: []string{g[0]}})
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0]))
		})

		It("matches a group asserted in another case", Label("GRP-CASE"), func(ctx SpecContext) {
			eng := suite.MustNewGroups("Engineering")[0]
			suite.Configure("groups")
			id := suite.NewUserID("shouty")
			suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, Groups: []string{strings.ToUpper(eng)}})
			Expect(suite.GroupsOf(id)).To(ConsistOf(eng), "the SP group keeps its own spelling")
		})

		It("gives one membership however many spellings arrive", Label("GRP-CASE"), func(ctx SpecContext) {
			eng := suite.MustNewGroups("Engineering")[0]
			suite.Configure("groups")
			id := suite.NewUserID("spellings")
			suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id,
				Groups: []string{strings.ToLower(eng), strings.ToUpper(eng), strings.ToLower(eng[:1]) + strings.ToUpper(eng[1:])}})
			Expect(suite.GroupsOf(id)).To(Equal([]string{eng}))
		})

		It("ignores asserted groups that do not exist, creates none, and still applies the matches", Label("GRP-UNKNOWN"), func(ctx SpecContext) {
			sales := suite.MustNewGroups("Sales")[0]
			suite.Configure("groups")
			ghost := suite.Env.Unique("Ghost")
			id := suite.NewUserID("ghostly")
			out := suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, Groups: []string{ghost, sales}})
			Expect(out.RefusalCode).To(BeEmpty())
			Expect(suite.GroupsOf(id)).To(ConsistOf(sales))
			names, err := suite.Admin.Groups()
			Expect(err).NotTo(HaveOccurred())
			for _, n := range names {
				Expect(strings.EqualFold(n, ghost)).To(BeFalse(), "the SP created the unknown group %q", n)
			}
		})

		It("signs in a user whose only groups are unknown, with no group and no defaults", Label("GRP-UNKNOWN", "GRP-DEFAULT"), func(ctx SpecContext) {
			suite.Configure("groups")
			id := suite.NewUserID("nomatch")
			out := suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, Groups: []string{suite.Env.Unique("Ghost")}})
			Expect(out.Groups).To(BeEmpty())
			Expect(suite.GroupsOf(id)).To(BeEmpty())
		})

		DescribeTable("applies the Default User Groups when no asserted group matches",
			Label("GRP-DEFAULT"),
			func(ctx SpecContext, login func(id string) framework.Login) {
				g := suite.MustNewGroups("Support", "Sales")
				suite.Configure("groups", g[0], g[1])
				id := suite.NewUserID("defaulted")
				suite.SignIn(suite.NewUserTab("user"), login(id))
				Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]))
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

	Describe("Group mapping with Group Membership not configured", func() {
		It("ignores asserted groups, applies the defaults, and keeps what the administrator assigns", Label("GRP-NOATTR"), func(ctx SpecContext) {
			g := suite.MustNewGroups("Engineering", "Support")
			suite.Configure("", g[1])
			id := suite.NewUserID("assigned")
			suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, Groups: []string{g[0]}})
			rows := suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1), "Users page rows for %s", id)
			Expect(rows[0].Groups).To(ConsistOf(g[1]), "asserted groups must be ignored; only the defaults apply")
			Expect(suite.Admin.SetUserGroups(rows[0].ID, []string{g[0], g[1]})).To(Succeed())
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]), "the administrator's assignment")

			suite.SignIn(suite.NewUserTab("user-again"), framework.Login{Username: id, Groups: []string{}})
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]), "a later sign-in must keep the administrator's assignment")
		})
	})
}
