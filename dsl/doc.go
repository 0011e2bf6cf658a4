// Package dsl owns the spec language: the HCL schema of a customer's spec
// folder, decoding it into a typed Spec, validating it (every problem in one
// pass, as hcl.Diagnostics with ranges), and compiling its expr-lang
// expressions once, against typed environments, so that a typo fails at
// validate time rather than on the millionth row.
//
// Files: load.go (Load, Parse, the schema), decode.go (blocks into a Spec),
// validate.go (checks across blocks), expr.go (compiling expressions and
// mapping expr's positions back into the .hcl file), runtime.go (the same
// for run-time errors), render.go (diagnostics as text, JSON and GitHub
// annotations, apart from creating them), format.go (canonical layout).
//
// It sits at the bottom of the dependency graph: it imports hcl, cty and expr,
// never engine or a connector.
package dsl
