package deploy

// The Terraform under deploy/terraform is checked here without Terraform,
// providers or a cloud account: every .tf file is parsed with HCL's native
// syntax parser and held to these rules, each of which a bad snippet in
// TestTerraformRulesCatchBadSnippets must break:
//
//   - formatted: hclwrite.Format leaves the file as it is (terraform fmt).
//   - variables-typed: every variable has a type and a description.
//   - no-literal-project: every attribute named project or project_id is an
//     expression that reads a variable, never a literal project id.
//   - no-basic-roles: no string anywhere names roles/editor or roles/owner.
//   - project-roles-allowed: every google_project_iam_member's role, literal
//     or read through for_each from the module's locals, is one of
//     bigquery.jobUser, cloudsql.client, monitoring.metricWriter,
//     logging.logWriter and cloudtrace.agent; google_project_iam_binding and
//     google_project_iam_policy (authoritative over the whole project) are
//     not used.
//   - buckets-hardened: every google_storage_bucket has
//     uniform_bucket_level_access = true, public_access_prevention =
//     "enforced" and at least one lifecycle_rule or a retention_policy.
//   - vars-declared: every var.X a module reads is declared in that module.
//   - outputs-described: every output has a description.
//   - module-calls-complete: a module block whose source is a module in this
//     tree sets every variable of it that has no default, and no argument it
//     does not declare.
//   - versions-pinned: every module requires Terraform >= 1.6 and pins
//     hashicorp/google to ">= 6.0, < 8.0".

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/shp-dev/shp/internal/monitor"
)

// allowedProjectRoles are the only roles granted on the whole project.
var allowedProjectRoles = []string{
	"roles/bigquery.jobUser",
	"roles/cloudsql.client",
	"roles/monitoring.metricWriter",
	"roles/logging.logWriter",
	"roles/cloudtrace.agent",
}

// tfFile is one parsed .tf file.
type tfFile struct {
	name string
	src  []byte
	body *hclsyntax.Body
}

// tfModule is the .tf files of one folder.
type tfModule struct {
	dir   string // relative to the tree's root, slash-separated
	files []*tfFile
}

// tfTree is every module under a root.
type tfTree struct {
	modules map[string]*tfModule
}

// parseTree parses files: folder (slash-separated) => file name => source.
func parseTree(files map[string]map[string]string) (*tfTree, error) {
	t := &tfTree{modules: map[string]*tfModule{}}
	dirs := make([]string, 0, len(files))
	for d := range files {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		m := &tfModule{dir: dir}
		names := make([]string, 0, len(files[dir]))
		for n := range files[dir] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			src := []byte(files[dir][name])
			f, diags := hclsyntax.ParseConfig(src, dir+"/"+name, hcl.InitialPos)
			if diags.HasErrors() {
				return nil, fmt.Errorf("%s/%s: %s", dir, name, diags.Error())
			}
			m.files = append(m.files, &tfFile{name: name, src: src, body: f.Body.(*hclsyntax.Body)})
		}
		t.modules[dir] = m
	}
	return t, nil
}

