package dsl

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Masking happens where diagnostics are rendered, so that every renderer
// (text with snippets, JSON, GitHub annotations) and every diagnostic
// (created here, by hcl, by the engine's source checks or at run time) is
// covered. A snippet is cut from a masked copy of the file, where each
// secret reads "****"; the diagnostic's ranges are moved into that copy.
// Summaries and details lose any secret text they quote.

// minMaskText is the shortest secret masked in free text (summaries and
// details): replacing a shorter one everywhere would garble the sentence
// (our details never quote a secret; a snippet masks any length).
const minMaskText = 4

// masker renders one spec's diagnostics without its secrets.
type masker struct {
	files map[string]*hcl.File // masked copies of the files with secrets; others as parsed
	masks map[string]*fileMask // by file name
	known []string             // the spec's secret texts, for MaskSecrets
}

// fileMask is one file's masked copy and the secrets' original spans.
type fileMask struct {
	src   []byte
	spans []secretSpan // sorted, disjoint, original offsets
}

// masker returns nil when there is nothing to mask.
func (s *Spec) masker() *masker {
	if s == nil || (len(s.secrets) == 0 && len(s.secretText) == 0) {
		return nil
	}
	m := &masker{files: map[string]*hcl.File{}, masks: map[string]*fileMask{}}
	for name, f := range s.HCLFiles {
		m.files[name] = f
	}
	byFile := map[string][]secretSpan{}
	for _, sp := range s.secrets {
		byFile[sp.file] = append(byFile[sp.file], sp)
	}
	// The same secret elsewhere (a comment, another attribute) is masked too.
	for name, f := range s.HCLFiles {
		for _, t := range s.secretText {
			if len(t) < minMaskText || strings.ContainsRune(t, '\n') {
				continue
			}
			for i := 0; ; {
				j := bytes.Index(f.Bytes[i:], []byte(t))
				if j < 0 {
					break
				}
				byFile[name] = append(byFile[name], secretSpan{file: name, start: i + j, end: i + j + len(t)})
				i += j + len(t)
			}
		}
	}
	for name, spans := range byFile {
		f := s.HCLFiles[name]
		if f == nil {
			continue
		}
		fm := newFileMask(f.Bytes, spans)
		m.masks[name] = fm
		m.files[name] = &hcl.File{Body: f.Body, Bytes: fm.src, Nav: maskedNav{nav: f.Nav, fm: fm}}
	}
	for _, t := range s.secretText {
		if len(t) >= minMaskText {
			m.known = append(m.known, t)
		}
	}
	return m
}

func newFileMask(src []byte, spans []secretSpan) *fileMask {
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var merged []secretSpan
	for _, sp := range spans {
		if n := len(merged); n > 0 && sp.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, sp.end)
			continue
		}
		merged = append(merged, sp)
	}
	var out bytes.Buffer
	prev := 0
	for _, sp := range merged {
		out.Write(src[prev:sp.start])
		out.WriteString(mask)
		prev = sp.end
	}
	out.Write(src[prev:])
	return &fileMask{src: out.Bytes(), spans: merged}
}

// toMasked moves a byte offset of the original file into the masked copy.
// An offset inside a secret goes to the mask's start, or to its end when it
// ends a range (end), so a range over part of a secret covers the mask.
func (fm *fileMask) toMasked(off int, end bool) int {
	shift := 0
	for _, sp := range fm.spans {
		switch {
		case off >= sp.end:
			shift += sp.end - sp.start - len(mask)
		case off > sp.start:
			if end {
				return sp.start - shift + len(mask)
			}
			return sp.start - shift
		default:
			return off - shift
		}
	}
	return off - shift
}

// toOriginal is the inverse, for hcl's block context lookup.
func (fm *fileMask) toOriginal(off int) int {
	shift := 0
	for _, sp := range fm.spans {
		start := sp.start - shift
		switch {
		case off >= start+len(mask):
			shift += sp.end - sp.start - len(mask)
		case off > start:
			return sp.start
		default:
			return off + shift
		}
	}
	return off + shift
}

// pos is the position in the masked copy of an original position. Lines
// are unchanged: spans never hold a line break.
func (fm *fileMask) pos(p hcl.Pos, end bool) hcl.Pos {
	off := fm.toMasked(p.Byte, end)
	if off < 0 || off > len(fm.src) {
		return p
	}
	lineStart := bytes.LastIndexByte(fm.src[:off], '\n') + 1
	return hcl.Pos{Line: p.Line, Column: utf8.RuneCount(fm.src[lineStart:off]) + 1, Byte: off}
}

func (fm *fileMask) rng(r *hcl.Range) *hcl.Range {
	if r == nil {
		return nil
	}
	return &hcl.Range{Filename: r.Filename, Start: fm.pos(r.Start, false), End: fm.pos(r.End, true)}
}

// maskedNav answers hcl's "in source "engage" "dc1"" lookups for a masked
// copy from the original file's syntax tree.
type maskedNav struct {
	nav any
	fm  *fileMask
}

func (n maskedNav) ContextString(off int) string {
	if c, ok := n.nav.(interface{ ContextString(int) string }); ok {
		return c.ContextString(n.fm.toOriginal(off))
	}
	return ""
}

// words masks a diagnostic's summary and detail, keeping its ranges: for
// renderers without snippets, whose positions point into the real file.
func (m *masker) words(d *hcl.Diagnostic) *hcl.Diagnostic {
	if m == nil {
		return d
	}
	c := *d
	c.Summary, c.Detail = MaskSecrets(d.Summary, m.known...), MaskSecrets(d.Detail, m.known...)
	return &c
}

// snippet masks a diagnostic for rendering against m.files: words masked
// and ranges moved into the masked copy of their file.
func (m *masker) snippet(d *hcl.Diagnostic) *hcl.Diagnostic {
	if m == nil {
		return d
	}
	c := m.words(d)
	if d.Subject != nil {
		if fm := m.masks[d.Subject.Filename]; fm != nil {
			c.Subject = fm.rng(d.Subject)
		}
	}
	if d.Context != nil {
		if fm := m.masks[d.Context.Filename]; fm != nil {
			c.Context = fm.rng(d.Context)
		}
	}
	return c
}

// Mask removes the spec's secrets from text, for any output that may quote
// the spec (a message, a summary line).
func (s *Spec) Mask(text string) string {
	m := s.masker()
	if m == nil {
		return text
	}
	return MaskSecrets(text, m.known...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
