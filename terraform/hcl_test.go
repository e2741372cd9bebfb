package terraform_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// block is one top-level block of a Terraform file (resource, data, module, variable, ...),
// with enough context to read its attributes back as source text.
type block struct {
	module string // directory relative to terraform/: "." or "modules/services"
	file   string
	typ    string
	labels []string
	body   *hclsyntax.Body
	src    []byte
}

func (b block) String() string {
	return b.module + ": " + b.typ + " " + strings.Join(b.labels, ".")
}

// config is every top-level block of a tree of Terraform files.
type config []block

// parseDir reads every .tf file under dir with the HCL native-syntax parser.
func parseDir(t *testing.T, dir string) config {
	t.Helper()
	parser := hclparse.NewParser()
	var cfg config
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return nil
		}
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", path, diags.Error())
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			cfg = append(cfg, block{
				module: filepath.ToSlash(rel), file: path, typ: b.Type,
				labels: b.Labels, body: b.Body, src: f.Bytes,
			})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return cfg
}

// parseSnippet parses Terraform source given inline, as one module named ".".
func parseSnippet(t *testing.T, src string) config {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "snippet.tf")
	if diags.HasErrors() {
		t.Fatalf("parse snippet: %s", diags.Error())
	}
	var cfg config
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		cfg = append(cfg, block{module: ".", file: "snippet.tf", typ: b.Type, labels: b.Labels, body: b.Body, src: f.Bytes})
	}
	return cfg
}

// find returns the blocks of one type whose leading labels match.
func (c config) find(typ string, labels ...string) []block {
	var out []block
	for _, b := range c {
		if b.typ == typ && len(b.labels) >= len(labels) && slices.Equal(b.labels[:len(labels)], labels) {
			out = append(out, b)
		}
	}
	return out
}

// one returns the single block of a type and labels in a module, failing the test otherwise.
func (c config) one(t *testing.T, module, typ string, labels ...string) block {
	t.Helper()
	var out []block
	for _, b := range c.find(typ, labels...) {
		if b.module == module {
			out = append(out, b)
		}
	}
	if len(out) != 1 {
		t.Fatalf("want one %s %v in %s, found %d", typ, labels, module, len(out))
	}
	return out[0]
}

// text is the source of an expression with its whitespace collapsed.
func text(src []byte, e hclsyntax.Expression) string {
	r := e.Range()
	return strings.Join(strings.Fields(string(src[r.Start.Byte:r.End.Byte])), " ")
}

// attr returns an attribute's source text, or "" when the attribute is absent.
func (b block) attr(name string) string {
	a, ok := b.body.Attributes[name]
	if !ok {
		return ""
	}
	return text(b.src, a.Expr)
}

// nested returns the nested blocks of a type, searched depth-first through every level.
func nested(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
		out = append(out, nested(b.Body, typ)...)
	}
	return out
}

// literal evaluates an expression that must not reference anything (a constant).
func literal(e hclsyntax.Expression) (cty.Value, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// stringList lists the string constants of a list or tuple constant.
func stringList(e hclsyntax.Expression) []string {
	v, ok := literal(e)
	if !ok || !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		if el.Type() == cty.String {
			out = append(out, el.AsString())
		}
	}
	return out
}

// refs lists the references an expression makes, as dotted names ("aws_security_group.alb.id").
func refs(e hclsyntax.Expression) []string {
	var out []string
	for _, tr := range e.Variables() {
		var parts []string
		for _, step := range tr {
			switch s := step.(type) {
			case hcl.TraverseRoot:
				parts = append(parts, s.Name)
			case hcl.TraverseAttr:
				parts = append(parts, s.Name)
			case hcl.TraverseIndex:
				if s.Key.Type() == cty.String {
					parts = append(parts, `["`+s.Key.AsString()+`"]`)
				}
			}
		}
		out = append(out, strings.ReplaceAll(strings.Join(parts, "."), `.["`, `["`))
	}
	sort.Strings(out)
	return out
}

// field returns the value of key in an object constructor ({ key = value }), or nil.
func field(e hclsyntax.Expression, key string) hclsyntax.Expression {
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	for _, item := range obj.Items {
		k, ok := literal(item.KeyExpr)
		if !ok {
			if kw, isKw := item.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); isKw {
				if name := hcl.ExprAsKeyword(kw.Wrapped); name == key {
					return item.ValueExpr
				}
			}
			continue
		}
		if k.Type() == cty.String && k.AsString() == key {
			return item.ValueExpr
		}
	}
	return nil
}

// objectKeys lists the keys of an object constructor.
func objectKeys(e hclsyntax.Expression) []string {
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	var keys []string
	for _, item := range obj.Items {
		if kw, ok := item.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok {
			if name := hcl.ExprAsKeyword(kw.Wrapped); name != "" {
				keys = append(keys, name)
				continue
			}
		}
		if k, ok := literal(item.KeyExpr); ok && k.Type() == cty.String {
			keys = append(keys, k.AsString())
		}
	}
	return keys
}

// jsonencodeArg unwraps jsonencode(x) to x.
func jsonencodeArg(e hclsyntax.Expression) hclsyntax.Expression {
	if call, ok := e.(*hclsyntax.FunctionCallExpr); ok && call.Name == "jsonencode" && len(call.Args) == 1 {
		return call.Args[0]
	}
	return nil
}

// targets expands an attribute into what it can refer to: itself, or, when it is each.value, the
// values of the block's for_each object constructor.
func (b block) targets(name string) []string {
	a, ok := b.body.Attributes[name]
	if !ok {
		return nil
	}
	rs := refs(a.Expr)
	if len(rs) == 1 && rs[0] == "each.value" {
		fe, ok := b.body.Attributes["for_each"]
		if !ok {
			return rs
		}
		obj, ok := fe.Expr.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return rs
		}
		rs = nil
		for _, item := range obj.Items {
			rs = append(rs, refs(item.ValueExpr)...)
		}
	}
	return rs
}

func root(t *testing.T) config {
	t.Helper()
	if _, err := os.Stat("main.tf"); err != nil {
		t.Fatalf("run from terraform/: %v", err)
	}
	return parseDir(t, ".")
}
