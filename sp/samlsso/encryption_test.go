package samlsso_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// The SP's metadata announces only its signing certificate, so the mock
// IdP sends plain assertions by default; with encrypt=always it encrypts to
// that certificate, and the SP decrypts with its key.
func TestReferenceSPDecryptsEncryptedAssertions(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		encrypt   string
		encrypted bool
	}{{"", false}, {"never", false}, {"always", true}} {
		resp := e.postIdP("/idp/initiate", url.Values{
			"mockidp_login": {"1"}, "sp": {e.sp.DefaultEntityID()}, "username": {"enc-" + tc.encrypt},
			"groups": {"Engineering"}, "encrypt": {tc.encrypt},
		})
		raw, err := base64.StdEncoding.DecodeString(resp)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(raw), "EncryptedAssertion"); got != tc.encrypted {
			t.Fatalf("encrypt=%q: encrypted %v, want %v", tc.encrypt, got, tc.encrypted)
		}
		a, err := e.sp.Verify(t.Context(), e.cfg, resp)
		if err != nil {
			t.Fatalf("encrypt=%q: refused: %v", tc.encrypt, err)
		}
		if a.NameID != "enc-"+tc.encrypt || len(a.Attributes["groups"]) != 1 || a.Attributes["groups"][0] != "Engineering" {
			t.Errorf("encrypt=%q: assertion %+v", tc.encrypt, a)
		}
	}
}
