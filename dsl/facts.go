package dsl

import "github.com/expr-lang/expr/ast"

// Facts about an expression are read once, from the tree of its compiled
// program (vm.Program.Node: parsed, type-checked and optimised, so
// parentheses are gone and `-3` is one integer), and stored on the Filter or
// Field. The engine acts on them and never parses expression text again.

// DirectKind is a field shape the engine computes from the call's business
// data without running the program: running the VM 50 times per call would
// cost more than reading the CSV. Both paths give the same result (engine
// tests compare them).
type DirectKind uint8

const (
	DirectNone  DirectKind = iota // run the compiled program
	DirectText                    // text = bd.X (or bd["X"])
	DirectFloat                   // number = float(bd.X)
	DirectEqual                   // boolean = bd.X == "lit" (either side)
)

// Direct says how a field may be computed without the VM.
type Direct struct {
	Kind DirectKind
	BD   string // the business-data name the shape reads
	Lit  string // the literal DirectEqual compares with
}

// readsIdent reports whether the tree names ident anywhere, closures
// included. `$env` reads every name, so it counts as reading ident.
func readsIdent(root ast.Node, ident string) bool {
	v := &identVisitor{name: ident}
	ast.Walk(&root, v)
	return v.found
}

type identVisitor struct {
	name  string
	found bool
}

func (v *identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok && (id.Value == v.name || id.Value == "$env") {
		v.found = true
	}
}

// tenantEquals recognises `tenant_id == N` (or `N == tenant_id`), which a
// source can push down into its query.
func tenantEquals(root ast.Node) *int64 {
	bn, ok := root.(*ast.BinaryNode)
	if !ok || bn.Operator != "==" {
		return nil
	}
	l, r := bn.Left, bn.Right
	if _, ok := r.(*ast.IdentifierNode); ok {
		l, r = r, l
	}
	id, ok := l.(*ast.IdentifierNode)
	if !ok || id.Value != "tenant_id" {
		return nil
	}
	n, ok := r.(*ast.IntegerNode)
	if !ok {
		return nil
	}
	v := int64(n.Value)
	return &v
}

// directShape recognises the shapes of a field of type typ that the engine
// reads directly.
func directShape(root ast.Node, typ string) Direct {
	switch typ {
	case TypeText:
		if name, ok := bdMember(root); ok {
			return Direct{Kind: DirectText, BD: name}
		}
	case TypeNumber:
		if b, ok := root.(*ast.BuiltinNode); ok && b.Name == "float" && len(b.Arguments) == 1 {
			if name, ok := bdMember(b.Arguments[0]); ok {
				return Direct{Kind: DirectFloat, BD: name}
			}
		}
	case TypeBoolean:
		if b, ok := root.(*ast.BinaryNode); ok && b.Operator == "==" {
			l, r := b.Left, b.Right
			if _, ok := l.(*ast.StringNode); ok {
				l, r = r, l
			}
			if name, ok := bdMember(l); ok {
				if s, ok := r.(*ast.StringNode); ok {
					return Direct{Kind: DirectEqual, BD: name, Lit: s.Value}
				}
			}
		}
	}
	return Direct{}
}

// bdMember recognises `bd.NAME` and `bd["NAME"]`. `bd?.NAME` is left to the
// VM: it is a different node (a chain) and reads nil for a nil map.
func bdMember(n ast.Node) (string, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return "", false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "bd" {
		return "", false
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// TenantEquals is the tenant id of a tenant filter of the form
// `tenant_id == N`, read from the fact stored at compile time.
func TenantEquals(f *Filter) (int64, bool) {
	if f == nil || f.TenantID == nil {
		return 0, false
	}
	return *f.TenantID, true
}

// bdNames lists the business-data names an expression reads by name
// (`bd.X`, `bd["X"]`, `bd?.X`), in first-use order, once each: the engine
// compares them with the names the source carries (a typo loses a field).
func bdNames(root ast.Node) []string {
	v := &bdNameVisitor{}
	ast.Walk(&root, v)
	return v.names
}

type bdNameVisitor struct{ names []string }

func (v *bdNameVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || m.Method {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "bd" {
		return
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	for _, have := range v.names {
		if have == s.Value {
			return
		}
	}
	v.names = append(v.names, s.Value)
}
