// Package lineage emits OpenLineage run events (START, COMPLETE, FAIL) for
// pipeline runs: which datasets a run read and which table it wrote, with
// their schemas and row counts. Events are kept in the metadata store and,
// when an endpoint is configured, POSTed to it (Marquez's
// /api/v1/lineage, or any OpenLineage HTTP consumer).
package lineage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/config/spec"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
)

// Event types.
const (
	Start    = "START"
	Complete = "COMPLETE"
	Fail     = "FAIL"
)

const (
	producer        = "https://github.com/shp-dev/shp"
	runEventSchema  = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	schemaFacetURL  = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
	statsFacetURL   = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
	errorFacetURL   = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	jobTypeFacetURL = "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
)

// Dataset is a dataset a run read or wrote.
type Dataset struct {
	Namespace string
	Name      string
	Fields    schema.Schema // nil when unknown
	RowCount  *int64        // outputs: rows written
}

// RunEvent is an OpenLineage RunEvent.
type RunEvent struct {
	EventType string         `json:"eventType"`
	EventTime string         `json:"eventTime"`
	Producer  string         `json:"producer"`
	SchemaURL string         `json:"schemaURL"`
	Run       eventRun       `json:"run"`
	Job       eventJob       `json:"job"`
	Inputs    []EventDataset `json:"inputs"`
	Outputs   []EventDataset `json:"outputs"`
}

type eventRun struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

type eventJob struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// EventDataset is a dataset as an event carries it.
type EventDataset struct {
	Namespace    string         `json:"namespace"`
	Name         string         `json:"name"`
	Facets       map[string]any `json:"facets,omitempty"`
	OutputFacets map[string]any `json:"outputFacets,omitempty"`
	InputFacets  map[string]any `json:"inputFacets,omitempty"`
}

// Emitter records and sends events.
type Emitter struct {
	Store     metadata.Store
	Namespace string // the jobs' namespace
	URL       string // an OpenLineage endpoint; "" for none
	Token     string // a bearer token for URL
	Client    *http.Client
	Logger    *slog.Logger
	Now       func() time.Time
}

// New returns the emitter a project configures.
func New(p *config.Project, store metadata.Store, token string, log *slog.Logger) *Emitter {
	ns := p.Config.Lineage.Namespace
	if ns == "" {
		ns = p.Config.Project
	}
	return &Emitter{Store: store, Namespace: ns, URL: p.Config.Lineage.URL, Token: token, Logger: log}
}

