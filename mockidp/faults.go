package mockidp

// The fault library: named, deliberately broken or hostile variants of the
// response the IdP sends, for checking that a service provider refuses
// them (and accepts the valid variants). A fault is chosen per login, on
// the login form (the "fault" field), never globally, so logins running in
// parallel do not see each other's faults.
//
// Signing always goes through goxmldsig's SigningContext with the IdP's key
// (or a throw-away untrusted key); the faults only choose what is signed
// and restructure the XML around it with etree.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// What a conforming SP does with a faulted response.
const (
	ExpectRefuse = "refuse"
	ExpectAccept = "accept"
)

// FaultField is the login form field (and /idp/initiate query parameter)
// naming the fault; empty or "none" sends the normal response.
const FaultField = "fault"

// EvilSuffix is appended to the NameID by the faults that try to make the
// SP read an identity the IdP did not sign: a spec checks that no account
// named NameID+EvilSuffix appears.
const EvilSuffix = ".evil"

// ForeignRelayState is the RelayState of the relaystate-foreign fault.
const ForeignRelayState = "https://evil.example/"

// Fault is one named transformation of the response.
type Fault struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Requirement is the SEC-* requirement ID the fault exercises.
	Requirement string `json:"requirement"`
	// Expect is ExpectRefuse or ExpectAccept.
	Expect string `json:"expect"`

	build func(*faultBuild) error
}

// Faults returns the fault library, in a stable order.
func Faults() []Fault { return append([]Fault(nil), faultList...) }

// LookupFault returns the fault with this name.
func LookupFault(name string) (Fault, bool) {
	for _, f := range faultList {
		if f.Name == name {
			return f, true
		}
	}
	return Fault{}, false
}

func (s *Server) serveFaultsJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(Faults())
}

// faultBuild is the state of one faulted response as it is built: the
// assertion (a Go value until it is signed), the Response's own fields,
// then the Response element, its bytes, and the SAMLResponse form value.
type faultBuild struct {
	s   *Server
	req *saml.IdpAuthnRequest
	a   *saml.Assertion
	// resp holds the Response's fields; the element is made from it.
	resp          saml.Response
	noDestination bool

	responseEl   *etree.Element
	xml          []byte
	samlResponse string
	relayState   string
}

func newFaultBuild(s *Server, req *saml.IdpAuthnRequest) (*faultBuild, error) {
	if req.Assertion == nil || req.ACSEndpoint == nil {
		return nil, errors.New("mockidp: fault: the request has no assertion or ACS endpoint")
	}
	b := &faultBuild{s: s, req: req, a: req.Assertion, relayState: req.RelayState}
	b.a.Signature = nil
	b.resp = saml.Response{
		Destination:  req.ACSEndpoint.Location,
		ID:           "id-" + strings.ToLower(rand.Text()),
		InResponseTo: req.Request.ID,
		IssueInstant: req.Now,
		Version:      "2.0",
		Issuer:       &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: s.EntityID()},
		Status:       saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	return b, nil
}

// signingContext signs with key, putting certs in KeyInfo, as crewjam's
// IdP does (exclusive c14n, empty prefix list).
func signingContext(key *rsa.PrivateKey, certs []*x509.Certificate, method string) (*dsig.SigningContext, error) {
	pair := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		pair.Certificate = append(pair.Certificate, c.Raw)
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(pair))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(method); err != nil {
		return nil, err
	}
	return ctx, nil
}

func (b *faultBuild) idpContext() (*dsig.SigningContext, error) {
	return signingContext(b.s.cfg.Key, []*x509.Certificate{b.s.cfg.Certificate}, dsig.RSASHA256SignatureMethod)
}

// untrusted is a key pair the SP was never told about, made once per
// process.
var untrusted struct {
	once sync.Once
	key  *rsa.PrivateKey
	cert *x509.Certificate
	err  error
}

func untrustedKeyPair() (*rsa.PrivateKey, *x509.Certificate, error) {
	untrusted.once.Do(func() {
		untrusted.key, untrusted.err = rsa.GenerateKey(rand.Reader, 2048)
		if untrusted.err == nil {
			untrusted.cert, untrusted.err = selfSign(untrusted.key, time.Now(), "untrusted.mock.test", nil)
		}
	})
	return untrusted.key, untrusted.cert, untrusted.err
}

