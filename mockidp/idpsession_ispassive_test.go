package mockidp

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/crewjam/saml"
)

// passiveRequest is an SP-initiated HTTP-Redirect AuthnRequest with
// IsPassive="true" (and ForceAuthn when force); it returns its URL and ID.
func (e *env) passiveRequest(t *testing.T, force bool) (string, string) {
	t.Helper()
	req, err := e.sp.MakeAuthenticationRequest(e.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	req.IsPassive = new(true)
	if force {
		req.ForceAuthn = new(true)
	}
	u, err := req.Redirect("rs", e.sp)
	if err != nil {
		t.Fatal(err)
	}
	return u.String(), req.ID
}

// wantNoPassive fails unless the IdP answered u (with session id) with a
// signed Response to reqID the SP accepts as such, whose status is
// Responder/NoPassive and which carries no assertion, and logged it.
func (e *env) wantNoPassive(t *testing.T, u, reqID, id string) {
	t.Helper()
	rec := e.getWithSession(u, id)
	if strings.Contains(rec.Body.String(), `id="login"`) {
		t.Fatalf("passive AuthnRequest: the IdP drew its login form (%d), want a NoPassive Response", rec.Code)
	}
	raw := samlResponse(t, rec)
	// The SP checks the signature, Destination, InResponseTo and Issuer
	// before the status, so ErrBadStatus means the rest was accepted.
	_, err := e.sp.ParseXMLResponse(raw, []string{reqID}, e.sp.AcsURL)
	var ire *saml.InvalidResponseError
	var bad saml.ErrBadStatus
	if !errors.As(err, &ire) || !errors.As(ire.PrivateErr, &bad) || bad.Status != saml.StatusResponder {
		t.Fatalf("the SP read the answer as %v, want a valid Response with status Responder", err)
	}
	var resp saml.Response
	if err := xml.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	if sc := resp.Status.StatusCode.StatusCode; sc == nil || sc.Value != saml.StatusNoPassive {
		t.Errorf("second-level status %+v, want %s", sc, saml.StatusNoPassive)
	}
	if resp.Signature == nil || resp.Assertion != nil || resp.EncryptedAssertion != nil {
		t.Errorf("want a signed Response without an assertion:\n%s", raw)
	}
	log := e.idp.Log()
	if len(log) == 0 {
		t.Fatal("the NoPassive Response is not in the response log")
	}
	last := log[len(log)-1]
	if last.InResponseTo != reqID || last.Status != saml.StatusResponder || last.SecondLevelStatus != saml.StatusNoPassive || last.NameID != "" || last.Options != nil {
		t.Errorf("log entry: inResponseTo %q status %q/%q nameID %q options %v", last.InResponseTo, last.Status, last.SecondLevelStatus, last.NameID, last.Options)
	}
}

// SAML core 3.4.1: with IsPassive="true" the IdP must not take control of
// the user interface; without a session it answers Responder/NoPassive.
// The mock IdP drew its login form instead.
func TestIsPassiveWithoutSessionIsAnsweredNoPassive(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	u, reqID := e.passiveRequest(t, false)
	e.wantNoPassive(t, u, reqID, "")
}

// A live session answers a passive request as usual.
func TestIsPassiveWithSessionIsAnswered(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	s, err := e.idp.StartSession(SessionLogin{User: "passive@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	u, reqID := e.passiveRequest(t, false)
	rec := e.getWithSession(u, s.ID)
	a, err := e.sp.ParseXMLResponse(samlResponse(t, rec), []string{reqID}, e.sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refused the response: %v", err)
	}
	if got := a.Subject.NameID.Value; got != "passive@example.com" {
		t.Errorf("NameID %q, want passive@example.com", got)
	}
}

// Where a session does not answer (ForceAuthn, or its login is refused) a
// passive request gets NoPassive too, never the form or an error page, and
// the session's fault is not applied to the answer.
func TestIsPassiveWithSessionThatCannotAnswer(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	forced, err := e.idp.StartSession(SessionLogin{User: "forced@example.com", NextLogin: NextLogin{Fault: "sig-none"}})
	if err != nil {
		t.Fatal(err)
	}
	u, reqID := e.passiveRequest(t, true)
	e.wantNoPassive(t, u, reqID, forced.ID)

	gone, err := e.idp.StartSession(SessionLogin{User: "gone@example.com", NextLogin: NextLogin{Persona: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := e.api("DELETE", "/api/personas/alice", ""); rec.Code != 204 {
		t.Fatalf("delete persona: %d %s", rec.Code, rec.Body)
	}
	u, reqID = e.passiveRequest(t, false)
	e.wantNoPassive(t, u, reqID, gone.ID)
}
