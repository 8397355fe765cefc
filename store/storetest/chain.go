package storetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sessionmanager "github.com/magic-sessionmanager/sessionmanager"
)

// RawSQL runs one statement on the store's database behind the store's
// back, as an attacker with database access would. Placeholders are ?.
type RawSQL func(t *testing.T, query string, args ...any)

// RunChain runs the attacks a database writer can make on the signed audit
// chain (head and checkpoints, sessionmanager.ChainHeadStore); open returns
// a fresh, migrated, empty store and a way to run SQL on its database.
func RunChain(t *testing.T, open func(t *testing.T) (Store, RawSQL)) {
	for _, tc := range chainTests {
		t.Run(tc.name, func(t *testing.T) {
			s, exec := open(t)
			tc.run(t, s, exec)
		})
	}
}

var chainTests = []struct {
	name string
	run  func(t *testing.T, s Store, exec RawSQL)
}{
	{"SignedHeadAndCheckpoints", testChainSigned},
	{"TruncationDetected", testChainTruncated},
	{"TamperedHeadDetected", testChainHeadTampered},
	{"TruncationBehindForgedHeadStaysDetected", testChainLaunderedGarbage},
	{"TruncationBehindUnsignedHeadStaysDetected", testChainLaunderedUnsigned},
	{"TruncationBehindDeletedHeadStaysDetected", testChainLaunderedDeleted},
	{"RewrittenTailDetected", testChainRewrittenTail},
	{"RewriteAfterLastCheckpointDetected", testChainRewriteAfterCheckpoint},
	{"ErasureKeepsVerifying", testChainErasure},
	{"ConcurrentAppendsSignOneHead", testChainConcurrent},
	{"UnsignedStore", testChainUnsignedStore},
}

// testSigner signs with HMAC-SHA256 under a key the database never sees.
type testSigner struct{ key []byte }

func (s testSigner) SignChain(message []byte) []byte {
	mac := hmac.New(sha256.New, s.key)
	mac.Write(message)
	return mac.Sum(nil)
}

func (s testSigner) VerifyChainSig(message, sig []byte) bool {
	return hmac.Equal(s.SignChain(message), sig)
}

var signer = testSigner{key: []byte("storetest audit chain key, 32 b.")}

// signedChain makes s sign with a checkpoint every 5 events and appends n
// events of eventFixture.
func signedChain(t *testing.T, s Store, n int) sessionmanager.ChainHeadStore {
	t.Helper()
	heads, ok := s.(sessionmanager.ChainHeadStore)
	check(t, ok, "the store keeps a signed chain head (ChainHeadStore)")
	heads.SignChainWith(sessionmanager.ChainSigning{Signer: signer, CheckpointEvery: 5, CheckpointInterval: 1000 * time.Hour})
	for i := range n {
		noErr(t, s.AppendEvent(t.Context(), eventFixture(i), nil), "append %d", i)
	}
	return heads
}

// chainErr runs VerifyAudit and returns its *ChainError (failing on any other outcome).
func chainErr(t *testing.T, s Store, kind string) *sessionmanager.ChainError {
	t.Helper()
	_, err := sessionmanager.VerifyAudit(t.Context(), s, signer)
	var ce *sessionmanager.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("VerifyAudit: want a %s ChainError, got %v", kind, err)
	}
	equal(t, kind, ce.Kind, "kind of %v", ce)
	return ce
}

func verifyOK(t *testing.T, s Store) sessionmanager.AuditReport {
	t.Helper()
	rep, err := sessionmanager.VerifyAudit(t.Context(), s, signer)
	noErr(t, err, "VerifyAudit")
	return rep
}

