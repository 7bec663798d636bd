package runtime

import "runtime/debug"

// version is set at build time with
// -ldflags "-X github.com/keepwasm/keep/runtime.version=v1.2.3".
var version = ""

// Version returns Keep's version: the one set at build time, else the main
// module's version from the build info, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == "github.com/keepwasm/keep" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
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
