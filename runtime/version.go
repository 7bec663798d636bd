package runtime

import "runtime/debug"

// version is set at build time with
// -ldflags "-X github.com/keepwasm/keep/runtime.version=v1.2.3".
var version = ""

// Version returns Keep's version: the one set at build time, else the main
// module's version from the build info (go install ./cmd/keep in a clone
// stamps a tag or a pseudo-version such as v0.0.0-20261205120956-e6636efcaeb4),
// else "devel" with the commit the build info names, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Path != "github.com/keepwasm/keep" {
		return "devel"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return develVersion(bi.Settings)
}

// develVersion is "devel", with the commit (and "-dirty" for uncommitted
// changes) when the build recorded them.
func develVersion(settings []debug.BuildSetting) string {
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

// WazeroVersion returns the version of wazero linked into this binary.
func WazeroVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}