func testChainSigned(t *testing.T, s Store, _ RawSQL) {
	rep := verifyOK(t, s)
	check(t, rep.Events == 0 && rep.Head.Seq == 0, "an empty chain verifies: %+v", rep)
	heads := signedChain(t, s, 12)
	rep = verifyOK(t, s)
	check(t, rep.Events == 12 && rep.Head.Seq == 12, "12 events verified up to the head: %+v", rep)
	head, err := heads.ChainHead(t.Context())
	noErr(t, err)
	last := listAllEvents(t, s, sessionmanager.EventFilter{AfterSeq: 11}, 10)[0]
	check(t, head.Seq == 12 && head.Since == 0 && bytes.Equal(head.Hash, last.Hash) && signer.VerifyChainSig(head.Message(), head.Sig),
		"the head is the last event, signed from the start: %+v", head)
	check(t, head.At.Equal(last.At), "the head keeps the event's time: %v", head.At)
	cps, err := heads.ChainCheckpoints(t.Context(), 0, 100)
	noErr(t, err)
	var seqs []int64
	for _, c := range cps {
		seqs = append(seqs, c.Seq)
		check(t, signer.VerifyChainSig(c.Message(), c.Sig), "checkpoint %d signed", c.Seq)
	}
	// The first event is due by time (no checkpoint before it), then every 5th.
	equal(t, []int64{1, 5, 10}, seqs, "checkpoints")
	equal(t, 3, rep.Checkpoints, "checkpoints verified")
	cps, err = heads.ChainCheckpoints(t.Context(), 5, 1)
	noErr(t, err)
	check(t, len(cps) == 1 && cps[0].Seq == 10, "checkpoints page after a seq: %+v", cps)

	// A checkpoint is also due CheckpointInterval after the last one.
	heads.SignChainWith(sessionmanager.ChainSigning{Signer: signer, CheckpointEvery: 1000, CheckpointInterval: time.Hour})
	e := eventFixture(12)
	e.At = t0.Add(30 * time.Minute)
	noErr(t, s.AppendEvent(t.Context(), e, nil))
	e = eventFixture(13)
	e.At = t0.Add(2 * time.Hour)
	noErr(t, s.AppendEvent(t.Context(), e, nil))
	cps, err = heads.ChainCheckpoints(t.Context(), 10, 100)
	noErr(t, err)
	check(t, len(cps) == 1 && cps[0].Seq == 14, "a checkpoint an interval after the last: %+v", cps)
	verifyOK(t, s)
}

func testChainTruncated(t *testing.T, s Store, exec RawSQL) {
	signedChain(t, s, 12)
	exec(t, `DELETE FROM events WHERE seq > ?`, 9)
	ce := chainErr(t, s, sessionmanager.ChainTruncated)
	check(t, ce.Seq == 12 && ce.TableEnd == 9, "truncation names the head and the table's end: %+v", ce)
	equal(t, "truncated: head says seq 12, table ends at 9", ce.Error())

	// Every event deleted: still the head's word against an empty table.
	exec(t, `DELETE FROM events`)
	ce = chainErr(t, s, sessionmanager.ChainTruncated)
	check(t, ce.Seq == 12 && ce.TableEnd == 0, "an emptied table: %+v", ce)
}

func testChainHeadTampered(t *testing.T, s Store, exec RawSQL) {
	signedChain(t, s, 12)
	nine := listAllEvents(t, s, sessionmanager.EventFilter{AfterSeq: 8}, 1)[0]
	// The attacker cuts the end and moves the head back to match: the
	// signature no longer fits.
	exec(t, `DELETE FROM events WHERE seq > ?`, 9)
	exec(t, `UPDATE event_chain SET seq = ?, hash = ?`, 9, nine.Hash)
	ce := chainErr(t, s, sessionmanager.ChainHeadSignature)
	check(t, strings.HasPrefix(ce.Error(), "head signature invalid"), "message: %v", ce)
	// With the signature removed too, or replaced by noise.
	exec(t, `UPDATE event_chain SET sig = NULL`)
	chainErr(t, s, sessionmanager.ChainHeadSignature)
	exec(t, `UPDATE event_chain SET sig = ?`, bytes.Repeat([]byte{7}, 32))
	chainErr(t, s, sessionmanager.ChainHeadSignature)
	// The head row deleted: the events are not covered by any head.
	exec(t, `DELETE FROM event_chain`)
	ce = chainErr(t, s, sessionmanager.ChainUnsignedTail)
	check(t, ce.Seq == 0 && ce.TableEnd == 9, "no head: %+v", ce)
	// A forged checkpoint is refused as such.
	exec(t, `UPDATE event_checkpoints SET sig = ? WHERE seq = ?`, bytes.Repeat([]byte{7}, 32), 5)
	ce = chainErr(t, s, sessionmanager.ChainCheckpointSignature)
	equal(t, int64(5), ce.Seq)
}

