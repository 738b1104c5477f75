package mockidp_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/crewjam/saml"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

// idpAPI calls the mock IdP's scenario API as a script would; it returns
// the status and the body.
func idpAPI(method, path string, body any) (int, []byte) {
	GinkgoHelper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		Expect(err).NotTo(HaveOccurred())
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, suite.Env.IdPURL(path), r)
	Expect(err).NotTo(HaveOccurred())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := suite.Env.HTTP.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, b
}

func nextLoginPath(nameID string) string {
	return "/api/users/" + url.PathEscape(nameID) + "/next-login"
}

// fetchInPage fetches a URL from the page the tab shows (same origin,
// its cookies) and returns the status, a header and the body text.
func fetchInPage(u *framework.User, href, header string) (status int, headerValue, text string) {
	GinkgoHelper()
	hrefJSON, _ := json.Marshal(href)
	headerJSON, _ := json.Marshal(header)
	out, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[string](`fetch(`+string(hrefJSON)+`).then(async r => JSON.stringify({status: r.status, header: r.headers.get(`+string(headerJSON)+`) || '', text: await r.text()}))`,
		func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	Expect(err).NotTo(HaveOccurred())
	var res struct {
		Status int    `json:"status"`
		Header string `json:"header"`
		Text   string `json:"text"`
	}
	Expect(json.Unmarshal([]byte(out), &res)).To(Succeed())
	return res.Status, res.Header, res.Text
}

var _ = Describe("The mock IdP's scenario API", Label("mockidp"), func() {
	It("queues a user's next login, which the login form then sends once", Label("JIT-CREATE", "JIT-ATTRS", "GRP-MATCH"), func(ctx SpecContext) {
		suite.Configure("groups")
		g := suite.MustNewGroups("Queued-A", "Queued-B")
		id := suite.NewUserID("queued")
		email := suite.NewUserID("queued-mail")
		status, body := idpAPI(http.MethodPut, nextLoginPath(id)+"?sp="+url.QueryEscape(suite.Env.Target.EntityID()), map[string]any{
			"firstName": "Queued", "lastName": "Person", "email": email, "groups": g, "signAlg": "sha512",
		})
		Expect(status).To(Equal(http.StatusCreated), string(body))

		// The person types only the user name; the groups typed are not
		// the queued ones.
		u := suite.NewUserTab("queued")
		openLoginViaSP(u)
		fill(u, [2]string{"username", id}, [2]string{"groups", "Typed-not-queued"})
		out := submit(u, "signin")
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		Expect(out.Groups).To(ConsistOf(g[0], g[1]), "the SP shows the queued groups")
		rows := suite.MustUsersNamed(id)
		Expect(rows).To(HaveLen(1))
		Expect(rows[0].Groups).To(ConsistOf(g[0], g[1]))
		Expect(rows[0].DisplayName).To(Equal("Queued Person"), "the SP recorded the queued names")
		Expect(rows[0].Email).To(Equal(email), "the SP recorded the queued email")
		e := suite.LastSent(id)
		Expect(e.Options).NotTo(BeNil())
		Expect(e.Options.Source).To(Equal("queue"))
		Expect(e.Options.SignatureMethod).To(Equal(nsSHA512))

		// Consumed: the entry is gone, and the next login is the form's.
		status, body = idpAPI(http.MethodGet, nextLoginPath(id)+"?sp="+url.QueryEscape(suite.Env.Target.EntityID()), nil)
		Expect(status).To(Equal(http.StatusNotFound), string(body))
		out = signInWith(suite.NewUserTab("queued-again"), id, []string{g[0]})
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		Expect(out.Groups).To(ConsistOf(g[0]), "the second login sends the form's groups")
		Expect(suite.LastSent(id).Options.Source).To(Equal("form"))
	})

	It("registers a service provider through the /sps page, and refuses bad metadata there", func(ctx SpecContext) {
		entityID := "https://" + strings.ToLower(suite.Env.Unique("sp")) + ".example/saml/metadata"
		acs := strings.TrimSuffix(entityID, "/saml/metadata") + "/saml/acs"
		md, err := xml.Marshal(saml.EntityDescriptor{EntityID: entityID, SPSSODescriptors: []saml.SPSSODescriptor{{
			SSODescriptor:             saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol"}},
			AssertionConsumerServices: []saml.IndexedEndpoint{{Binding: saml.HTTPPostBinding, Location: acs, Index: 1}},
		}}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { idpAPI(http.MethodDelete, "/api/sps/"+url.PathEscape(entityID), nil) })

		u := suite.NewUserTab("sps")
		Expect(browser.Run(u.Tab, framework.StepTimeout,
			chromedp.Navigate(suite.Env.IdPURL("/sps")), chromedp.WaitVisible(chromedp.ID("register-sp")),
		)).To(Succeed())
		// Bad metadata: an error on the page, nothing registered.
		fill(u, [2]string{"metadataXML", "<EntityDescriptor entityID=\"" + entityID + "\">"})
		Expect(browser.Run(u.Tab, framework.StepTimeout, framework.ClickAndWaitForLoad("register"), chromedp.WaitVisible(chromedp.ID("sps-error")))).To(Succeed())
		msg, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[string](`document.getElementById('sps-error').textContent`))
		Expect(err).NotTo(HaveOccurred())
		Expect(msg).To(ContainSubstring("Not registered"))
		status, _ := idpAPI(http.MethodGet, "/api/sps/"+url.PathEscape(entityID), nil)
		Expect(status).To(Equal(http.StatusNotFound))

		fill(u, [2]string{"metadataXML", string(md)})
		Expect(browser.Run(u.Tab, framework.StepTimeout, framework.ClickAndWaitForLoad("register"), chromedp.WaitVisible(chromedp.ID("sps-message")))).To(Succeed())
		listed, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('tr.sp')).map(tr => tr.dataset.entityId + ' ' + tr.querySelector('td.acs').textContent.trim())`))
		Expect(err).NotTo(HaveOccurred())
		Expect(listed).To(ContainElement(HavePrefix(entityID+" "+acs)), "the page lists the SP with its ACS")
		status, body := idpAPI(http.MethodGet, "/api/sps/"+url.PathEscape(entityID), nil)
		Expect(status).To(Equal(http.StatusOK), string(body))
		var info mockidp.SPInfo
		Expect(json.Unmarshal(body, &info)).To(Succeed())
		Expect(info.ACS).To(ConsistOf(mockidp.ACSEndpoint{Binding: saml.HTTPPostBinding, Location: acs, Index: 1}))

		// And its delete button removes it.
		marked, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[bool](`(() => {
			const row = Array.from(document.querySelectorAll('tr.sp')).find(tr => tr.dataset.entityId === `+jsString(entityID)+`);
			if (!row) return false;
			row.querySelector('button.delete').id = 'delete-this'; return true; })()`))
		Expect(err).NotTo(HaveOccurred())
		Expect(marked).To(BeTrue(), "the SP's row has a delete button")
		Expect(browser.Run(u.Tab, framework.StepTimeout, framework.ClickAndWaitForLoad("delete-this"), chromedp.WaitVisible(chromedp.ID("sps-message")))).To(Succeed())
		status, _ = idpAPI(http.MethodGet, "/api/sps/"+url.PathEscape(entityID), nil)
		Expect(status).To(Equal(http.StatusNotFound))
	})

	It("shows a login's options on the log page and downloads its response and request", Label("SET-SPINIT"), func(ctx SpecContext) {
		suite.Configure("groups")
		id := suite.NewUserID("download")
		u := suite.NewUserTab("log-download")
		out := signInWith(u, id, nil, [2]string{"signAlg", "sha512"}, [2]string{"groupsMode", "joined"}, [2]string{"groupsDelimiter", ";"})
		Expect(out.SignedIn).To(BeTrue(), out.Text)
		Expect(browser.Run(u.Tab, framework.StepTimeout,
			chromedp.Navigate(suite.Env.IdPURL("/log")), chromedp.WaitReady(chromedp.CSS("section.entry")))).To(Succeed())
		var entry struct {
			ID, Options, Response, Request string
		}
		s, err := browser.Get(u.Tab, framework.StepTimeout, chromedp.Evaluate[string](`(() => {
			const sec = Array.from(document.querySelectorAll('section.entry')).find(s => s.querySelector('td.nameid').textContent.trim() === `+jsString(id)+`);
			if (!sec) return '{}';
			const href = c => (sec.querySelector(c) || {}).getAttribute ? sec.querySelector(c).getAttribute('href') : '';
			return JSON.stringify({ID: sec.dataset.id, Options: sec.querySelector('td.login-options').textContent,
				Response: href('a.download-response'), Request: href('a.download-request')});
		})()`))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal([]byte(s), &entry)).To(Succeed())
		Expect(entry.ID).NotTo(BeEmpty(), "the log page has an entry for %s", id)
		Expect(entry.Options).To(ContainSubstring("login form"))
		Expect(entry.Options).To(ContainSubstring("joined"))
		Expect(entry.Options).To(ContainSubstring(nsSHA512))

		status, disposition, responseXML := fetchInPage(u, entry.Response, "Content-Disposition")
		Expect(status).To(Equal(http.StatusOK))
		Expect(disposition).To(HavePrefix("attachment"))
		var resp saml.Response
		Expect(xml.Unmarshal([]byte(responseXML), &resp)).To(Succeed())
		Expect(resp.Assertion).NotTo(BeNil())
		Expect(resp.Assertion.Subject.NameID.Value).To(Equal(id))
		Expect(resp.Signature).NotTo(BeNil(), "the download is the signed response as sent")

		status, _, requestXML := fetchInPage(u, entry.Request, "Content-Disposition")
		Expect(status).To(Equal(http.StatusOK))
		var ar saml.AuthnRequest
		Expect(xml.Unmarshal([]byte(requestXML), &ar)).To(Succeed())
		Expect(ar.ID).To(Equal(resp.InResponseTo), "the request downloaded is the one the response answers")

		code, body := idpAPI(http.MethodGet, "/api/log/"+entry.ID, nil)
		Expect(code).To(Equal(http.StatusOK))
		var logged mockidp.LoggedResponse
		Expect(json.Unmarshal(body, &logged)).To(Succeed())
		Expect(logged.NameID).To(Equal(id))
		Expect(logged.Options).NotTo(BeNil())
		Expect(logged.Options.GroupsMode).To(Equal("joined"))
		Expect(logged.Options.GroupsDelimiter).To(Equal(";"))
		Expect(logged.Options.Source).To(Equal("form"))
	})
})

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
