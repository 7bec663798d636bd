package runtime

import (
	"runtime/debug"
	"testing"
)

func TestDevelVersion(t *testing.T) {
	for _, tc := range []struct {
		settings []debug.BuildSetting
		want     string
	}{
		{nil, "devel"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "e6636efcaeb4bf766453b2e7a2be1e3a10fcea9a"}, {Key: "vcs.modified", Value: "false"}}, "devel-e6636efcaeb4"},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "e6636efcaeb4bf766453b2e7a2be1e3a10fcea9a"}, {Key: "vcs.modified", Value: "true"}}, "devel-e6636efcaeb4-dirty"},
		{[]debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, "devel"},
	} {
		if got := develVersion(tc.settings); got != tc.want {
			t.Errorf("develVersion(%v) = %q, want %q", tc.settings, got, tc.want)
		}
	}
}
