package deploy_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// block is a parsed HCL block with its attributes evaluated: enough of the
// jobspec to check the wiring without Nomad's own (server-sized) parser.
type block struct {
	Type   string
	Labels []string
	Attrs  map[string]cty.Value
	Blocks []*block
}

// parseJobspec parses a jobspec with the HCL library and evaluates every
// attribute against the file's own variable defaults, overridden by vars,
// and locals, the way `nomad job run -var ...` does. An expression it cannot
// evaluate fails; of Nomad's functions it knows the ones the jobspecs use.
func parseJobspec(t *testing.T, name string, vars map[string]cty.Value) *block {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(filepath.Join("nomad", name))
	if diags.HasErrors() {
		t.Fatalf("%s: %s", name, diags.Error())
	}
	body := f.Body.(*hclsyntax.Body)
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: map[string]function.Function{"join": stdlib.JoinFunc}}
	values, locals := map[string]cty.Value{}, map[string]cty.Value{}
	for _, b := range body.Blocks {
		if b.Type == "variable" {
			if d, ok := b.Body.Attributes["default"]; ok {
				values[b.Labels[0]] = eval(t, d, ctx)
			}
		}
	}
	for n, v := range vars {
		if _, ok := values[n]; !ok {
			t.Fatalf("%s: -var %s: no such variable", name, n)
		}
		values[n] = v
	}
	ctx.Variables["var"] = cty.ObjectVal(values)
	for _, b := range body.Blocks {
		if b.Type == "locals" {
			for n, a := range b.Body.Attributes {
				locals[n] = eval(t, a, ctx)
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	var job *block
	for _, b := range body.Blocks {
		if b.Type == "job" {
			if job != nil {
				t.Fatalf("%s: more than one job", name)
			}
			job = convert(t, b, ctx)
		}
	}
	if job == nil {
		t.Fatalf("%s: no job block", name)
	}
	return job
}

func eval(t *testing.T, a *hclsyntax.Attribute, ctx *hcl.EvalContext) cty.Value {
	t.Helper()
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", a.Name, diags.Error())
	}
	return v
}

func convert(t *testing.T, b *hclsyntax.Block, ctx *hcl.EvalContext) *block {
	out := &block{Type: b.Type, Labels: b.Labels, Attrs: map[string]cty.Value{}}
	for n, a := range b.Body.Attributes {
		out.Attrs[n] = eval(t, a, ctx)
	}
	for _, c := range b.Body.Blocks {
		out.Blocks = append(out.Blocks, convert(t, c, ctx))
	}
	return out
}

// all returns the child blocks of a type.
func (b *block) all(typ string) []*block {
	var out []*block
	for _, c := range b.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// one returns the single child block of a type (nil when absent).
func (b *block) one(t *testing.T, typ string) *block {
	t.Helper()
	bs := b.all(typ)
	if len(bs) > 1 {
		t.Fatalf("%s %v: %d %s blocks", b.Type, b.Labels, len(bs), typ)
	}
	if len(bs) == 0 {
		return nil
	}
	return bs[0]
}

// named returns the child block of a type with a label.
func (b *block) named(typ, label string) *block {
	for _, c := range b.all(typ) {
		if len(c.Labels) > 0 && c.Labels[0] == label {
			return c
		}
	}
	return nil
}

// str returns a string (or number, as text) attribute; "" when absent.
func (b *block) str(name string) string {
	v, ok := b.Attrs[name]
	if !ok || v.IsNull() {
		return ""
	}
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case cty.Bool:
		return fmt.Sprint(v.True())
	}
	return v.GoString()
}

// envOf returns a block's attributes as strings (the env block).
func (b *block) strings() map[string]string {
	out := map[string]string{}
	if b == nil {
		return out
	}
	for n := range b.Attrs {
		out[n] = b.str(n)
	}
	return out
}

// walk visits b and every block under it.
func (b *block) walk(fn func(*block)) {
	fn(b)
	for _, c := range b.Blocks {
		c.walk(fn)
	}
}
