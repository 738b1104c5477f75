package mockidp_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// lastOfKind is the newest IdP log entry of this kind ("login" or
// "logout") for nameID.
func lastOfKind(kind, nameID string) (mockidp.LoggedResponse, bool) {
	log := suite.Env.IdP.Log()
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].Kind == kind && log[i].NameID == nameID {
			return log[i], true
		}
	}
	return mockidp.LoggedResponse{}, false
}

// liveSessions counts the reference SP's live sessions for the user id.
func liveSessions(id string) int {
	GinkgoHelper()
	st := suite.Env.Target.Store()
	Expect(st).NotTo(BeNil())
	u, err := st.UserByKey(context.Background(), id)
	Expect(err).NotTo(HaveOccurred())
	n, err := st.CountUserSessions(context.Background(), u.ID, time.Now())
	Expect(err).NotTo(HaveOccurred())
	return n
}

// signatureCertificate is the certificate in the KeyInfo of the logged
// Response's own signature, as base64 DER.
func signatureCertificate(e mockidp.LoggedResponse) string {
	GinkgoHelper()
	c := responseDoc(e).FindElement("./Signature/KeyInfo/X509Data/X509Certificate")
	Expect(c).NotTo(BeNil(), "the Response carries no signing certificate")
	return strings.Join(strings.Fields(c.Text()), "")
}

func pemToBase64(p string) string {
	lines := strings.Split(strings.TrimSpace(p), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}

var _ = Describe("The mock IdP", Label("mockidp"), func() {
	Describe("Single Logout", func() {
		It("signs the user out at the IdP and at the SP", func(ctx SpecContext) {
			if suite.Env.Target.Store() == nil {
				Skip("Single Logout is the bundled reference SP's addition (its settings have an IdP Single Logout URL)")
			}
			g := suite.MustNewGroups("SLO")
			suite.Configure("groups")
			Expect(suite.Admin.MustSaveSettings(map[string]string{"sloURL": suite.Env.IdP.SLOURL()})).To(Succeed())
			DeferCleanup(func() { Expect(suite.Admin.MustSaveSettings(map[string]string{"sloURL": ""})).To(Succeed()) })

			id := suite.NewUserID("slo")
			u := suite.NewUserTab("slo")
			out := signInWith(u, id, g)
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			Expect(liveSessions(id)).To(Equal(1), "the SSO login started one SP session")

			Expect(browser.Run(u.Tab, framework.StepTimeout, framework.ClickAndWaitFor("logout", "#signed-out"))).To(Succeed())
			page, err := u.Read()
			Expect(err).NotTo(HaveOccurred())
			Expect(page.Location).To(HavePrefix(suite.Env.SPURL("/saml/slo")), "the IdP's LogoutResponse lands at the SP's SLO endpoint")
			atIdP, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[bool](`!!document.querySelector('#signed-out-idp')`))
			Expect(err).NotTo(HaveOccurred())
			Expect(atIdP).To(BeTrue(), "the SP accepted the IdP's LogoutResponse: "+page.Text)

			e, ok := lastOfKind("logout", id)
			Expect(ok).To(BeTrue(), "the IdP log shows the LogoutRequest")
			Expect(e.SP).To(Equal(suite.Env.Target.EntityID()))
			Expect(e.Status).To(Equal(saml.StatusSuccess))
			Expect(e.ACS).To(Equal(suite.Env.SPURL("/saml/slo")))
			Expect(e.LogoutRequestXML).To(ContainSubstring(id))

			Expect(liveSessions(id)).To(Equal(0), "the SP session is gone")
			again, err := u.Visit("/admin/users")
			Expect(err).NotTo(HaveOccurred())
			Expect(again.SignedIn).To(BeFalse(), again.Text)
			Expect(again.Location).To(ContainSubstring("/login?next="), "the next admin page visit needs sign-in again")
		})
	})

	DescribeTable("assertion encryption per login",
		func(ctx SpecContext, encrypt string, wantEncrypted bool) {
			g := suite.MustNewGroups("Enc1", "Enc2")
			suite.Configure("groups")
			id := suite.NewUserID("enc-" + encrypt)
			out := signInWith(suite.NewUserTab("encrypt"), id, g, [2]string{"encrypt", encrypt})
			Expect(out.SignedIn).To(BeTrue(), out.Text)
			e, ok := lastOfKind("login", id)
			Expect(ok).To(BeTrue())
			Expect(e.EncryptOption).To(Equal(encrypt))
			Expect(e.Encrypted).To(Equal(wantEncrypted), "the log entry says whether the assertion was encrypted")
			root := responseDoc(e)
			Expect(root.FindElement("./EncryptedAssertion") != nil).To(Equal(wantEncrypted), "EncryptedAssertion in the Response sent")
			Expect(root.FindElement("./Assertion") != nil).To(Equal(!wantEncrypted), "plain Assertion in the Response sent")
			Expect(suite.GroupsOf(id)).To(ConsistOf(g[0], g[1]), "the SP provisioned the groups it read from the assertion")
		},
		Entry("always: encrypted to the SP's certificate, decrypted by the SP", Label("JIT-CREATE", "GRP-MATCH"), "always", true),
		Entry("never: a plain assertion, also accepted", Label("JIT-CREATE", "GRP-MATCH"), "never", false),
	)

	Describe("certificate rollover", func() {
		It("announces two signing certificates; a login signed with the next key is accepted by an SP that trusts both", Label("SEC-SIG"), func(ctx SpecContext) {
			if !suite.Env.IdP.HasNextKey() {
				Skip("this mock IdP was started without rollover")
			}
			resp, err := suite.Env.HTTP.Get(suite.Env.IdPURL("/metadata"))
			Expect(err).NotTo(HaveOccurred())
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			var md saml.EntityDescriptor
			Expect(xml.Unmarshal(body, &md)).To(Succeed())
			var signing []string
			for _, kd := range md.IDPSSODescriptors[0].KeyDescriptors {
				if kd.Use == "signing" {
					signing = append(signing, kd.KeyInfo.X509Data.X509Certificates[0].Data)
				}
			}
			current, next := pemToBase64(suite.Env.IdP.CertificatePEM()), pemToBase64(suite.Env.IdP.NextCertificatePEM())
			Expect(signing).To(Equal([]string{current, next}), "the metadata announces the current and the next certificate")

			// Before the SP trusts the next certificate, it refuses a login signed with it.
			suite.Configure("groups")
			early := suite.NewUserID("rollover-early")
			out := signInWith(suite.NewUserTab("rollover-early"), early, nil, [2]string{"signKey", "next"})
			Expect(out.SignedIn).To(BeFalse(), out.Text)
			Expect(out.RefusalCode).To(Equal("signature"))

			// During the rollover the SP trusts both announced certificates.
			Expect(suite.Admin.MustSaveSettings(suite.JITFields(map[string]string{"idpCertificatePEM": suite.Env.IdP.CertificatesPEM()}))).To(Succeed())
			DeferCleanup(suite.Configure, "groups") // back to the current certificate only
			for _, key := range []string{"current", "next"} {
				id := suite.NewUserID("rollover-" + key)
				out := signInWith(suite.NewUserTab("rollover-"+key), id, nil, [2]string{"signKey", key})
				Expect(out.SignedIn).To(BeTrue(), key+": "+out.Text)
				e, ok := lastOfKind("login", id)
				Expect(ok).To(BeTrue())
				Expect(e.SigningKey).To(Equal(key))
				want := current
				if key == "next" {
					want = next
				}
				Expect(signatureCertificate(e)).To(Equal(want), "signed with the "+key+" key")
			}
		})
	})
})