// readTree reads every .tf file under root.
func readTree(t *testing.T, root string) *tfTree {
	t.Helper()
	files := map[string]map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(path) != ".tf" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if files[rel] == nil {
			files[rel] = map[string]string{}
		}
		files[rel][d.Name()] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := parseTree(files)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// sortedModules returns the modules in folder order.
func (t *tfTree) sortedModules() []*tfModule {
	var out []*tfModule
	for _, m := range t.modules {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out
}

// blocks returns the module's top-level blocks of a type whose first labels
// are labels.
func (m *tfModule) blocks(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, f := range m.files {
		for _, b := range f.body.Blocks {
			if b.Type == typ && len(b.Labels) >= len(labels) && slices.Equal(b.Labels[:len(labels)], labels) {
				out = append(out, b)
			}
		}
	}
	return out
}

// where names a block: its file, line and labels.
func where(b *hclsyntax.Block) string {
	return fmt.Sprintf("%s:%d: %s %s", b.TypeRange.Filename, b.TypeRange.Start.Line, b.Type, strings.Join(b.Labels, "."))
}

// walkAttributes calls fn for every attribute of body and its nested blocks.
func walkAttributes(body *hclsyntax.Body, fn func(*hclsyntax.Attribute)) {
	for _, a := range body.Attributes {
		fn(a)
	}
	for _, b := range body.Blocks {
		walkAttributes(b.Body, fn)
	}
}

// literalString returns expr's value when it is a string that needs no
// variables or functions.
func literalString(expr hclsyntax.Expression) (string, bool) {
	if len(expr.Variables()) > 0 {
		return "", false
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// tfFunctions are the Terraform functions the checks evaluate locals with.
var tfFunctions = map[string]function.Function{
	"toset":  stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":  stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"sort":   stdlib.SortFunc,
	"concat": stdlib.ConcatFunc,
}

// locals evaluates the module's locals that need nothing but other locals
// and a few functions (role lists, PromQL); the rest are left out.
func (m *tfModule) locals() map[string]cty.Value {
	out := map[string]cty.Value{}
	var attrs []*hclsyntax.Attribute
	for _, b := range m.blocks("locals") {
		for _, a := range b.Body.Attributes {
			attrs = append(attrs, a)
		}
	}
	for range 3 { // a local may read another
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"local": cty.ObjectVal(out)}, Functions: tfFunctions}
		for _, a := range attrs {
			if _, done := out[a.Name]; done {
				continue
			}
			v, diags := a.Expr.Value(ctx)
			if !diags.HasErrors() && v.IsWhollyKnown() {
				out[a.Name] = v
			}
		}
	}
	return out
}

// tfRule is one rule every module must keep.
type tfRule struct {
	name  string
	check func(t *tfTree) []string
}

// tfRules are the rules above.
func tfRules() []tfRule {
	return []tfRule{
		{"formatted", checkFormatted},
		{"variables-typed", checkVariablesTyped},
		{"no-literal-project", checkNoLiteralProject},
		{"no-basic-roles", checkNoBasicRoles},
		{"project-roles-allowed", checkProjectRoles},
		{"buckets-hardened", checkBuckets},
		{"vars-declared", checkVarsDeclared},
		{"outputs-described", checkOutputsDescribed},
		{"module-calls-complete", checkModuleCalls},
		{"versions-pinned", checkVersions},
	}
}

func checkFormatted(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, f := range m.files {
			if got := hclwrite.Format(f.src); !bytes.Equal(got, f.src) {
				out = append(out, fmt.Sprintf("%s/%s is not formatted: run terraform fmt", m.dir, f.name))
			}
		}
	}
	return out
}

func checkVariablesTyped(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, b := range m.blocks("variable") {
			for _, need := range []string{"type", "description"} {
				if _, ok := b.Body.Attributes[need]; !ok {
					out = append(out, where(b)+" has no "+need)
				}
			}
			if d, ok := b.Body.Attributes["description"]; ok {
				if s, lit := literalString(d.Expr); lit && strings.TrimSpace(s) == "" {
					out = append(out, where(b)+" has an empty description")
				}
			}
		}
	}
	return out
}

func checkNoLiteralProject(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, f := range m.files {
			walkAttributes(f.body, func(a *hclsyntax.Attribute) {
				if a.Name != "project" && a.Name != "project_id" {
					return
				}
				readsVar := slices.ContainsFunc(a.Expr.Variables(), func(tr hcl.Traversal) bool { return tr.RootName() == "var" })
				if !readsVar {
					out = append(out, fmt.Sprintf("%s:%d: %s is not read from a variable", a.SrcRange.Filename, a.SrcRange.Start.Line, a.Name))
				}
			})
		}
	}
	return out
}

var basicRoleRE = regexp.MustCompile(`roles/(editor|owner)\b`)

