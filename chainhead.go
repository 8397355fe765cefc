package sessionmanager

import (
	"context"
	"encoding/binary"
	"time"
)

// ChainHead is a signed position of the audit chain: the Seq and Hash of
// one event, signed with a key the database does not hold. The store keeps
// one head (the newest event, re-signed in every append transaction) and a
// checkpoint every ChainSigning.CheckpointEvery events or Interval.
type ChainHead struct {
	Seq  int64
	Hash []byte
	// Since is where the current run of signed heads began: 0 for a chain
	// signed from its first event; otherwise the seq of a head that was
	// unsigned or did not verify when an append extended it (a chain that
	// predates signing, or a head forged or removed behind the service's
	// back). It is signed too, so it cannot be reset.
	Since int64
	// Sig signs Message(); empty for a head written without a signer.
	Sig []byte
	// At is the time of the event the head was signed with.
	At time.Time
}

// Message is the byte string a ChainSigner signs for the head.
func (h *ChainHead) Message() []byte {
	msg := make([]byte, 0, len("audit-chain-head\x00")+16+len(h.Hash))
	msg = append(msg, "audit-chain-head\x00"...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(h.Seq))
	msg = binary.BigEndian.AppendUint64(msg, uint64(h.Since))
	return append(msg, h.Hash...)
}

// ChainSigner signs and checks audit chain positions (ChainHead.Message).
// token.Secrets signs with an HMAC key derived from the encryption key, so
// someone with only database access can neither cut the chain's end nor
// rewrite it unseen.
type ChainSigner interface {
	SignChain(message []byte) []byte
	// VerifyChainSig reports whether sig signs message, in constant time.
	VerifyChainSig(message, sig []byte) bool
}

// ChainSigning is how a store signs the chain as it appends events.
type ChainSigning struct {
	Signer ChainSigner
	// A checkpoint is kept at every CheckpointEvery-th event (default 1000)
	// and at the first event CheckpointInterval (default 1h) after the last one.
	CheckpointEvery    int64
	CheckpointInterval time.Duration
}

// WithDefaults fills the checkpoint defaults.
func (c ChainSigning) WithDefaults() ChainSigning {
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 1000
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = time.Hour
	}
	return c
}

// Checkpoint reports whether the event seq, appended at at, gets a checkpoint
// when the last one was made at lastCheckpoint.
func (c ChainSigning) Checkpoint(seq int64, at, lastCheckpoint time.Time) bool {
	c = c.WithDefaults()
	return seq%c.CheckpointEvery == 0 || !at.Before(lastCheckpoint.Add(c.CheckpointInterval))
}

// Extend is the head after e, appended on prev (the stored head), and
// whether it is also a checkpoint: the store calls it in the append's
// transaction and writes what it returns. A prev that does not verify (and
// is not the empty chain's) starts a new run: Since becomes prev.Seq, which
// VerifyAudit reports. Without a Signer the head is unsigned.
func (c *ChainSigning) Extend(prev *ChainHead, e *Event, lastCheckpoint time.Time) (next *ChainHead, checkpoint bool) {
	next = &ChainHead{Seq: e.Seq, Hash: e.Hash, Since: prev.Since, At: e.At}
	if c == nil || c.Signer == nil {
		return next, false
	}
	empty := prev.Seq == 0 && len(prev.Sig) == 0
	if !empty && !c.Signer.VerifyChainSig(prev.Message(), prev.Sig) {
		next.Since = prev.Seq
	}
	next.Sig = c.Signer.SignChain(next.Message())
	return next, c.Checkpoint(e.Seq, e.At, lastCheckpoint)
}

// ChainHeadStore is the optional store ability to keep the signed head and
// checkpoints of the audit chain, written in the append transaction.
type ChainHeadStore interface {
	// SignChainWith makes every later AppendEvent sign the head and keep
	// checkpoints. Call it before the store is shared.
	SignChainWith(c ChainSigning)
	// ChainHead returns the head (Seq 0 and no Sig for an empty chain).
	ChainHead(ctx context.Context) (*ChainHead, error)
	// ChainCheckpoints lists checkpoints with Seq > afterSeq, ascending.
	ChainCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*ChainHead, error)
}
