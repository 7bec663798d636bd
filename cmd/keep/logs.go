package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// setupLogs makes c.log for --log-level and --log-format. With
// --log-format json, every line keep itself writes to stderr is a JSON
// object with time, level and msg: its logs through slog's JSON handler,
// and its other messages (errors, "listening on" lines, warnings) through
// jsonLines. The guest's own stderr is passed through untouched, on
// c.guestStderr.
func (c *cli) setupLogs(lv slog.Level) error {
	if c.guestStderr == nil {
		c.guestStderr = c.stderr
	}
	switch c.format {
	case "", "text":
		c.log = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: lv}))
	case "json":
		if _, ok := c.stderr.(*jsonLines); !ok {
			w := &lockedWriter{w: c.guestStderr}
			c.stderr = &jsonLines{h: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})}
			c.logOut = w
		}
		c.log = slog.New(slog.NewJSONHandler(c.logOut, &slog.HandlerOptions{Level: lv}))
	default:
		return usageError{fmt.Sprintf("--log-format %q: want text or json", c.format)}
	}
	return nil
}

// lockedWriter serialises writes of whole records from two handlers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// jsonLines turns the lines keep prints ("keep: ...") into JSON log
// records: msg is the line without its "keep: " prefix; the level is WARN
// for "warning: " lines and INFO otherwise (errors go through errorLine).
type jsonLines struct {
	h   slog.Handler
	mu  sync.Mutex
	buf []byte
}

func (j *jsonLines) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(j.buf[:i])
		j.buf = j.buf[i+1:]
		line = strings.TrimPrefix(line, "keep: ")
		lv := slog.LevelInfo
		if rest, ok := strings.CutPrefix(line, "warning: "); ok {
			lv, line = slog.LevelWarn, rest
		}
		j.emit(lv, line)
	}
}

// errorLine logs msg at level ERROR.
func (j *jsonLines) errorLine(msg string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(slog.LevelError, msg)
}

func (j *jsonLines) emit(lv slog.Level, msg string) {
	j.h.Handle(context.Background(), slog.NewRecord(time.Now(), lv, msg, 0))
}