func checkNoBasicRoles(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, f := range m.files {
			toks, diags := hclsyntax.LexConfig(f.src, m.dir+"/"+f.name, hcl.InitialPos)
			if diags.HasErrors() {
				out = append(out, diags.Error())
				continue
			}
			for _, tok := range toks {
				if (tok.Type == hclsyntax.TokenQuotedLit || tok.Type == hclsyntax.TokenStringLit) && basicRoleRE.Match(tok.Bytes) {
					out = append(out, fmt.Sprintf("%s:%d: %s", tok.Range.Filename, tok.Range.Start.Line, basicRoleRE.Find(tok.Bytes)))
				}
			}
		}
	}
	return out
}

func checkProjectRoles(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, typ := range []string{"google_project_iam_binding", "google_project_iam_policy"} {
			for _, b := range m.blocks("resource", typ) {
				out = append(out, where(b)+": authoritative over the whole project's IAM; use google_project_iam_member")
			}
		}
		locals := m.locals()
		for _, b := range m.blocks("resource", "google_project_iam_member") {
			roles, err := projectRoles(b, locals)
			if err != nil {
				out = append(out, where(b)+": "+err.Error())
				continue
			}
			for _, r := range roles {
				if !slices.Contains(allowedProjectRoles, r) {
					out = append(out, fmt.Sprintf("%s: role %s is not allowed on the project (allowed: %s)", where(b), r, strings.Join(allowedProjectRoles, ", ")))
				}
			}
		}
	}
	return out
}

// projectRoles returns the roles a google_project_iam_member grants: its
// literal role, or each.value/each.key over a for_each the checks can
// evaluate from literals and locals.
func projectRoles(b *hclsyntax.Block, locals map[string]cty.Value) ([]string, error) {
	role, ok := b.Body.Attributes["role"]
	if !ok {
		return nil, fmt.Errorf("no role")
	}
	if s, ok := literalString(role.Expr); ok {
		return []string{s}, nil
	}
	tr, diags := hcl.AbsTraversalForExpr(role.Expr)
	if diags.HasErrors() || tr.RootName() != "each" || len(tr) != 2 {
		return nil, fmt.Errorf("its role is neither a literal nor each.value: the check cannot read it")
	}
	fe, ok := b.Body.Attributes["for_each"]
	if !ok {
		return nil, fmt.Errorf("each.* without for_each")
	}
	v, d := fe.Expr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"local": cty.ObjectVal(locals)}, Functions: tfFunctions})
	if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil, fmt.Errorf("its for_each cannot be read from literals and locals: the check cannot read its roles")
	}
	var roles []string
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if tr[1].(hcl.TraverseAttr).Name == "key" {
			e = k
		}
		if e.Type() != cty.String {
			return nil, fmt.Errorf("for_each holds a %s, not role names", e.Type().FriendlyName())
		}
		roles = append(roles, e.AsString())
	}
	return roles, nil
}

func checkBuckets(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, b := range m.blocks("resource", "google_storage_bucket") {
			ubla, ok := b.Body.Attributes["uniform_bucket_level_access"]
			if v, diags := exprValue(ubla, ok); diags != nil || !v.RawEquals(cty.True) {
				out = append(out, where(b)+": uniform_bucket_level_access is not true")
			}
			pap, ok := b.Body.Attributes["public_access_prevention"]
			if v, diags := exprValue(pap, ok); diags != nil || !v.RawEquals(cty.StringVal("enforced")) {
				out = append(out, where(b)+`: public_access_prevention is not "enforced"`)
			}
			rules := slices.ContainsFunc(b.Body.Blocks, func(c *hclsyntax.Block) bool {
				return c.Type == "lifecycle_rule" || c.Type == "retention_policy"
			})
			if !rules {
				out = append(out, where(b)+": no lifecycle_rule or retention_policy: objects would be kept for ever")
			}
		}
	}
	return out
}

