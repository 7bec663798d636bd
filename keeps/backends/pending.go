package backends

import (
	"errors"

	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/tdx"
)

func tdxBackend() Backend {
	return Backend{Name: "tdx", Hardware: true, Available: tdx.Available,
		New: func() (keeps.Attester, error) { return &tdx.Attester{}, nil }}
}

// snpBackend is replaced when keeps/snp lands.
func snpBackend() Backend { return pending("snp") }

func pending(name string) Backend {
	return Backend{Name: name, Hardware: true,
		Available: func() (bool, string) { return false, "this Keep build has no " + name + " attester yet" },
		New:       func() (keeps.Attester, error) { return nil, errors.New(name + ": no attester in this build") }}
}
