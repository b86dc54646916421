//go:build !amd64 && !arm64

package ltxrestore

// hasCLMUL is false off amd64 and arm64: pages are hashed in four lanes
// by shifts.
const hasCLMUL = false

func foldCLMUL(*byte, int, uint64, *foldConsts) (lo, hi uint64) {
	panic("ltxrestore: foldCLMUL without PCLMULQDQ")
}