// exprValue evaluates a literal attribute; diags is non-nil when it is
// absent or not a literal.
func exprValue(a *hclsyntax.Attribute, present bool) (cty.Value, hcl.Diagnostics) {
	if !present {
		return cty.NilVal, hcl.Diagnostics{{Summary: "absent"}}
	}
	if len(a.Expr.Variables()) > 0 {
		return cty.NilVal, hcl.Diagnostics{{Summary: "not a literal"}}
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return v, nil
}

// varRefs returns the names of var.X the body reads, with where.
func varRefs(body *hclsyntax.Body) map[string]hcl.Range {
	refs := map[string]hcl.Range{}
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		if e, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && e.Traversal.RootName() == "var" && len(e.Traversal) > 1 {
			if attr, ok := e.Traversal[1].(hcl.TraverseAttr); ok {
				if _, seen := refs[attr.Name]; !seen {
					refs[attr.Name] = e.SrcRange
				}
			}
		}
		return nil
	})
	return refs
}

func checkVarsDeclared(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		declared := map[string]bool{}
		for _, b := range m.blocks("variable") {
			declared[b.Labels[0]] = true
		}
		for _, f := range m.files {
			refs := varRefs(f.body)
			names := make([]string, 0, len(refs))
			for n := range refs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if !declared[n] {
					r := refs[n]
					out = append(out, fmt.Sprintf("%s:%d: var.%s is not declared in %s", r.Filename, r.Start.Line, n, m.dir))
				}
			}
		}
	}
	return out
}

func checkOutputsDescribed(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, b := range m.blocks("output") {
			d, ok := b.Body.Attributes["description"]
			if s, lit := literalString(exprOf(d, ok)); !ok || (lit && strings.TrimSpace(s) == "") {
				out = append(out, where(b)+" has no description")
			}
		}
	}
	return out
}

// exprOf is a's expression, or an empty string literal when a is absent.
func exprOf(a *hclsyntax.Attribute, present bool) hclsyntax.Expression {
	if !present {
		return &hclsyntax.LiteralValueExpr{Val: cty.StringVal("")}
	}
	return a.Expr
}

// metaArguments are a module block's arguments that are not variables.
var metaArguments = []string{"source", "version", "providers", "count", "for_each", "depends_on"}

func checkModuleCalls(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		for _, b := range m.blocks("module") {
			src, ok := b.Body.Attributes["source"]
			s, lit := literalString(exprOf(src, ok))
			if !ok || !lit {
				out = append(out, where(b)+": no literal source")
				continue
			}
			if !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
				continue // a registry module: not in this tree
			}
			target, found := t.modules[pathClean(m.dir+"/"+s)]
			if !found {
				out = append(out, fmt.Sprintf("%s: source %s is not a module of this tree", where(b), s))
				continue
			}
			declared := map[string]bool{}
			for _, v := range target.blocks("variable") {
				name := v.Labels[0]
				declared[name] = true
				if _, hasDefault := v.Body.Attributes["default"]; hasDefault {
					continue
				}
				if _, set := b.Body.Attributes[name]; !set {
					out = append(out, fmt.Sprintf("%s: the required variable %s of %s is not set", where(b), name, target.dir))
				}
			}
			for name := range b.Body.Attributes {
				if !declared[name] && !slices.Contains(metaArguments, name) {
					out = append(out, fmt.Sprintf("%s: %s is not a variable of %s", where(b), name, target.dir))
				}
			}
		}
	}
	return out
}

// pathClean cleans a slash-separated path relative to the tree's root.
func pathClean(p string) string {
	return filepath.ToSlash(filepath.Clean(filepath.FromSlash(p)))
}

func checkVersions(t *tfTree) []string {
	var out []string
	for _, m := range t.sortedModules() {
		tfs := m.blocks("terraform")
		if len(tfs) != 1 {
			out = append(out, fmt.Sprintf("%s: %d terraform blocks, want 1", m.dir, len(tfs)))
			continue
		}
		tb := tfs[0]
		rv, ok := tb.Body.Attributes["required_version"]
		if s, _ := literalString(exprOf(rv, ok)); s != ">= 1.6" {
			out = append(out, fmt.Sprintf("%s: required_version %q, want \">= 1.6\"", where(tb), s))
		}
		var google cty.Value
		for _, rp := range tb.Body.Blocks {
			if rp.Type != "required_providers" {
				continue
			}
			if g, ok := rp.Body.Attributes["google"]; ok {
				google, _ = g.Expr.Value(nil)
			}
		}
		if google == cty.NilVal || !google.Type().IsObjectType() || !google.Type().HasAttribute("version") || !google.Type().HasAttribute("source") {
			out = append(out, where(tb)+": required_providers has no google with source and version")
			continue
		}
		if src := google.GetAttr("source"); src.AsString() != "hashicorp/google" {
			out = append(out, where(tb)+": google's source is "+src.AsString())
		}
		if v := google.GetAttr("version"); v.AsString() != ">= 6.0, < 8.0" {
			out = append(out, where(tb)+": google's version is "+v.AsString()+`, want ">= 6.0, < 8.0"`)
		}
	}
	return out
}

