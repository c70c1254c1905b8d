package monitor

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	prombridge "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
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
	if !otlpOn(getenv, otlpEndpointVars, "OTEL_TRACES_EXPORTER") {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		// The endpoint may carry credentials: it is not repeated.
		return nil, nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	res, err := shpResource(ctx, project, version)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return p, p.Shutdown, nil
}

// shpResource describes this process to OpenTelemetry; OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES win over its attributes.
func shpResource(ctx context.Context, project, version string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", "shp")}
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	if project != "" {
		attrs = append(attrs, attribute.String("shp.project", project))
	}
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("the resource: %w", err)
	}
	return res, nil
}

// otlpMetricsVars turn the export of metrics on, as for traces.
var otlpMetricsVars = []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}

// Metering exports the metrics of gatherer (the pipeline metrics, the
// same as /metrics serves) over OTLP/HTTP every OTEL_METRIC_EXPORT_INTERVAL
// (60 s) when an OTLP endpoint is configured in the environment and
// OTEL_METRICS_EXPORTER is not "none"; otherwise it does nothing.
// shutdown exports a last time.
func Metering(ctx context.Context, getenv func(string) string, gatherer prometheus.Gatherer, project, version string) (
	shutdown func(context.Context) error, err error) {
	if !otlpOn(getenv, otlpMetricsVars, "OTEL_METRICS_EXPORTER") {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlpmetrichttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("metrics: the OTLP exporter: %w", err)
	}
	res, err := shpResource(ctx, project, version)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithProducer(prombridge.NewMetricProducer(prombridge.WithGatherer(gatherer))))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
	return mp.Shutdown, nil
}

// otlpOn reports whether one of the endpoint variables is set and the
// signal's exporter variable does not say "none".
func otlpOn(getenv func(string) string, endpointVars []string, exporterVar string) bool {
	if strings.EqualFold(getenv(exporterVar), "none") {
		return false
	}
	for _, v := range endpointVars {
		if getenv(v) != "" {
			return true
		}
	}
	return false
}
