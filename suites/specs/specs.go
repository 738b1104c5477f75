// Package specs holds the conformance specs, written once against a
// framework.Suite so that every target runs the same ones: the bundled
// reference SP (suites/jit), a reference SP in a separate process, or a
// third-party deployment described by a profile (suites/external).
package specs

import "github.com/hmpconform/hmpconform/suites/framework"

// JIT registers the provisioning, group-mapping, settings and bypass
// specs. Call it at package level in a suite: var _ = specs.JIT(suite).
func JIT(suite *framework.Suite) bool {
	provisioningSpecs(suite)
	bypassSpecs(suite)
	spBehaviourSpecs(suite)
	return true
}
