package state

// DecodeTotalStrict is DecodeTotal through the strict decoder only, the
// reference the fast path is held to.
func DecodeTotalStrict(b []byte) (Total, error) {
	t, err := decodeTotalStrict(b)
	if err != nil {
		return Total{}, err
	}
	return t, checkTotal(t)
}
