package mockidp

import "testing"

// The scenario API checks groupIDs as the YAML loader does: a value that is
// not a GUID is a 400, a GUID is stored.
func TestAPIPersonaGroupIDsMustBeGUIDs(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	wantAPIError(t, e.api("POST", "/api/personas", `{"id":"g1","nameID":"g1@e","groups":["Eng"],"groupIDs":{"Eng":"nonsense"}}`),
		400, `groupIDs["Eng"] = "nonsense" is not a GUID`)
	wantAPIError(t, e.api("PUT", "/api/personas/g1", `{"nameID":"g1@e","groupIDs":{"Eng":"1234"}}`),
		400, "is not a GUID")
	if rec := e.api("GET", "/api/personas/g1", ""); rec.Code != 404 {
		t.Fatalf("a refused persona was stored: %d %s", rec.Code, rec.Body)
	}
	wantJSON(t, e.api("POST", "/api/personas", `{"id":"g1","nameID":"g1@e","groups":["Eng"],"groupIDs":{"Eng":"0f8fad5b-d9cb-469f-a165-70867728950e"}}`),
		201, nil)
}
