// Package settings holds the reference SP's User Provisioning/SSO settings
// as an administrator enters them, and checks them field by field.
package settings

// Mode is the user provisioning mode.
type Mode string

const (
	ModeLocal Mode = "local" // local accounts only; SSO is off
	ModeJIT   Mode = "jit"   // Just-in-Time SAML provisioning
)

// Signature algorithms an SP may sign its AuthnRequests with.
const (
	AlgSHA256 = "sha256"
	AlgSHA512 = "sha512"
)

// Settings mirrors HMP's Administration > System Settings >
// User Provisioning/SSO pane in Just-in-Time mode.
type Settings struct {
	Mode Mode `json:"mode"`

	// SSOURL is the IdP endpoint for SP-initiated login; blank means
	// IdP-initiated only.
	SSOURL string `json:"ssoURL"`
	// AudienceURI is the SP's entity ID.
	AudienceURI string `json:"audienceURI"`
	// IdPEntityID is the Issuer the SP expects. HMP's page does not show
	// it; the reference SP needs it to refuse a foreign Issuer.
	IdPEntityID string `json:"idpEntityID"`
	// IdPCertificatePEM is the IdP's token-signing certificate; during an
	// IdP certificate rollover, several PEM blocks (each is trusted).
	IdPCertificatePEM string `json:"idpCertificatePEM"`
	// SLOURL is the IdP's Single Logout endpoint (HTTP-Redirect). HMP's
	// page has no such field: it is the reference SP's addition. Blank
	// means sign-out is local only, as before.
	SLOURL string `json:"sloURL,omitempty"`

	SignRequest        bool   `json:"signRequest"`
	SignatureAlgorithm string `json:"signatureAlgorithm"`

	// Attribute mapping. UniqueIdentifier blank means the NameID.
	UniqueIdentifier string `json:"uniqueIdentifier"`
	FirstNameAttr    string `json:"firstNameAttr"`
	LastNameAttr     string `json:"lastNameAttr"`
	EmailAttr        string `json:"emailAttr"`
	ShortNameAttr    string `json:"shortNameAttr"`
	// GroupMembershipAttr blank means Group Membership is not configured.
	GroupMembershipAttr string `json:"groupMembershipAttr"`

	// DefaultUserGroups name groups that must already exist.
	DefaultUserGroups []string `json:"defaultUserGroups"`
}

// Default is what a new SP starts with: local mode, common attribute names.
func Default() Settings {
	return Settings{
		Mode:               ModeLocal,
		SignatureAlgorithm: AlgSHA256,
		FirstNameAttr:      "firstName",
		LastNameAttr:       "lastName",
		EmailAttr:          "email",
		ShortNameAttr:      "shortName",
	}
}
