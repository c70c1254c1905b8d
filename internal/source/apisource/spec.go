package apisource

import (
	"github.com/shp-dev/shp/internal/config/spec"
	"github.com/shp-dev/shp/internal/source"
)

// The configuration of the API sources: their keys in sources.yaml, which
// reach Config through source.Decode. TestSpecMatchesConfig keeps the two
// in step.
func init() {
	spec.Register(spec.Spec{
		Kind:       spec.KindSource,
		Name:       "api",
		Summary:    "A REST API returning JSON, its pages followed and its records streamed.",
		Extracting: true,
		Fields: []spec.Field{
			urlField,
			{Name: "method", Type: spec.String, Default: "GET", Enum: []string{"GET", "POST"}, Doc: "POST sends body."},
			headersField,
			{Name: "params", Type: spec.Map, Example: "{status: open}",
				Doc: "Query parameters sent with every request; their values are masked in messages."},
			{Name: "body", Type: spec.Map, Doc: "The JSON body of a POST request."},
			recordsPathField,
			{Name: "pagination", Type: spec.Object, Doc: "How to get the next page.", Fields: []spec.Field{
				{Name: "type", Type: spec.String, Default: "none", Enum: []string{"none", "page", "offset", "cursor", "link"},
					Doc: "`page` counts pages, `offset` rows, `cursor` follows a cursor in the body, `link` the Link header's rel=\"next\"."},
				{Name: "page_param", Type: spec.String, Doc: "page: the page number's parameter; `page` when not set."},
				{Name: "start", Type: spec.Int, Doc: "page: the first page's number; 1 when not set."},
				{Name: "size_param", Type: spec.String, Doc: "page and offset: the page size's parameter."},
				{Name: "size", Type: spec.Int, Doc: "The page size to ask for (required for offset); a shorter page is the last."},
				{Name: "offset_param", Type: spec.String, Doc: "offset: the offset's parameter; `offset` when not set."},
				{Name: "cursor_param", Type: spec.String, Doc: "cursor: the parameter the cursor is sent in; `cursor` when not set."},
				{Name: "cursor_path", Type: spec.String, Doc: "cursor: where the next cursor is in the body (required for cursor)."},
				{Name: "pages_per_chunk", Type: spec.Int, Default: 100,
					Doc: "Pages per chunk, the unit retried when a response breaks off."},
			}},
			authField,
			incrementalField("The query parameter (a body key for POST) the watermark is sent in."),
			flattenField,
			source.RetryField(),
			rateLimitField,
			timeoutField,
			maxPagesField,
		},
	})
	spec.Register(spec.Spec{
		Kind:       spec.KindSource,
		Name:       "graphql",
		Summary:    "A GraphQL API, its pages followed through pageInfo { hasNextPage endCursor }.",
		Extracting: true,
		Fields: []spec.Field{
			urlField,
			{Name: "query", Type: spec.String, Required: true,
				Doc: "The GraphQL query; parameters go in variables, not in the query."},
			{Name: "variables", Type: spec.Map, Doc: "The query's variables."},
			headersField,
			authField,
			{Name: "records_path", Type: spec.String, Example: "data.orders.edges",
				Doc: "The dotted path of the records in each response (the connector requires it); the nodes of edges are unwrapped."},
			{Name: "page_info_path", Type: spec.String, Example: "data.orders.pageInfo",
				Doc: "Where pageInfo is in the response, with cursor_variable; without both, one page is read."},
			{Name: "cursor_variable", Type: spec.String, Example: "after", Doc: "The variable endCursor is sent in."},
			incrementalField("The variable the watermark is sent in."),
			flattenField,
			source.RetryField(),
			rateLimitField,
			timeoutField,
			maxPagesField,
		},
	})
}

// The keys the REST and GraphQL sources share.
var (
	urlField = spec.Field{Name: "url", Type: spec.String, Required: true, Check: source.CheckHTTPURL,
		Example: "https://api.example.com/v1/orders", Doc: "The endpoint; `{{params.NAME}}` may stand in its path or query."}
	headersField = spec.Field{Name: "headers", Type: spec.Map, Elem: spec.String, Example: "{Accept: application/json}",
		Doc: "HTTP headers sent with every request."}
	recordsPathField = spec.Field{Name: "records_path", Type: spec.String, Example: "data.items",
		Doc: "The dotted path of the records in each response; empty: the body is the list."}
	authField = spec.Field{Name: "auth", Type: spec.Object,
		Doc: "How requests authenticate; secrets come from the environment or files, never from the YAML.",
		Fields: []spec.Field{
			{Name: "type", Type: spec.String, Default: "none", Enum: []string{"none", "bearer", "api_key", "basic", "oauth2"},
				Doc: "`oauth2` is the client credentials flow."},
			{Name: "token_env", Type: spec.SecretEnv, Doc: "bearer: the token's variable."},
			{Name: "token_file", Type: spec.SecretFile, Doc: "bearer: the token's file."},
			{Name: "header", Type: spec.String, Doc: "api_key: the header the key is sent in; `X-API-Key` when not set."},
			{Name: "query_param", Type: spec.String, Doc: "api_key: a query parameter to send the key in instead."},
			{Name: "key_env", Type: spec.SecretEnv, Doc: "api_key: the key's variable."},
			{Name: "key_file", Type: spec.SecretFile, Doc: "api_key: the key's file."},
			{Name: "username", Type: spec.String, Doc: "basic: the user name."},
			{Name: "password_env", Type: spec.SecretEnv, Doc: "basic: the password's variable."},
			{Name: "password_file", Type: spec.SecretFile, Doc: "basic: the password's file."},
			{Name: "token_url", Type: spec.String, Doc: "oauth2: the token endpoint."},
			{Name: "client_id", Type: spec.String, Doc: "oauth2: the client id."},
			{Name: "client_secret_env", Type: spec.SecretEnv, Doc: "oauth2: the client secret's variable."},
			{Name: "client_secret_file", Type: spec.SecretFile, Doc: "oauth2: the client secret's file."},
			{Name: "scopes", Type: spec.StringList, Doc: "oauth2: the scopes to ask for."},
		}}
	flattenField = spec.Field{Name: "flatten", Type: spec.Bool, Default: true,
		Doc: "Nested objects become parent_child columns; false keeps them as JSON columns."}
	rateLimitField = spec.Field{Name: "rate_limit", Type: spec.Number, Doc: "Requests per second; 0 for no limit."}
	timeoutField   = spec.Field{Name: "timeout", Type: spec.Duration, Example: "30s", Doc: "Bounds each request, its body included; 0 for none."}
	maxPagesField  = spec.Field{Name: "max_pages", Type: spec.Int, Default: 100000,
		Doc: "An extraction that would read more pages fails, rather than loop on an API that always has a next page."}
)

// incrementalField is the incremental key; paramDoc says what its param
// is.
func incrementalField(paramDoc string) spec.Field {
	return spec.Field{Name: "incremental", Type: spec.Object,
		Doc: "Ask only for the records after the last run's watermark; without it every run reads every record.",
		Fields: []spec.Field{
			{Name: "field", Type: spec.String, Required: true, Doc: "The watermark's dotted path in a record."},
			{Name: "param", Type: spec.String, Required: true, Doc: paramDoc},
			{Name: "initial", Type: spec.String, Doc: "The first run's watermark; empty sends none."},
		}}
}
