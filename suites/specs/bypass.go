package specs

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

func bypassSpecs(suite *framework.Suite) {
	Describe("Local sign-in bypass", func() {
		It("serves /login and lets haiadmin reach Administration while SSO is on", Label("BYPASS-LOGIN"), func(ctx SpecContext) {
			suite.Configure("groups")
			u := suite.NewUserTab("visitor")
			Expect(browser.Run(u.Tab, framework.StepTimeout, framework.Open(suite.Env.SPURL("/"), "#login"), framework.WaitForVisible("login"))).
				To(Succeed(), "with SSO on, an unauthenticated visit should reach the IdP's login page")
			ok, page := suite.SignInLocally(suite.Env.AdminPassword)
			Expect(ok).To(BeTrue(), "haiadmin did not reach Administration: %s", page)
		})

		It("serves /login while the IdP is unreachable and its certificate is wrong", Label("BYPASS-LOGIN"), func(ctx SpecContext) {
			DeferCleanup(func() { suite.Configure("groups") })
			Expect(suite.Admin.MustSaveSettings(suite.JITFields(map[string]string{
				"ssoURL":            "https://" + framework.IdPHost + ":1/sso",
				"idpCertificatePEM": string(suite.Env.CA.CertPEM()),
			}))).To(Succeed())
			ok, page := suite.SignInLocally(suite.Env.AdminPassword)
			Expect(ok).To(BeTrue(), "haiadmin did not reach Administration with SSO broken: %s", page)
		})

		It("refuses a wrong haiadmin password", Label("BYPASS-LOGIN", "BYPASS-ONLY-LOCAL"), func(ctx SpecContext) {
			ok, page := suite.SignInLocally("not-the-password")
			Expect(ok).To(BeFalse())
			Expect(page).To(ContainSubstring("Wrong user name or password"))
		})
	})

	Describe("Assertion Consumer Service", func() {
		It("is https://<SP>/sso/callback with the HTTP-POST binding, and the login uses it", Label("SET-ACS"), func(ctx SpecContext) {
			suite.Configure("groups")
			acs := suite.Env.SPURL("/sso/callback")

			resp, err := suite.Env.HTTP.Get(suite.Env.SPURL("/saml/metadata"))
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			var md struct {
				SP struct {
					ACS []struct {
						Binding  string `xml:"Binding,attr"`
						Location string `xml:"Location,attr"`
					} `xml:"AssertionConsumerService"`
				} `xml:"SPSSODescriptor"`
			}
			body, _ := io.ReadAll(resp.Body)
			Expect(xml.Unmarshal(body, &md)).To(Succeed())
			Expect(md.SP.ACS).To(ContainElement(And(
				HaveField("Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"),
				HaveField("Location", acs))))

			id := suite.NewUserID("acs")
			suite.SignIn(suite.NewUserTab("user"), framework.Login{Username: id})
			var sentTo []string
			for _, r := range suite.Env.IdP.Log() {
				if r.NameID == id {
					sentTo = append(sentTo, r.ACS)
				}
			}
			Expect(sentTo).To(Equal([]string{acs}), "the IdP posted the response elsewhere")

			get, err := suite.Env.HTTP.Get(acs)
			Expect(err).NotTo(HaveOccurred())
			get.Body.Close()
			Expect(get.StatusCode).To(Equal(http.StatusMethodNotAllowed), "the ACS accepts POST only")
			Expect(strings.HasPrefix(acs, "https://")).To(BeTrue())
		})
	})
}
