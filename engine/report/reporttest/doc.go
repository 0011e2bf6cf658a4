// Package reporttest checks a rendered report against the report it was
// made from: the text of an HTML page as a browser parses it, and a pattern
// per count that must appear beside what it counts. The report's own tests
// and the CLI's use it.
package reporttest