// terraformRoot is deploy/terraform.
func terraformRoot(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "deploy", "terraform")
}

// TestTerraformRules holds deploy/terraform to every rule.
func TestTerraformRules(t *testing.T) {
	tree := readTree(t, terraformRoot(t))
	for _, dir := range []string{"modules/shp", "examples/gcp"} {
		if tree.modules[dir] == nil {
			t.Fatalf("no module in deploy/terraform/%s", dir)
		}
	}
	for _, r := range tfRules() {
		t.Run(r.name, func(t *testing.T) {
			for _, p := range r.check(tree) {
				t.Error(p)
			}
		})
	}
}

// TestTerraformRulesCatchBadSnippets feeds each rule a module that breaks
// it, so that no rule can pass by checking nothing, and a good one that
// keeps every rule.
func TestTerraformRulesCatchBadSnippets(t *testing.T) {
	const versions = "terraform {\n  required_version = \">= 1.6\"\n\n  required_providers {\n    google = {\n      source  = \"hashicorp/google\"\n      version = \">= 6.0, < 8.0\"\n    }\n  }\n}\n"
	good := map[string]map[string]string{
		"mod": {
			"versions.tf": versions,
			"main.tf": `variable "project_id" {
  type        = string
  description = "The project."
}

variable "name" {
  type        = string
  description = "A name."
  default     = "x"
}

locals {
  roles = toset(["roles/bigquery.jobUser", "roles/logging.logWriter"])
}

resource "google_storage_bucket" "b" {
  project                     = var.project_id
  name                        = var.name
  location                    = "EU"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_project_iam_member" "m" {
  for_each = local.roles

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:x@y.iam.gserviceaccount.com"
}

output "bucket" {
  description = "The bucket."
  value       = google_storage_bucket.b.name
}
`,
		},
		"example": {
			"versions.tf": versions,
			"main.tf": `variable "project_id" {
  type        = string
  description = "The project."
}

provider "google" {
  project = var.project_id
}

module "m" {
  source     = "../mod"
  project_id = var.project_id
}
`,
		},
	}
	// with returns good with one file of one module replaced or added.
	with := func(dir, name, src string) map[string]map[string]string {
		out := map[string]map[string]string{}
		for d, files := range good {
			out[d] = map[string]string{}
			for n, s := range files {
				out[d][n] = s
			}
		}
		out[dir][name] = src
		return out
	}
	mainOf := good["mod"]["main.tf"]
	bad := map[string]map[string]map[string]string{
		"formatted": with("mod", "extra.tf", "locals {\n  a = 1\n  bb=2\n}\n"),
		"variables-typed": with("mod", "extra.tf", `variable "untyped" {
  description = "No type."
}

variable "undescribed" {
  type = string
}
`),
		"no-literal-project": with("example", "main.tf", strings.Replace(good["example"]["main.tf"], "project = var.project_id", `project = "my-project-123"`, 1)),
		"no-basic-roles":     with("mod", "main.tf", strings.Replace(mainOf, `"roles/logging.logWriter"`, `"roles/editor"`, 1)),
		"project-roles-allowed": with("mod", "extra.tf", `resource "google_project_iam_member" "admin" {
  project = var.project_id
  role    = "roles/storage.admin"
  member  = "serviceAccount:x@y.iam.gserviceaccount.com"
}

resource "google_project_iam_binding" "b" {
  project = var.project_id
  role    = "roles/viewer"
  members = []
}
`),
		"buckets-hardened": with("mod", "extra.tf", `resource "google_storage_bucket" "open" {
  project                     = var.project_id
  name                        = "open"
  location                    = "EU"
  uniform_bucket_level_access = false
}
`),
		"vars-declared":     with("mod", "extra.tf", "output \"o\" {\n  description = \"o\"\n  value       = var.undeclared\n}\n"),
		"outputs-described": with("mod", "extra.tf", "output \"o\" {\n  value = var.name\n}\n"),
		"module-calls-complete": with("example", "main.tf", strings.Replace(good["example"]["main.tf"],
			"  project_id = var.project_id\n", "  unknown = var.project_id\n", 1)),
		"versions-pinned": with("mod", "versions.tf", strings.Replace(versions, ">= 6.0, < 8.0", ">= 4.0", 1)),
	}
	rules := tfRules()
	if len(bad) != len(rules) {
		t.Fatalf("%d bad snippets for %d rules", len(bad), len(rules))
	}
	goodTree, err := parseTree(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			if p := r.check(goodTree); len(p) > 0 {
				t.Errorf("the good module breaks it: %v", p)
			}
			files, ok := bad[r.name]
			if !ok {
				t.Fatal("no bad snippet")
			}
			tree, err := parseTree(files)
			if err != nil {
				t.Fatalf("parse the bad snippet: %v", err)
			}
			p := r.check(tree)
			if len(p) == 0 {
				t.Error("the rule passed a module that breaks it")
			}
			t.Logf("reported: %v", p)
		})
	}
	// Each flaw is reported, not only the first.
	counts := map[string]int{"variables-typed": 2, "project-roles-allowed": 2, "buckets-hardened": 3, "module-calls-complete": 2}
	for _, r := range rules {
		if want, ok := counts[r.name]; ok {
			tree, _ := parseTree(bad[r.name])
			if p := r.check(tree); len(p) != want {
				t.Errorf("%s reported %d problem(s), want %d: %v", r.name, len(p), want, p)
			}
		}
	}
	// A role the check cannot read is a problem, not a pass.
	opaque, err := parseTree(with("mod", "extra.tf", "resource \"google_project_iam_member\" \"x\" {\n  project = var.project_id\n  role    = var.name\n  member  = \"user:a@b.c\"\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := checkProjectRoles(opaque); len(p) != 1 || !strings.Contains(p[0], "cannot read") {
		t.Errorf("a role from a variable: %v", p)
	}
}

