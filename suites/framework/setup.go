package framework

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/fixtures"
	"github.com/hmpconform/hmpconform/internal/stack"
	"github.com/hmpconform/hmpconform/sp/store"
)

// Suite is what a suite package's specs share within one Ginkgo process.
type Suite struct {
	Env   *Env
	Admin *Admin
}

// Setup registers the suite-level nodes every suite package needs: start
// this process's environment and admin tab, stop them, and fail the run
// when a spec carries a requirement label that is not in the catalogue.
// Call it once at package level: var s = framework.Setup().
func Setup() *Suite {
	s := &Suite{}
	BeforeSuite(func() {
		env, err := Start(context.Background(), Options{Tag: fmt.Sprintf("p%d", GinkgoParallelProcess())})
		if err != nil {
			Fail("start the environment: " + err.Error())
		}
		s.Env = env
		DeferCleanup(env.Close)
		if env.Mutant != "" {
			fmt.Fprintf(GinkgoWriter, "reference SP runs the mutant %q\n", env.Mutant)
		}
		admin, err := env.NewAdmin(context.Background())
		if err != nil {
			Fail(err.Error())
		}
		s.Admin = admin
		DeferCleanup(admin.Close)
		if _, bundled := env.Target.(bundledTarget); !bundled {
			// Runs after the specs, even when they failed (LIFO).
			DeferCleanup(func() {
				u, g, err := admin.CleanUp(env.RunMarker)
				fmt.Fprintf(GinkgoWriter, "cleanup: removed %d users and %d groups named *%s*\n", u, g, env.RunMarker)
				if err != nil {
					fmt.Fprintf(GinkgoWriter, "cleanup: %v\n", err)
				}
			})
		}
		recordEnvironment(env, admin.Tab)
	})
	registerProgress()
	ReportAfterSuite("requirement labels", func(r Report) {
		catalogue, err := fixtures.Requirements()
		if err != nil {
			Fail(err.Error())
		}
		check := CheckLabels(r.SpecReports, catalogue)
		if len(check.Uncovered) > 0 {
			fmt.Fprintf(GinkgoWriter, "requirements with no spec in this suite: %s\n", strings.Join(check.Uncovered, " "))
		}
		if err := check.Err(); err != nil {
			Fail(err.Error())
		}
	})
	return s
}

// JITFields are the settings form values that trust this process's IdP,
// with Group Membership from "groups" and no default groups; specs
// override what they test.
func (s *Suite) JITFields(overrides map[string]string) map[string]string {
	cfg := stack.JITSettings(s.Env.IdP, s.Env.Target.EntityID())
	f := map[string]string{
		"mode": "jit", "ssoURL": cfg.SSOURL, "audienceURI": cfg.AudienceURI, "idpEntityID": cfg.IdPEntityID,
		"idpCertificatePEM": cfg.IdPCertificatePEM, "signRequest": "off", "signatureAlgorithm": "sha256",
		"uniqueIdentifier": "", "firstNameAttr": cfg.FirstNameAttr, "lastNameAttr": cfg.LastNameAttr,
		"emailAttr": cfg.EmailAttr, "shortNameAttr": cfg.ShortNameAttr,
		"groupMembershipAttr": cfg.GroupMembershipAttr, "defaultUserGroups": "",
	}
	for k, v := range overrides {
		f[k] = v
	}
	return f
}

// ConfigureJIT saves JIT settings with the given Group Membership attribute
// (blank = not configured) and Default User Groups.
func (s *Suite) ConfigureJIT(groupAttr string, defaults ...string) error {
	if !s.Env.Target.Capabilities().SettingsWritable {
		// Safe mode: check the settings as they are; skip when they differ.
		form, err := s.Admin.SettingsForm()
		if err != nil {
			return err
		}
		want := strings.Join(defaults, ", ")
		if !strings.EqualFold(form["groupMembershipAttr"], groupAttr) || !strings.EqualFold(form["defaultUserGroups"], want) {
			Skip(fmt.Sprintf("safe mode: this spec needs Group Membership %q and Default User Groups %q; the target has %q and %q",
				groupAttr, want, form["groupMembershipAttr"], form["defaultUserGroups"]))
		}
		return nil
	}
	fields := s.JITFields(map[string]string{
		"groupMembershipAttr": groupAttr, "defaultUserGroups": strings.Join(defaults, ", "),
	})
	// Specs configure what they need first; most need what the previous
	// spec left, and a save costs two page loads (and ends every session).
	if s.Admin.SettingsAre(fields) {
		return nil
	}
	return s.Admin.MustSaveSettings(fields)
}

// NewGroups creates groups named prefix-<unique> (role Viewer) and returns
// their names in order.
func (s *Suite) NewGroups(prefixes ...string) ([]string, error) {
	var names []string
	for _, p := range prefixes {
		names = append(names, s.Env.Unique(p))
	}
	if err := s.Admin.CreateGroups(store.RoleViewer, names...); err != nil {
		return nil, err
	}
	return names, nil
}

// NewUserID returns a fresh identifier that looks like an email address.
func (s *Suite) NewUserID(prefix string) string {
	return strings.ToLower(s.Env.Unique(prefix)) + "@example.com"
}

// Choice checks behaviour where the vendor is silent: on the reference SP
// it is pass/fail (the reference SP documents its choice); on any other
// target the behaviour is recorded as an observation in the report.
func (s *Suite) Choice(requirement, question, observed string, asReference bool) {
	GinkgoHelper()
	if s.Env.Target.Reference() {
		Expect(asReference).To(BeTrue(), "%s: %s — observed: %s", requirement, question, observed)
		return
	}
	AddReportEntry("observation: "+requirement+": "+question, observed)
}
