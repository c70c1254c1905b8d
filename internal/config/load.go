package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/robfig/cron/v3"

	"github.com/shp-dev/shp/internal/config/spec"
	"github.com/shp-dev/shp/internal/schema"
)

// LoadDir loads and validates the configuration folder dir. It reports all
// problems it finds as an Errors value; each names the file, line and
// column. Files that config.yaml and sources.yaml refer to, such as schema
// files, are not read: call Project.Check for that.
func LoadDir(dir string, opts ...Option) (*Project, error) {
	o := options{lookupEnv: lookupEnvDefault}
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("load config: %s is not a directory", dir)
	}

	l := &loader{dir: abs, lookup: o.lookupEnv}
	p := &Project{Dir: abs}
	cfg := l.parse(configFile, true)
	src := l.parse(sourcesFile, true)
	if cfg != nil {
		p.Config = l.config(cfg)
	}
	if src != nil {
		p.Sources = l.sources(src)
	}
	p.QualityRules = l.raw(qualityRulesFile)
	p.SelfHealing = l.selfHealing()
	p.Monitoring = l.checked(MonitoringFile)

	for _, name := range p.PipelineNames() {
		pl := p.Config.Pipelines[name]
		if len(p.Sources) == 0 || pl.Source == "" {
			continue // no usable sources or no source: already reported
		}
		s, ok := p.Sources[pl.Source]
		if !ok {
			cfg.errorf(pl.sourcePos, "pipeline %q: source %q is not defined in %s", name, pl.Source, sourcesFile)
			continue
		}
		if pl.Schedule == "" {
			pl.Schedule = s.Schedule
		}
		checkMode(cfg, pl, s)
	}
	for _, name := range sortedKeys(p.Sources) {
		s := p.Sources[name]
		if s.Failover == "" || src == nil {
			continue
		}
		r, ok := p.Sources[s.Failover]
		switch {
		case !ok:
			src.errorf(s.failPos, "source %q: failover source %q is not defined", name, s.Failover)
		case s.Failover == name:
			src.errorf(s.failPos, "source %q: a source cannot fail over to itself", name)
		case r.Type != s.Type:
			src.errorf(s.failPos, "source %q: failover source %q is a %s source, not %s", name, s.Failover, r.Type, s.Type)
		}
	}
	checkDependencies(cfg, p)
	if err := l.errs.orNil(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkMode fits a pipeline's mode to how its source reads. A source that
// reads every row on every run (a table, query or API without
// incremental) replaces the target by default, and appending it is an
// error: each run would add every row again. An incremental source reads
// only what changed, so replacing the target with it is an error too: the
// target would keep only the latest run's rows.
func checkMode(f *yamlFile, pl *Pipeline, s *Source) {
	if !IsExtracting(s.Type) {
		return
	}
	what := "an API"
	switch t, _ := s.Settings["table"].(string); {
	case s.Type == SourceGraphQL:
		what = "a GraphQL API"
	case t != "":
		what = fmt.Sprintf("the %s table %s", s.Type, t)
	case s.Type != SourceAPI:
		what = "a " + s.Type + " query"
	}
	switch {
	case s.RereadsAll() && pl.ModeImplied():
		pl.Mode = ModeReplace
	case s.RereadsAll() && pl.Mode == ModeAppend:
		f.errorf(pl.modePos, "pipeline %q: mode append would load all of source %q again on every run, doubling the target: "+
			"%s without incremental reads every row each time; set incremental on the source to read only new or changed rows, "+
			"or use mode replace (the default for such a source) or mode merge with key", pl.Name, pl.Source, what)
	case !s.RereadsAll() && pl.Mode == ModeReplace:
		f.errorf(pl.modePos, "pipeline %q: mode replace would keep only each run's new rows of source %q, whose incremental reads "+
			"only what changed since the last run; use mode append or mode merge with key, or remove incremental to read every row each run",
			pl.Name, pl.Source)
	}
}

// defaultRetries is no retry; a pipeline that sets attempts waits 30s,
// doubling up to 10m.
var defaultRetries = Retries{Attempts: 1, InitialInterval: 30 * time.Second, MaxInterval: 10 * time.Minute}

// checkDependencies reports depends_on entries that name no pipeline and
// cycles, naming each cycle's pipelines in order.
func checkDependencies(f *yamlFile, p *Project) {
	if f == nil {
		return
	}
	for _, name := range p.PipelineNames() {
		pl := p.Config.Pipelines[name]
		for i, d := range pl.DependsOn {
			switch _, ok := p.Config.Pipelines[d]; {
			case d == name:
				f.errorf(pl.dependsPos[i], "pipeline %q depends on itself", name)
			case !ok:
				f.errorf(pl.dependsPos[i], "pipeline %q: depends_on %q is not a pipeline in %s", name, d, configFile)
			}
		}
	}
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var path []string
	reported := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		state[n] = active
		path = append(path, n)
		pl := p.Config.Pipelines[n]
		for i, d := range pl.DependsOn {
			if _, ok := p.Config.Pipelines[d]; !ok || d == n {
				continue
			}
			switch state[d] {
			case active:
				start := slices.Index(path, d)
				cycle := append(append([]string(nil), path[start:]...), d)
				key := strings.Join(cycle[:len(cycle)-1], ",")
				if !reported[key] {
					reported[key] = true
					f.errorf(pl.dependsPos[i], "pipelines depend on each other in a cycle: %s", strings.Join(cycle, " -> "))
				}
			case unseen:
				visit(d)
			}
		}
		path = path[:len(path)-1]
		state[n] = done
	}
	for _, name := range p.PipelineNames() {
		if state[name] == unseen {
			visit(name)
		}
	}
}

