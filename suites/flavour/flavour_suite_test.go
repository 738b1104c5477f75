// Package flavour_test runs the core JIT specs through each IdP flavour of
// the mock IdP (Okta, Entra ID, AD FS, Google Workspace, Keycloak and the
// generic one) against the bundled reference SP, started in-process by each
// Ginkgo process.
package flavour_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/specs"
)

var suite = framework.Setup()

var _ = specs.Flavours(suite)

func TestFlavours(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "IdP flavours")
}
