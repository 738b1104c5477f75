package security_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/mockidp"
	"github.com/hmpconform/hmpconform/suites/framework"
)

// refusalCodes pins the reference SP's refusal code for each fault where
// the code names the one thing that is wrong. Wrapping and hostile XML may
// trip more than one check, so a small set of codes is accepted there.
var refusalCodes = map[string][]string{
	"sig-none":                                {"signature"},
	"sig-untrusted-key":                       {"signature"},
	"sig-untrusted-key-keyinfo":               {"signature"},
	"sig-untrusted-key-trusted-cert":          {"signature"},
	"sig-nameid-altered":                      {"signature"},
	"sig-group-altered":                       {"signature"},
	"sig-assertion-broken-in-signed-response": {"signature"},
	"sig-reference-other":                     {"signature"},
	"sig-reference-empty":                     {"signature"},
	"sig-rsa-sha1":                            {"signature"},
	"multi-unsigned-first":                    {"multiple-assertions"},
	"multi-two-signed":                        {"multiple-assertions"},
	"time-expired":                            {"expired"},
	"time-not-yet-valid":                      {"not-yet-valid"},
	"time-ahead-outside-skew":                 {"not-yet-valid"},
	"time-behind-outside-skew":                {"expired"},
	"time-conditions-expired":                 {"expired"},
	"time-conditions-not-before-future":       {"not-yet-valid"},
	"time-issueinstant-stale":                 {"expired"},
	"time-issueinstant-future":                {"not-yet-valid"},
	"time-response-issueinstant-stale":        {"expired"},
	"time-confirmation-expired":               {"expired"},
	"time-confirmation-missing":               {"expired", "malformed"},
	"aud-wrong":                               {"audience"},
	"aud-missing":                             {"audience"},
	"aud-recipient-wrong":                     {"destination"},
	"aud-destination-wrong":                   {"destination"},
	"aud-destination-missing":                 {"destination"},
	"aud-issuer-wrong":                        {"issuer"},
	"aud-assertion-issuer-wrong":              {"issuer"},
	"status-failure-with-assertion":           {"status"},
	"replay-inresponseto-unknown":             {"request-id"},
	"xml-doctype-external-entity":             {"malformed"},
	"xml-entity-bomb":                         {"malformed"},
	"xml-two-roots":                           {"malformed"},
	"xml-broken":                              {"malformed"},
	"xml-broken-base64":                       {"malformed"},
	"xml-very-large":                          {"too-large"},
}

var xswCodes = []string{"signature", "malformed", "multiple-assertions"}

func codesFor(f mockidp.Fault) []string {
	if c, ok := refusalCodes[f.Name]; ok {
		return c
	}
	if f.Requirement == "SEC-XSW" {
		return xswCodes
	}
	return nil
}

// faultEntries is one table entry per fault of the IdP's library, labelled
// with the requirement it exercises.
func faultEntries(expect string) []TableEntry {
	var entries []TableEntry
	for _, f := range mockidp.Faults() {
		if f.Expect == expect {
			entries = append(entries, Entry(f.Name+": "+f.Description, Label(f.Requirement), f))
		}
	}
	return entries
}

var _ = Describe("Faulted responses from the IdP", func() {
	DescribeTable("are refused, and nothing changes",
		func(ctx SpecContext, f mockidp.Fault) {
			id := suite.NewUserID(f.Name)
			before := storeUsers(ctx)
			u := newUser("user")
			out := signInWithFault(u, framework.Login{Username: id, Groups: []string{"Engineering"}}, f.Name)
			Expect(suite.LastSent(id).Fault).To(Equal(f.Name), "the IdP did not send the fault")
			expectRefused(ctx, u, out, before, codesFor(f), id, id+mockidp.EvilSuffix)
		},
		faultEntries(mockidp.ExpectRefuse),
	)

	DescribeTable("that are valid variants sign the person in (over-refusing fails)",
		func(ctx SpecContext, f mockidp.Fault) {
			id := suite.NewUserID(f.Name)
			u := newUser("user")
			out := signInWithFault(u, framework.Login{Username: id, Groups: []string{"Engineering"}}, f.Name)
			Expect(suite.LastSent(id).Fault).To(Equal(f.Name), "the IdP did not send the fault")
			Expect(out.SignedIn).To(BeTrue(), "the SP refused a valid response (%s): %s", out.RefusalCode, out.Text)
			want := id
			if f.Name == "xml-nameid-comment" {
				// The comment must neither truncate the identifier nor be
				// refused: the SP reads the whole signed value.
				want = id + mockidp.EvilSuffix
				expectNoAccount(ctx, id)
			}
			Expect(out.Identifier).To(Equal(want))
			Expect(usersNamed(want)).To(HaveLen(1))
			Expect(hostOf(out.Location)).To(Equal(hostOf(suite.Env.SPURL("/"))), "the browser left the SP")
		},
		faultEntries(mockidp.ExpectAccept),
	)
})
