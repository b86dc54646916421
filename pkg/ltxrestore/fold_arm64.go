package ltxrestore

import "golang.org/x/sys/cpu"

// hasCLMUL: the processor has PMULL (64-bit polynomial multiply), which
// foldCLMUL uses.
var hasCLMUL = cpu.ARM64.HasPMULL

//go:noescape
func foldCLMUL(p *byte, n int, crc uint64, k *foldConsts) (lo, hi uint64)