// sign returns a signed copy of el with the Signature placed after the
// Issuer, where the schema wants it.
func sign(ctx *dsig.SigningContext, el *etree.Element) (*etree.Element, error) {
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, err
	}
	// SignEnveloped appends the Signature without setting its parent, so
	// RemoveChild would not find it: cut it off the end instead.
	sig, ok := signed.Child[len(signed.Child)-1].(*etree.Element)
	if !ok {
		return nil, errors.New("mockidp: no Signature after signing")
	}
	signed.Child = signed.Child[:len(signed.Child)-1]
	at := 0
	if iss := child(signed, "Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	signed.InsertChildAt(at, sig)
	return signed, nil
}

// child returns el's first child element with this local name.
func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// assertionEl is the unsigned assertion element.
func (b *faultBuild) assertionEl() *etree.Element {
	b.a.Signature = nil
	return b.a.Element()
}

// signedAssertionEl is the assertion signed with the IdP's key.
func (b *faultBuild) signedAssertionEl() (*etree.Element, error) {
	ctx, err := b.idpContext()
	if err != nil {
		return nil, err
	}
	return sign(ctx, b.assertionEl())
}

// response makes the Response element from b.resp holding children.
func (b *faultBuild) response(children ...*etree.Element) *etree.Element {
	r := b.resp
	el := r.Element()
	if b.noDestination {
		el.RemoveAttr("Destination")
	}
	for _, c := range children {
		el.AddChild(c)
	}
	return el
}

// standard builds the response as crewjam does by default (assertion and
// response both signed by the IdP), or with one of the signatures left out.
func (b *faultBuild) standard(signAssertion, signResponse bool) error {
	a := b.assertionEl()
	var err error
	if signAssertion {
		if a, err = b.signedAssertionEl(); err != nil {
			return err
		}
	}
	b.responseEl = b.response(a)
	if signResponse {
		ctx, err := b.idpContext()
		if err != nil {
			return err
		}
		if b.responseEl, err = sign(ctx, b.responseEl); err != nil {
			return err
		}
	}
	return nil
}

// serialize writes b.responseEl to b.xml.
func (b *faultBuild) serialize() error {
	doc := etree.NewDocument()
	doc.SetRoot(b.responseEl.Copy())
	var err error
	b.xml, err = doc.WriteToBytes()
	return err
}

// evil returns a copy of the unsigned assertion that names another subject
// (NameID + EvilSuffix) under a new ID.
func (b *faultBuild) evil() *etree.Element {
	el := b.assertionEl()
	el.CreateAttr("ID", "id-evil-"+strings.ToLower(rand.Text()))
	if n := el.FindElement("./Subject/NameID"); n != nil {
		n.SetText(n.Text() + EvilSuffix)
	}
	return el
}

func (b *faultBuild) shift(d time.Duration) {
	a := b.a
	a.IssueInstant = a.IssueInstant.Add(d)
	b.resp.IssueInstant = b.resp.IssueInstant.Add(d)
	if a.Conditions != nil {
		if !a.Conditions.NotBefore.IsZero() {
			a.Conditions.NotBefore = a.Conditions.NotBefore.Add(d)
		}
		if !a.Conditions.NotOnOrAfter.IsZero() {
			a.Conditions.NotOnOrAfter = a.Conditions.NotOnOrAfter.Add(d)
		}
	}
	if a.Subject != nil {
		for i := range a.Subject.SubjectConfirmations {
			if scd := a.Subject.SubjectConfirmations[i].SubjectConfirmationData; scd != nil && !scd.NotOnOrAfter.IsZero() {
				scd.NotOnOrAfter = scd.NotOnOrAfter.Add(d)
			}
		}
	}
	for i := range a.AuthnStatements {
		a.AuthnStatements[i].AuthnInstant = a.AuthnStatements[i].AuthnInstant.Add(d)
		if t := a.AuthnStatements[i].SessionNotOnOrAfter; t != nil {
			nt := t.Add(d)
			a.AuthnStatements[i].SessionNotOnOrAfter = &nt
		}
	}
}

