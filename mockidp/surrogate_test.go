package mockidp

import "testing"

// TestHasLoneSurrogate: encoding/json turns an escaped lone surrogate into
// U+FFFD, a different value than the one sent; the API refuses it first.
func TestHasLoneSurrogate(t *testing.T) {
	for _, c := range []struct {
		body string
		lone bool
	}{
		{`{"firstName":"\ud800"}`, true},
		{`{"firstName":"\udfff"}`, true},
		{`{"firstName":"a\ud83dz"}`, true},
		{`{"firstName":"\ud83d\u0041"}`, true},
		{`{"groups":["x","\ud800"]}`, true},
		{`{"firstName":"\ud83d\ude00"}`, false}, // a pair: 😀
		{`{"firstName":"\\ud800"}`, false},      // a backslash, then text
		{`{"firstName":"\u00e9\n\"\\"}`, false},
		{`{"firstName":"plain"}`, false},
	} {
		if got := hasLoneSurrogate([]byte(c.body)); got != c.lone {
			t.Errorf("hasLoneSurrogate(%s) = %v, want %v", c.body, got, c.lone)
		}
	}
}

func TestLoneSurrogateJSONIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	wantAPIError(t, e.api("PUT", queuePath("j1@example.com"), `{"firstName":"\ud800"}`), 400, "lone UTF-16 surrogate")
	wantAPIError(t, e.api("POST", "/api/personas", `{"id":"sur","nameID":"x@e","groups":["\udfff"]}`), 400, "lone UTF-16 surrogate")
	if _, ok := e.idp.personas.get("sur"); ok {
		t.Error("a refused persona was stored")
	}
	resp := e.api("POST", "/api/personas", `{"id":"smile","nameID":"x@e","firstName":"\ud83d\ude00"}`)
	if resp.Code != 201 {
		t.Fatalf("a surrogate pair: HTTP %d, want 201", resp.Code)
	}
}
