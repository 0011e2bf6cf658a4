package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one verb's command line: its flag set, its positional
// arguments and the values its --format accepts. Usage lines are generated
// from the flag set, so they cannot drift from the flags.
type command struct {
	name    string
	args    string // positional arguments for the usage line: "DIR", "[DIR]", "DIR…"
	fs      *flag.FlagSet
	std     stdio
	formats []string // what --format accepts; nil when the verb has no --format
	format  *string
}

// Diagnostics and report formats (shared/README.md §6: --format always names
// the output format).
var (
	diagFormats   = []string{"text", "json", "github"}
	reportFormats = []string{"text", "json", "html"}
)

func newCommand(name, args string, std stdio) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package prints usage itself on errors and -help; we print it
	// once, where it belongs (stdout for --help, stderr for mistakes).
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{name: name, args: args, fs: fs, std: std}
}

// withFormat defines --format: the verb's output format, one of values.
func (c *command) withFormat(def string, values []string, what string) *string {
	c.formats = values
	c.format = c.fs.String("format", def, what+" (`"+strings.Join(values, "|")+"`)")
	return c.format
}

// parse parses args, allowing flags after positional arguments
// (`applink run DIR --out X`), and returns the positional ones. ok=false
// means the verb should return code: --help printed (0) or a usage error (2).
func (c *command) parse(args []string) (pos []string, code int, ok bool) {
	if c.std.inspect != nil {
		c.std.inspect(c)
	}
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.usage(c.std.out)
				return nil, exitOK, false
			}
			fmt.Fprintf(c.std.err, "applink %s: %v\n", c.name, err)
			c.usageLine(c.std.err)
			return nil, exitUsage, false
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if c.format != nil && !slices.Contains(c.formats, *c.format) {
		fmt.Fprintf(c.std.err, "applink %s: --format must be %s, not %q\n", c.name, orList(c.formats), *c.format)
		return nil, exitUsage, false
	}
	return pos, 0, true
}

// oneDir parses args and checks that exactly one DIR was given.
func (c *command) oneDir(args []string) (dir string, code int, ok bool) {
	pos, code, ok := c.parse(args)
	if !ok {
		return "", code, false
	}
	if len(pos) != 1 {
		fmt.Fprintf(c.std.err, "applink %s: expected one spec folder, got %d arguments\n", c.name, len(pos))
		c.usageLine(c.std.err)
		return "", exitUsage, false
	}
	return pos[0], 0, true
}

// usageLine is "Usage: applink VERB [--flag VALUE]… ARGS", from the flags.
func (c *command) usageLine(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: applink %s", c.name)
	c.fs.VisitAll(func(f *flag.Flag) {
		if v := valueName(f); v != "" {
			fmt.Fprintf(&b, " [--%s %s]", f.Name, v)
		} else {
			fmt.Fprintf(&b, " [--%s]", f.Name)
		}
	})
	if c.args != "" {
		b.WriteString(" " + c.args)
	}
	fmt.Fprintln(w, b.String())
}

// usage is the whole --help text: usage line, summary, flags.
func (c *command) usage(w io.Writer) {
	c.usageLine(w)
	fmt.Fprintf(w, "\n%s\n", verbs()[c.name].summary)
	var rows [][2]string
	width := 0
	c.fs.VisitAll(func(f *flag.Flag) {
		left := "--" + f.Name
		if v := valueName(f); v != "" {
			left += " " + v
		}
		_, text := flag.UnquoteUsage(f)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		rows = append(rows, [2]string{left, text})
		width = max(width, len(left))
	})
	if len(rows) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		for _, r := range rows {
			fmt.Fprintf(w, "  %-*s  %s\n", width, r[0], r[1])
		}
	}
}

// valueName is a flag's placeholder: the `NAME` quoted in its usage, or one
// named for its type; "" for a boolean flag.
func valueName(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return ""
	}
	name, _ := flag.UnquoteUsage(f)
	switch name {
	case "string", "value":
		return "VALUE"
	case "int", "uint":
		return "N"
	case "duration":
		return "DURATION"
	}
	return name
}

func orList(values []string) string {
	if len(values) <= 1 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}
