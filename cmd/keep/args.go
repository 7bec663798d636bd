package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// parseArgs parses fs's flags wherever they appear among args and returns
// the positional arguments in order. Flags are written --name or -name,
// with the value after "=" or as the next argument (bool flags take only
// "="). A "--" ends the flags: everything after it is positional. With
// stopAtFirst (keep run), the first positional argument ends the flags too:
// it and everything after it are returned as they are, for the module.
func parseArgs(fs *flag.FlagSet, args []string, stopAtFirst bool) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			if stopAtFirst {
				return append(pos, args[i+1:]...), nil
			}
			continue
		}
		name := strings.TrimPrefix(a[1:], "-")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil, fmt.Errorf("%s: bad flag syntax %q", fs.Name(), a)
		}
		name, val, hasVal := strings.Cut(name, "=")
		if name == "h" || name == "help" {
			return nil, flag.ErrHelp
		}
		f := fs.Lookup(name)
		if f == nil {
			return nil, unknownFlagError{cmd: fs.Name(), flag: name}
		}
		if isBool(f) {
			if !hasVal {
				val = "true"
			}
		} else if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("--%s needs a value", name)
			}
			i++
			val = args[i]
		}
		if err := fs.Set(name, val); err != nil {
			return nil, flagValueError(f, val, err)
		}
	}
	return pos, nil
}

// unknownFlagError is a flag fs does not define.
type unknownFlagError struct{ cmd, flag string }

func (e unknownFlagError) Error() string {
	return fmt.Sprintf("%s: unknown flag --%s (see 'keep %s --help')", e.cmd, e.flag, e.cmd)
}

// isBool tells whether f is a bool flag (one that needs no value).
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// isDuration tells whether f holds a time.Duration.
func isDuration(f *flag.Flag) bool {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	_, ok = g.Get().(time.Duration)
	return ok
}

// flagValueError says what is wrong with the value of flag f, in the
// words of the command line, not of Go's flag package.
func flagValueError(f *flag.Flag, val string, err error) error {
	switch {
	case isDuration(f):
		if _, nerr := strconv.ParseFloat(val, 64); nerr == nil {
			return fmt.Errorf("--%s %q: add a unit, e.g. %ss (units: ms, s, m, h)", f.Name, val, val)
		}
		return fmt.Errorf("--%s %q: want a duration such as 30s, 500ms or 2m", f.Name, val)
	case isBool(f):
		return fmt.Errorf("--%s=%s: want true or false", f.Name, val)
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case int, int64, uint, uint64, float64:
			return fmt.Errorf("--%s %q: want a number", f.Name, val)
		}
	}
	msg := err.Error()
	// A flag.Func's error comes back as "invalid value ... : MSG".
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "invalid value") {
		msg = rest
	}
	return fmt.Errorf("--%s %q: %s", f.Name, val, msg)
}

// printFlags writes fs's flags as `--name VALUE` with their usage, in the
// two-dash form the README uses.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if !isBool(f) {
			switch name {
			case "", "value", "string":
				name = "VALUE"
			case "int", "uint":
				name = "N"
			default:
				name = strings.ToUpper(name)
			}
			line += " " + name
		}
		fmt.Fprintln(w, line)
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" && !strings.Contains(usage, "(default") {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "        %s%s\n", usage, def)
	})
}
