package protocol

import (
	"sort"
	"strings"
)

// Property separators: name U+0001 value U+0002.
const (
	NameValueSeparator = '\x01'
	PropertySeparator  = '\x02'
)

// Well-known property names.
const (
	PropertyTags                  = "TAGS"
	PropertyKeys                  = "KEYS"
	PropertyUniqKey               = "UNIQ_KEY"
	PropertyWaitStoreMsgOK        = "WAIT"
	PropertyDelayLevel            = "DELAY"
	PropertyRetryTopic            = "RETRY_TOPIC"
	PropertyRealTopic             = "REAL_TOPIC"
	PropertyRealQueueID           = "REAL_QID"
	PropertyTransactionPrepared   = "TRAN_MSG"
	PropertyProducerGroup         = "PGROUP"
	PropertyMinOffset             = "MIN_OFFSET"
	PropertyMaxOffset             = "MAX_OFFSET"
	PropertyOriginMessageID       = "ORIGIN_MESSAGE_ID"
	PropertyReconsumeTime         = "RECONSUME_TIME"
	PropertyMaxReconsumeTimes     = "MAX_RECONSUME_TIMES"
	PropertyTransactionCheckTimes = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunitySeconds  = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyPreparedQueueOffset   = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyCluster               = "CLUSTER"
	PropertyMsgRegion             = "MSG_REGION"
	PropertyTraceSwitch           = "TRACE_ON"
	PropertyCorrelationID         = "CORRELATION_ID"
	PropertyReplyToClient         = "REPLY_TO_CLIENT"
	PropertyMessageType           = "MSG_TYPE"
	PropertyShardingKey           = "SHARDING_KEY"
	PropertyTransactionID         = "__transactionId__"
)

// KeySeparator separates the business keys inside the KEYS property.
const KeySeparator = " "

// ParseProperties parses a properties text. It accepts both the Go client's
// form (a separator after every pair) and Java's (none after the last), skips
// empty items and items without a name-value separator, and keeps the last
// value of a repeated name.
func ParseProperties(s string) map[string]string {
	if s == "" {
		return nil
	}
	props := make(map[string]string, strings.Count(s, string(PropertySeparator))+1)
	for item := range strings.SplitSeq(s, string(PropertySeparator)) {
		name, value, ok := strings.Cut(item, string(NameValueSeparator))
		if !ok || name == "" {
			continue
		}
		props[name] = value
	}
	return props
}

// MarshalProperties renders properties in a stable order (sorted by name), a
// separator after every pair, as the Go client writes them.
func MarshalProperties(props map[string]string) string {
	if len(props) == 0 {
		return ""
	}
	names := make([]string, 0, len(props))
	n := 0
	for k, v := range props {
		names = append(names, k)
		n += len(k) + len(v) + 2
	}
	sort.Strings(names)
	var b strings.Builder
	b.Grow(n)
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(NameValueSeparator)
		b.WriteString(props[k])
		b.WriteByte(PropertySeparator)
	}
	return b.String()
}

// PropertyValue returns one property's value from a properties text without
// building a map: the hot paths (dispatch, pull filtering) need one or two
// names per message. A repeated name yields its last value, as in
// ParseProperties and in both official clients (which fill a map in order),
// so the broker filters on the same TAGS value the consumer later sees.
func PropertyValue(s, name string) string {
	var value string
	for len(s) > 0 {
		item := s
		if i := strings.IndexByte(s, PropertySeparator); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if len(item) > len(name) && item[len(name)] == NameValueSeparator && item[:len(name)] == name {
			value = item[len(name)+1:]
		}
	}
	return value
}

// SetProperty returns s with name set to value, replacing an existing value.
func SetProperty(s, name, value string) string {
	s = DeleteProperty(s, name)
	if s != "" && s[len(s)-1] != PropertySeparator {
		s += string(PropertySeparator)
	}
	return s + name + string(NameValueSeparator) + value + string(PropertySeparator)
}

// DeleteProperty returns s without any pair named name.
func DeleteProperty(s, name string) string {
	if PropertyValue(s, name) == "" && !strings.Contains(s, name+string(NameValueSeparator)) {
		return s
	}
	var b strings.Builder
	for item := range strings.SplitSeq(s, string(PropertySeparator)) {
		if item == "" || strings.HasPrefix(item, name+string(NameValueSeparator)) {
			continue
		}
		b.WriteString(item)
		b.WriteByte(PropertySeparator)
	}
	return b.String()
}

// Keys splits a KEYS property value into its business keys.
func Keys(s string) []string {
	return strings.Fields(s)
}