// loader holds the state of one LoadDir call.
type loader struct {
	dir    string
	lookup LookupEnvFunc
	errs   Errors
}

// parse reads and parses the file called name. It returns nil if the file
// is missing or unusable; a missing required file is an error.
func (l *loader) parse(name string, required bool) *yamlFile {
	data, err := os.ReadFile(filepath.Join(l.dir, name))
	switch {
	case errors.Is(err, fs.ErrNotExist) && !required:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		l.errs = append(l.errs, &Error{File: name, Msg: "file not found in " + l.dir, err: err})
		return nil
	case err != nil:
		l.errs = append(l.errs, &Error{File: name, Msg: fmt.Sprintf("cannot read file: %v", err), err: err})
		return nil
	}
	return parseYAML(name, data, l.lookup, &l.errs)
}

// raw parses an optional file that must hold a mapping and returns its
// content, or nil if it is absent, empty or invalid.
func (l *loader) raw(name string) map[string]any {
	f := l.parse(name, false)
	if f == nil || f.body == nil {
		return nil
	}
	return l.rawOf(f)
}

// rawOf is the content of a parsed file that must hold a mapping, or nil
// if it is empty or invalid.
func (l *loader) rawOf(f *yamlFile) map[string]any {
	if isNull(f.resolve(f.body)) || f.object(f.body, pos{1, 1}, "", "", "").bad {
		return nil
	}
	var m map[string]any
	if err := yaml.NodeToValue(f.body, &m); err != nil {
		f.yamlError(err)
		return nil
	}
	return m
}

// subscriptionName is a Pub/Sub subscription's full name.
var subscriptionName = regexp.MustCompile(`^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/subscriptions/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$`)

