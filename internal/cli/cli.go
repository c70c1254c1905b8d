// Package cli implements the shp command line. Each command group has its
// own file; all of them call the same services the API will.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/monitor"
	// The extracting source types shp ships with.
	_ "github.com/shp-dev/shp/internal/source/apisource"
	_ "github.com/shp-dev/shp/internal/source/sqlsource"
)

// Exit codes.
const (
	ExitOK     = 0 // success
	ExitFailed = 1 // a run or check failed
	ExitUsage  = 2 // bad usage or configuration
	ExitHeld   = 3 // a run is held for a person's decision; nothing failed
)

// Version is set at build time with -ldflags "-X github.com/shp-dev/shp/internal/cli.Version=v1.2.3".
var Version = ""

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error  { return &exitError{code: ExitUsage, err: err} }
func failedErr(err error) error { return &exitError{code: ExitFailed, err: err} }

// env is what every command writes to.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	quiet          bool
	verbose        bool
	// logFormat is text or json (--log-format); json writes Cloud
	// Logging's structured lines at Info and above.
	logFormat string
	// tracer traces runs when an OTLP endpoint is configured (nil
	// otherwise); tracerStop flushes it when the command ends.
	tracer     trace.TracerProvider
	tracerStop func(context.Context) error
	debug      bool
}

func (e *env) logger() *slog.Logger {
	json := e.logFormat == "json"
	if !e.verbose && !e.debug && !json {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelInfo
	if e.debug {
		// Debug lines may carry data values (a failed rule's examples).
		level = slog.LevelDebug
	}
	if json {
		// Cloud Logging's fields; the trace is named after the project
		// Cloud Run and GKE set.
		return slog.New(monitor.NewJSONHandler(e.stderr, level, e.getenv("GOOGLE_CLOUD_PROJECT")))
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// tracing returns the tracer provider of the project's runs, made on
// first use from the OpenTelemetry environment (monitor.Tracing); nil
// when none is configured. A provider that cannot be made is logged and
// runs go untraced.
func (e *env) tracing(ctx context.Context, project string) trace.TracerProvider {
	if e.tracerStop != nil {
		return e.tracer
	}
	tp, stop, err := monitor.Tracing(ctx, e.getenv, project, Version)
	if err != nil {
		e.logger().Warn("runs are not traced", "err", err)
		stop = func(context.Context) error { return nil }
	}
	e.tracer, e.tracerStop = tp, stop
	return tp
}

// getenv reads the process's environment.
func (e *env) getenv(name string) string { return os.Getenv(name) }

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if e.tracerStop != nil {
		// The spans still buffered go out before the process ends.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if serr := e.tracerStop(sctx); serr != nil {
			e.logger().Warn("flush the run traces", "err", serr)
		}
		cancel()
	}
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "shp:", err)
	var ee *exitError
	var ce config.Errors
	var one *config.Error
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce), errors.As(err, &one):
		return ExitUsage
	default:
		// cobra's own errors (unknown command or flag) are usage errors.
		return ExitUsage
	}
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "shp",
		Short:         "shp, the self-healing data pipeline",
		Long:          "shp extracts data from files, databases and APIs, validates and heals it, and loads it into a warehouse.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if e.logFormat != "text" && e.logFormat != "json" {
				return usageErr(fmt.Errorf("--log-format must be text or json, got %q", e.logFormat))
			}
			return nil
		},
	}
	root.PersistentFlags().BoolVarP(&e.quiet, "quiet", "q", false, "print no progress")
	root.PersistentFlags().BoolVarP(&e.verbose, "verbose", "v", false, "write structured logs to stderr")
	root.PersistentFlags().StringVar(&e.logFormat, "log-format", "text", "log format: text, or json (Cloud Logging's fields: severity, message, logging.googleapis.com/trace; implies --verbose)")
	root.PersistentFlags().BoolVar(&e.debug, "debug", false, "write debug logs to stderr, with data values (a failed rule's examples) that other logs leave out")
	root.AddCommand(newInitCmd(e), newAPIKeyCmd(e), newAuditCmd(e), newPipelinesCmd(e), newRunCmd(e), newRunsCmd(e), newQueryCmd(e), newConfigCmd(e), newValidateCmd(e), newQualityCmd(e),
		newSourcesCmd(e), newLineageCmd(e), newServeCmd(e), newBackfillCmd(e), newTriggerCmd(e), newPauseCmd(e, true), newPauseCmd(e, false),
		newExportCmd(e), newTaskCmd(e), newHealingCmd(e), newAlertsCmd(e), newOptimizeCmd(e), newVersionCmd(e))
	return root
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the shp version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(e.stdout, "shp", versionString())
			return nil
		},
	}
}

func versionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
