package prover

// keySet is a key set and its verifying key's ID.
type keySet struct {
	id   KeyID
	keys *Keys
}

// KeyIDs lists the IDs of the service's verifying keys, Config.Keys' first.
func (s *Service) KeyIDs() []KeyID {
	ids := make([]KeyID, len(s.sets))
	for i, k := range s.sets {
		ids[i] = k.id
	}
	return ids
}

// HasVK reports whether the service holds the key set of verifying key id.
func (s *Service) HasVK(id KeyID) bool { return s.keysFor(id) != nil }

// keysFor returns the key set of id (zero: the first), or nil.
func (s *Service) keysFor(id KeyID) *Keys {
	if id == (KeyID{}) {
		return s.sets[0].keys
	}
	for _, k := range s.sets {
		if k.id == id {
			return k.keys
		}
	}
	return nil
}