// TestTerraformModuleShape checks what the module must contain, beyond the
// rules: the resources the deployment needs and their key settings.
func TestTerraformModuleShape(t *testing.T) {
	tree := readTree(t, terraformRoot(t))
	m := tree.modules["modules/shp"]
	counts := map[string]int{}
	for _, b := range m.blocks("resource") {
		counts[b.Labels[0]]++
	}
	for typ, min := range map[string]int{
		"google_storage_bucket": 2, "google_bigquery_dataset": 1, "google_sql_database_instance": 1, "google_sql_database": 1,
		"google_sql_user": 1, "random_password": 1, "google_secret_manager_secret": 3, "google_service_account": 1,
		"google_storage_bucket_iam_member": 2, "google_bigquery_dataset_iam_member": 1, "google_secret_manager_secret_iam_member": 2,
		"google_cloud_run_v2_service": 1, "google_pubsub_topic": 1, "google_pubsub_subscription": 1, "google_storage_notification": 1,
		"google_pubsub_topic_iam_member": 1, "google_monitoring_dashboard": 1, "google_monitoring_alert_policy": 1, "google_logging_metric": 1,
	} {
		if counts[typ] < min {
			t.Errorf("%d %s resource(s), want at least %d", counts[typ], typ, min)
		}
	}
	// The project-level roles the checks read are exactly the allowed ones.
	var granted []string
	for _, b := range m.blocks("resource", "google_project_iam_member") {
		roles, err := projectRoles(b, m.locals())
		if err != nil {
			t.Fatal(err)
		}
		granted = append(granted, roles...)
	}
	sort.Strings(granted)
	if want := slices.Sorted(slices.Values(allowedProjectRoles)); !slices.Equal(granted, want) {
		t.Errorf("project-level roles %v, want %v", granted, want)
	}
	for _, b := range m.blocks("resource", "google_bigquery_dataset") {
		a, ok := b.Body.Attributes["delete_contents_on_destroy"]
		if v, d := exprValue(a, ok); d != nil || !v.RawEquals(cty.False) {
			t.Errorf("%s: delete_contents_on_destroy is not false", where(b))
		}
	}
	// The Cloud Run service's source, for the settings that matter.
	run := m.blocks("resource", "google_cloud_run_v2_service")[0]
	src := string(run.Range().SliceBytes(fileOf(m, run).src))
	for _, want := range []string{`cpu_idle\s*=\s*false`, `path\s*=\s*"/healthz"`, `path\s*=\s*"/readyz"`,
		`min_instance_count\s*=\s*var\.min_instances`, `ingress\s*=\s*var\.ingress`, `cloud_sql_instance\s*\{`,
		`secret_key_ref\s*\{`, `image\s*=\s*var\.gmp_sidecar_image`, `depends_on\s*=\s*\["shp"\]`} {
		if !regexp.MustCompile(want).MatchString(src) {
			t.Errorf("the Cloud Run service does not match %s", want)
		}
	}
	vars := map[string]*hclsyntax.Block{}
	for _, b := range m.blocks("variable") {
		vars[b.Labels[0]] = b
	}
	for name, want := range map[string]cty.Value{
		"sql_deletion_protection": cty.True, "min_instances": cty.NumberIntVal(1), "allow_unauthenticated": cty.False,
		"gmp_sidecar_image": cty.StringVal("us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"),
	} {
		b, ok := vars[name]
		if !ok {
			t.Errorf("no variable %s", name)
			continue
		}
		a, ok := b.Body.Attributes["default"]
		if v, d := exprValue(a, ok); d != nil || !v.RawEquals(want) {
			t.Errorf("variable %s defaults to %#v, want %#v", name, v, want)
		}
	}
	// Every variable with a validation names itself in its condition.
	for name, b := range vars {
		for _, v := range b.Body.Blocks {
			if v.Type != "validation" {
				continue
			}
			if _, ok := varRefs(v.Body)[name]; !ok {
				t.Errorf("variable %s: its validation does not read var.%s", name, name)
			}
		}
	}
}

// fileOf returns the file a top-level block is in.
func fileOf(m *tfModule, b *hclsyntax.Block) *tfFile {
	for _, f := range m.files {
		if slices.Contains(f.body.Blocks, b) {
			return f
		}
	}
	return nil
}

// TestDashboardsAreCurrent checks that the module's dashboards are what
// shp export cloud-monitoring writes today.
func TestDashboardsAreCurrent(t *testing.T) {
	files, err := monitor.CloudMonitoring(monitor.Dashboards())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(terraformRoot(t), "modules", "shp", "dashboards")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(files) {
		t.Errorf("%d files in %s, shp writes %d", len(entries), dir, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Errorf("%v: run go run ./cmd/shp export cloud-monitoring --out deploy/terraform/modules/shp/dashboards", err)
			continue
		}
		if !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(f.JSON)) {
			t.Errorf("%s differs from what shp export cloud-monitoring writes: run go run ./cmd/shp export cloud-monitoring --out deploy/terraform/modules/shp/dashboards", f.Name)
		}
		var d struct {
			DisplayName  string          `json:"displayName"`
			MosaicLayout json.RawMessage `json:"mosaicLayout"`
		}
		if err := json.Unmarshal(b, &d); err != nil || d.DisplayName == "" || len(d.MosaicLayout) == 0 {
			t.Errorf("%s is not a Cloud Monitoring dashboard: %v", f.Name, err)
		}
	}
}

