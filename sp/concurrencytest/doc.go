// Package concurrencytest holds the reference SP's HTTP-level test of
// JIT-CONCURRENT (simultaneous first logins make one account): many genuine
// responses for one identifier posted to the ACS at the same moment. See
// concurrency_test.go.
package concurrencytest
