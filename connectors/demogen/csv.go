package demogen

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// appendCSV appends s as one RFC 4180 field, quoted only when it holds a
// comma, quote, CR or LF. Spaces are kept unquoted on purpose: readers must
// not trim them (duplicate emails differ by surrounding spaces).
func appendCSV(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// countingWriter counts the bytes that reach the file, for Stats.Bytes.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// csvFile is one output file behind a 1 MiB buffer.
type csvFile struct {
	name string
	f    *os.File
	cw   countingWriter
	bw   *bufio.Writer
}

const bufSize = 1 << 20

func createCSV(path, header string) (*csvFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("demogen: %w", err)
	}
	c := &csvFile{name: path, f: f}
	c.cw.w = f
	c.bw = bufio.NewWriterSize(&c.cw, bufSize)
	if _, err := c.bw.WriteString(header + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("demogen: writing %s: %w", path, err)
	}
	return c, nil
}

// buf returns the free part of the buffer to append one row to; write hands
// it back. Rows are built in place, without a copy, when they fit.
func (c *csvFile) buf() []byte { return c.bw.AvailableBuffer() }

func (c *csvFile) write(row []byte) error {
	if _, err := c.bw.Write(row); err != nil {
		return fmt.Errorf("demogen: writing %s: %w", c.name, err)
	}
	return nil
}

// close flushes and closes; it reports the first error.
func (c *csvFile) close() error {
	err := c.bw.Flush()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("demogen: writing %s: %w", c.name, err)
	}
	return nil
}
