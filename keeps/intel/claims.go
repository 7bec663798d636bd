package intel

import (
	"fmt"

	"github.com/keepwasm/keep/keeps"
)

// Names of the claims this package fills in keeps.Claims.
const (
	// Measurements (SGX).
	MeasurementMREnclave = "mrenclave"
	MeasurementMRSigner  = "mrsigner"
	// Measurements (TDX).
	MeasurementMRTD          = "mrtd"
	MeasurementMRConfigID    = "mrconfigid"
	MeasurementMROwner       = "mrowner"
	MeasurementMROwnerConfig = "mrownerconfig"
	// MeasurementRTMR0 is "rtmr0"; "rtmr1".."rtmr3" follow.
	MeasurementRTMR0 = "rtmr0"

	// SVNs (SGX enclave).
	SVNISVProdID = "isv_prod_id"
	SVNISVSVN    = "isv_svn"
	SVNConfigSVN = "config_svn"
	// SVNs (both).
	SVNQE  = "qe_svn"
	SVNPCE = "pce_svn"
)

// ClaimsFromQuote returns the claims a parsed quote makes. Nothing in them
// is verified: SignatureVerified is false and TCBStatus is empty. Byte
// slices are copies.
//
// SGX: Debug is ATTRIBUTES.FLAGS bit 1; measurements "mrenclave",
// "mrsigner"; SVNs "isv_prod_id", "isv_svn", "config_svn".
//
// TDX: Debug is TDATTRIBUTES bit 0; measurements "mrtd", "rtmr0".."rtmr3",
// "mrconfigid", "mrowner", "mrownerconfig".
//
// Both: "qe_svn" and, for version 3 only, "pce_svn". A version 3 header
// carries both SVNs; versions 4 and 5 have reserved bytes there, so qe_svn
// comes from the QE report's ISVSVN, and pce_svn is left out (the PCK
// certificate's PCESVN is the TCB level the certificate was issued for,
// not the running PCE's SVN, and is for the later TCB check to read).
func ClaimsFromQuote(q *Quote) *keeps.Claims {
	c := &keeps.Claims{
		TEE:          q.TEE(),
		ReportData:   q.ReportData(),
		Measurements: map[string][]byte{},
		SVNs:         map[string]uint64{},
	}
	switch {
	case q.SGX != nil:
		b := q.SGX
		c.Debug = b.Attributes.Debug()
		c.Measurements[MeasurementMREnclave] = clone(b.MREnclave[:])
		c.Measurements[MeasurementMRSigner] = clone(b.MRSigner[:])
		c.SVNs[SVNISVProdID] = uint64(b.ISVProdID)
		c.SVNs[SVNISVSVN] = uint64(b.ISVSVN)
		c.SVNs[SVNConfigSVN] = uint64(b.ConfigSVN)
	case q.TD != nil:
		b := q.TD
		c.Debug = b.TDAttributes.Debug()
		c.Measurements[MeasurementMRTD] = clone(b.MRTD[:])
		for i := range b.RTMR {
			c.Measurements[fmt.Sprintf("rtmr%d", i)] = clone(b.RTMR[i][:])
		}
		c.Measurements[MeasurementMRConfigID] = clone(b.MRConfigID[:])
		c.Measurements[MeasurementMROwner] = clone(b.MROwner[:])
		c.Measurements[MeasurementMROwnerConfig] = clone(b.MROwnerConfig[:])
	}
	if q.Header.Version == Version3 {
		c.SVNs[SVNQE] = uint64(q.Header.QESVN)
		c.SVNs[SVNPCE] = uint64(q.Header.PCESVN)
	} else {
		c.SVNs[SVNQE] = uint64(q.Signature.QEReport.ISVSVN)
	}
	if n := len(q.Trailing); n > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%d bytes after the quote's signature data were ignored", n))
	}
	return c
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }
