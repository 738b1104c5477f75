package framework

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TargetEnv names the environment variable holding a target profile's
// path; unset means the bundled reference SP.
const TargetEnv = "HMPCONFORM_TARGET"

// Profile describes an SP deployment to verify (fixtures/targets/*.yaml).
// Secrets never live in the file: it names the environment variables that
// hold them. ${VAR} in any string field is expanded from the environment.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// BaseURL is the SP's address, e.g. https://hmp.example.com.
	BaseURL string `yaml:"baseURL"`
	// MetadataPath is where the SP serves its SAML metadata.
	MetadataPath string `yaml:"metadataPath"`
	// AdminPasswordEnv names the variable holding haiadmin's password.
	AdminPasswordEnv string `yaml:"adminPasswordEnv"`
	// CAFile is a PEM certificate the browser and the harness trust for the
	// SP (its CA or its own certificate); blank trusts the system roots.
	CAFile string `yaml:"caFile"`
	// HostResolverRules maps host names for Chromium, e.g. to reach an SP
	// on loopback under its real name.
	HostResolverRules string `yaml:"hostResolverRules"`
	// IdP: where the mock IdP listens and what it is called, so the SP's
	// settings that trust it stay valid from run to run.
	IdP struct {
		Host           string `yaml:"host"`
		Port           int    `yaml:"port"`
		DataDir        string `yaml:"dataDir"`
		GroupAttribute string `yaml:"groupAttribute"`
	} `yaml:"idp"`
	// Pages: where the admin pages are, when not at HMP's paths.
	Pages        Pages        `yaml:"pages"`
	Capabilities Capabilities `yaml:"capabilities"`
	// SafeMode never saves settings (saving signs every user out): specs
	// that need other settings are skipped.
	SafeMode bool `yaml:"safeMode"`
	// Reference marks a build of the bundled reference SP: its choices are
	// then judged pass/fail rather than observed.
	Reference bool `yaml:"reference"`

	adminPassword string
}

// LoadProfile reads and checks a profile.
func LoadProfile(path string) (*Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read target profile: %w", err)
	}
	var p Profile
	dec := yaml.NewDecoder(strings.NewReader(os.ExpandEnv(string(b))))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse target profile %s: %w", path, err)
	}
	if p.MetadataPath == "" {
		p.MetadataPath = "/saml/metadata"
	}
	if p.IdP.Host == "" {
		p.IdP.Host = IdPHost
	}
	if p.IdP.DataDir == "" {
		p.IdP.DataDir = "data/verify-idp"
	}
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if u, err := url.Parse(p.BaseURL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("baseURL must be an https URL, got %q", p.BaseURL))
	}
	if p.AdminPasswordEnv == "" {
		errs = append(errs, errors.New("adminPasswordEnv is required (the password itself never goes in the file)"))
	} else if p.adminPassword = os.Getenv(p.AdminPasswordEnv); p.adminPassword == "" {
		errs = append(errs, fmt.Errorf("environment variable %s (haiadmin's password) is not set", p.AdminPasswordEnv))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("target profile %s: %w", path, errors.Join(errs...))
	}
	return &p, nil
}

// Pages says where a target's pages are. The elements on them follow the
// reference SP's documented contract (element IDs in sp/server/templates);
// a target whose admin UI differs needs an adapter, not a fork of the specs.
type Pages struct {
	Login    string `yaml:"login"`    // the local sign-in page (the bypass)
	Users    string `yaml:"users"`    // the Users list
	User     string `yaml:"user"`     // one user; {id} is replaced by the user's ID
	Groups   string `yaml:"groups"`   // the Groups page
	Settings string `yaml:"settings"` // User Provisioning/SSO
}

// DefaultPages are the reference SP's (and HMP's documented) paths.
func DefaultPages() Pages {
	return Pages{Login: "/login", Users: "/admin/users", User: "/admin/users/{id}", Groups: "/admin/groups", Settings: "/admin/settings"}
}

// withDefaults fills the paths a profile left out.
func (p Pages) withDefaults() Pages {
	d := DefaultPages()
	for _, f := range []struct {
		got *string
		def string
	}{{&p.Login, d.Login}, {&p.Users, d.Users}, {&p.User, d.User}, {&p.Groups, d.Groups}, {&p.Settings, d.Settings}} {
		if *f.got == "" {
			*f.got = f.def
		}
	}
	return p
}

// UserPath is the page of the user with this ID.
func (p Pages) UserPath(id string) string { return strings.ReplaceAll(p.User, "{id}", id) }
