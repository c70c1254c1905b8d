package monitor

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The OpenTelemetry environment variables that turn tracing on: the
// standard OTLP endpoint settings, read by the exporter itself (with
// OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _INSECURE... as documented by
// OpenTelemetry).
var otlpEndpointVars = []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}

// Tracing returns the tracer provider of shp's runs: when an OTLP
// endpoint is configured in the environment (OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, over HTTP/protobuf) and
// OTEL_TRACES_EXPORTER is not "none", spans are batched to it; otherwise
// nil, and runs are not traced. shutdown flushes the spans still
// buffered; call it before the process ends.
func Tracing(ctx context.Context, getenv func(string) string, project, version string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	endpoint := ""
	for _, v := range otlpEndpointVars {
		if e := getenv(v); e != "" {
			endpoint = e
			break
		}
	}
	if endpoint == "" || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		// The endpoint may carry credentials: it is not repeated.
		return nil, nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", "shp")}
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	if project != "" {
		attrs = append(attrs, attribute.String("shp.project", project))
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over these.
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: the resource: %w", err)
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return p, p.Shutdown, nil
}
