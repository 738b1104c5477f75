package mockidp_test

import (
	"net/url"
	"strings"

	"github.com/beevik/etree"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/framework/browser"
)

const (
	nsSHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	nsSHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
)

// openLoginViaSP opens the SP, which sends the browser to the IdP's login
// page (SP-initiated).
func openLoginViaSP(u *framework.User) {
	GinkgoHelper()
	Expect(browser.Run(u.Tab, framework.StepTimeout,
		chromedp.Navigate(suite.Env.SPURL("/")), chromedp.WaitVisible(chromedp.ID("login")))).
		To(Succeed(), "an unauthenticated visit to the SP should reach the IdP's login page")
}

// openLoginViaIdP opens the IdP-initiated login page for the SP under test.
func openLoginViaIdP(u *framework.User, relayState string) {
	GinkgoHelper()
	Expect(browser.Run(u.Tab, framework.StepTimeout,
		chromedp.Navigate(suite.Env.IdPURL("/idp/initiate?sp="+urlQuery(suite.Env.Target.EntityID())+"&RelayState="+urlQuery(relayState))),
		chromedp.WaitVisible(chromedp.ID("login")))).To(Succeed())
}

// fill sets the login form's fields (by element ID), in order.
func fill(u *framework.User, fields ...[2]string) {
	GinkgoHelper()
	var steps []chromedp.Action[chromedp.Void]
	for _, f := range fields {
		steps = append(steps, framework.SetField(f[0], f[1]))
	}
	Expect(browser.Run(u.Tab, framework.StepTimeout, steps...)).To(Succeed())
}

// submit clicks a button of the login form (#signin or #persona-<id>) and
// returns the SP page the login ended on.
func submit(u *framework.User, buttonID string) framework.Outcome {
	GinkgoHelper()
	Expect(browser.Run(u.Tab, framework.StepTimeout, framework.ClickAndWaitForLoad(buttonID))).To(Succeed())
	out, err := u.WaitForSP()
	Expect(err).NotTo(HaveOccurred())
	return out
}

// signInWith is an SP-initiated login with the username, groups (one per
// line) and option fields given.
func signInWith(u *framework.User, username string, groups []string, options ...[2]string) framework.Outcome {
	GinkgoHelper()
	openLoginViaSP(u)
	fill(u, append([][2]string{{"username", username}, {"groups", strings.Join(groups, "\n")}}, options...)...)
	return submit(u, "signin")
}

// responseDoc parses a logged response's XML.
func responseDoc(e mockidp.LoggedResponse) *etree.Element {
	GinkgoHelper()
	doc := etree.NewDocument()
	Expect(doc.ReadFromString(e.ResponseXML)).To(Succeed())
	Expect(doc.Root()).NotTo(BeNil())
	return doc.Root()
}

// signatureAlgorithms returns the SignatureMethod of the Response's own
// signature and of the Assertion's ("" where there is none).
func signatureAlgorithms(resp *etree.Element) (response, assertion string) {
	if s := resp.FindElement("./Signature/SignedInfo/SignatureMethod"); s != nil {
		response = s.SelectAttrValue("Algorithm", "")
	}
	if s := resp.FindElement("./Assertion/Signature/SignedInfo/SignatureMethod"); s != nil {
		assertion = s.SelectAttrValue("Algorithm", "")
	}
	return
}

// groupAttr returns the Attribute element named name in the response.
func groupAttr(resp *etree.Element, name string) *etree.Element {
	for _, a := range resp.FindElements("./Assertion/AttributeStatement/Attribute") {
		if a.SelectAttrValue("Name", "") == name {
			return a
		}
	}
	return nil
}

func attrValues(a *etree.Element) []string {
	var out []string
	for _, v := range a.SelectElements("AttributeValue") {
		out = append(out, v.Text())
	}
	return out
}

func urlQuery(s string) string { return url.QueryEscape(s) }
