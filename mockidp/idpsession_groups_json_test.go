package mockidp

import (
	"encoding/json"
	"net/url"
	"testing"
)

// loginGroups decodes the "groups" of the "login" of an API answer: nil
// when the answer has none, else the list (empty for "groups": []).
func loginGroups(t *testing.T, body []byte) []string {
	t.Helper()
	var v struct {
		Login struct {
			Groups *[]string `json:"groups"`
		} `json:"login"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if v.Login.Groups == nil {
		return nil
	}
	return append([]string{}, *v.Login.Groups...)
}

// "groups": [] (send none) and no groups (the persona's) are different
// logins; the answers of POST /api/sessions and GET /api/sessions/{id}
// must tell them apart. omitempty dropped the empty list.
func TestSessionAnswerKeepsEmptyGroups(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, c := range []struct {
		body string
		want []string // nil: no "groups" in the answer
	}{
		{`{"persona":"alice","groups":[]}`, []string{}},
		{`{"persona":"alice"}`, nil},
		{`{"persona":"alice","groups":["Sales"]}`, []string{"Sales"}},
	} {
		rec := e.api("POST", "/api/sessions", c.body)
		var s IdPSession
		wantJSON(t, rec, 201, &s)
		got := e.api("GET", "/api/sessions/"+url.PathEscape(s.ID), "")
		wantJSON(t, got, 200, nil)
		for what, body := range map[string][]byte{"POST answer": rec.Body.Bytes(), "GET": got.Body.Bytes()} {
			if g := loginGroups(t, body); (g == nil) != (c.want == nil) || len(g) != len(c.want) {
				t.Errorf("%s, %s: groups %#v, want %#v:\n%s", c.body, what, g, c.want, body)
			}
		}
	}
}

// The same holds for a queued login (PUT and GET next-login).
func TestQueuedLoginAnswerKeepsEmptyGroups(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, c := range []struct {
		body string
		want []string
	}{
		{`{"persona":"alice","groups":[]}`, []string{}},
		{`{"persona":"alice"}`, nil},
	} {
		path := "/api/users/" + url.PathEscape("q@example.com") + "/next-login"
		rec := e.api("PUT", path, c.body)
		if rec.Code != 201 && rec.Code != 200 {
			t.Fatalf("PUT %s: %d %s", c.body, rec.Code, rec.Body)
		}
		got := e.api("GET", path, "")
		wantJSON(t, got, 200, nil)
		for what, body := range map[string][]byte{"PUT answer": rec.Body.Bytes(), "GET": got.Body.Bytes()} {
			if g := loginGroups(t, body); (g == nil) != (c.want == nil) || len(g) != len(c.want) {
				t.Errorf("%s, %s: groups %#v, want %#v:\n%s", c.body, what, g, c.want, body)
			}
		}
	}
}