func (b *faultBuild) confirmationData() *saml.SubjectConfirmationData {
	if b.a.Subject == nil || len(b.a.Subject.SubjectConfirmations) == 0 {
		return &saml.SubjectConfirmationData{}
	}
	if b.a.Subject.SubjectConfirmations[0].SubjectConfirmationData == nil {
		b.a.Subject.SubjectConfirmations[0].SubjectConfirmationData = &saml.SubjectConfirmationData{}
	}
	return b.a.Subject.SubjectConfirmations[0].SubjectConfirmationData
}

// timeFault shifts the IdP's clock by d for this one response.
func timeFault(d time.Duration) func(*faultBuild) error {
	return func(b *faultBuild) error {
		b.shift(d)
		return b.standard(true, true)
	}
}

// then runs mutate on the built response element.
func then(signAssertion, signResponse bool, mutate func(b *faultBuild) error) func(*faultBuild) error {
	return func(b *faultBuild) error {
		if err := b.standard(signAssertion, signResponse); err != nil {
			return err
		}
		return mutate(b)
	}
}

// before changes the assertion or response fields, then builds the
// standard (doubly signed) response.
func before(change func(b *faultBuild)) func(*faultBuild) error {
	return func(b *faultBuild) error {
		change(b)
		return b.standard(true, true)
	}
}

// raw builds the standard response, serializes it and rewrites the bytes.
func raw(rewrite func(b *faultBuild, xml []byte) []byte) func(*faultBuild) error {
	return func(b *faultBuild) error {
		if err := b.standard(true, true); err != nil {
			return err
		}
		if err := b.serialize(); err != nil {
			return err
		}
		b.xml = rewrite(b, b.xml)
		return nil
	}
}

// afterXMLDecl splits the serialized response after its XML declaration,
// if it has one.
func afterXMLDecl(x []byte) (decl, rest []byte) {
	if bytes.HasPrefix(x, []byte("<?xml")) {
		if i := bytes.Index(x, []byte("?>")); i >= 0 {
			return x[:i+2], x[i+2:]
		}
	}
	return nil, x
}

func withDoctype(x []byte, doctype string) []byte {
	decl, rest := afterXMLDecl(x)
	out := append([]byte(nil), decl...)
	out = append(out, doctype...)
	return append(out, rest...)
}

// signWithUntrusted signs the assertion and the response with the
// untrusted key; keyInfo chooses what KeyInfo says: "none", "own" (the
// untrusted certificate) or "trusted" (the IdP's certificate).
func signWithUntrusted(keyInfo string) func(*faultBuild) error {
	return func(b *faultBuild) error {
		key, cert, err := untrustedKeyPair()
		if err != nil {
			return err
		}
		certs := []*x509.Certificate{cert}
		if keyInfo == "trusted" {
			certs = []*x509.Certificate{b.s.cfg.Certificate}
		}
		ctx, err := signingContext(key, certs, dsig.RSASHA256SignatureMethod)
		if err != nil {
			return err
		}
		a, err := sign(ctx, b.assertionEl())
		if err != nil {
			return err
		}
		if b.responseEl, err = sign(ctx, b.response(a)); err != nil {
			return err
		}
		if keyInfo == "none" {
			for _, sig := range b.responseEl.FindElements("//Signature") {
				if ki := child(sig, "KeyInfo"); ki != nil {
					sig.RemoveChild(ki)
				}
			}
		}
		return nil
	}
}

func signatureOf(el *etree.Element) *etree.Element { return child(el, "Signature") }

func assertionIn(resp *etree.Element) *etree.Element { return child(resp, "Assertion") }

