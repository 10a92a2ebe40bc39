package settlement

import "fmt"

// checkProverVK compares the target's verifying key in force (a guardian config change on L1
// rotates it at its activation height) with the key the Prover proves under. On a mismatch the
// engine posts optimistically instead of proving batches the target would refuse, and says so
// once per key; it proves again as soon as the keys match (a prover with the new keys). A
// KeyedProver that holds the key in force (a pool in which a prover loaded the rotated keys
// during the timelock) is no mismatch: it is told to prove under that key (UseVK), so that
// validity proofs go on from the activation height without a restart.
func (e *Engine) checkProverVK(target [32]byte) {
	if e.cfg.Prover == nil || e.cfg.ProverVK == ([32]byte{}) || target == ([32]byte{}) {
		e.vkMismatch.Store(false)
		return
	}
	kp, keyed := e.cfg.Prover.(KeyedProver)
	mismatch := target != e.cfg.ProverVK && !(keyed && kp.HasVK(target))
	if keyed && !mismatch {
		kp.UseVK(target)
	}
	if mismatch && (!e.vkMismatch.Load() || target != e.vkSeen) {
		e.log.Warn("the prover's verifying key is not the rollup's in force: posting optimistically until a prover with that key is configured",
			"rollup_vk", fmt.Sprintf("%x", target), "prover_vk", fmt.Sprintf("%x", e.cfg.ProverVK), "policy", e.Policy().String())
	}
	if !mismatch && e.vkMismatch.Load() {
		e.log.Info("the prover's verifying key matches the rollup's again: proving", "vk", fmt.Sprintf("%x", target))
	}
	e.vkMismatch.Store(mismatch)
	e.vkSeen = target
}

// ProverKeyMismatch reports whether the last step found the target's verifying key in force
// different from Config.ProverVK (batches then go out optimistically).
func (e *Engine) ProverKeyMismatch() bool { return e.vkMismatch.Load() }
