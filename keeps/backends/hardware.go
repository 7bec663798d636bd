package backends

import (
	"github.com/keepwasm/keep/keeps"
	"github.com/keepwasm/keep/keeps/snp"
	"github.com/keepwasm/keep/keeps/tdx"
)

func tdxBackend() Backend {
	return Backend{Name: "tdx", Hardware: true, Available: tdx.Available,
		New: func() (keeps.Attester, error) { return &tdx.Attester{}, nil }}
}

func snpBackend() Backend {
	return Backend{Name: "snp", Hardware: true, Available: snp.Available,
		New: func() (keeps.Attester, error) { return snp.NewAttester() }}
}
