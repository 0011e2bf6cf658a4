// Package stages owns stepping through a preview: n runs the preview (the
// first time, through the preview machinery, which never touches state or the
// sink) and then reveals one stage at a time with how many rows entered, left
// and why; N/p go back. Enter on a reason asks the rows pane for samples.
package stages