// config extracts and validates config.yaml.
func (l *loader) config(f *yamlFile) Config {
	top := f.object(f.body, pos{1, 1}, "", "", "",
		"project", "staging", "warehouse", "metadata", "defaults", "pipelines", "lineage", "api", "optimization", "events")
	var c Config

	if top.required("project", &c.Project) && !validName(c.Project) {
		f.errorf(top.valuePos("project"), "project %q is not a valid name: %s", c.Project, nameRule)
	}

	st := f.object(top.node("staging"), top.keyPos("staging"), "", "staging.", "staging", "url", "retention")
	c.Staging.URL = DefaultStagingURL
	if st.str("url", &c.Staging.URL) {
		if msg := checkStagingURL(c.Staging.URL); msg != "" {
			f.errorf(st.valuePos("url"), "staging.url %q %s", c.Staging.URL, msg)
		}
	}
	st.duration("retention", &c.Staging.Retention) // 0 keeps staged objects for ever

	c.Warehouse = l.warehouse(f, top)

	md := f.object(top.node("metadata"), top.keyPos("metadata"), "", "metadata.", "metadata", "type", "path", "dsn")
	c.Metadata.Type = MetadataSQLite
	if md.str("type", &c.Metadata.Type) {
		c.Metadata.Type = strings.ToLower(c.Metadata.Type)
	}
	md.str("dsn", &c.Metadata.DSN)
	switch c.Metadata.Type {
	case MetadataSQLite:
		c.Metadata.Path = DefaultMetadataPath
		md.str("path", &c.Metadata.Path)
	case MetadataPostgres:
		var unused string
		md.str("path", &unused) // allowed, but only sqlite uses it
		if c.Metadata.DSN == "" && !md.bad {
			f.errorf(md.valuePos("dsn"), "metadata.dsn is required when metadata.type is postgres")
		}
	default:
		f.errorf(md.valuePos("type"), "metadata.type %q is unknown (supported: sqlite, postgres)", c.Metadata.Type)
	}

	lin := f.object(top.node("lineage"), top.keyPos("lineage"), "", "lineage.", "lineage", "url", "api_key_env", "namespace")
	if lin.str("url", &c.Lineage.URL) {
		if u, err := url.Parse(c.Lineage.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.errorf(lin.valuePos("url"), "lineage.url %q must be an http:// or https:// URL (an OpenLineage endpoint, such as Marquez's /api/v1/lineage)", c.Lineage.URL)
		}
	}
	lin.str("api_key_env", &c.Lineage.APIKeyEnv)
	lin.str("namespace", &c.Lineage.Namespace)

	c.API = l.api(f, top)

	ev := f.object(top.node("events"), top.keyPos("events"), "", "events.", "events", "subscription")
	if ev.str("subscription", &c.Events.Subscription) && !subscriptionName.MatchString(c.Events.Subscription) {
		f.errorf(ev.valuePos("subscription"), "events.subscription %q must be a Pub/Sub subscription's full name: projects/PROJECT/subscriptions/NAME", c.Events.Subscription)
	}

	opt := f.object(top.node("optimization"), top.keyPos("optimization"), "", "optimization.", "optimization",
		"min_rows", "min_queries", "partition_share", "cluster_share", "min_speedup", "max_slowdown", "min_query_gain", "price_per_tib",
		"slot_hour_price", "auto_apply", "schedule")
	c.Optimization = Optimization{MinRows: DefaultOptMinRows, MinQueries: DefaultOptMinQueries, PartitionShare: DefaultOptPartitionShare,
		ClusterShare: DefaultOptClusterShare, MinSpeedup: DefaultOptMinSpeedup, MaxSlowdown: DefaultOptMaxSlowdown, MinQueryGain: DefaultOptMinQueryGain,
		PricePerTiB: DefaultPricePerTiB, SlotHourPrice: DefaultSlotHourPrice}
	if opt.integer("min_rows", &c.Optimization.MinRows) && c.Optimization.MinRows < 0 {
		f.errorf(opt.valuePos("min_rows"), "optimization.min_rows must be 0 or more")
	}
	if opt.integer("min_queries", &c.Optimization.MinQueries) && c.Optimization.MinQueries < 1 {
		f.errorf(opt.valuePos("min_queries"), "optimization.min_queries must be 1 or more")
	}
	opt.ratio("partition_share", &c.Optimization.PartitionShare)
	opt.ratio("cluster_share", &c.Optimization.ClusterShare)
	if opt.number("price_per_tib", &c.Optimization.PricePerTiB) && !(c.Optimization.PricePerTiB >= 0 && c.Optimization.PricePerTiB < 1e9) {
		f.errorf(opt.valuePos("price_per_tib"), "optimization.price_per_tib must be 0 or more dollars per TiB billed, such as 6.25")
	}
	if opt.number("slot_hour_price", &c.Optimization.SlotHourPrice) && !(c.Optimization.SlotHourPrice >= 0 && c.Optimization.SlotHourPrice < 1e6) {
		f.errorf(opt.valuePos("slot_hour_price"), "optimization.slot_hour_price must be 0 or more dollars per slot-hour, such as 0.04")
	}
	if opt.str("schedule", &c.Optimization.Schedule) && c.Optimization.Schedule != "" {
		checkSchedule(opt, c.Optimization.Schedule)
	}
	if ps, ok := opt.list("auto_apply", &c.Optimization.AutoApply); ok {
		for i, k := range c.Optimization.AutoApply {
			if !slices.Contains(AutoApplyKinds, k) {
				f.errorf(ps[i], "optimization.auto_apply: %q is not a kind of change; use %s", k, strings.Join(AutoApplyKinds, ", "))
			}
		}
	}
	for key, dst := range map[string]*float64{"min_speedup": &c.Optimization.MinSpeedup, "max_slowdown": &c.Optimization.MaxSlowdown,
		"min_query_gain": &c.Optimization.MinQueryGain} {
		if opt.number(key, dst) && !(*dst > 0 && *dst < 1e6) {
			f.errorf(opt.valuePos(key), "optimization.%s must be a factor above 0, such as 1.2", key)
		}
	}

	df := f.object(top.node("defaults"), top.keyPos("defaults"), "", "defaults.", "defaults", "max_quarantine_ratio", "bytes_budget")
	c.Defaults.MaxQuarantineRatio = DefaultMaxQuarantineRatio
	df.ratio("max_quarantine_ratio", &c.Defaults.MaxQuarantineRatio)
	bytesBudget(df, &c.Defaults.BytesBudget)

	c.Pipelines = map[string]*Pipeline{}
	if top.bad {
		return c
	}
	if _, present := top.entries["pipelines"]; !present {
		f.errorf(pos{1, 1}, "missing required key %q", "pipelines")
		return c
	}
	pls := f.object(top.node("pipelines"), top.keyPos("pipelines"), "", "pipelines.", "pipelines")
	if !pls.bad && len(pls.order) == 0 {
		f.errorf(top.valuePos("pipelines"), "pipelines must define at least one pipeline")
	}
	for _, name := range pls.order {
		e := pls.entries[name]
		c.Pipelines[name] = l.pipeline(f, name, e, c.Defaults)
	}
	return c
}

