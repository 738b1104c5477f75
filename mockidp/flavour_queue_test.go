package mockidp

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A queued login naming an unknown flavour or group format is refused when
// it is queued, like any other unknown option: accepted, it would make every
// login of that user fail at the form until the entry expired.
func TestQueuedLoginWithUnknownFlavourIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for body, want := range map[string]string{
		`{"flavour":"ping"}`:                      "Unknown IdP flavour ping",
		`{"flavour":"entra","groupFormat":"sid"}`: "Unknown group format sid",
		`{"groupFormat":"sideways"}`:              "Unknown group format sideways",
	} {
		wantAPIError(t, e.api("PUT", queuePath("a@e"), body), 400, want)
	}
	if len(e.idp.queue.entries) != 0 {
		t.Errorf("bad flavours queued %d logins", len(e.idp.queue.entries))
	}
	// Known ones, in any case, are still queued.
	if rec := e.api("PUT", queuePath("b@e"), `{"flavour":"ENTRA","groupFormat":"name"}`); rec.Code != 201 {
		t.Errorf("a known flavour was refused: %d %s", rec.Code, rec.Body)
	}
}

// A refused login whose group attribute field was blank ("the flavour's")
// comes back with the flavour's group attribute name in that field, not the
// IdP's default: resubmitted as shown, it must still send Entra's claim.
func TestRefusedFlavourLoginKeepsTheFlavoursGroupAttribute(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	rec := e.get(idpBase + "/idp/initiate?" + url.Values{"sp": {testSPEntityID}}.Encode())
	action, form := parseLogin(t, rec.Body.String())
	form.Set("flavour", "entra")
	form.Set("groupAttribute", "")
	form.Set("username", " ") // refused: no username
	form.Set("groups", "Engineering")
	rec = e.post(idpBase+action, form)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", rec.Code)
	}
	want := `id="groupAttribute" name="groupAttribute" value="` + claimEntraGroups + `"`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("the form came back without Entra's group claim name (%s)", want)
	}
}