// xsw builds the wrapping layouts of Somorovsky et al. ("On Breaking SAML",
// 2012), as SAML Raider names them. XSW1 and XSW2 wrap a response whose
// Response is signed; XSW3-XSW8 one whose Assertion is signed (the Response
// is not). In each, the element the SP should read is an unsigned one
// naming NameID+EvilSuffix.
func xsw(n int) func(*faultBuild) error {
	return func(b *faultBuild) error {
		switch n {
		case 1, 2:
			if err := b.standard(false, true); err != nil {
				return err
			}
			orig := b.responseEl
			sig := signatureOf(orig)
			// The evil Response: new ID, the evil assertion, the copied
			// Signature; the original signed Response hides inside the
			// Signature (XSW1) or next to it (XSW2).
			evilResp := b.response(b.evil())
			evilResp.CreateAttr("ID", "id-evil-"+strings.ToLower(rand.Text()))
			sigCopy := sig.Copy()
			origCopy := orig.Copy()
			if n == 1 {
				sigCopy.AddChild(origCopy)
				evilResp.InsertChildAt(child(evilResp, "Issuer").Index()+1, sigCopy)
			} else {
				origCopy.RemoveChild(signatureOf(origCopy))
				at := child(evilResp, "Issuer").Index() + 1
				evilResp.InsertChildAt(at, sigCopy)
				evilResp.InsertChildAt(at, origCopy)
			}
			b.responseEl = evilResp
			return nil
		}
		if err := b.standard(true, false); err != nil {
			return err
		}
		resp := b.responseEl
		orig := assertionIn(resp)
		evil := b.evil()
		switch n {
		case 3: // the evil assertion before the signed one
			resp.InsertChildAt(orig.Index(), evil)
		case 4: // the signed assertion wrapped inside the evil one
			resp.RemoveChild(orig)
			evil.AddChild(orig)
			resp.AddChild(evil)
		case 5: // the evil assertion carries the signature; an unsigned copy of the original follows
			resp.RemoveChild(orig)
			evil.CreateAttr("ID", orig.SelectAttrValue("ID", ""))
			evil.InsertChildAt(child(evil, "Issuer").Index()+1, signatureOf(orig).Copy())
			plain := orig.Copy()
			plain.RemoveChild(signatureOf(plain))
			resp.AddChild(evil)
			resp.AddChild(plain)
		case 6: // like 5, but the original sits inside the signature
			resp.RemoveChild(orig)
			evil.CreateAttr("ID", orig.SelectAttrValue("ID", ""))
			sig := signatureOf(orig).Copy()
			plain := orig.Copy()
			plain.RemoveChild(signatureOf(plain))
			sig.AddChild(plain)
			evil.InsertChildAt(child(evil, "Issuer").Index()+1, sig)
			resp.AddChild(evil)
		case 7: // the signed assertion hidden in an Extensions element
			resp.RemoveChild(orig)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(orig)
			resp.InsertChildAt(child(resp, "Status").Index(), ext)
			resp.AddChild(evil)
		case 8: // the evil assertion carries the signature, the original inside its ds:Object
			resp.RemoveChild(orig)
			sig := signatureOf(orig).Copy()
			plain := orig.Copy()
			plain.RemoveChild(signatureOf(plain))
			obj := etree.NewElement("ds:Object")
			obj.AddChild(plain)
			sig.AddChild(obj)
			evil.CreateAttr("ID", orig.SelectAttrValue("ID", ""))
			evil.InsertChildAt(child(evil, "Issuer").Index()+1, sig)
			resp.AddChild(evil)
		}
		return nil
	}
}

