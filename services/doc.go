// Package services is the home of Surge's business services (order,
// inventory, points, coupon). They talk to each other only through topics on
// the Surge broker; each owns one PostgreSQL schema.
package services
