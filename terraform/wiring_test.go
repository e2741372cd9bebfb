package terraform_test

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// metaArguments are module-block arguments that are not input variables.
var metaArguments = map[string]bool{"source": true, "count": true, "for_each": true, "depends_on": true, "providers": true, "version": true}

// expressions yields every expression in a body, nested blocks included.
func expressions(body *hclsyntax.Body, yield func(hclsyntax.Expression)) {
	for _, a := range body.Attributes {
		yield(a.Expr)
	}
	for _, b := range body.Blocks {
		expressions(b.Body, yield)
	}
}

// wiringProblems is what `terraform validate` would report about references, checked without
// providers: every var, local, module output, resource and data source that an expression names
// is declared, and every module call passes exactly the variables its module declares, all the
// required ones included.
func wiringProblems(cfg config) []string {
	type module struct {
		vars, required, locals, outputs, resources, calls map[string]bool
		callSource                                        map[string]string
	}
	modules := map[string]*module{}
	get := func(name string) *module {
		m, ok := modules[name]
		if !ok {
			m = &module{map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]string{}}
			modules[name] = m
		}
		return m
	}
	for _, b := range cfg {
		m := get(b.module)
		switch b.typ {
		case "variable":
			m.vars[b.labels[0]] = true
			if _, ok := b.body.Attributes["default"]; !ok {
				m.required[b.labels[0]] = true
			}
		case "locals":
			for name := range b.body.Attributes {
				m.locals[name] = true
			}
		case "output":
			m.outputs[b.labels[0]] = true
		case "resource", "ephemeral":
			m.resources[b.typ+"."+b.labels[0]+"."+b.labels[1]] = true
		case "data":
			m.resources["data."+b.labels[0]+"."+b.labels[1]] = true
		case "module":
			m.calls[b.labels[0]] = true
			m.callSource[b.labels[0]] = path.Clean(path.Join(b.module, strings.Trim(b.attr("source"), `"`)))
		}
	}

	var p []string
	for _, b := range cfg {
		m := get(b.module)
		if b.typ == "module" {
			target, ok := modules[m.callSource[b.labels[0]]]
			if !ok {
				p = append(p, fmt.Sprintf("%s: no module at %s", b, m.callSource[b.labels[0]]))
				continue
			}
			for arg := range b.body.Attributes {
				if !metaArguments[arg] && !target.vars[arg] {
					p = append(p, fmt.Sprintf("%s passes %s, which the module does not declare", b, arg))
				}
			}
			for v := range target.required {
				if _, ok := b.body.Attributes[v]; !ok {
					p = append(p, fmt.Sprintf("%s does not pass the required variable %s", b, v))
				}
			}
		}
		expressions(b.body, func(e hclsyntax.Expression) {
			for _, tr := range e.Variables() {
				name := tr.RootName()
				attr := func(i int) string {
					if len(tr) > i {
						if a, ok := tr[i].(hcl.TraverseAttr); ok {
							return a.Name
						}
					}
					return ""
				}
				var missing string
				switch {
				case name == "var" && !m.vars[attr(1)]:
					missing = "variable " + attr(1)
				case name == "local" && !m.locals[attr(1)]:
					missing = "local " + attr(1)
				case name == "module":
					call := attr(1)
					if !m.calls[call] {
						missing = "module " + call
						break
					}
					// module.x.out or module.x[0].out / module.x[*].out
					out := attr(2)
					if out == "" && len(tr) > 3 {
						out = attr(3)
					}
					if target := modules[m.callSource[call]]; target != nil && out != "" && !target.outputs[out] {
						missing = "output " + out + " of module " + call
					}
				case name == "data" && !m.resources["data."+attr(1)+"."+attr(2)]:
					missing = "data source " + attr(1) + "." + attr(2)
				case name == "ephemeral" && !m.resources["ephemeral."+attr(1)+"."+attr(2)]:
					missing = "ephemeral resource " + attr(1) + "." + attr(2)
				case strings.Contains(name, "_") && !strings.HasPrefix(name, "each") && attr(1) != "" &&
					isResourceType(name) && !m.resources["resource."+name+"."+attr(1)]:
					missing = "resource " + name + "." + attr(1)
				}
				if missing != "" {
					p = append(p, fmt.Sprintf("%s (%s:%d) refers to the undeclared %s", b, b.file, tr.SourceRange().Start.Line, missing))
				}
			}
		})
	}
	sort.Strings(p)
	return p
}

// isResourceType tells resource references (aws_lb.this) from iterator symbols of dynamic blocks
// and for expressions, by the provider prefixes this configuration uses.
func isResourceType(name string) bool {
	for _, prefix := range []string{"aws_", "pinecone_", "random_", "terraform_"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

func TestEveryReferenceIsDeclared(t *testing.T) {
	t.Parallel()
	for _, problem := range wiringProblems(root(t)) {
		t.Error(problem)
	}
}

func TestWiringChecksCatchMistakes(t *testing.T) {
	t.Parallel()
	cfg := parseSnippet(t, `
variable "used" {
  type = string
}
locals {
  known = var.used
}
resource "aws_sqs_queue" "q" {
  name = "${local.known}-${var.typo}-${local.unknown}"
}
output "o" {
  value = aws_sqs_queue.q.arn
}
resource "aws_iam_role" "r" {
  name = aws_sqs_queue.missing.name
  tags = { a = data.aws_iam_policy_document.nope.json }
}
`)
	got := strings.Join(wiringProblems(cfg), "\n")
	for _, want := range []string{"undeclared variable typo", "undeclared local unknown", "undeclared resource aws_sqs_queue.missing", "undeclared data source aws_iam_policy_document.nope"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "variable used") || strings.Contains(got, "local known") || strings.Contains(got, "undeclared resource aws_sqs_queue.q\n") {
		t.Errorf("declared names reported: %q", got)
	}
}
