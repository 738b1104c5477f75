package mockidp

import (
	"encoding/hex"
	"fmt"
	"io"

	"github.com/crewjam/saml"
)

// advertisedNameIDFormats are the NameID formats the IdP metadata lists:
// every format the login form can send (options.go), default first.
func advertisedNameIDFormats() []saml.NameIDFormat {
	out := make([]saml.NameIDFormat, 0, len(nameIDFormats))
	for _, o := range nameIDFormats {
		out = append(out, saml.NameIDFormat(o.URI))
	}
	return out
}

// transientNameIDBytes is the randomness in a transient NameID (160 bits,
// well above saml-core §8.3.8's "sufficiently random").
const transientNameIDBytes = 20

// setSubject fixes the NameID a login sends. id.User keeps who signed in;
// a transient NameID is a fresh opaque value from the Server's randomness,
// so the SP cannot link two logins of one person through it.
func (s *Server) setSubject(id *identity) error {
	id.User = id.NameID
	if id.Options.NameIDFormat != string(saml.TransientNameIDFormat) {
		return nil
	}
	b := make([]byte, transientNameIDBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return fmt.Errorf("mockidp: random transient NameID: %w", err)
	}
	id.NameID = "_" + hex.EncodeToString(b)
	return nil
}