// warehouse extracts and validates the warehouse section of config.yaml
// against the spec of its type (duckdb when not set).
func (l *loader) warehouse(f *yamlFile, top *object) Warehouse {
	n := top.node("warehouse")
	typ := strings.ToLower(keyValue(f, n, "type"))
	if typ == "" {
		typ = WarehouseDuckDB
	}
	sp, known := spec.Lookup(spec.KindWarehouse, typ)
	var allowed []string // any key while the type is unknown: only it is reported
	if known {
		allowed = append(fieldNames(warehouseFields), fieldNames(sp.Fields)...)
	}
	wh := f.specObject(n, top.keyPos("warehouse"), "", "warehouse.", "warehouse", allowed)
	w := Warehouse{Type: typ}
	if !known {
		if wh.has("type") {
			f.errorf(wh.valuePos("type"), "warehouse.type %q is unknown (supported: %s)", typ, registered(spec.KindWarehouse))
		} else if !wh.bad {
			f.errorf(wh.at, "the default warehouse %q is not in this build (supported: %s)", typ, registered(spec.KindWarehouse))
		}
		return w
	}
	vals := checkFields(wh, sp.Fields, false)
	checkConstraints(wh, sp)
	// The keys Warehouse has a field for go there; the others, which only
	// the warehouse knows, in Settings.
	for key, dst := range map[string]*string{"path": &w.Path, "memory_limit": &w.MemoryLimit} {
		if v, ok := vals[key].(string); ok {
			*dst = v
			delete(vals, key)
		}
	}
	if v, ok := vals["threads"].(int); ok {
		w.Threads = v
		delete(vals, "threads")
	}
	if len(vals) > 0 {
		w.Settings = vals
	}
	return w
}

// keyValue returns the scalar value of key in the mapping n as written,
// before the mapping's keys are checked, so that they are checked against
// the spec the value names; "" when there is none.
func keyValue(f *yamlFile, n ast.Node, key string) string {
	return keyValueDepth(f, n, key, 0)
}

// keyValueDepth is keyValue at a depth of "<<" merges: as object reads
// them, the mappings a mapping merges count, not those they merge.
func keyValueDepth(f *yamlFile, n ast.Node, key string, depth int) string {
	m, ok := f.resolve(n).(*ast.MappingNode)
	if !ok || depth > 1 {
		return ""
	}
	var merged []ast.Node
	for _, mv := range m.Values {
		if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
			if seq, ok := f.resolve(mv.Value).(*ast.SequenceNode); ok {
				merged = append(merged, seq.Values...)
			} else {
				merged = append(merged, mv.Value)
			}
			continue
		}
		if k, _ := scalarString(f.resolve(mv.Key)); k == key {
			v, _ := scalarString(f.resolve(mv.Value))
			return v
		}
	}
	// A key of the mapping itself wins over a merged one; among merged
	// mappings, the first wins (as object reads them).
	for _, mm := range merged {
		if v := keyValueDepth(f, mm, key, depth+1); v != "" {
			return v
		}
	}
	return ""
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultAPI is the api section's defaults.
func defaultAPI() API {
	return API{RateLimit: DefaultAPIRate, RateBurst: DefaultAPIBurst, MaxBodyBytes: DefaultAPIMaxBody,
		OIDC: OIDC{RolesClaim: DefaultRolesClaim, ClockSkew: DefaultOIDCSkew}, AuditRetention: DefaultAuditRetention}
}