// faultList is the library. Keep descriptions to one line.
var faultList = []Fault{
	// Signatures (SEC-SIG).
	{Name: "sig-assertion-only", Requirement: "SEC-SIG", Expect: ExpectAccept,
		Description: "Only the Assertion is signed, the Response is not (valid)",
		build:       func(b *faultBuild) error { return b.standard(true, false) }},
	{Name: "sig-response-only", Requirement: "SEC-SIG", Expect: ExpectAccept,
		Description: "Only the Response is signed, the Assertion is not (valid)",
		build:       func(b *faultBuild) error { return b.standard(false, true) }},
	{Name: "sig-none", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "Neither the Response nor the Assertion is signed",
		build:       func(b *faultBuild) error { return b.standard(false, false) }},
	{Name: "sig-untrusted-key", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "Signed by a key the SP does not trust, no KeyInfo",
		build:       signWithUntrusted("none")},
	{Name: "sig-untrusted-key-keyinfo", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "Signed by an untrusted key whose certificate is in KeyInfo",
		build:       signWithUntrusted("own")},
	{Name: "sig-untrusted-key-trusted-cert", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "Signed by an untrusted key, the IdP's trusted certificate put in KeyInfo",
		build:       signWithUntrusted("trusted")},
	{Name: "sig-nameid-altered", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "NameID changed (NameID" + EvilSuffix + ") after both signatures were made",
		build: then(true, true, func(b *faultBuild) error {
			n := b.responseEl.FindElement("./Assertion/Subject/NameID")
			n.SetText(n.Text() + EvilSuffix)
			return nil
		})},
	{Name: "sig-group-altered", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "A group value added to the signed Assertion (Response unsigned) after signing",
		build: then(true, false, func(b *faultBuild) error {
			a := assertionIn(b.responseEl)
			stmt := child(a, "AttributeStatement")
			if stmt == nil {
				stmt = a.CreateElement("saml:AttributeStatement")
			}
			attr := stmt.CreateElement("saml:Attribute")
			attr.CreateAttr("Name", b.groupAttribute())
			attr.CreateAttr("NameFormat", attrNameFormatBasic)
			v := attr.CreateElement("saml:AttributeValue")
			v.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
			v.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
			v.CreateAttr("xsi:type", "xs:string")
			v.SetText("Administrators")
			return nil
		})},
	{Name: "sig-assertion-broken-in-signed-response", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "Response validly signed, but it holds an Assertion whose own signature no longer matches",
		build: func(b *faultBuild) error {
			a, err := b.signedAssertionEl()
			if err != nil {
				return err
			}
			n := a.FindElement("./Subject/NameID")
			n.SetText(n.Text() + EvilSuffix)
			ctx, err := b.idpContext()
			if err != nil {
				return err
			}
			b.responseEl, err = sign(ctx, b.response(a))
			return err
		}},
	{Name: "sig-reference-other", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "The Assertion carries a valid signature whose Reference points at the Response, not at it",
		build: func(b *faultBuild) error {
			a := b.assertionEl()
			resp := b.response(a)
			ctx, err := b.idpContext()
			if err != nil {
				return err
			}
			signedResp, err := sign(ctx, resp)
			if err != nil {
				return err
			}
			sig := signatureOf(signedResp)
			signedResp.RemoveChild(sig)
			a = assertionIn(signedResp)
			a.InsertChildAt(child(a, "Issuer").Index()+1, sig)
			b.responseEl = signedResp
			return nil
		}},
	{Name: "sig-reference-empty", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "Assertion signed with an empty Reference URI (\"the whole document\"); Response unsigned",
		build: func(b *faultBuild) error {
			ctx, err := b.idpContext()
			if err != nil {
				return err
			}
			ctx.IdAttribute = "NoSuchIDAttribute" // makes goxmldsig write URI=""
			a, err := sign(ctx, b.assertionEl())
			if err != nil {
				return err
			}
			b.responseEl = b.response(a)
			return nil
		}},
	{Name: "sig-rsa-sha1", Requirement: "SEC-SIG", Expect: ExpectRefuse,
		Description: "Assertion and Response signed with RSA-SHA1 (deprecated)",
		build: func(b *faultBuild) error {
			ctx, err := signingContext(b.s.cfg.Key, []*x509.Certificate{b.s.cfg.Certificate}, dsig.RSASHA1SignatureMethod)
			if err != nil {
				return err
			}
			a, err := sign(ctx, b.assertionEl())
			if err != nil {
				return err
			}
			b.responseEl, err = sign(ctx, b.response(a))
			return err
		}},

	// Signature wrapping (SEC-XSW).
	{Name: "xsw1", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW1: unsigned evil Response at the root, the signed original inside its Signature", build: xsw(1)},
	{Name: "xsw2", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW2: unsigned evil Response at the root, the signed original beside its detached Signature", build: xsw(2)},
	{Name: "xsw3", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW3: an unsigned evil Assertion placed before the signed one", build: xsw(3)},
	{Name: "xsw4", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW4: the signed Assertion wrapped inside an unsigned evil Assertion", build: xsw(4)},
	{Name: "xsw5", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW5: evil Assertion carries the original Signature; an unsigned copy of the original follows", build: xsw(5)},
	{Name: "xsw6", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW6: evil Assertion carries the original Signature, which holds the original Assertion", build: xsw(6)},
	{Name: "xsw7", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW7: the signed Assertion hidden in samlp:Extensions, an unsigned evil one read instead", build: xsw(7)},
	{Name: "xsw8", Requirement: "SEC-XSW", Expect: ExpectRefuse,
		Description: "XSW8: evil Assertion carries the Signature, the original inside a ds:Object of it", build: xsw(8)},

	// Several assertions (SEC-MULTI).
	{Name: "multi-unsigned-first", Requirement: "SEC-MULTI", Expect: ExpectRefuse,
		Description: "Signed Response with two Assertions: an unsigned evil copy first, the signed original second",
		build: func(b *faultBuild) error {
			a, err := b.signedAssertionEl()
			if err != nil {
				return err
			}
			ctx, err := b.idpContext()
			if err != nil {
				return err
			}
			b.responseEl, err = sign(ctx, b.response(b.evil(), a))
			return err
		}},
	{Name: "multi-two-signed", Requirement: "SEC-MULTI", Expect: ExpectRefuse,
		Description: "Signed Response with two validly signed Assertions (the second for NameID" + EvilSuffix + ")",
		build: func(b *faultBuild) error {
			first, err := b.signedAssertionEl()
			if err != nil {
				return err
			}
			ctx, err := b.idpContext()
			if err != nil {
				return err
			}
			second, err := sign(ctx, b.evil())
			if err != nil {
				return err
			}
			b.responseEl, err = sign(ctx, b.response(first, second))
			return err
		}},

	// Validity window (SEC-TIME). MaxClockSkew and MaxIssueDelay are
	// crewjam's (180 s and 90 s), the usual allowances.
	{Name: "time-expired", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "IdP clock one hour behind: everything expired", build: timeFault(-time.Hour)},
	{Name: "time-not-yet-valid", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "IdP clock one hour ahead: nothing valid yet", build: timeFault(time.Hour)},
	{Name: "time-ahead-inside-skew", Requirement: "SEC-TIME", Expect: ExpectAccept,
		Description: "IdP clock 150 s ahead, inside the 180 s clock-skew allowance (valid)", build: timeFault(150 * time.Second)},
	{Name: "time-ahead-outside-skew", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "IdP clock 240 s ahead, outside the 180 s clock-skew allowance", build: timeFault(240 * time.Second)},
	{Name: "time-behind-inside-skew", Requirement: "SEC-TIME", Expect: ExpectAccept,
		Description: "IdP clock 45 s behind, inside the 90 s issue-delay allowance (valid)", build: timeFault(-45 * time.Second)},
	{Name: "time-behind-outside-skew", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "IdP clock 300 s behind, outside the 90 s issue delay and 180 s skew allowances", build: timeFault(-300 * time.Second)},
	{Name: "time-conditions-expired", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "Conditions NotOnOrAfter one hour in the past, everything else current",
		build: before(func(b *faultBuild) {
			b.a.Conditions.NotBefore = b.req.Now.Add(-2 * time.Hour)
			b.a.Conditions.NotOnOrAfter = b.req.Now.Add(-time.Hour)
		})},
	{Name: "time-conditions-not-before-future", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "Conditions NotBefore one hour in the future, everything else current",
		build: before(func(b *faultBuild) {
			b.a.Conditions.NotBefore = b.req.Now.Add(time.Hour)
			b.a.Conditions.NotOnOrAfter = b.req.Now.Add(2 * time.Hour)
		})},
	{Name: "time-issueinstant-stale", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "Assertion IssueInstant one hour ago, its validity window current",
		build:       before(func(b *faultBuild) { b.a.IssueInstant = b.req.Now.Add(-time.Hour) })},
	{Name: "time-issueinstant-future", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "Assertion IssueInstant one hour in the future, its validity window current",
		build:       before(func(b *faultBuild) { b.a.IssueInstant = b.req.Now.Add(time.Hour) })},
	{Name: "time-response-issueinstant-stale", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "Response IssueInstant one hour ago, the Assertion current",
		build:       before(func(b *faultBuild) { b.resp.IssueInstant = b.req.Now.Add(-time.Hour) })},
	{Name: "time-confirmation-expired", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "SubjectConfirmationData NotOnOrAfter one hour in the past",
		build:       before(func(b *faultBuild) { b.confirmationData().NotOnOrAfter = b.req.Now.Add(-time.Hour) })},
	{Name: "time-confirmation-missing", Requirement: "SEC-TIME", Expect: ExpectRefuse,
		Description: "SubjectConfirmationData without NotOnOrAfter (a bearer confirmation must have one)",
		build:       before(func(b *faultBuild) { b.confirmationData().NotOnOrAfter = time.Time{} })},

	// Addressing (SEC-AUD).
	{Name: "aud-wrong", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "Audience is another SP's entity ID",
		build: before(func(b *faultBuild) {
			b.a.Conditions.AudienceRestrictions = []saml.AudienceRestriction{{Audience: saml.Audience{Value: "https://other-sp.example/saml/metadata"}}}
		})},
	{Name: "aud-missing", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "No AudienceRestriction at all",
		build:       before(func(b *faultBuild) { b.a.Conditions.AudienceRestrictions = nil })},
	{Name: "aud-recipient-wrong", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "SubjectConfirmationData Recipient is another SP's ACS",
		build:       before(func(b *faultBuild) { b.confirmationData().Recipient = "https://other-sp.example/sso/callback" })},
	{Name: "aud-destination-wrong", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "Response Destination is another SP's ACS",
		build:       before(func(b *faultBuild) { b.resp.Destination = "https://other-sp.example/sso/callback" })},
	{Name: "aud-destination-missing", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "Signed Response without a Destination",
		build:       before(func(b *faultBuild) { b.noDestination = true })},
	{Name: "aud-issuer-wrong", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "Response and Assertion Issuer name another IdP (signed by the trusted key)",
		build: before(func(b *faultBuild) {
			b.resp.Issuer.Value = "https://other-idp.example/metadata"
			b.a.Issuer.Value = "https://other-idp.example/metadata"
		})},
	{Name: "aud-assertion-issuer-wrong", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "Only the Assertion's Issuer names another IdP",
		build:       before(func(b *faultBuild) { b.a.Issuer.Value = "https://other-idp.example/metadata" })},
	{Name: "status-failure-with-assertion", Requirement: "SEC-AUD", Expect: ExpectRefuse,
		Description: "Status Responder (login failed), yet a valid Assertion is included",
		build: before(func(b *faultBuild) {
			b.resp.Status = saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusResponder, StatusCode: &saml.StatusCode{Value: saml.StatusAuthnFailed}}}
		})},

	// Replay (SEC-REPLAY).
	{Name: "replay-inresponseto-unknown", Requirement: "SEC-REPLAY", Expect: ExpectRefuse,
		Description: "InResponseTo names a request the SP never sent",
		build: before(func(b *faultBuild) {
			id := "id-never-issued-" + strings.ToLower(rand.Text())
			b.resp.InResponseTo = id
			b.confirmationData().InResponseTo = id
		})},

	// Hostile XML (SEC-XML).
	{Name: "xml-doctype-external-entity", Requirement: "SEC-XML", Expect: ExpectRefuse,
		Description: "A DOCTYPE declaring an external entity (file:///etc/passwd) used in the NameID",
		build: raw(func(b *faultBuild, x []byte) []byte {
			x = withDoctype(x, `<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`)
			return bytes.Replace(x, []byte("</saml:NameID>"), []byte("&xxe;</saml:NameID>"), 1)
		})},
	{Name: "xml-entity-bomb", Requirement: "SEC-XML", Expect: ExpectRefuse,
		Description: "A DOCTYPE with a billion-laughs entity-expansion bomb used in the NameID",
		build: raw(func(b *faultBuild, x []byte) []byte {
			var d strings.Builder
			d.WriteString(`<!DOCTYPE samlp:Response [<!ENTITY lol0 "lol">`)
			for i := 1; i <= 9; i++ {
				fmt.Fprintf(&d, `<!ENTITY lol%d "%s">`, i, strings.Repeat(fmt.Sprintf("&lol%d;", i-1), 10))
			}
			d.WriteString(`]>`)
			x = withDoctype(x, d.String())
			return bytes.Replace(x, []byte("</saml:NameID>"), []byte("&lol9;</saml:NameID>"), 1)
		})},
	{Name: "xml-two-roots", Requirement: "SEC-XML", Expect: ExpectRefuse,
		Description: "Two root elements: the signed Response followed by a copy naming NameID" + EvilSuffix,
		build: raw(func(b *faultBuild, x []byte) []byte {
			_, rest := afterXMLDecl(x)
			evil := bytes.Replace(rest, []byte("</saml:NameID>"), []byte(EvilSuffix+"</saml:NameID>"), 1)
			return append(x, evil...)
		})},
	{Name: "xml-broken", Requirement: "SEC-XML", Expect: ExpectRefuse,
		Description: "The XML is cut off in the middle (not well-formed)",
		build:       raw(func(b *faultBuild, x []byte) []byte { return x[:len(x)/2] })},
	{Name: "xml-broken-base64", Requirement: "SEC-XML", Expect: ExpectRefuse,
		Description: "The SAMLResponse form value is not valid base64",
		build: func(b *faultBuild) error {
			if err := b.standard(true, true); err != nil {
				return err
			}
			if err := b.serialize(); err != nil {
				return err
			}
			enc := base64.StdEncoding.EncodeToString(b.xml)
			b.samlResponse = enc[:len(enc)/2] + "!*not-base64*!" + enc[len(enc)/2:]
			return nil
		}},
	{Name: "xml-very-large", Requirement: "SEC-XML", Expect: ExpectRefuse,
		Description: "A 1.5 MiB response (padding in a comment inside the signed Response)",
		build: raw(func(b *faultBuild, x []byte) []byte {
			pad := "<!--" + strings.Repeat("x", 3<<19) + "-->"
			return bytes.Replace(x, []byte("</samlp:Response>"), []byte(pad+"</samlp:Response>"), 1)
		})},
	{Name: "xml-nameid-comment", Requirement: "SEC-XML", Expect: ExpectAccept,
		Description: "A comment splits the signed NameID (NameID<!---->" + EvilSuffix + "): the SP must read the whole value, NameID" + EvilSuffix,
		build: func(b *faultBuild) error {
			a := b.assertionEl()
			n := a.FindElement("./Subject/NameID")
			text := n.Text()
			n.SetText(text)
			n.CreateComment("")
			n.CreateText(EvilSuffix)
			ctx, err := b.idpContext()
			if err != nil {
				return err
			}
			if a, err = sign(ctx, a); err != nil {
				return err
			}
			b.responseEl, err = sign(ctx, b.response(a))
			return err
		}},

	// Flow (SEC-REDIRECT).
	{Name: "relaystate-foreign", Requirement: "SEC-REDIRECT", Expect: ExpectAccept,
		Description: "Valid login whose RelayState is " + ForeignRelayState + ": the SP must stay on its own site",
		build: func(b *faultBuild) error {
			b.relayState = ForeignRelayState
			return b.standard(true, true)
		}},
}

// groupAttribute is the group attribute name of this login.
func (b *faultBuild) groupAttribute() string {
	if st := loginStateFrom(b.req.HTTPRequest.Context()); st != nil && st.identity != nil && st.identity.GroupAttribute != "" {
		return st.identity.GroupAttribute
	}
	return b.s.groupAttr
}

var faultFormTemplate = template.Must(template.New("fault-post-form").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Continue</title></head><body>
<p>Mock IdP: sending a response with the fault <code id="fault-name">{{.Fault}}</code>.</p>
<form method="post" action="{{.URL}}" id="SAMLResponseForm">
<input type="hidden" name="SAMLResponse" value="{{.SAMLResponse}}">
{{if .RelayState}}<input type="hidden" name="RelayState" value="{{.RelayState}}">{{end}}
<input id="SAMLSubmitButton" type="submit" value="Continue">
</form>
<script>document.getElementById('SAMLSubmitButton').style.visibility='hidden';document.getElementById('SAMLResponseForm').submit();</script>
</body></html>`))

// writeFaulted builds the response with fault f, writes the auto-posting
// form and returns the SAMLResponse value it posts. req.ResponseEl is set
// to the response element (before any byte-level rewriting).
func (s *Server) writeFaulted(w http.ResponseWriter, req *saml.IdpAuthnRequest, f Fault) (string, error) {
	b, err := newFaultBuild(s, req)
	if err != nil {
		return "", err
	}
	if err := f.build(b); err != nil {
		return "", fmt.Errorf("mockidp: fault %s: %w", f.Name, err)
	}
	if b.samlResponse == "" {
		if b.xml == nil {
			if err := b.serialize(); err != nil {
				return "", err
			}
		}
		b.samlResponse = base64.StdEncoding.EncodeToString(b.xml)
	}
	req.ResponseEl = b.responseEl
	req.RelayState = b.relayState
	var buf bytes.Buffer
	if err := faultFormTemplate.Execute(&buf, map[string]string{
		"URL": req.ACSEndpoint.Location, "SAMLResponse": b.samlResponse, "RelayState": b.relayState, "Fault": f.Name,
	}); err != nil {
		return "", err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	_, err = w.Write(buf.Bytes())
	return b.samlResponse, err
}
