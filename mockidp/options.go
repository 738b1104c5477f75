package mockidp

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// Per-login options of the login form (and of a form POSTed by a script to
// /sso or /idp/initiate). The zero value of each is today's default
// behaviour: an unspecified-format NameID, groups as one multi-valued
// attribute with the basic NameFormat, response and assertion both signed
// with RSA-SHA256.
const (
	fieldNameIDFormat    = "nameIDFormat"    // unspecified | emailAddress | persistent | transient
	fieldGroupsMode      = "groupsMode"      // multi | joined
	fieldGroupsDelimiter = "groupsDelimiter" // joined only; "," when empty
	fieldGroupNameFormat = "groupNameFormat" // basic | uri | unspecified
	fieldSignWhat        = "signWhat"        // both | response | assertion
	fieldSignAlg         = "signAlg"         // sha256 | sha512
	fieldEncrypt         = "encrypt"         // auto | never | always (encryption.go)
	fieldSignKey         = "signKey"         // current | next (rollover.go)
)

// DefaultGroupsDelimiter joins the groups of a "joined" login when the form
// names no delimiter.
const DefaultGroupsDelimiter = ","

// option is one choice of a select on the login form.
type option struct{ Value, Label, URI string }

var nameIDFormats = []option{
	{"unspecified", "unspecified", string(saml.UnspecifiedNameIDFormat)},
	{"emailAddress", "emailAddress", string(saml.EmailAddressNameIDFormat)},
	{"persistent", "persistent", string(saml.PersistentNameIDFormat)},
	{"transient", "transient", string(saml.TransientNameIDFormat)},
}

var groupsModes = []option{
	{"multi", "one attribute, one value per group", ""},
	{"joined", "one value, groups joined by the delimiter", ""},
}

