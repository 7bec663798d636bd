package wasi

import (
	"context"

	"github.com/tetratelabs/wazero/api"
)

// MaxCSRSize bounds the request a guest passes to keep.verify_csr.
const MaxCSRSize = 256 << 10

// errnoNosys is WASI's "nosys": the keep offers no CA verifier.
const errnoNosys = 52

// CSRChecker answers keep.verify_csr: the verdict, as JSON, about a DER
// certificate request's evidence under the keep's CA policy.
type CSRChecker func(ctx context.Context, der []byte) []byte

type csrKey struct{}

// WithCSRChecker returns a context in which keep.verify_csr calls f.
// Without one, the function answers NOSYS: only a keep configured as a CA
// verifies requests for its guest.
func WithCSRChecker(ctx context.Context, f CSRChecker) context.Context {
	return context.WithValue(ctx, csrKey{}, f)
}

// verifyCSR implements keep.verify_csr(csr, csr_len, out, out_len,
// result.len) -> errno: it verifies the DER certificate request at csr
// with the keep's own verifier and CA policy, and writes the verdict
// (JSON, see ca.Verdict) into out and its length into result.len. Errors:
// NOSYS if the keep is not configured as a CA; INVAL if csr_len exceeds
// MaxCSRSize, or if out_len is too small (result.len then holds the size
// needed); FAULT for memory outside the guest's.
func verifyCSR(ctx context.Context, mod api.Module, stack []uint64) {
	f, _ := ctx.Value(csrKey{}).(CSRChecker)
	csrPtr, csrLen, outPtr, outLen, resPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3]), uint32(stack[4])
	if f == nil {
		stack[0] = errnoNosys
		return
	}
	if csrLen > MaxCSRSize {
		stack[0] = errnoInval
		return
	}
	in, ok := mod.Memory().Read(csrPtr, csrLen)
	if !ok {
		stack[0] = errnoFault
		return
	}
	out := f(ctx, append([]byte(nil), in...))
	switch {
	case !mod.Memory().WriteUint32Le(resPtr, uint32(len(out))):
		stack[0] = errnoFault
	case outLen < uint32(len(out)):
		stack[0] = errnoInval
	case !mod.Memory().Write(outPtr, out):
		stack[0] = errnoFault
	default:
		stack[0] = errnoSuccess
	}
}

// verifyCSRParams are keep.verify_csr's parameter types and names.
var (
	verifyCSRParams = []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}
	verifyCSRNames  = []string{"csr", "csr_len", "out", "out_len", "result.len"}
)
