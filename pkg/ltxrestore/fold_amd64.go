package ltxrestore

import "golang.org/x/sys/cpu"

// hasCLMUL: the processor multiplies without carries (PCLMULQDQ) and has
// SSE4.1's PEXTRQ, which foldCLMUL uses.
var hasCLMUL = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41

//go:noescape
func foldCLMUL(p *byte, n int, crc uint64, k *foldConsts) (lo, hi uint64)
