package sessionmanager

import (
	"bytes"
	"context"
	"fmt"
)

// ChainError names the first broken link of the audit chain.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// VerifyChain walks the whole audit log in order and checks every link:
// sequence numbers without gaps, each event's PrevHash equal to the hash
// before it, and each Hash recomputed from the event's content (personal
// fields through their digest, which survives erasure). It returns the
// number of events verified or a *ChainError naming the first bad one.
func VerifyChain(ctx context.Context, st EventStore) (int64, error) {
	var prev []byte
	var seq, n int64
	f := EventFilter{Limit: 500}
	for {
		events, _, err := st.ListEvents(ctx, EventFilter{AfterSeq: seq, Limit: f.Limit})
		if err != nil {
			return n, err
		}
		for _, e := range events {
			if e.Seq != seq+1 {
				return n, &ChainError{Seq: seq + 1, Reason: fmt.Sprintf("missing (next stored event is %d)", e.Seq)}
			}
			if !bytes.Equal(e.PrevHash, prev) {
				return n, &ChainError{Seq: e.Seq, Reason: "previous-hash link does not match the event before it"}
			}
			if !e.Erased && !bytes.Equal(e.PersonalDigestOf(), e.PersonalDigest) {
				return n, &ChainError{Seq: e.Seq, Reason: "personal fields were altered"}
			}
			// Erasure blanks the personal fields; "erased" with content
			// would let anyone rewrite them unseen.
			if e.Erased && (e.IP != "" || e.UserAgent != "" || len(e.Personal) > 0 && string(e.Personal) != "null") {
				return n, &ChainError{Seq: e.Seq, Reason: "marked erased but still carries personal fields"}
			}
			if !bytes.Equal(e.ChainHash(prev), e.Hash) {
				return n, &ChainError{Seq: e.Seq, Reason: "content does not match its hash (the event was altered)"}
			}
			prev, seq = e.Hash, e.Seq
			n++
		}
		if len(events) < f.Limit {
			return n, nil
		}
	}
}
