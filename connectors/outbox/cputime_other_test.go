//go:build !unix

package outbox

import "time"

func cpuTime() time.Duration { return 0 }
