package mockidp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// maxMetadataSize bounds SP metadata read from a file or URL.
const maxMetadataSize = 4 << 20

// IsMetadataURL reports whether an SP metadata source names a URL rather
// than a file.
func IsMetadataURL(source string) bool {
	return strings.HasPrefix(source, "https://") || strings.HasPrefix(source, "http://")
}

// LoadSPMetadata registers the SP metadata in source: a file path, or an
// http(s) URL fetched with client (http.DefaultClient when nil).
func (s *Server) LoadSPMetadata(ctx context.Context, source string, client *http.Client) error {
	var b []byte
	var err error
	if IsMetadataURL(source) {
		b, err = fetchMetadata(ctx, source, client)
	} else {
		b, err = readLimited(source)
	}
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

func fetchMetadata(ctx context.Context, u string, client *http.Client) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return readAllLimited(resp.Body)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f)
}

func readAllLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMetadataSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetadataSize {
		return nil, fmt.Errorf("metadata larger than %d bytes", maxMetadataSize)
	}
	return b, nil
}
