// Package loadtest drives the gateway with flash-sale spikes and reconciles
// the outcome, to show how the queue shaves a peak.
package loadtest
