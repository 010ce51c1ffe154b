// Package compat holds the compatibility tests that run Apache RocketMQ's
// official Go client (rocketmq-client-go v2.1.2) against a real Surge
// NameServer and Broker. It is a module of its own so that the official
// client's dependencies never reach the broker's module.
package compat
