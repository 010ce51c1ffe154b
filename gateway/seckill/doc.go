// Package seckill admits flash-sale ("seckill") requests into the queue.
//
// POST /api/seckill/{activity} with {"user_id": "..."} goes through the
// token buckets of package admission. A refused request gets 429 with a
// Retry-After at once, without touching the broker. An admitted one gets a
// new request ID and is sent to the SECKILL_REQUESTS topic (tag
// SeckillRequested, key = request ID); only when the broker has confirmed
// the send does the client get 202 {"request_id", "status_url"}. A send that
// fails or is not confirmed answers 503, so every 202 names a stored
// request.
//
// Config.AckBeforeSend turns that last rule off, for teaching: the gateway
// answers 202 first and sends in the background, and requests the broker
// never stored have still been acknowledged.
//
// GET /api/seckill/requests/{id} is the order service's answer; while the
// order service has not seen an ID this gateway issued (a 404), the gateway
// answers {"status":"QUEUED"} instead. See IDs for how the gateway
// recognises its IDs without remembering them.
package seckill