// RunUUID turns a run id into the UUID OpenLineage wants, the same for
// every event of the run (a name-based UUID, version 5 layout).
func RunUUID(runID string) string {
	h := sha1.Sum([]byte("shp-run:" + runID))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Emit builds an event, stores it and sends it. Sending is best effort:
// a lineage endpoint that is down does not fail the run, it is logged.
func (e *Emitter) Emit(ctx context.Context, eventType, runID, job string, inputs, outputs []Dataset, runErr error) error {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	t := now().UTC()
	ev := RunEvent{
		EventType: eventType,
		EventTime: t.Format(time.RFC3339Nano),
		Producer:  producer,
		SchemaURL: runEventSchema,
		Run:       eventRun{RunID: RunUUID(runID)},
		Job: eventJob{Namespace: e.Namespace, Name: job, Facets: map[string]any{
			"jobType": map[string]any{"_producer": producer, "_schemaURL": jobTypeFacetURL,
				"processingType": "BATCH", "integration": "SHP", "jobType": "PIPELINE"},
		}},
		Inputs:  datasets(inputs, false),
		Outputs: datasets(outputs, true),
	}
	ev.Run.Facets = map[string]any{"shp_run": map[string]any{"_producer": producer, "_schemaURL": producer + "#RunFacet", "runId": runID}}
	if runErr != nil {
		ev.Run.Facets["errorMessage"] = map[string]any{"_producer": producer, "_schemaURL": errorFacetURL,
			"message": runErr.Error(), "programmingLanguage": "go"}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if e.Store != nil {
		if err := e.Store.RecordLineage(ctx, metadata.LineageEvent{RunID: runID, Job: job, EventType: eventType, EventTime: t, Payload: string(payload)}); err != nil {
			return err
		}
	}
	if e.URL != "" {
		if err := e.post(ctx, payload); err != nil && e.Logger != nil {
			e.Logger.Warn("lineage event not delivered", "endpoint", redactURL(e.URL), "event", eventType, "err", err)
		}
	}
	return nil
}

func (e *Emitter) post(ctx context.Context, payload []byte) error {
	client := e.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	caller := resilience.New("lineage endpoint", resilience.Policy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second})
	red := redact.New(e.Token) // the endpoint's URL and answer may show it
	return caller.Do(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if e.Token != "" {
			req.Header.Set("Authorization", "Bearer "+e.Token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return red.Error(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			he := resilience.NewHTTPError(resp, redactURL(e.URL))
			he.Message = red.Text(he.Message)
			return he
		}
		return nil
	})
}

// RedactURL drops a URL's user information and query string, where
// credentials travel.
func RedactURL(raw string) string { return redactURL(raw) }

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

func datasets(ds []Dataset, output bool) []EventDataset {
	out := make([]EventDataset, 0, len(ds))
	for _, d := range ds {
		ed := EventDataset{Namespace: d.Namespace, Name: d.Name}
		if len(d.Fields) > 0 {
			fields := make([]map[string]any, len(d.Fields))
			for i, f := range d.Fields {
				fields[i] = map[string]any{"name": f.Name, "type": f.TypeName()}
			}
			ed.Facets = map[string]any{"schema": map[string]any{"_producer": producer, "_schemaURL": schemaFacetURL, "fields": fields}}
		}
		if output && d.RowCount != nil {
			ed.OutputFacets = map[string]any{"outputStatistics": map[string]any{"_producer": producer, "_schemaURL": statsFacetURL, "rowCount": *d.RowCount}}
		}
		out = append(out, ed)
	}
	return out
}

// SourceDataset names what a source reads, after OpenLineage's naming
// conventions: postgres://host:port with database.schema.table,
// mysql://host:port with database.table, gs://bucket with the path, the
// API's scheme and host with its path; the source's secrets in them are
// masked.
func SourceDataset(p *config.Project, src *config.Source) Dataset {
	// A path may carry a signed URL's signature, a URL a secret from the
	// environment.
	d := sourceDataset(p, src)
	red := redact.New(src.Secrets...)
	d.Namespace, d.Name = red.Text(d.Namespace), red.Text(d.Name)
	return d
}

func sourceDataset(p *config.Project, src *config.Source) Dataset {
	switch src.Type {
	case config.SourceGCS:
		return Dataset{Namespace: "gs://" + src.Bucket, Name: src.Path}
	case config.SourceFile:
		dir := src.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(p.Dir, dir)
		}
		return Dataset{Namespace: "file", Name: filepath.ToSlash(dir)}
	case config.SourceAPI, config.SourceGraphQL:
		raw, _ := src.Settings["url"].(string)
		u, err := url.Parse(raw)
		if err != nil {
			return Dataset{Namespace: "api", Name: src.Name}
		}
		return Dataset{Namespace: u.Scheme + "://" + u.Host, Name: u.Path}
	}
	engine := src.Type
	if src.Type == config.SourceCloudSQL {
		engine, _ = src.Settings["engine"].(string)
	}
	host, _ := src.Settings["host"].(string)
	db, _ := src.Settings["database"].(string)
	port := 5432
	if engine == config.SourceMySQL {
		port = 3306
	}
	if f, ok := src.Settings["port"].(uint64); ok {
		port = int(f)
	} else if f, ok := src.Settings["port"].(int64); ok {
		port = int(f)
	} else if f, ok := src.Settings["port"].(float64); ok {
		port = int(f)
	}
	if dsn, ok := src.Settings["dsn"].(string); ok && host == "" {
		host, port, db = dsnParts(dsn, port)
	}
	name := src.Name
	if t, ok := src.Settings["table"].(string); ok {
		name = t
		if db != "" {
			name = db + "." + t
		}
	}
	return Dataset{Namespace: engine + "://" + net.JoinHostPort(host, strconv.Itoa(port)), Name: name}
}

// dsnParts reads host, port and database from a URL-form DSN.
func dsnParts(dsn string, port int) (string, int, string) {
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "unknown", port, ""
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		port = p
	}
	db := u.Path
	if len(db) > 0 && db[0] == '/' {
		db = db[1:]
	}
	return u.Hostname(), port, db
}

// TargetDataset names a pipeline's target table in the warehouse as the
// warehouse's spec does (spec.Spec.Dataset: PostgreSQL's is
// postgres://host:port with database.schema.table), else as DuckDB's
// file: duckdb://FILE with main.TABLE.
func TargetDataset(p *config.Project, target string) Dataset {
	wh := p.Config.Warehouse
	if sp, ok := spec.Lookup(spec.KindWarehouse, wh.Type); ok && sp.Dataset != nil {
		if ns, name, ok := sp.Dataset(wh.Settings, target); ok {
			return Dataset{Namespace: ns, Name: name}
		}
		return Dataset{Namespace: wh.Type, Name: target}
	}
	path := p.Config.Warehouse.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.Dir, path)
	}
	return Dataset{Namespace: "duckdb://" + filepath.ToSlash(path), Name: "main." + target}
}
