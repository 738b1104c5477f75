package mockidp

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hmpconform/hmpconform/internal/mdsource"
)

// maxMetadataSize bounds SP metadata read from a file or URL.
const maxMetadataSize = 4 << 20

// IsMetadataURL reports whether an SP metadata source names a URL rather
// than a file.
func IsMetadataURL(source string) bool { return mdsource.IsURL(source) }

// LoadSPMetadata registers the SP metadata in source: a file path, or an
// http(s) URL fetched with client (http.DefaultClient when nil).
func (s *Server) LoadSPMetadata(ctx context.Context, source string, client *http.Client) error {
	b, err := mdsource.Read(ctx, source, client, maxMetadataSize)
	if err != nil {
		return fmt.Errorf("mockidp: SP metadata %s: %w", source, err)
	}
	if err := s.RegisterSPMetadataXML(b); err != nil {
		return fmt.Errorf("%w (from %s)", err, source)
	}
	return nil
}

// LoadSPMetadataWithRetry calls LoadSPMetadata until it succeeds or ctx is
// done, waiting between attempts (from one second, doubling up to a minute),
// and logs each failure. It is meant for an SP that starts after the IdP.
func (s *Server) LoadSPMetadataWithRetry(ctx context.Context, source string, client *http.Client) error {
	wait := time.Second
	for {
		err := s.LoadSPMetadata(ctx, source, client)
		if err == nil {
			return nil
		}
		s.logger.Warn("mockidp: cannot load SP metadata; will retry", "source", source, "err", err, "retryIn", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, time.Minute)
	}
}
