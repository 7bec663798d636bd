package tomlerr

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

var typeErrRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

// Split returns the line (0 if unknown) and a one-line message for err.
func Split(err error) (line int, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Position.Line, oneLine(pe.Message)
	}
	s := oneLine(err.Error())
	if m := typeErrRE.FindStringSubmatch(s); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, "key " + strconv.Quote(m[2]) + ": " + m[3]
	}
	return 0, strings.TrimPrefix(s, "toml: ")
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Key returns the key a type error names ("files.port"), or "".
func Key(err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.LastKey
	}
	if m := typeErrRE.FindStringSubmatch(oneLine(err.Error())); m != nil {
		return m[2]
	}
	return ""
}
