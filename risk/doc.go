// Package risk scores every login 0-100 (100 = no concern) with the reasons,
// applies the geo-fence and the block/alert/allow policy, and decides how to
// throttle brute-force attempts.
//
// Everything here is a pure function of its inputs: no I/O, no clock, no
// randomness. The login pipeline gathers the facts (geo and threat lookup,
// the user's history, failed-login counts) and this package judges them, so
// every rule is a table test. docs/RISK.md describes the signals, weights,
// policy and throttle defaults.
package risk