// api extracts and validates the api section of config.yaml.
func (l *loader) api(f *yamlFile, top *object) API {
	a := defaultAPI()
	o := f.object(top.node("api"), top.keyPos("api"), "", "api.", "api",
		"listen", "tls_cert", "tls_key", "cors_origins", "rate_limit", "max_body_bytes", "oidc",
		"trusted_proxies", "audit_retention", "access_log")
	if o.str("listen", &a.Listen) {
		if _, _, err := net.SplitHostPort(a.Listen); err != nil {
			o.errorf(o.valuePos("listen"), "api.listen %q must be host:port, e.g. 127.0.0.1:8080", a.Listen)
		}
	}
	o.str("tls_cert", &a.TLSCert)
	o.str("tls_key", &a.TLSKey)
	if (a.TLSCert == "") != (a.TLSKey == "") {
		o.errorf(o.keyPos("tls_cert"), "api.tls_cert and api.tls_key go together")
	}
	o.list("cors_origins", &a.CORSOrigins)
	if o.has("rate_limit") {
		r := f.object(o.node("rate_limit"), o.keyPos("rate_limit"), "", "api.rate_limit.", "api.rate_limit", "requests_per_second", "burst")
		if r.number("requests_per_second", &a.RateLimit) && a.RateLimit < 0 {
			r.errorf(r.valuePos("requests_per_second"), "api.rate_limit.requests_per_second must be 0 (no limit) or more")
		}
		if r.integer("burst", &a.RateBurst) && a.RateBurst < 1 {
			r.errorf(r.valuePos("burst"), "api.rate_limit.burst must be 1 or more")
		}
	}
	var body int
	if o.integer("max_body_bytes", &body) {
		if body < 1 {
			o.errorf(o.valuePos("max_body_bytes"), "api.max_body_bytes must be 1 or more")
		}
		a.MaxBodyBytes = int64(body)
	}
	var proxies []string
	if ps, ok := o.list("trusted_proxies", &proxies); ok {
		for i, v := range proxies {
			p, err := parseProxy(v)
			if err != nil {
				o.errorf(ps[i], "api.trusted_proxies[%d] %q is not an IP address or a CIDR range such as 10.0.0.0/8", i, v)
				continue
			}
			a.TrustedProxies = append(a.TrustedProxies, p)
		}
	}
	o.duration("audit_retention", &a.AuditRetention)
	o.boolean("access_log", &a.AccessLog)
	if o.has("oidc") {
		oc := f.object(o.node("oidc"), o.keyPos("oidc"), "", "api.oidc.", "api.oidc", "issuer", "audience", "roles_claim", "role_map", "clock_skew",
			"client_id", "client_secret_env", "redirect_url")
		if oc.required("issuer", &a.OIDC.Issuer) {
			u, err := url.Parse(a.OIDC.Issuer)
			switch {
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				oc.errorf(oc.valuePos("issuer"), "api.oidc.issuer %q must be an https:// URL", a.OIDC.Issuer)
			case u.Scheme == "http" && !isLoopback(u.Hostname()):
				// Its signing keys would travel in the clear.
				oc.errorf(oc.valuePos("issuer"), "api.oidc.issuer %q must be https:// (http:// only on this machine)", a.OIDC.Issuer)
			}
		}
		oc.required("audience", &a.OIDC.Audience)
		oc.str("roles_claim", &a.OIDC.RolesClaim)
		oc.str("client_id", &a.OIDC.ClientID)
		oc.str("client_secret_env", &a.OIDC.ClientSecretEnv)
		if oc.str("redirect_url", &a.OIDC.RedirectURL) {
			u, err := url.Parse(a.OIDC.RedirectURL)
			switch {
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "/auth/callback":
				oc.errorf(oc.valuePos("redirect_url"), "api.oidc.redirect_url %q must be shp serve's address ending in /auth/callback, e.g. https://shp.example.com/auth/callback", a.OIDC.RedirectURL)
			case u.Scheme == "http" && !isLoopback(u.Hostname()):
				// The authorization code would travel in the clear.
				oc.errorf(oc.valuePos("redirect_url"), "api.oidc.redirect_url %q must be https:// (http:// only on this machine)", a.OIDC.RedirectURL)
			}
		}
		if oc.duration("clock_skew", &a.OIDC.ClockSkew) && (a.OIDC.ClockSkew < 0 || a.OIDC.ClockSkew > MaxOIDCSkew) {
			oc.errorf(oc.valuePos("clock_skew"), "api.oidc.clock_skew must be from 0s to 5m, got %s", a.OIDC.ClockSkew)
		}
		if oc.has("role_map") {
			rm := f.object(oc.node("role_map"), oc.keyPos("role_map"), "", "api.oidc.role_map.", "api.oidc.role_map")
			a.OIDC.RoleMap = map[string]string{}
			for _, k := range rm.order {
				var role string
				if rm.str(k, &role) {
					if slices.Contains(Roles, role) {
						a.OIDC.RoleMap[k] = role
					} else {
						rm.errorf(rm.valuePos(k), "api.oidc.role_map.%s: %q is not a role (%s)", k, role, strings.Join(Roles, ", "))
					}
				}
			}
		}
	}
	return a
}

