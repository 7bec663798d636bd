package backends

import (
	"errors"

	"github.com/keepwasm/keep/keeps"
)

// tdxBackend and snpBackend are replaced when keeps/tdx and keeps/snp land.
func tdxBackend() Backend { return pending("tdx") }
func snpBackend() Backend { return pending("snp") }

func pending(name string) Backend {
	return Backend{Name: name, Hardware: true,
		Available: func() (bool, string) { return false, "this Keep build has no " + name + " attester yet" },
		New:       func() (keeps.Attester, error) { return nil, errors.New(name + ": no attester in this build") }}
}
