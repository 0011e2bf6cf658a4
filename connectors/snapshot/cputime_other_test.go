//go:build !unix

package snapshot

import "time"

func cpuTime() time.Duration { return 0 }

func maxRSS() float64 { return 0 }