// launderedTruncation: the attacker cuts the end (events after 9), puts
// the head on event 9 by forge, and waits: the service's next append must
// not sign over the cut. It extends the head it cannot verify and records
// where (Since); the signed checkpoints before it show signing had begun.
func launderedTruncation(forge func(t *testing.T, exec RawSQL, nine *sessionmanager.Event)) func(*testing.T, Store, RawSQL) {
	return func(t *testing.T, s Store, exec RawSQL) {
		signedChain(t, s, 12)
		nine := listAllEvents(t, s, sessionmanager.EventFilter{AfterSeq: 8}, 1)[0]
		exec(t, `DELETE FROM events WHERE seq > ?`, 9)
		forge(t, exec, nine)
		noErr(t, s.AppendEvent(t.Context(), eventFixture(20), nil), "the service appends on")
		_, err := sessionmanager.VerifyChain(t.Context(), s)
		noErr(t, err, "the keyless chain alone sees nothing")
		ce := chainErr(t, s, sessionmanager.ChainResigned)
		equal(t, int64(9), ce.Seq, "where the forged head was")
		check(t, strings.HasPrefix(ce.Error(), "head signature invalid"), "message: %v", ce)
		// And it stays reported, however many events follow.
		for i := range 7 {
			noErr(t, s.AppendEvent(t.Context(), eventFixture(21+i), nil))
		}
		chainErr(t, s, sessionmanager.ChainResigned)
	}
}

var (
	testChainLaunderedGarbage = launderedTruncation(func(t *testing.T, exec RawSQL, nine *sessionmanager.Event) {
		exec(t, `UPDATE event_chain SET seq = ?, hash = ?, sig = ?`, 9, nine.Hash, bytes.Repeat([]byte{7}, 32))
	})
	testChainLaunderedUnsigned = launderedTruncation(func(t *testing.T, exec RawSQL, nine *sessionmanager.Event) {
		exec(t, `UPDATE event_chain SET seq = ?, hash = ?, sig = NULL`, 9, nine.Hash)
	})
	testChainLaunderedDeleted = launderedTruncation(func(t *testing.T, exec RawSQL, _ *sessionmanager.Event) {
		exec(t, `DELETE FROM event_chain`)
	})
)

// rewrite changes event `from` and re-links every later event, as an
// attacker who knows the (keyless) chain hash would.
func rewrite(t *testing.T, s Store, exec RawSQL, from int64) {
	t.Helper()
	evs := listAllEvents(t, s, sessionmanager.EventFilter{}, 500)
	prev := evs[from-2].Hash
	for _, e := range evs[from-1:] {
		if e.Seq == from {
			e.Data = json.RawMessage(`{"reason":"nothing to see"}`)
		}
		e.PrevHash = prev
		e.Hash = e.ChainHash(prev)
		exec(t, `UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE seq = ?`, []byte(e.Data), e.PrevHash, e.Hash, e.Seq)
		prev = e.Hash
	}
}

func testChainRewrittenTail(t *testing.T, s Store, exec RawSQL) {
	signedChain(t, s, 12)
	// The rewritten links all verify; checkpoint 10 (signed) does not match.
	rewrite(t, s, exec, 7)
	_, err := sessionmanager.VerifyChain(t.Context(), s)
	noErr(t, err, "the keyless chain alone cannot see a rewritten tail")
	ce := chainErr(t, s, sessionmanager.ChainRewritten)
	equal(t, int64(10), ce.Seq, "the first checkpoint that does not match")
	check(t, strings.Contains(ce.Error(), "after seq 5"), "names the last good checkpoint: %v", ce)
	// The service goes on appending: still caught.
	noErr(t, s.AppendEvent(t.Context(), eventFixture(12), nil))
	chainErr(t, s, sessionmanager.ChainRewritten)
}

func testChainRewriteAfterCheckpoint(t *testing.T, s Store, exec RawSQL) {
	signedChain(t, s, 12)
	// Between two checkpoints only the signed head sees a rewrite.
	rewrite(t, s, exec, 12)
	ce := chainErr(t, s, sessionmanager.ChainRewritten)
	check(t, ce.Seq == 12 && strings.Contains(ce.Error(), "signed head"), "rewrite after the last checkpoint: %v", ce)
}