// parseProxy reads a trusted proxy: an IP address (a range of one) or a
// CIDR range. IPv4 addresses written in IPv6 form are read as IPv4.
func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	ip = ip.Unmap().WithZone("")
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// pipeline extracts and validates one pipeline of config.yaml.
func (l *loader) pipeline(f *yamlFile, name string, e *entry, defaults Defaults) *Pipeline {
	ctx := fmt.Sprintf("pipeline %q", name)
	o := f.object(e.node, e.pos, ctx, "", ctx, append([]string{
		"description", "source", "target", "mode", "key", "max_quarantine_ratio", "schedule",
		"timezone", "catchup", "depends_on", "retries", "timeout", "max_active_runs", "wait_for_data", "event_time", "duplicate_deliveries"},
		designKeys...)...)
	pl := &Pipeline{
		Name:               name,
		Mode:               ModeAppend,
		MaxQuarantineRatio: defaults.MaxQuarantineRatio,
		BytesBudget:        defaults.BytesBudget,
		MaxActiveRuns:      1,
		Retries:            defaultRetries,
		at:                 e.pos,
	}
	if !validName(name) {
		f.errorf(e.pos, "pipeline name %q is not valid: %s", name, nameRule)
	}
	o.str("description", &pl.Description)
	if o.required("source", &pl.Source) {
		pl.sourcePos = o.valuePos("source")
	}

	pl.Target = name
	if o.str("target", &pl.Target) {
		if !schema.ValidName(pl.Target) {
			o.errorf(o.valuePos("target"), "target %q is not a valid table name: %s", pl.Target, identRule)
		}
	} else if validName(name) && !schema.ValidName(name) {
		o.errorf(e.pos, "the target table defaults to the pipeline name, which is not a valid table name (%s); set target", identRule)
	}

	if o.str("event_time", &pl.EventTime) && !schema.ValidName(pl.EventTime) {
		o.errorf(o.valuePos("event_time"), "event_time %q is not a valid column name: %s", pl.EventTime, identRule)
	}

	pl.DuplicateDeliveries = DuplicatesSkip
	if o.str("duplicate_deliveries", &pl.DuplicateDeliveries) {
		switch pl.DuplicateDeliveries = strings.ToLower(pl.DuplicateDeliveries); pl.DuplicateDeliveries {
		case DuplicatesSkip, DuplicatesLoad:
		default:
			o.errorf(o.valuePos("duplicate_deliveries"), "duplicate_deliveries %q is unknown (skip, the default, or load)", pl.DuplicateDeliveries)
		}
	}
	if o.str("mode", &pl.Mode) {
		pl.modePos = o.valuePos("mode")
		pl.Mode = strings.ToLower(pl.Mode)
		switch pl.Mode {
		case ModeAppend, ModeReplace, ModeMerge:
		default:
			o.errorf(o.valuePos("mode"), "mode %q is unknown (supported: append, replace, merge)", pl.Mode)
		}
	}

	ps, keyOK := o.list("key", &pl.Key)
	if keyOK {
		pl.keyPos = ps
		seen := map[string]bool{}
		for i, k := range pl.Key {
			switch {
			case !schema.ValidName(k):
				o.errorf(ps[i], "key column %q is not a valid column name: %s", k, identRule)
			case seen[strings.ToLower(k)]:
				o.errorf(ps[i], "key column %q is listed twice", k)
			}
			seen[strings.ToLower(k)] = true
		}
	}
	if pl.Mode == ModeMerge && len(pl.Key) == 0 && (keyOK || !o.has("key")) && !o.bad {
		o.errorf(o.valuePos("mode"), "mode merge requires key (the columns that identify a row)")
	}

	o.ratio("max_quarantine_ratio", &pl.MaxQuarantineRatio)
	if o.str("schedule", &pl.Schedule) {
		checkSchedule(o, pl.Schedule)
	}
	if o.str("timezone", &pl.Timezone) {
		if _, err := time.LoadLocation(pl.Timezone); err != nil {
			o.errorf(o.valuePos("timezone"), "timezone %q is unknown (use an IANA name such as Europe/Paris)", pl.Timezone)
		}
	}
	o.boolean("catchup", &pl.Catchup)
	if ps, ok := o.list("depends_on", &pl.DependsOn); ok {
		pl.dependsPos = ps
	}
	if o.has("retries") {
		r := f.object(o.node("retries"), o.keyPos("retries"), ctx, "retries.", "retries of "+ctx,
			"attempts", "initial_interval", "max_interval")
		if r.integer("attempts", &pl.Retries.Attempts) && pl.Retries.Attempts < 1 {
			r.errorf(r.valuePos("attempts"), "retries.attempts must be 1 or more (1 is no retry), got %d", pl.Retries.Attempts)
		}
		r.duration("initial_interval", &pl.Retries.InitialInterval)
		r.duration("max_interval", &pl.Retries.MaxInterval)
	}
	o.duration("timeout", &pl.Timeout)
	if o.integer("max_active_runs", &pl.MaxActiveRuns) && pl.MaxActiveRuns < 1 {
		o.errorf(o.valuePos("max_active_runs"), "max_active_runs must be 1 or more, got %d", pl.MaxActiveRuns)
	}
	if o.has("wait_for_data") {
		w := f.object(o.node("wait_for_data"), o.keyPos("wait_for_data"), ctx, "wait_for_data.", "wait_for_data of "+ctx, "timeout", "poll")
		pl.WaitPoll = time.Minute
		if !w.has("timeout") && !w.bad {
			w.errorf(o.keyPos("wait_for_data"), "wait_for_data needs a timeout, e.g. {timeout: 2h, poll: 5m}")
		}
		if w.duration("timeout", &pl.WaitForData) && pl.WaitForData <= 0 {
			w.errorf(w.valuePos("timeout"), "wait_for_data.timeout must be positive, got %s", pl.WaitForData)
		}
		if w.duration("poll", &pl.WaitPoll) && pl.WaitPoll <= 0 {
			w.errorf(w.valuePos("poll"), "wait_for_data.poll must be positive, got %s", pl.WaitPoll)
		}
	}
	l.design(f, o, pl)
	return pl
}

