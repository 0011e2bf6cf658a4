// Package job runs the engine's long work (a preview, an apply) off the
// Bubble Tea loop and turns it into messages (see Job).
package job
