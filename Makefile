# shp: the self-healing data pipeline.
GO      ?= go
BIN     ?= bin/shp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/shp-dev/shp/internal/cli.Version=$(VERSION)
# DuckDB's Arrow interface: PostgreSQL extractions reach DuckDB as typed
# batches. A build without the tag works too, and extracts text.
TAGS    ?= -tags duckdb_arrow

.PHONY: build test demo bench chaos lint cover docs clean bigquery-emulator bigquery-suite screenshots ui image dist

build: ## build bin/shp
	$(GO) build $(TAGS) -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/shp

test: ## run the whole test suite
	$(GO) test $(TAGS) -timeout 30m ./...

demo: build ## run the quick start pipeline, print its summary, what self-healing did and the alerts it raised; then a flaky API source; end with the web UI's address and a key for it
	$(BIN) run --config examples/quickstart --full-refresh
	$(BIN) healing actions --config examples/quickstart --limit 6
	$(BIN) alerts evaluate --config examples/quickstart
	$(BIN) alerts list --config examples/quickstart --state firing
	$(GO) build -o bin/flaky-api ./examples/flaky/server
	@rm -f examples/flaky/.api-url; bin/flaky-api -url-file examples/flaky/.api-url -for 60s & \
	for i in 1 2 3 4 5 6 7 8 9 10; do test -s examples/flaky/.api-url && break; sleep 0.2; done; \
	SHP_DEMO_API_URL=$$(cat examples/flaky/.api-url) $(BIN) run --config examples/flaky --full-refresh && \
	$(BIN) healing actions --config examples/flaky --limit 2; status=$$?; kill %1 2>/dev/null; test $$status = 0
	@key=$$($(BIN) apikey create --config examples/quickstart --name demo --role operator --expires 24h | head -1); \
	echo; echo "An operator key for the dashboards (valid 24h):"; echo "  $$key"; \
	echo "Web UI: http://localhost:8080/ (make ui serves it; sign in with the key above)"

ui: build ## serve the quick start with its web UI on http://localhost:8080/ (sign in with a key from make demo or shp apikey create)
	$(BIN) serve --config examples/quickstart --api-listen 127.0.0.1:8080

screenshots: ## run the web UI's browser test and write the four dashboards' screenshots into docs/screenshots (needs chromium)
	SHP_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestDashboardsInABrowser$$' -v ./cmd/shp/

bench: ## load (5M rows vs read_csv), quality suite (10M rows, DuckDB, PostgreSQL), PostgreSQL extraction (5M vs COPY) and its incremental run (1.2% changed vs COPY of the delta + DuckDB), MariaDB extraction (1M vs the mysql client), scheduler (1,000 pipelines for 60s), REST API (50 connections, 10,000 actions), load into the PostgreSQL warehouse (5M rows vs COPY), a layout change tried on 10M rows in DuckDB and 5M in PostgreSQL (the recorded mix replayed before and after)
	$(GO) test $(TAGS) -run '^$$' -bench . -skip '^BenchmarkOptimize' -benchtime 3x -timeout 60m ./bench/
	$(GO) test $(TAGS) -run '^$$' -bench '^BenchmarkOptimize(DuckDB|Postgres|Narrow)$$' -benchtime 1x -timeout 60m ./bench/
	$(GO) test $(TAGS) -run '^$$' -bench '^BenchmarkLoad$$' -benchtime 3x -timeout 60m ./internal/warehouse/postgres/

chaos: ## fault-injection suite on DuckDB and PostgreSQL (SHP_CHAOS_WAREHOUSE=duckdb|postgres|all, or bigquery, opt-in: the emulator, hours for every class; a list such as duckdb,postgres,bigquery), print healed/escalated/failed/wrong/lost per warehouse and class; SHP_CHAOS_CLASSES (class names, comma-separated, or a regexp) and SHP_CHAOS_TRIALS (3) run a sample, SHP_CHAOS_TIMEOUT (60m) caps it
	@report=$$(mktemp); SHP_CHAOS_WAREHOUSE=$${SHP_CHAOS_WAREHOUSE:-all} SHP_CHAOS_REPORT=$$report \
	$(GO) test $(TAGS) -count=1 -timeout $${SHP_CHAOS_TIMEOUT:-60m} -run '^TestFaultInjection$$' ./chaos/; status=$$?; cat $$report; rm -f $$report; exit $$status

bigquery-emulator: ## serve the BigQuery emulator (project shp-test) on :9050, for warehouse.type bigquery with endpoint http://localhost:9050
	$(GO) tool bigquery-emulator --project=shp-test --port=9050

bigquery-suite: ## the warehouse conformance suite, Great Expectations' cases and every direct-load case on the BigQuery warehouse, against the emulator (hours)
	SHP_BIGQUERY_SUITE=1 $(GO) test -count=1 -timeout 6h -run '^(TestConformance|TestGEConformance|TestDirectLoadFromGCS)$$' -v ./internal/warehouse/bigquery/

image: ## build the container image (IMAGE, default shp:VERSION) with VERSION stamped, serving PROJECT_DIR (default deploy/project); needs a Docker engine with BuildKit (see deploy/README.md)
	docker build --build-arg VERSION=$(VERSION) --build-arg PROJECT_DIR=$(or $(PROJECT_DIR),deploy/project) -t $(or $(IMAGE),shp:$(VERSION)) .

dist: ## build dist/shp_VERSION_linux_amd64.tar.gz (the binary as the image builds it, README.md, CHANGELOG.md, LICENSE if any) and dist/SHA256SUMS; on linux/amd64 (cgo)
	@test "$$($(GO) env GOOS)/$$($(GO) env GOARCH)" = linux/amd64 || { echo "make dist: the release is linux/amd64 with cgo (DuckDB): run it on linux/amd64"; exit 1; }
	rm -rf dist/shp_$(VERSION)_linux_amd64 && mkdir -p dist/shp_$(VERSION)_linux_amd64
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build $(TAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/shp_$(VERSION)_linux_amd64/shp ./cmd/shp
	cp README.md CHANGELOG.md dist/shp_$(VERSION)_linux_amd64/
	if [ -f LICENSE ]; then cp LICENSE dist/shp_$(VERSION)_linux_amd64/; fi
	tar -C dist --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$$(git log -1 --format=%ct 2>/dev/null || echo 0) -cf - shp_$(VERSION)_linux_amd64 | gzip -9n > dist/shp_$(VERSION)_linux_amd64.tar.gz
	rm -rf dist/shp_$(VERSION)_linux_amd64
	cd dist && sha256sum shp_*_linux_amd64.tar.gz > SHA256SUMS && cat SHA256SUMS

lint: ## gofmt, go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(TAGS) ./...

docs: ## rewrite README.md's reference of warehouses and sources from their registered specs (shp config spec)
	$(GO) run ./cmd/shp config spec --readme README.md

cover: ## per-package statement coverage
	$(GO) test $(TAGS) -cover ./...

clean:
	rm -rf bin examples/quickstart/.shp examples/flaky/.shp examples/flaky/.api-url