// sources extracts and validates sources.yaml.
func (l *loader) sources(f *yamlFile) map[string]*Source {
	top := f.object(f.body, pos{1, 1}, "", "", "", "sources")
	out := map[string]*Source{}
	if top.bad {
		return out
	}
	if _, present := top.entries["sources"]; !present {
		f.errorf(pos{1, 1}, "missing required key %q", "sources")
		return out
	}
	srcs := f.object(top.node("sources"), top.keyPos("sources"), "", "sources.", "sources")
	if !srcs.bad && len(srcs.order) == 0 {
		f.errorf(top.valuePos("sources"), "sources must define at least one source")
	}
	for _, name := range srcs.order {
		s := l.source(f, name, srcs.entries[name])
		s.Secrets = sourceSecrets(s, f.env)
		out[name] = s
	}
	return out
}

// source extracts and validates one source of sources.yaml against the
// spec of its type.
func (l *loader) source(f *yamlFile, name string, e *entry) *Source {
	ctx := fmt.Sprintf("source %q", name)
	sp, known := spec.Lookup(spec.KindSource, strings.ToLower(keyValue(f, e.node, "type")))
	var allowed []string // any key while the type is unknown: only it is reported
	if known {
		allowed = fieldNames(sourceFieldsOf(sp))
	}
	o := f.specObject(e.node, e.pos, ctx, "", ctx, allowed)
	s := &Source{
		Name:        name,
		Compression: CompressionAuto,
		CSV:         CSVOptions{Header: true, NullValues: []string{""}},
		dir:         l.dir,
		at:          e.pos,
	}
	if !validName(name) {
		f.errorf(e.pos, "source name %q is not valid: %s", name, nameRule)
	}
	if o.required("type", &s.Type) {
		s.Type = strings.ToLower(s.Type)
		if !known {
			o.errorf(o.valuePos("type"), "source type %q is unknown (supported: %s)", s.Type, registered(spec.KindSource))
		}
	}
	if !known {
		return s
	}
	if o.str("schedule", &s.Schedule) {
		checkSchedule(o, s.Schedule)
	}
	if o.str("schema", &s.Schema) {
		s.schemaPos = o.valuePos("schema")
	}
	if sp.Extracting {
		if o.str("failover", &s.Failover) {
			s.failPos = o.valuePos("failover")
		}
		// The connector reads its keys from Settings.
		s.Settings = map[string]any{}
		for k, v := range checkFields(o, sp.Fields, true) {
			s.Settings[k] = settingsValue(v)
		}
		checkConstraints(o, sp)
		l.sourceParameters(o, s)
		return s
	}
	l.objectSource(o, s, sp)
	l.sourceParameters(o, s)
	return s
}

