// Package specs holds the conformance specs, written once against a
// framework.Suite so that every target runs the same ones: the bundled
// reference SP (suites/jit), a reference SP in a separate process, or a
// third-party deployment described by a profile (suites/external).
package specs

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/hmpconform/hmpconform/suites/framework"
)

// JIT registers the provisioning, group-mapping, settings and bypass
// specs. Call it at package level in a suite: var _ = specs.JIT(suite).
// Decorators (Serial, Label("external-target"), ...) apply to them all.
func JIT(suite *framework.Suite, decorators ...any) bool {
	Describe("JIT conformance", append(decorators, func() {
		provisioningSpecs(suite)
		bypassSpecs(suite)
		spBehaviourSpecs(suite)
	})...)
	return true
}
