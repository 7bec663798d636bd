package tomlerr

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// The patterns are compiled on first use (an error to explain), not at
// package init, which every keep process would pay for at start-up.
var typeErrRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)
})

// Split returns the line (0 if unknown) and a one-line message for err.
func Split(err error) (line int, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Position.Line, userWords(oneLine(pe.Message))
	}
	s := oneLine(err.Error())
	if m := typeErrRE().FindStringSubmatch(s); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, "key " + strconv.Quote(m[2]) + ": " + userWords(m[3])
	}
	return 0, strings.TrimPrefix(s, "toml: ")
}

var (
	// The library's words for a value of the wrong type: the TOML value's
	// Go type, then the kind of the Go field it was meant for.
	incompatibleRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^incompatible types: TOML value has type (.+); destination has type (.+)$`)
	})
	mismatchRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^type mismatch for .+: expected table but found (.+)$`)
	})
	rangeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(-?\d+) is out of range for (u?int\d*)$`) })
)

// userWords rewrites a type error in the words of a TOML file's author
// ("want an array, found a string"), not of Go's types ("destination has
// type slice"). Messages it does not know pass through unchanged.
func userWords(msg string) string {
	if m := incompatibleRE().FindStringSubmatch(msg); m != nil {
		return "want " + want(m[2]) + ", found " + found(m[1])
	}
	if m := mismatchRE().FindStringSubmatch(msg); m != nil {
		return "want a table, found " + found(m[1])
	}
	if m := rangeRE().FindStringSubmatch(msg); m != nil {
		if r, ok := ranges[m[2]]; ok {
			return m[1] + " is out of range (" + r + ")"
		}
	}
	return msg
}

// want names the kind of value a Go destination takes.
func want(dst string) string {
	switch dst {
	case "map":
		return "a table"
	case "slice":
		return "an array"
	case "string", "primitive (string-like)":
		return "a string"
	case "integer":
		return "an integer"
	case "float":
		return "a number"
	case "boolean":
		return "true or false"
	}
	return dst
}

// found names the kind of TOML value the library decoded, from its Go type.
func found(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "int64":
		return "an integer"
	case goType == "float64":
		return "a number"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "a table"
	case strings.Contains(goType, "Time"), strings.Contains(goType, "Local"):
		return "a date or time"
	}
	return goType
}

// ranges are the values Go's integer kinds hold, for range errors.
var ranges = map[string]string{
	"int8": "-128 to 127", "int16": "-32768 to 32767", "int32": "-2147483648 to 2147483647",
	"uint8": "0 to 255", "uint16": "0 to 65535", "uint32": "0 to 4294967295",
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
	if m := typeErrRE().FindStringSubmatch(oneLine(err.Error())); m != nil {
		return m[2]
	}
	return ""
}