// TestAlertPoliciesMatchPrometheusRules checks that the module's PromQL
// alert policies are the expressions of shp export prometheus-rules, with
// its recording rules written out.
func TestAlertPoliciesMatchPrometheusRules(t *testing.T) {
	cfg, problems := monitor.ParseConfig(nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	raw, err := monitor.PrometheusRules(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Record, Alert, Expr string
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	alerts := map[string]string{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record] = r.Expr
			} else {
				alerts[r.Alert] = r.Expr
			}
		}
	}
	tree := readTree(t, terraformRoot(t))
	promql, ok := tree.modules["modules/shp"].locals()["promql"]
	if !ok {
		t.Fatal("the module has no local promql the checks can read")
	}
	space := regexp.MustCompile(`\s+`)
	norm := func(s string) string { return strings.TrimSpace(space.ReplaceAllString(s, " ")) }
	for it := promql.ElementIterator(); it.Next(); {
		k, v := it.Element()
		name := k.AsString()
		want, ok := alerts[name]
		if !ok {
			t.Errorf("local.promql.%s: shp export prometheus-rules has no alert %s", name, name)
			continue
		}
		// Cloud Monitoring has no recording rules: write them out.
		for rec, expr := range records {
			want = strings.ReplaceAll(want, rec, "("+expr+")")
		}
		got := v.AsString()
		// A recording rule written out may lose its parentheses when it is
		// the whole left-hand side.
		if norm(got) != norm(want) && norm("("+strings.TrimSuffix(got, " > 0")+") > 0") != norm(want) {
			t.Errorf("local.promql.%s = %q, shp export prometheus-rules says %q", name, got, want)
		}
	}
	if n := promql.LengthInt(); n < 4 {
		t.Errorf("%d PromQL queries compared, want the 4 of run failed, run held, approval pending and quality drop", n)
	}
	for _, name := range []string{"ShpRunFailed", "ShpApprovalPending", "ShpQualityDrop"} {
		if _, ok := promql.Type().AttributeTypes()[name]; !ok {
			t.Errorf("no alert policy query for %s", name)
		}
	}
}

// serviceEnv returns the names of the environment variables the module's
// Cloud Run service sets: the keys of local.shp_env and of the objects in
// local.shp_secret_env.
func serviceEnv(t *testing.T, m *tfModule) []string {
	t.Helper()
	var names []string
	for _, b := range m.blocks("locals") {
		for _, local := range []string{"shp_env", "shp_secret_env"} {
			a, ok := b.Body.Attributes[local]
			if !ok {
				continue
			}
			hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
				if k, ok := n.(*hclsyntax.ObjectConsKeyExpr); ok {
					if name := hcl.ExprAsKeyword(k); name != "" {
						names = append(names, name)
					}
				}
				return nil
			})
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no environment variables found in local.shp_env and local.shp_secret_env")
	}
	return slices.Compact(names)
}

// projectEnvRefs returns the ${VAR} (without a default) the YAML files of
// a project folder read.
func projectEnvRefs(t *testing.T, dir string) []string {
	t.Helper()
	ref := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range ref.FindAllStringSubmatch(line, -1) {
				names = append(names, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// TestSampleProjectReadsTheServiceEnvironment checks that every ${VAR} the
// image's sample project (deploy/project) needs is set by the Cloud Run
// service the module defines, so the two cannot drift apart.
func TestSampleProjectReadsTheServiceEnvironment(t *testing.T) {
	tree := readTree(t, terraformRoot(t))
	env := serviceEnv(t, tree.modules["modules/shp"])
	refs := projectEnvRefs(t, filepath.Join(repoRoot(t), "deploy", "project"))
	if len(refs) == 0 {
		t.Fatal("deploy/project reads no environment variable")
	}
	for _, r := range refs {
		if !slices.Contains(env, r) {
			t.Errorf("deploy/project reads ${%s}, which the Cloud Run service does not set (it sets %v)", r, env)
		}
	}
	for _, want := range []string{"SHP_METADATA_DSN", "TEAMS_WEBHOOK_URL", "GOOGLE_CLOUD_PROJECT"} {
		if !slices.Contains(env, want) {
			t.Errorf("the service does not set %s", want)
		}
	}
}