func testChainConcurrent(t *testing.T, s Store, _ RawSQL) {
	heads := signedChain(t, s, 0)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := s.AppendEvent(t.Context(), eventFixture(w*each+i), nil); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, err, "concurrent append")
	}
	rep := verifyOK(t, s)
	check(t, rep.Events == workers*each && rep.Head.Seq == workers*each, "one head over every event: %+v", rep)
	cps, err := heads.ChainCheckpoints(t.Context(), 0, 500)
	noErr(t, err)
	check(t, len(cps) == workers*each/5+1, "a checkpoint at 1 and every 5th of %d events: %d", workers*each, len(cps))
}

func testChainErasure(t *testing.T, s Store, _ RawSQL) {
	newUser(t, s, "u-0", "user0@example.com", "user0")
	signedChain(t, s, 12)
	noErr(t, s.EraseUser(t.Context(), "u-0", t0.Add(time.Hour)))
	rep := verifyOK(t, s)
	equal(t, int64(12), rep.Events)
	erased := 0
	for _, e := range listAllEvents(t, s, sessionmanager.EventFilter{}, 500) {
		if e.Erased {
			erased++
		}
	}
	check(t, erased == 4, "erasure reached u-0's events: %d", erased)
}

func testChainUnsignedStore(t *testing.T, s Store, _ RawSQL) {
	// Events appended without a signer (a chain that predates signing)
	// leave an unsigned head, which VerifyAudit refuses.
	for i := range 3 {
		noErr(t, s.AppendEvent(t.Context(), eventFixture(i), nil))
	}
	ce := chainErr(t, s, sessionmanager.ChainHeadSignature)
	check(t, strings.Contains(ce.Error(), "not signed"), "says the head is unsigned: %v", ce)
	// The next signed append signs it; no checkpoint predates it, so the
	// log verifies, signed since event 3.
	signedChain(t, s, 1)
	rep := verifyOK(t, s)
	check(t, rep.Head.Seq == 4 && rep.Head.Since == 3 && rep.SignedSince == 3, "signed since 3: %+v %+v", rep, rep.Head)
}

// BenchAppend measures AppendEvent (a login's audit event) without and
// with the signed head, on a fresh store from open for each.
func BenchAppend(b *testing.B, open func(b *testing.B) Store) {
	for _, signed := range []bool{false, true} {
		b.Run(fmt.Sprintf("signed=%v", signed), func(b *testing.B) {
			s := open(b)
			if signed {
				s.(sessionmanager.ChainHeadStore).SignChainWith(sessionmanager.ChainSigning{Signer: signer})
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				e := eventFixture(i % 50)
				e.At = t0.Add(time.Duration(i) * time.Second)
				if err := s.AppendEvent(b.Context(), e, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// UpgradeChain checks a log that predates the signed head: s gets events
// without a signer, downgrade (SQL) takes the head's schema away as it was
// before migration 0006, reopen opens the database again (applying 0006).
// The migrated head is the last event, unsigned, so VerifyAudit refuses it
// until the next signed append, after which the whole log verifies.
func UpgradeChain(t *testing.T, s Store, exec RawSQL, downgrade []string, reopen func(t *testing.T) Store) {
	for i := range 5 {
		noErr(t, s.AppendEvent(t.Context(), eventFixture(i), nil))
	}
	for _, q := range downgrade {
		exec(t, q)
	}
	s = reopen(t)
	heads := s.(sessionmanager.ChainHeadStore)
	head, err := heads.ChainHead(t.Context())
	noErr(t, err)
	last := listAllEvents(t, s, sessionmanager.EventFilter{AfterSeq: 4}, 1)[0]
	check(t, head.Seq == 5 && bytes.Equal(head.Hash, last.Hash) && len(head.Sig) == 0, "the migrated head is the last event, unsigned: %+v", head)
	ce := chainErr(t, s, sessionmanager.ChainHeadSignature)
	check(t, strings.Contains(ce.Error(), "not signed"), "says the head is unsigned: %v", ce)
	signedChain(t, s, 1)
	rep := verifyOK(t, s)
	check(t, rep.Events == 6 && rep.Head.Seq == 6 && rep.SignedSince == 5, "the upgraded log verifies, signed since 5: %+v", rep)
}
