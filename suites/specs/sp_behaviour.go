package specs

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

func spBehaviourSpecs(suite *framework.Suite) {
	Describe("User attributes", func() {
		It("reads first name, last name, email and short name from the mapped attributes", Label("JIT-ATTRS"), func(ctx SpecContext) {
			suite.Configure("groups")
			id := suite.NewUserID("attrs")
			suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", ShortName: "ada"})
			rows := suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1))
			Expect(rows[0].DisplayName).To(Equal("Ada Lovelace"))
			d, err := suite.Admin.User(rows[0].ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(d).To(And(HaveField("FirstName", "Ada"), HaveField("LastName", "Lovelace"),
				HaveField("Email", "ada@example.org"), HaveField("ShortName", "ada"), HaveField("Identifier", id)))
			Expect(d.EditableInputs).To(Equal(0), "the IdP-provided attributes must be read-only")
		})

		It("falls back to the short name, then to the identifier, for the display name", Label("JIT-ATTRS"), func(ctx SpecContext) {
			suite.Configure("groups")
			short := suite.NewUserID("shortonly")
			suite.SignIn(suite.NewUserTab("short"), framework.Login{Username: short, ShortName: "shorty"})
			bare := suite.NewUserID("bare")
			suite.SignIn(suite.NewUserTab("bare"), framework.Login{Username: bare})
			Expect(suite.MustUsersNamed(short)[0].DisplayName).To(Equal("shorty"))
			Expect(suite.MustUsersNamed(bare)[0].DisplayName).To(Equal(bare))
		})

		It("uses the configured Unique Identifier attribute instead of the NameID", Label("JIT-ATTRS", "JIT-CREATE"), func(ctx SpecContext) {
			DeferCleanup(func() { suite.Configure("groups") })
			Expect(suite.Admin.MustSaveSettings(suite.JITFields(map[string]string{"uniqueIdentifier": "email"}))).To(Succeed())
			email := suite.NewUserID("byemail")
			suite.SignInAs(suite.NewUserTab("user"), framework.Login{Username: "transient-" + suite.Env.Unique("x"), Email: email}, email)
			Expect(suite.MustUsersNamed(email)).To(HaveLen(1), "the account should be keyed by the email attribute")
		})
	})

	Describe("Administering JIT users", func() {
		It("offers no way to add a user, and the endpoint refuses", Label("JIT-NOADD"), func(ctx SpecContext) {
			suite.Configure("groups")
			actions, err := suite.Admin.UsersPageAddActions()
			Expect(err).NotTo(HaveOccurred())
			Expect(actions).To(BeZero(), "the Users page offers an add action")
			id := suite.NewUserID("added")
			res, err := suite.Admin.Post(suite.Env.Pages.Users, map[string][]string{"identifier": {id}, "email": {id}})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Status).To(BeNumerically(">=", 400))
			Expect(res.Code).To(Equal("users-not-addable"))
			Expect(suite.MustUsersNamed(id)).To(BeEmpty())
		})

		It("deletes a signed-in JIT user, signing them out; a new sign-in creates the account afresh", Label("JIT-DELETE"), func(ctx SpecContext) {
			suite.Configure("groups")
			id := suite.NewUserID("deleted")
			u := suite.NewUserTab("user")
			suite.SignIn(u, framework.Login{Username: id})
			rows := suite.MustUsersNamed(id)
			Expect(rows).To(HaveLen(1))
			Expect(suite.Admin.ClickUserAction(rows[0].ID, "delete-user")).To(Succeed())
			Expect(suite.MustUsersNamed(id)).To(BeEmpty())
			Expect(suite.SignedIn(u)).To(BeFalse(), "the deleted user's session survived")

			suite.SignIn(suite.NewUserTab("again"), framework.Login{Username: id})
			again := suite.MustUsersNamed(id)
			Expect(again).To(HaveLen(1))
			suite.Choice("JIT-DELETE", "is a deleted user who signs in again created afresh?",
				fmt.Sprintf("account ID before %s, after %s", rows[0].ID, again[0].ID), again[0].ID != rows[0].ID)
		})

		It("ends a user's sessions and keeps the account", Label("JIT-DELETE"), func(ctx SpecContext) {
			suite.Configure("groups")
			id := suite.NewUserID("ended")
			u := suite.NewUserTab("user")
			suite.SignIn(u, framework.Login{Username: id})
			rows := suite.MustUsersNamed(id)
			d, err := suite.Admin.User(rows[0].ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.Sessions).To(Equal(1))
			Expect(suite.Admin.ClickUserAction(rows[0].ID, "end-sessions")).To(Succeed())
			Expect(suite.SignedIn(u)).To(BeFalse(), "the session survived End sessions")
			Expect(suite.MustUsersNamed(id)).To(HaveLen(1))
		})

		It("creates exactly one account when many first sign-ins of one identifier arrive at once", Label("JIT-CONCURRENT"), func(ctx SpecContext) {
			eng := suite.MustNewGroups("Engineering")[0]
			suite.Configure("groups")
			id := suite.NewUserID("crowd")
			const people = 6
			users := make([]*framework.User, people)
			for i := range users {
				users[i] = suite.NewUserTab("crowd")
				Expect(browser.Run(users[i].Tab, framework.StepTimeout, framework.Open(suite.Env.SPURL("/"), "#login"),
					framework.WaitForVisible("login"),
					framework.SetFields([2]string{"username", id}, [2]string{"groups", eng}))).To(Succeed())
			}
			var wg sync.WaitGroup
			outcomes := make([]framework.Outcome, people)
			errs := make([]error, people)
			for i, u := range users {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					outcomes[i], errs[i] = u.SubmitAndWaitForSP("signin")
				}()
			}
			wg.Wait()
			for i := range users {
				Expect(errs[i]).NotTo(HaveOccurred())
				Expect(outcomes[i].SignedIn).To(BeTrue(), "sign-in %d: %s", i, outcomes[i].Text)
			}
			Expect(suite.GroupsOf(id)).To(ConsistOf(eng), "exactly one account, with its group")
		})
	})

	Describe("Groups owned by the IdP", func() {
		It("shows a JIT user's groups read-only while Group Membership is configured, and refuses changes", Label("GRP-READONLY"), func(ctx SpecContext) {
			g := suite.MustNewGroups("Engineering", "Sales")
			suite.Configure("groups")
			id := suite.NewUserID("readonly")
			suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id, Groups: []string{g[0]}})
			rows := suite.MustUsersNamed(id)
			d, err := suite.Admin.User(rows[0].ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(d.GroupsReadOnly).To(BeTrue())
			Expect(d.GroupsEditable).To(BeFalse(), "the page offers a group editor")
			res, err := suite.Admin.Post(suite.Env.Pages.UserPath(rows[0].ID)+"/groups", map[string][]string{"group": {}})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Code).To(Equal("groups-read-only"))
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0]), "a scripted POST changed the groups")
		})

		It("recomputes the groups from every assertion, adding and removing", Label("GRP-RESYNC"), func(ctx SpecContext) {
			g := suite.MustNewGroups("A", "B", "C")
			suite.Configure("groups")
			id := suite.NewUserID("resync")
			suite.SignIn(suite.NewUserTab("first"), framework.Login{Username: id, Groups: []string{g[0], g[1]}})
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]))
			suite.SignIn(suite.NewUserTab("second"), framework.Login{Username: id, Groups: []string{g[1], g[2]}})
			got := suite.GroupsOf(id)
			suite.Choice("GRP-RESYNC", "are groups recomputed (added and removed) on every sign-in?",
				fmt.Sprintf("first sign-in asserted %v; second asserted %v; the user now has %v", g[:2], g[1:], got),
				len(got) == 2 && slices.Contains(got, g[1]) && slices.Contains(got, g[2]))
		})

		It("shows No Permissions Available to a user with no group, not an error", Label("GRP-NOPERM"), func(ctx SpecContext) {
			suite.Configure("groups")
			id := suite.NewUserID("noperm")
			out := suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id})
			Expect(out.NoPermissions).To(BeTrue(), "page: %s", out.Text)
			Expect(out.Text).To(ContainSubstring("No Permissions Available"))
			Expect(out.RefusalCode).To(BeEmpty())
		})
	})

	Describe("Saving the settings", func() {
		It("refuses Default User Groups that do not exist, with a clear message, and saves nothing", Label("DEF-EXIST"), func(ctx SpecContext) {
			sup := suite.MustNewGroups("Support")[0]
			suite.Configure("groups", sup)
			before, err := suite.Admin.SettingsForm()
			Expect(err).NotTo(HaveOccurred())
			missing := suite.Env.Unique("Missing")
			res, err := suite.Admin.SaveSettings(suite.JITFields(map[string]string{
				"defaultUserGroups": sup + ", " + missing, "firstNameAttr": "changedFirstName",
			}))
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Saved).To(BeFalse())
			Expect(res.FieldErrors).To(HaveKeyWithValue("defaultUserGroups", ContainSubstring(missing)))
			after, err := suite.Admin.SettingsForm()
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(Equal(before), "a refused save changed the settings")
		})

		It("ends every session except haiadmin's", Label("SET-SAVE-LOGOUT"), func(ctx SpecContext) {
			suite.Configure("groups")
			a, b := suite.NewUserTab("user-a"), suite.NewUserTab("user-b")
			suite.SignIn(a, framework.Login{Username: suite.NewUserID("sessa")})
			suite.SignIn(b, framework.Login{Username: suite.NewUserID("sessb")})
			Expect(suite.SignedIn(a)).To(BeTrue())
			Expect(suite.Admin.MustSaveSettings(suite.JITFields(nil))).To(Succeed())
			Expect(suite.Admin.SignedIn()).To(BeTrue(), "haiadmin was signed out by Save Settings")
			Expect(suite.SignedIn(a)).To(BeFalse(), "user A kept the session")
			Expect(suite.SignedIn(b)).To(BeFalse(), "user B kept the session")
		})
	})

	Describe("SP-initiated and IdP-initiated sign-in", func() {
		It("sends an unauthenticated visitor to the IdP with an AuthnRequest, signed with the chosen algorithm", Label("SET-SPINIT"), func(ctx SpecContext) {
			DeferCleanup(func() { suite.Configure("groups") })
			Expect(suite.Admin.MustSaveSettings(suite.JITFields(map[string]string{"signRequest": "on", "signatureAlgorithm": "sha512"}))).To(Succeed())
			u := suite.NewUserTab("visitor")
			Expect(browser.Run(u.Tab, framework.StepTimeout, framework.Open(suite.Env.SPURL("/"), "#login"), framework.WaitForVisible("login"))).To(Succeed())
			loc, err := browser.Location(u.Tab)
			Expect(err).NotTo(HaveOccurred())
			Expect(loc).To(HavePrefix(suite.Env.IdPURL("/sso?")), "the browser is not at the IdP's SSO URL")
			raw := strings.SplitN(loc, "?", 2)[1]
			q, err := url.ParseQuery(raw)
			Expect(err).NotTo(HaveOccurred())
			Expect(q.Get("SAMLRequest")).NotTo(BeEmpty())
			Expect(q.Get("SigAlg")).To(Equal("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"))
			// Verify the Redirect-binding signature with the SP's certificate:
			// it covers the query exactly as sent, up to &Signature.
			signed := raw[:strings.Index(raw, "&Signature=")]
			sig, err := base64.StdEncoding.DecodeString(q.Get("Signature"))
			Expect(err).NotTo(HaveOccurred())
			digest := sha512.Sum512([]byte(signed))
			cert := suite.Env.Target.SPCertificate()
			if cert == nil {
				Skip("the target's metadata names no signing certificate to check the signature with")
			}
			pub, ok := cert.PublicKey.(*rsa.PublicKey)
			Expect(ok).To(BeTrue(), "the SP signing key is not RSA")
			Expect(rsa.VerifyPKCS1v15(pub, crypto.SHA512, digest[:], sig)).To(Succeed(), "the AuthnRequest signature does not verify")
			requestID, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Text(chromedp.ID("request-id")))
			Expect(err).NotTo(HaveOccurred())
			Expect(requestID).NotTo(BeEmpty(), "the IdP did not see an AuthnRequest")
		})

		It("sends an unsigned AuthnRequest when SP Sign Request is off", Label("SET-SPINIT"), func(ctx SpecContext) {
			suite.Configure("groups")
			u := suite.NewUserTab("visitor")
			Expect(browser.Run(u.Tab, framework.StepTimeout, framework.Open(suite.Env.SPURL("/"), "#login"), framework.WaitForVisible("login"))).To(Succeed())
			loc, _ := browser.Location(u.Tab)
			q, err := url.ParseQuery(strings.SplitN(loc, "?", 2)[1])
			Expect(err).NotTo(HaveOccurred())
			Expect(q.Get("SAMLRequest")).NotTo(BeEmpty())
			Expect(q.Has("Signature")).To(BeFalse())
		})

		It("accepts IdP-initiated responses with the SAML SSO URL blank, and (choice) also when it is set", Label("SET-IDPINIT"), func(ctx SpecContext) {
			DeferCleanup(func() { suite.Configure("groups") })
			Expect(suite.Admin.MustSaveSettings(suite.JITFields(map[string]string{"ssoURL": ""}))).To(Succeed())
			visitor := suite.NewUserTab("visitor")
			out, err := visitor.Visit("/")
			Expect(err).NotTo(HaveOccurred())
			Expect(out.Location).To(HavePrefix(suite.Env.SPURL(suite.Env.Pages.Login)), "with no SSO URL the SP should not start SP-initiated login")

			blank := suite.NewUserID("idpinit")
			out, err = suite.NewUserTab("user").SignInViaIdP(framework.Login{Username: blank}, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(out.SignedIn).To(BeTrue(), out.Text)

			Expect(suite.MustUsersNamed(blank)).To(HaveLen(1))
			suite.Configure("groups")
			set := suite.NewUserID("idpinitset")
			out, err = suite.NewUserTab("user2").SignInViaIdP(framework.Login{Username: set}, "")
			Expect(err).NotTo(HaveOccurred())
			suite.Choice("SET-IDPINIT", "are IdP-initiated responses accepted while a SAML SSO URL is set?",
				fmt.Sprintf("signed in: %v (refusal code %q)", out.SignedIn, out.RefusalCode), out.SignedIn)
		})
	})

	Describe("haiadmin is local only", func() {
		DescribeTable("an assertion naming haiadmin never yields the local administrator",
			Label("BYPASS-ONLY-LOCAL"),
			func(ctx SpecContext, name string) {
				suite.Configure("groups")
				u := suite.NewUserTab("impostor")
				out, err := u.SignInViaSP(framework.Login{Username: name, Groups: []string{"Engineering"}})
				Expect(err).NotTo(HaveOccurred())
				Expect(out.SignedIn).To(BeFalse(), "the IdP signed someone in as %q", name)
				Expect(out.RefusalCode).To(Equal("reserved-identifier"))
				Expect(suite.MustUsersNamed("haiadmin")).To(BeEmpty(), "an SSO account named haiadmin exists")
				adm, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[bool](`!!document.querySelector('#admin-nav')`))
				Expect(err).NotTo(HaveOccurred())
				Expect(adm).To(BeFalse(), "the impostor sees Administration")
				res, err := u.Visit(suite.Env.Pages.Users)
				Expect(err).NotTo(HaveOccurred())
				Expect(res.Location).To(ContainSubstring(suite.Env.Pages.Login), "the impostor reached an admin page")
			},
			Entry("haiadmin", "haiadmin"),
			Entry("HaiAdmin", "HaiAdmin"),
			Entry("HAIADMIN with spaces", "  HAIADMIN "),
		)

		It("throttles repeated wrong haiadmin passwords, then lets the right one in", Label("BYPASS-ONLY-LOCAL"), func(ctx SpecContext) {
			u := suite.NewUserTab("guesser")
			Expect(browser.Run(u.Tab, framework.StepTimeout, framework.Open(suite.Env.SPURL(suite.Env.Pages.Login), "#login-form"), framework.WaitForVisible("login-form"))).To(Succeed())
			// Eight quick wrong guesses, as a password-guessing script sends them.
			statuses, err := browser.Get(u.Tab, 2*framework.StepTimeout, chromedp.Evaluate[[]int](`(async () => {
				const out = [];
				for (let i = 0; i < 8; i++) {
					const r = await fetch('/login', {method: 'POST', body: new URLSearchParams({username: 'haiadmin', password: 'wrong-' + i})});
					out.push(r.status);
				}
				return out;
			})()`, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
			Expect(err).NotTo(HaveOccurred())
			// Other specs of this process may have spent a wrong guess already.
			Expect(statuses[0]).To(Equal(http.StatusUnauthorized), "a wrong password is refused")
			Expect(statuses).To(ContainElement(http.StatusTooManyRequests), "repeated failures were not throttled: %v", statuses)
			Expect(statuses).To(HaveEach(BeElementOf(http.StatusUnauthorized, http.StatusTooManyRequests)))
			ok, page := suite.SignInLocally(suite.Env.AdminPassword)
			if !ok {
				Expect(page).To(ContainSubstring("Too many failed sign-ins"), "while throttled, even the right password waits")
			}
			Eventually(func() bool {
				ok, _ := suite.SignInLocally(suite.Env.AdminPassword)
				return ok
			}).WithTimeout(60*time.Second).WithPolling(2*time.Second).Should(BeTrue(), "the throttle never lifted")
		})
	})
}
