// Package jsonenc owns the JSON encoding of strings and numbers exactly as
// encoding/json writes them, append-style and without reflection: the outbox
// (calls.jsonl) and the preview (mapped business data) both render calls with
// it, so their JSON cannot drift apart.
package jsonenc
