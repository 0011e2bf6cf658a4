// Package dsl owns the spec language: the HCL schema of a customer's spec
// folder, decoding it into a typed Spec, validating it (every problem in one
// pass, as hcl.Diagnostics with ranges), and compiling its expr-lang
// expressions once, against typed environments, so that a typo fails at
// validate time rather than on the millionth row.
//
// Files: load.go (Load, Parse, the schema), decode.go (blocks into a Spec),
// validate.go (checks across blocks), expr.go (compiling expressions and
// mapping expr's positions back into the .hcl file), facts.go (what the
// engine needs to know about an expression, read once from the compiled
// tree), runtime.go (run-time expression errors placed in the spec),
// secrets.go (literal secrets anywhere are errors, and where they are),
// render.go and mask.go (diagnostics as text, JSON and GitHub annotations,
// apart from creating them, never showing a secret), format.go (canonical
// layout).
//
// It sits at the bottom of the dependency graph: it imports hcl, cty and expr,
// never engine or a connector.
package dsl
