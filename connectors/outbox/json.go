package outbox

import "github.com/applink-dev/applink/engine/jsonenc"

// The outbox's JSON is engine/jsonenc's, shared with the preview.

func appendJSONString[S []byte | string](dst []byte, s S) []byte { return jsonenc.AppendString(dst, s) }

func appendJSONFloat(dst []byte, f float64) ([]byte, error) { return jsonenc.AppendFloat(dst, f) }
