package server_test

// Bad values in the settings added for Single Logout and certificate
// rollover (IdP Single Logout URL, several IdP certificates): each gets a
// clear field error and nothing is saved.

import (
	"encoding/pem"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/hmpconform/hmpconform/internal/keypair"
)

func TestSettingsRefuseBadSLOURLAndCertificates(t *testing.T) {
	h := newHarness(t)
	h.withSLO()
	admin := h.mustLoginAdmin()
	token := h.csrf(admin)
	user := h.mustLoginSSO(identity{NameID: "settings-watcher"})
	before, err := h.app.Store.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	good := strings.TrimSpace(before.IdPCertificatePEM)
	next, err := keypair.New(nil, "next", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	nextPEM := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: next.Certificate.Raw})))
	keyPEM := "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----"

	for _, tc := range []struct {
		name, field, sloURL, certs string
	}{
		{"SLO URL without host", "sloURL", "http://", good},
		{"SLO URL javascript", "sloURL", "javascript:alert(1)", good},
		{"SLO URL relative", "sloURL", "/idp/slo", good},
		{"SLO URL ftp", "sloURL", "ftp://idp.example/slo", good},
		{"certificate then garbage", "idpCertificatePEM", before.SLOURL, good + "\nnot a certificate"},
		{"empty PEM block", "idpCertificatePEM", before.SLOURL, good + "\n-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----"},
		{"private key block", "idpCertificatePEM", before.SLOURL, good + "\n" + keyPEM},
		{"bad base64 in a block", "idpCertificatePEM", before.SLOURL, nextPEM + "\n-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----"},
		{"truncated second block", "idpCertificatePEM", before.SLOURL, good + "\n" + nextPEM[:len(nextPEM)/2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.with(t)
			form := settingsForm(before, token)
			form.Set("sloURL", tc.sloURL)
			form.Set("idpCertificatePEM", tc.certs)
			res := h.postForm("/admin/settings", form, admin)
			after, err := h.app.Store.Settings(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("a refused save changed the settings:\n%+v\n%+v", before, after)
			}
			if !h.sessionLive(user) {
				t.Error("a refused save ended a session")
			}
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.Body, `data-field="`+tc.field+`"`) {
				t.Fatalf("%d, want 422 with an error on %s\nlog: %s\n%s", res.StatusCode, tc.field, h.log.last(), brief(res.Body))
			}
		})
	}

	// Two good certificates (a rollover) and an https SLO URL are saved.
	form := settingsForm(before, token)
	form.Set("sloURL", before.SLOURL)
	form.Set("idpCertificatePEM", good+"\n\n"+nextPEM+"\n")
	if res := h.postForm("/admin/settings", form, admin); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("two certificates: %d\nlog: %s\n%s", res.StatusCode, h.log.last(), brief(res.Body))
	}
	after, _ := h.app.Store.Settings(t.Context())
	if !strings.Contains(after.IdPCertificatePEM, nextPEM) || after.SLOURL != before.SLOURL {
		t.Errorf("saved %+v", after)
	}
}
