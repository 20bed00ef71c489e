package futureshop

import (
	"context"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/goqsync/runner/engine"
)

// clientMetrics are the client's instruments. Attributes are the endpoint's
// path pattern, the method and the status: never an order number, the shop
// key or a token.
type clientMetrics struct {
	requests  metric.Int64Counter
	throttled metric.Int64Counter
	tokens    metric.Int64Counter
}

func newClientMetrics(mp metric.MeterProvider) *clientMetrics {
	m := mp.Meter(tracerName)
	var cm clientMetrics
	var errs [3]error
	cm.requests, errs[0] = m.Int64Counter("futureshop.requests",
		metric.WithDescription("HTTP requests to futureshop (every attempt, token requests included), by endpoint, method and status code; status is \"error\" when no answer came."),
		metric.WithUnit("{request}"))
	cm.throttled, errs[1] = m.Int64Counter("futureshop.throttled",
		metric.WithDescription("Requests futureshop refused with 429 Too Many Requests, by endpoint."),
		metric.WithUnit("{request}"))
	cm.tokens, errs[2] = m.Int64Counter("futureshop.token.refreshes",
		metric.WithDescription("Access tokens fetched (at start, near expiry, or after a 401), by outcome: ok or failed."),
		metric.WithUnit("{token}"))
	for _, err := range errs {
		if err != nil {
			otel.Handle(err)
		}
	}
	return &cm
}

// openClient is newClient recording into the meter provider of ctx
// (engine.WithMeterProvider): the command's, not the process's.
func openClient(ctx context.Context, cfg config) (*client, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	c.m = newClientMetrics(engine.MeterProvider(ctx))
	return c, nil
}

// request counts one attempt; status 0 means no answer came.
func (m *clientMetrics) request(ctx context.Context, method, endpoint string, status int) {
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	ep := attribute.String("endpoint", endpoint)
	m.requests.Add(ctx, 1, metric.WithAttributes(ep, attribute.String("method", method), attribute.String("status", code)))
	if status == 429 {
		m.throttled.Add(ctx, 1, metric.WithAttributes(ep))
	}
}

func (m *clientMetrics) token(ctx context.Context, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "failed"
	}
	m.tokens.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

// endpointOf turns a request's path (under the API base) into its pattern,
// so an order's detail is one series, not one per order: a path the
// connector does not call is "other".
func endpointOf(path string) string {
	switch path {
	case tokenPath, searchPath, shippingStatusPath, completePath:
		return path
	}
	if strings.HasPrefix(path, detailPath) {
		return detailPath + "{orderNo}"
	}
	return "other"
}
