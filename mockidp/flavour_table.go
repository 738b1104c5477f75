package mockidp

// Attribute NameFormat URIs (SAML core §8.2).
const (
	attrNameFormatURI         = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	attrNameFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
)

// Claim types of Microsoft's IdPs (AD FS and Entra ID) used below.
const (
	claimGivenName    = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
	claimSurname      = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
	claimEmailAddress = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	claimName         = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	claimEntraGroups  = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
	claimEntraOID     = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	claimEntraTenant  = "http://schemas.microsoft.com/identity/claims/tenantid"
	claimGroupsLink   = "http://schemas.microsoft.com/claims/groups.link"
	claimADFSGroup    = "http://schemas.xmlsoap.org/claims/Group"
)

// EntraGroupLimit is how many groups Entra ID puts in a SAML token; above
// it the groups claim is left out and groups.link sent instead.
const EntraGroupLimit = 150

// flavours is the shaping table: what each IdP product sends by default.
// The README's "IdP flavours" table says the same in prose; keep them in
// step. Where a vendor document could not be checked, the comment says
// "as commonly documented" or "as commonly observed".
var flavours = []Flavour{
	{
		// Today's behaviour, unchanged.
		ID: FlavourGeneric, Label: "generic (this IdP's own defaults)",
		FirstName:   AttributeName{Name: "firstName", NameFormat: attrNameFormatBasic},
		LastName:    AttributeName{Name: "lastName", NameFormat: attrNameFormatBasic},
		Email:       AttributeName{Name: "email", NameFormat: attrNameFormatBasic},
		ShortName:   AttributeName{Name: "shortName", NameFormat: attrNameFormatBasic},
		Groups:      AttributeName{NameFormat: attrNameFormatBasic}, // Name: the IdP's --group-attribute
		GroupFormat: GroupFormatName, NameIDFormat: "unspecified", SignWhat: "both", SignAlg: "sha256",
	},
	{
		// Okta's SAML app wizard: the admin names every attribute
		// (Attribute Statements, Group Attribute Statements); "Name format"
		// defaults to Unspecified; Name ID format defaults to Unspecified;
		// "Response" and "Assertion Signature" both default to Signed with
		// RSA-SHA256. The names below are the ones Okta's own examples use.
		ID: "okta", Label: "Okta",
		Sources: []string{
			"https://help.okta.com/en-us/content/topics/apps/apps_app_integration_wizard_saml.htm",
			"https://developer.okta.com/docs/guides/build-sso-integration/saml2/main/",
		},
		FirstName:   AttributeName{Name: "firstName", NameFormat: attrNameFormatUnspecified},
		LastName:    AttributeName{Name: "lastName", NameFormat: attrNameFormatUnspecified},
		Email:       AttributeName{Name: "email", NameFormat: attrNameFormatUnspecified},
		Groups:      AttributeName{Name: "groups", NameFormat: attrNameFormatUnspecified},
		GroupFormat: GroupFormatName, NameIDFormat: "unspecified", SignWhat: "both", SignAlg: "sha256",
	},
	{
		// Entra ID's default claims for a non-gallery enterprise app
		// (claim-type URIs, no NameFormat), the groups claim as group object
		// IDs (its default source), no more than 150 groups in a SAML token
		// (above that, groups.link to the Graph API instead), and "Sign SAML
		// assertion" with SHA-256 by default. NameID: the UPN; its format,
		// "emailAddress", as commonly observed for the default NameID.
		ID: "entra", Label: "Microsoft Entra ID",
		Sources: []string{
			"https://learn.microsoft.com/entra/identity-platform/reference-saml-tokens",
			"https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-fed-group-claims",
			"https://learn.microsoft.com/entra/identity/enterprise-apps/certificate-signing-options",
		},
		FirstName:   AttributeName{Name: claimGivenName},
		LastName:    AttributeName{Name: claimSurname},
		Email:       AttributeName{Name: claimEmailAddress},
		Groups:      AttributeName{Name: claimEntraGroups},
		GroupFormat: GroupFormatGUID, GroupLimit: EntraGroupLimit, EntraUserClaims: true,
		NameIDFormat: "emailAddress", SignWhat: "assertion", SignAlg: "sha256",
	},
	{
		// AD FS issues what its claim rules say: with the usual "Send LDAP
		// Attributes as Claims" rule, claim-type URIs without a NameFormat
		// (as commonly documented), groups as names under the Group claim
		// type (Token-Groups - Unqualified Names), a NameID transformed from
		// the email address (as commonly configured). A relying party trust
		// signs the assertion only (SamlResponseSignature AssertionOnly) with
		// RSA-SHA256 by default.
		ID: "adfs", Label: "AD FS",
		Sources: []string{
			"https://learn.microsoft.com/powershell/module/adfs/set-adfsrelyingpartytrust",
			"https://learn.microsoft.com/windows-server/identity/ad-fs/technical-reference/the-role-of-claims",
		},
		FirstName:   AttributeName{Name: claimGivenName},
		LastName:    AttributeName{Name: claimSurname},
		Email:       AttributeName{Name: claimEmailAddress},
		Groups:      AttributeName{Name: claimADFSGroup},
		GroupFormat: GroupFormatName, NameIDFormat: "emailAddress", SignWhat: "assertion", SignAlg: "sha256",
	},
	{
		// Google Workspace custom SAML app: the admin names the mapped
		// attributes and the group membership attribute (group names, one
		// value each); Name ID format UNSPECIFIED with the primary email;
		// "Signed response" is off by default, so only the assertion is
		// signed, RSA-SHA256. No NameFormat, as commonly observed. Google
		// sends at most 75 group names; what it does above that is not
		// documented, so no GroupLimit here (README, "Overage").
		ID: "google", Label: "Google Workspace",
		Sources: []string{
			"https://support.google.com/a/answer/6087519",
			"https://support.google.com/a/answer/11143403",
		},
		FirstName:   AttributeName{Name: "firstName"},
		LastName:    AttributeName{Name: "lastName"},
		Email:       AttributeName{Name: "email"},
		Groups:      AttributeName{Name: "groups"},
		GroupFormat: GroupFormatName, NameIDFormat: "unspecified", SignWhat: "assertion", SignAlg: "sha256",
	},
	{
		// Keycloak SAML client: the built-in X500 mappers (OID names, URI
		// Reference NameFormat, friendly names givenName, surname, email);
		// the "Group list" mapper's defaults: attribute "member", one
		// attribute with every group, Full group path on (so "/Engineering");
		// Name ID format "username" (unspecified); "Sign documents" on and
		// "Sign assertions" off, RSA_SHA256.
		ID: "keycloak", Label: "Keycloak",
		Sources: []string{
			"https://www.keycloak.org/docs/latest/server_admin/#_client-saml-configuration",
			"https://github.com/keycloak/keycloak/blob/main/services/src/main/java/org/keycloak/protocol/saml/mappers/GroupMembershipMapper.java",
		},
		FirstName:   AttributeName{Name: "urn:oid:2.5.4.42", FriendlyName: "givenName", NameFormat: attrNameFormatURI},
		LastName:    AttributeName{Name: "urn:oid:2.5.4.4", FriendlyName: "surname", NameFormat: attrNameFormatURI},
		Email:       AttributeName{Name: "urn:oid:1.2.840.113549.1.9.1", FriendlyName: "email", NameFormat: attrNameFormatURI},
		Groups:      AttributeName{Name: "member", NameFormat: attrNameFormatBasic},
		GroupFormat: GroupFormatPath, NameIDFormat: "unspecified", SignWhat: "response", SignAlg: "sha256",
	},
}

// entraUserClaim is one of the claims Entra adds about the user.
type entraUserClaim struct {
	Name  string
	Value func(u entraUser) string
}

// entraUser is what Entra's own claims are made from.
type entraUser struct{ UPN, ObjectID, TenantID string }

// entraUserClaims are sent with the Entra flavour, after the profile.
var entraUserClaims = []entraUserClaim{
	{claimName, func(u entraUser) string { return u.UPN }},
	{claimEntraOID, func(u entraUser) string { return u.ObjectID }},
	{claimEntraTenant, func(u entraUser) string { return u.TenantID }},
}

// entraGroupsLink is the overage claim's value, as the token reference
// shows it.
const entraGroupsLink = "https://graph.windows.net/%s/users/%s/getMemberObjects"
