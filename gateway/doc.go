// Package gateway is Surge's HTTP edge: it routes the public API to the
// owning service and admits flash-sale requests into a queue through token
// buckets, rejecting the overflow fast.
package gateway
