package help

import (
	"reflect"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
)

// bindings lists every binding of Keys by field name.
func bindings(k Keys) map[string]key.Binding {
	out := map[string]key.Binding{}
	v := reflect.ValueOf(k)
	for i := range v.NumField() {
		out[v.Type().Field(i).Name] = v.Field(i).Interface().(key.Binding)
	}
	return out
}

// TestKeysAreDistinctAndDocumented: no key is bound twice (a pane would
// match the wrong binding), and the help pane lists every binding.
func TestKeysAreDistinctAndDocumented(t *testing.T) {
	k := DefaultKeys()
	owner := map[string]string{}
	all := bindings(k)
	for name, b := range all {
		if len(b.Keys()) == 0 || b.Help().Key == "" || b.Help().Desc == "" {
			t.Errorf("%s: no keys or no help", name)
		}
		for _, key := range b.Keys() {
			if o, ok := owner[key]; ok {
				t.Errorf("key %q is bound to %s and %s", key, o, name)
			}
			owner[key] = name
		}
	}
	listed := 0
	for _, col := range k.FullHelp() {
		listed += len(col)
	}
	if listed != len(all) {
		t.Errorf("the help pane lists %d bindings, Keys has %d", listed, len(all))
	}
	view := New(k).SetSize(120, 40).View()
	for name, b := range all {
		if !strings.Contains(view, b.Help().Desc) {
			t.Errorf("the help pane does not show %s (%q)", name, b.Help().Desc)
		}
	}
	if short := New(k).SetSize(200, 1).Short(); !strings.Contains(short, "quit") {
		t.Errorf("the footer does not say how to quit: %q", short)
	}
}

// TestScroll: the scrolling keys move a viewport and say so; others do not.
func TestScroll(t *testing.T) {
	k := DefaultKeys()
	vp := viewport.New(viewport.WithWidth(20), viewport.WithHeight(2))
	vp.SetContent(strings.Repeat("line\n", 50))
	for _, tc := range []struct {
		msg    tea.KeyPressMsg
		moved  bool
		offset int
	}{
		{tea.KeyPressMsg{Code: tea.KeyDown}, true, 1},
		{tea.KeyPressMsg{Code: 'j', Text: "j"}, true, 2},
		{tea.KeyPressMsg{Code: tea.KeyUp}, true, 1},
		{tea.KeyPressMsg{Code: tea.KeyPgDown}, true, 3},
		{tea.KeyPressMsg{Code: 'x', Text: "x"}, false, 3},
	} {
		if moved := k.Scroll(&vp, tc.msg); moved != tc.moved || vp.YOffset() != tc.offset {
			t.Errorf("%s: moved %v offset %d, want %v %d", tc.msg, moved, vp.YOffset(), tc.moved, tc.offset)
		}
	}
}
