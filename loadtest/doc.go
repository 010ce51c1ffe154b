// Package loadtest drives the gateway with flash-sale spikes and reconciles
// the outcome, to show how the token bucket and the queue shave a peak.
//
// A run ([Run]) has four parts:
//
//   - the offered load, a [Profile] of phases (baseline, spike, tail) that
//     a vegeta attacker follows through [Profile.Pacer]: an open model, so
//     requests leave on schedule whatever the answers do;
//   - a [Sampler] that folds every answer, every outcome and a reading of
//     the platform once a second (the order service's consumer lag through
//     a [BacklogReader], the stock) into one [Sample] per second;
//   - a poller that follows each admitted request until it is ORDERED or
//     REJECTED;
//   - [Reconcile], which checks the [Ledger] of admissions, outcomes and
//     stock against the platform's promises and returns a [Verdict].
//
// [WriteReport] renders a [Result] as one self-contained HTML file with
// SVG charts, the samples as JSON and CSV, and the main chart as PNG.
package loadtest
