package sessionmanager

import (
	"bytes"
	"context"
	"fmt"
)

// Kinds of ChainError.
const (
	// ChainBroken: an event is missing, altered or badly linked (Seq names it).
	ChainBroken = "broken"
	// ChainTruncated: the signed head names a later event than the table's last.
	ChainTruncated = "truncated"
	// ChainHeadSignature: the head is unsigned or its signature does not verify.
	ChainHeadSignature = "head_signature"
	// ChainCheckpointSignature: a checkpoint's signature does not verify.
	ChainCheckpointSignature = "checkpoint_signature"
	// ChainRewritten: an event differs from its signed checkpoint or head.
	ChainRewritten = "rewritten"
	// ChainUnsignedTail: events follow the signed head.
	ChainUnsignedTail = "unsigned_tail"
	// ChainResigned: the service found the head forged or removed at Seq
	// and signed on from there; events after Seq may have been deleted.
	ChainResigned = "resigned"
)

// ChainError names what is wrong with the audit chain: Kind, and Seq, the
// first bad event (for truncation and an unsigned tail, the head's seq,
// with TableEnd the last event in the table).
type ChainError struct {
	Kind     string
	Seq      int64
	TableEnd int64
	Reason   string
}

func (e *ChainError) Error() string {
	switch e.Kind {
	case ChainTruncated:
		return fmt.Sprintf("truncated: head says seq %d, table ends at %d", e.Seq, e.TableEnd)
	case ChainUnsignedTail:
		return fmt.Sprintf("unsigned events: head says seq %d, table ends at %d (events were appended behind the service's back)", e.Seq, e.TableEnd)
	case ChainHeadSignature:
		return "head signature invalid: " + e.Reason
	case ChainCheckpointSignature:
		return fmt.Sprintf("checkpoint signature invalid at seq %d", e.Seq)
	case ChainRewritten:
		return fmt.Sprintf("rewritten: event %d %s", e.Seq, e.Reason)
	case ChainResigned:
		return fmt.Sprintf("head signature invalid: the head was forged or removed at seq %d and the service signed on from there (events after seq %d may have been deleted)", e.Seq, e.Seq)
	}
	return fmt.Sprintf("audit chain broken at event %d: %s", e.Seq, e.Reason)
}

// VerifyChain walks the whole audit log in order and checks every link:
// sequence numbers without gaps, each event's PrevHash equal to the hash
// before it, and each Hash recomputed from the event's content (personal
// fields through their digest, which survives erasure). It returns the
// number of events verified or a *ChainError naming the first bad one.
// It cannot see the newest events deleted: VerifyAudit can.
func VerifyChain(ctx context.Context, st EventStore) (int64, error) {
	return walkChain(ctx, st, nil)
}

// walkChain is VerifyChain calling each (verified) event to check it further.
func walkChain(ctx context.Context, st EventStore, each func(e *Event) error) (int64, error) {
	var prev []byte
	var seq, n int64
	const page = 500
	for {
		events, _, err := st.ListEvents(ctx, EventFilter{AfterSeq: seq, Limit: page})
		if err != nil {
			return n, err
		}
		for _, e := range events {
			broken := func(reason string) error { return &ChainError{Kind: ChainBroken, Seq: e.Seq, Reason: reason} }
			if e.Seq != seq+1 {
				return n, &ChainError{Kind: ChainBroken, Seq: seq + 1, Reason: fmt.Sprintf("missing (next stored event is %d)", e.Seq)}
			}
			if !bytes.Equal(e.PrevHash, prev) {
				return n, broken("previous-hash link does not match the event before it")
			}
			if !e.Erased && !bytes.Equal(e.PersonalDigestOf(), e.PersonalDigest) {
				return n, broken("personal fields were altered")
			}
			// Erasure blanks the personal fields; "erased" with content
			// would let anyone rewrite them unseen.
			if e.Erased && (e.IP != "" || e.UserAgent != "" || len(e.Personal) > 0 && string(e.Personal) != "null") {
				return n, broken("marked erased but still carries personal fields")
			}
			if !bytes.Equal(e.ChainHash(prev), e.Hash) {
				return n, broken("content does not match its hash (the event was altered)")
			}
			if each != nil {
				if err := each(e); err != nil {
					return n, err
				}
			}
			prev, seq = e.Hash, e.Seq
			n++
		}
		if len(events) < page {
			return n, nil
		}
	}
}

// AuditReport is what VerifyAudit checked.
type AuditReport struct {
	Events      int64      `json:"events"`
	Checkpoints int        `json:"checkpoints"`
	Head        *ChainHead `json:"-"`
	// SignedSince is where signing began for a log that predates it (0:
	// signed from the first event); the events up to it are covered by the
	// keyless chain only.
	SignedSince int64 `json:"signedSince,omitempty"`
}

