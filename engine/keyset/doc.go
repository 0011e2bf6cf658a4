// Package keyset holds sets of 64-bit keys with a 64-bit value each (row
// keys and fingerprints, call-id hashes) whose memory does not grow with
// their size: built once, in any order, then looked up one key at a time.
// Past a few thousand pairs a set lives in a scratch file, unlinked as soon
// as it is created (nothing is left behind, even after a kill), sorted by
// key; a lookup reads the one 1 KiB block that can hold its key, so the
// file stays in the page cache, not in the process. In memory there are
// 8 bytes per 64 pairs (the first key of each block). The state's prior
// index and the engine's multi-site dedup use it.
package keyset
