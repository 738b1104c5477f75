package framework

import (
	"crypto/rand"
	"encoding/hex"
)

func randomTag(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