var attrNameFormats = []option{
	{"basic", "basic", attrNameFormatBasic},
	{"uri", "uri", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"},
	{"unspecified", "unspecified", "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"},
}

var signWhats = []option{
	{"both", "response and assertion", ""},
	{"response", "response only", ""},
	{"assertion", "assertion only", ""},
}

var signAlgs = []option{
	{"sha256", "RSA-SHA256", dsig.RSASHA256SignatureMethod},
	{"sha512", "RSA-SHA512", dsig.RSASHA512SignatureMethod},
}

var encryptChoices = []option{
	{encryptAuto, "auto — when the SP metadata has an encryption key", ""},
	{encryptNever, "never — a plain assertion", ""},
	{encryptAlways, "always — refuse the login if the SP has no key", ""},
}

var signKeys = []option{
	{signKeyCurrent, "current signing key", ""},
	{signKeyNext, "next key (certificate rollover)", ""},
}

// loginOptions are the per-login options, as submitted (blank = default).
// The scenario API's queued logins (queue.go) decode them from JSON by these
// tags and copy every non-zero field over the form's, so an option added
// here (with a json tag named like its form field) is queueable with no
// other change.
type loginOptions struct {
	NameIDFormat    string `json:"nameIDFormat,omitempty"`
	GroupsMode      string `json:"groupsMode,omitempty"`
	GroupsDelimiter string `json:"groupsDelimiter,omitempty"`
	GroupNameFormat string `json:"groupNameFormat,omitempty"`
	SignWhat        string `json:"signWhat,omitempty"`
	SignAlg         string `json:"signAlg,omitempty"`
	Encrypt         string `json:"encrypt,omitempty"`
	SignKey         string `json:"signKey,omitempty"`
	// Flavour and GroupFormat shape the response like an IdP product
	// (flavour.go); the other options, when set, win over the flavour's.
	Flavour     string `json:"flavour,omitempty"`
	GroupFormat string `json:"groupFormat,omitempty"`
}

// optionChoices is what the login template offers.
type optionChoices struct {
	NameIDFormats, GroupsModes, GroupNameFormats, SignWhats, SignAlgs, Encrypts, SignKeys []option
}

var loginOptionChoices = optionChoices{nameIDFormats, groupsModes, attrNameFormats, signWhats, signAlgs, encryptChoices, signKeys}

func lookupOption(list []option, v, def string) (option, bool) {
	if v == "" {
		v = def
	}
	for _, o := range list {
		if strings.EqualFold(o.Value, v) || (o.URI != "" && o.URI == v) {
			return o, true
		}
	}
	return option{}, false
}

// resolvedOptions are loginOptions checked and turned into what the
// response is built with.
type resolvedOptions struct {
	NameIDFormat    string // URI
	Joined          bool
	Delimiter       string
	GroupNameFormat string // URI
	SignAssertion   bool
	SignResponse    bool
	SignatureMethod string // URI
	Encrypt         string // encryptAuto | encryptNever | encryptAlways
	SignKey         string // signKeyCurrent | signKeyNext
}

// isDefault reports whether the response can be built exactly as before
// the options existed (crewjam's own WriteResponse).
func (o resolvedOptions) isDefault() bool {
	return o.SignAssertion && o.SignResponse && o.SignatureMethod == dsig.RSASHA256SignatureMethod &&
		o.Encrypt == encryptAuto && o.SignKey == signKeyCurrent
}

// resolve checks the options; the message is for the person.
func (f loginOptions) resolve() (resolvedOptions, string) {
	var r resolvedOptions
	if msg := flavourOptionsError(f); msg != "" { // flavour.go
		return r, msg
	}
	o, ok := lookupOption(nameIDFormats, f.NameIDFormat, "unspecified")
	if !ok {
		return r, "Unknown NameID format " + f.NameIDFormat + "."
	}
	r.NameIDFormat = o.URI
	if o, ok = lookupOption(groupsModes, f.GroupsMode, "multi"); !ok {
		return r, "Unknown groups mode " + f.GroupsMode + " (multi or joined)."
	}
	r.Joined = o.Value == "joined"
	if err := checkText("The groups delimiter", f.GroupsDelimiter); err != nil { // text.go: it goes into the assertion
		return r, err.Error() + "."
	}
	r.Delimiter = f.GroupsDelimiter
	if r.Delimiter == "" {
		r.Delimiter = DefaultGroupsDelimiter
	}
	if o, ok = lookupOption(attrNameFormats, f.GroupNameFormat, "basic"); !ok {
		return r, "Unknown group attribute NameFormat " + f.GroupNameFormat + "."
	}
	r.GroupNameFormat = o.URI
	if o, ok = lookupOption(signWhats, f.SignWhat, "both"); !ok {
		return r, "Unknown signing choice " + f.SignWhat + " (both, response or assertion)."
	}
	r.SignAssertion = o.Value != "response"
	r.SignResponse = o.Value != "assertion"
	if o, ok = lookupOption(signAlgs, f.SignAlg, "sha256"); !ok {
		return r, "Unknown signature algorithm " + f.SignAlg + " (sha256 or sha512)."
	}
	r.SignatureMethod = o.URI
	if o, ok = lookupOption(encryptChoices, f.Encrypt, encryptAuto); !ok {
		return r, "Unknown encryption choice " + f.Encrypt + " (auto, never or always)."
	}
	r.Encrypt = o.Value
	if o, ok = lookupOption(signKeys, f.SignKey, signKeyCurrent); !ok {
		return r, "Unknown signing key " + f.SignKey + " (current or next)."
	}
	r.SignKey = o.Value
	return r, ""
}

// writeWithOptions sends the response signed as opts say: the assertion,
// the response or both, with opts.SignatureMethod and the key opts.SignKey
// names, the assertion encrypted as opts.Encrypt says (encryption.go).
func (s *Server) writeWithOptions(w http.ResponseWriter, req *saml.IdpAuthnRequest, opts resolvedOptions) error {
	if req.Assertion == nil || req.ACSEndpoint == nil {
		return errors.New("mockidp: the request has no assertion or ACS endpoint")
	}
	if req.ACSEndpoint.Binding != saml.HTTPPostBinding {
		return fmt.Errorf("mockidp: signing options need the HTTP-POST binding, not %s", req.ACSEndpoint.Binding)
	}
	// A copy of the IdP differing only in SignatureMethod: crewjam signs
	// with req.IDP's settings, and the shared one must not change.
	key, cert, err := s.signingPair(opts.SignKey)
	if err != nil {
		return err
	}
	idp := *s.idp
	idp.SignatureMethod = opts.SignatureMethod
	idp.Key, idp.Certificate = key, cert
	req.IDP = &idp
	if req.SPSSODescriptor, err = spDescriptorForEncryption(req.SPSSODescriptor, opts.Encrypt); err != nil {
		return err
	}

	if opts.SignAssertion {
		err = req.MakeAssertionEl() // signed, encrypted if the descriptor has a key
	} else {
		err = makeUnsignedAssertionEl(req) // encrypt_unsigned.go: crewjam would sign it
	}
	if err != nil {
		return err
	}
	resp := saml.Response{
		Destination:  req.ACSEndpoint.Location,
		ID:           "id-" + strings.ToLower(rand.Text()),
		InResponseTo: req.Request.ID,
		IssueInstant: req.Now,
		Version:      "2.0",
		Issuer:       &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: s.EntityID()},
		Status:       saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	el := resp.Element()
	el.AddChild(req.AssertionEl)
	if opts.SignResponse {
		ctx, err := signingContext(key, []*x509.Certificate{cert}, opts.SignatureMethod)
		if err != nil {
			return err
		}
		if el, err = sign(ctx, el); err != nil {
			return err
		}
	}
	req.ResponseEl = el
	form, err := req.PostBinding()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := optionsFormTemplate.Execute(&buf, form); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	_, err = w.Write(buf.Bytes())
	return err
}

var optionsFormTemplate = template.Must(template.New("options-post-form").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Continue</title></head><body>
<form method="post" action="{{.URL}}" id="SAMLResponseForm">
<input type="hidden" name="SAMLResponse" value="{{.SAMLResponse}}">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
<input id="SAMLSubmitButton" type="submit" value="Continue">
</form>
<script>document.getElementById('SAMLSubmitButton').style.visibility='hidden';document.getElementById('SAMLResponseForm').submit();</script>
</body></html>`))