// objectSource reads the keys of a source that lists objects: how its
// objects are read (format, compression, csv), and its own keys, of which
// bucket, path and endpoint have a field of Source and the others go to
// Settings.
func (l *loader) objectSource(o *object, s *Source, sp spec.Spec) {
	common := checkFields(o, objectFields, false)
	if v, ok := common["format"].(string); ok {
		s.Format = v
	}
	if v, ok := common["compression"].(string); ok {
		s.Compression = v
	}
	if csv, ok := common["csv"].(map[string]any); ok && o.has("csv") {
		if s.Format != "" && s.Format != FormatCSV {
			o.errorf(o.keyPos("csv"), "csv options are only allowed for format csv, not %s", s.Format)
		}
		s.CSV.Delimiter, _ = csv["delimiter"].(string)
		s.CSV.Quote, _ = csv["quote"].(string)
		if h, ok := csv["header"].(bool); ok {
			s.CSV.Header = h
		}
		if nv, ok := csv["null_values"].([]string); ok {
			s.CSV.NullValues = nv
		}
		if s.CSV.Quote == s.CSV.Delimiter && oneChar(s.CSV.Quote) {
			q := o.f.object(o.node("csv"), o.keyPos("csv"), o.ctx, "csv.", "")
			o.errorf(q.valuePos("quote"), "csv.quote and csv.delimiter must differ, both are %q", s.CSV.Quote)
		}
	}
	own := checkFields(o, sp.Fields, false)
	checkConstraints(o, sp)
	for key, dst := range map[string]*string{"bucket": &s.Bucket, "path": &s.Path, "endpoint": &s.Endpoint} {
		if v, ok := own[key].(string); ok {
			*dst = v
			delete(own, key)
		}
	}
	if len(own) > 0 {
		s.Settings = map[string]any{}
		for k, v := range own {
			s.Settings[k] = settingsValue(v)
		}
	}
}

// nameRule describes valid project, pipeline and source names.
const nameRule = `use letters, digits, "_" and "-", starting with a letter`

// identRule describes valid table and column names.
const identRule = `use letters, digits and "_", not starting with a digit`

// validName reports whether name is a valid project, pipeline or source
// name.
func validName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i, c := range name {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// oneChar reports whether s is a single character other than a line break.
func oneChar(s string) bool {
	return utf8.RuneCountInString(s) == 1 && s != "\n" && s != "\r"
}

// checkSchedule reports an invalid cron schedule in o's "schedule" key.
func checkSchedule(o *object, spec string) {
	if _, err := cron.ParseStandard(spec); err != nil {
		o.errorf(o.valuePos("schedule"), "schedule %q is invalid: %v", spec, err)
	}
}

// checkStagingURL returns what is wrong with a staging URL, or "".
func checkStagingURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	switch {
	case !ok:
		return "must be a file://, mem:// or gs:// URL"
	case scheme == "file" && rest == "":
		return "has no path"
	case scheme == "gs" && strings.SplitN(rest, "/", 2)[0] == "":
		return "has no bucket"
	case scheme == "file", scheme == "mem", scheme == "gs":
		return ""
	}
	return fmt.Sprintf("has unsupported scheme %q (supported: file, mem, gs)", scheme)
}
