package snp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/go-sev-guest/verify/trust"
)

// MaxKDSResponse bounds one AMD KDS response body (a VCEK certificate is
// about 1.4 KB, a cert_chain about 4.6 KB, a CRL a few KB). go-sev-guest's
// own getter reads bodies without a bound.
const MaxKDSResponse = 256 << 10

// kdsGetter fetches from AMD KDS, reading at most MaxKDSResponse bytes of
// a body.
type kdsGetter struct{ client *http.Client }

var _ trust.ContextHTTPSGetter = kdsGetter{}

// Get fetches url.
func (g kdsGetter) Get(url string) ([]byte, error) { return g.GetContext(context.Background(), url) }

// GetContext fetches url with ctx.
func (g kdsGetter) GetContext(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	c := g.client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("failed to retrieve '%s' status %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxKDSResponse+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxKDSResponse {
		return nil, fmt.Errorf("%s: response larger than %d bytes", url, MaxKDSResponse)
	}
	return body, nil
}

// defaultGetter is go-sev-guest's retrying getter around kdsGetter.
func defaultGetter() trust.HTTPSGetter {
	return &trust.RetryHTTPSGetter{Timeout: 2 * time.Minute, MaxRetryDelay: 30 * time.Second, Getter: kdsGetter{}}
}