// VerifyAudit checks the audit log against its signed head and checkpoints:
// the head's signature, then every link (VerifyChain), every checkpoint's
// signature and hash, and that the table ends where the head says. Its
// *ChainError tells a cut end (ChainTruncated), a forged head
// (ChainHeadSignature), a rewritten stretch (ChainRewritten) and a broken
// link (ChainBroken) apart. It is safe while the service appends: events
// newer than the head read first are checked against a second read.
func VerifyAudit(ctx context.Context, st EventStore, signer ChainSigner) (AuditReport, error) {
	var rep AuditReport
	heads, ok := st.(ChainHeadStore)
	if !ok || signer == nil {
		return rep, Errorf(EUNAVAILABLE, "this store or these secrets keep no signed audit head: only VerifyChain can run")
	}
	head, err := heads.ChainHead(ctx)
	if err != nil {
		return rep, err
	}
	rep.Head = head
	if err := checkHead(head, signer); err != nil {
		return rep, err
	}
	checkpoints := map[int64]*ChainHead{}
	firstCheckpoint := int64(0)
	for after := int64(0); ; {
		cps, err := heads.ChainCheckpoints(ctx, after, 1000)
		if err != nil {
			return rep, err
		}
		for _, c := range cps {
			if !signer.VerifyChainSig(c.Message(), c.Sig) {
				return rep, &ChainError{Kind: ChainCheckpointSignature, Seq: c.Seq}
			}
			if firstCheckpoint == 0 {
				firstCheckpoint = c.Seq
			}
			checkpoints[c.Seq] = c
			after = c.Seq
		}
		if len(cps) == 0 {
			break
		}
	}
	if err := checkSince(head, firstCheckpoint, &rep); err != nil {
		return rep, err
	}
	rep.Checkpoints = len(checkpoints)
	var lastGood, tableEnd int64
	n, err := walkChain(ctx, st, func(e *Event) error {
		tableEnd = e.Seq
		if c := checkpoints[e.Seq]; c != nil {
			if !bytes.Equal(c.Hash, e.Hash) {
				return &ChainError{Kind: ChainRewritten, Seq: e.Seq,
					Reason: fmt.Sprintf("does not match its signed checkpoint (the events after seq %d were rewritten)", lastGood)}
			}
			lastGood = e.Seq
		}
		if e.Seq == head.Seq && !bytes.Equal(head.Hash, e.Hash) {
			return &ChainError{Kind: ChainRewritten, Seq: e.Seq,
				Reason: fmt.Sprintf("does not match the signed head (the events after seq %d were rewritten)", lastGood)}
		}
		return nil
	})
	rep.Events = n
	if err != nil {
		return rep, err
	}
	if tableEnd < head.Seq {
		return rep, &ChainError{Kind: ChainTruncated, Seq: head.Seq, TableEnd: tableEnd}
	}
	if tableEnd > head.Seq {
		// Appended while we walked, or behind the service's back: a fresh
		// head must cover them.
		again, err := heads.ChainHead(ctx)
		if err != nil {
			return rep, err
		}
		if err := checkHead(again, signer); err != nil {
			return rep, err
		}
		if err := checkSince(again, firstCheckpoint, &rep); err != nil {
			return rep, err
		}
		if again.Seq < tableEnd {
			return rep, &ChainError{Kind: ChainUnsignedTail, Seq: again.Seq, TableEnd: tableEnd}
		}
		rep.Head = again
	}
	return rep, nil
}

// checkHead verifies the head's signature (an empty chain needs none).
func checkHead(head *ChainHead, signer ChainSigner) error {
	if head.Seq == 0 && len(head.Sig) == 0 {
		return nil
	}
	if len(head.Sig) == 0 {
		return &ChainError{Kind: ChainHeadSignature, Seq: head.Seq,
			Reason: "the head is not signed (removed, or the chain predates signing: the next event signs it)"}
	}
	if !signer.VerifyChainSig(head.Message(), head.Sig) {
		return &ChainError{Kind: ChainHeadSignature, Seq: head.Seq, Reason: "it was not made with this server's key (the head was altered)"}
	}
	return nil
}

// checkSince tells a log that predates signing (signed since its head's
// Since, no checkpoint before it) from a head the service found forged or
// removed and signed on from (a signed checkpoint older than Since proves
// signing had begun).
func checkSince(head *ChainHead, firstCheckpoint int64, rep *AuditReport) error {
	if head.Since == 0 {
		return nil
	}
	if firstCheckpoint != 0 && firstCheckpoint <= head.Since {
		return &ChainError{Kind: ChainResigned, Seq: head.Since}
	}
	rep.SignedSince = head.Since
	return nil
}

// VerifyAudit checks the Manager's audit log (the package's VerifyAudit).
//
// It reads the whole log, so one runs at a time: another meanwhile is
// ETOOMANY (retry after 10 s).
func (m *Manager) VerifyAudit(ctx context.Context) (AuditReport, error) {
	if !m.verifying.CompareAndSwap(false, true) {
		return AuditReport{}, &Error{Code: ETOOMANY, Message: "an audit verification is already running; try again when it ends",
			Reason: "verification_running", RetryAfterSeconds: 10}
	}
	defer m.verifying.Store(false)
	signer, _ := m.cfg.Secrets.(ChainSigner)
	return VerifyAudit(ctx, m.store, signer)
}
