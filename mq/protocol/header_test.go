package protocol

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// headerCase is one header type: a real ext map, what it decodes to, and
// which fields are required or numeric.
type headerCase struct {
	name   string
	decode func(map[string]string) (any, error)
	ext    map[string]string
	want   interface{ Ext() map[string]string }
	// required fields: each one's absence must be reported.
	required []string
	// numbers: fields that must hold an integer; int32 ones also get an
	// out-of-range value.
	numbers []string
	int32s  []string
}

func dec[T any](f func(map[string]string) (T, error)) func(map[string]string) (any, error) {
	return func(ext map[string]string) (any, error) { return f(ext) }
}

func sendDecoder(code int16) func(map[string]string) (any, error) {
	return func(ext map[string]string) (any, error) { return DecodeSendHeader(code, ext) }
}

// sendV2 wraps a SendMessageHeader so its Ext is the V2 rendering.
type sendV2 struct{ SendMessageHeader }

func (h sendV2) Ext() map[string]string { return h.ExtV2() }

func sendV2Decoder(code int16) func(map[string]string) (any, error) {
	return func(ext map[string]string) (any, error) {
		h, err := DecodeSendHeader(code, ext)
		return sendV2{h}, err
	}
}

var headerCases = []headerCase{
	{
		// Doc 9.1 step 3: what the Go client sends for SendSync.
		name:   "SEND_MESSAGE V1 from Go",
		decode: sendDecoder(SendMessage),
		ext: map[string]string{
			"producerGroup": "pg", "topic": "NewTopic", "queueId": "1", "sysFlag": "0",
			"bornTimestamp": "1795343038089", "flag": "0",
			"properties":     "TAGS\x01TagA\x02KEYS\x01k1\x02UNIQ_KEY\x01C0000202\x02",
			"reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0",
			"defaultTopic": "TBW102", "defaultTopicQueueNums": "4", "batch": "false",
		},
		want: SendMessageHeader{
			ProducerGroup: "pg", Topic: "NewTopic", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
			QueueID: 1, BornTimestamp: 1795343038089,
			Properties:           "TAGS\x01TagA\x02KEYS\x01k1\x02UNIQ_KEY\x01C0000202\x02",
			HasMaxReconsumeTimes: true,
		},
		required: []string{"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag"},
		numbers:  []string{"bornTimestamp", "reconsumeTimes", "maxReconsumeTimes"},
		int32s:   []string{"defaultTopicQueueNums", "queueId", "sysFlag", "flag"},
	},
	{
		// Doc 5.2/5.3: the Go client's batch header.
		name:   "SEND_BATCH_MESSAGE V2 from Go",
		decode: sendV2Decoder(SendBatchMessage),
		ext: map[string]string{
			"a": "pg", "b": "T", "c": "TBW102", "d": "4", "e": "3", "f": "0", "g": "1700000000000",
			"h": "0", "i": "", "j": "0", "k": "false", "l": "0", "m": "true",
		},
		want: sendV2{SendMessageHeader{
			ProducerGroup: "pg", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
			QueueID: 3, BornTimestamp: 1700000000000, HasMaxReconsumeTimes: true, Batch: true,
		}},
		required: []string{"a", "b", "c", "d", "e", "f", "g", "h"},
		numbers:  []string{"g", "j", "l"},
		int32s:   []string{"d", "e", "f", "h"},
	},
	{
		// A Java 4.9.7 SEND_MESSAGE_V2: compressed transactional message,
		// no l, n set, WAIT in the properties.
		name:   "SEND_MESSAGE_V2 from Java",
		decode: sendV2Decoder(SendMessageV2),
		ext: map[string]string{
			"a": "tpg", "b": "T", "c": "TBW102", "d": "4", "e": "0", "f": "773", "g": "1700000000000",
			"h": "9", "i": "WAIT\x01true\x02TRAN_MSG\x01true", "j": "2", "k": "true", "m": "false", "n": "broker-a",
		},
		want: sendV2{SendMessageHeader{
			ProducerGroup: "tpg", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
			SysFlag: 773, BornTimestamp: 1700000000000, Flag: 9,
			Properties: "WAIT\x01true\x02TRAN_MSG\x01true", ReconsumeTimes: 2, UnitMode: true, BrokerName: "broker-a",
		}},
		required: []string{"a", "b", "c", "d", "e", "f", "g", "h"},
	},
	{
		name:   "send response",
		decode: dec(DecodeSendMessageResponseHeader),
		ext: map[string]string{
			"msgId": "C0A8000A00002A9F0000000000000000", "queueId": "1", "queueOffset": "0",
			"MSG_REGION": "DefaultRegion", "TRACE_ON": "true",
		},
		want:     SendMessageResponseHeader{MsgID: "C0A8000A00002A9F0000000000000000", QueueID: 1, MsgRegion: DefaultRegion, TraceOn: true},
		required: []string{"msgId", "queueId", "queueOffset"},
		numbers:  []string{"queueOffset"},
		int32s:   []string{"queueId"},
	},
	{
		// Doc 9.3 step 3.
		name:   "END_TRANSACTION",
		decode: dec(DecodeEndTransactionRequestHeader),
		ext: map[string]string{
			"producerGroup": "tpg", "tranStateTableOffset": "0", "commitLogOffset": "1234567",
			"commitOrRollback": "0", "fromTransactionCheck": "false", "msgId": "C0000202", "transactionId": "tx",
		},
		want:     EndTransactionRequestHeader{ProducerGroup: "tpg", CommitLogOffset: 1234567, MsgID: "C0000202", TransactionID: "tx"},
		required: []string{"producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback", "msgId"},
		numbers:  []string{"tranStateTableOffset", "commitLogOffset"},
		int32s:   []string{"commitOrRollback"},
	},
	{
		name:   "CHECK_TRANSACTION_STATE",
		decode: dec(DecodeCheckTransactionStateRequestHeader),
		ext: map[string]string{
			"tranStateTableOffset": "3", "commitLogOffset": "4096", "msgId": "U", "transactionId": "U",
			"offsetMsgId": "C0A8000A00002A9F0000000000001000",
		},
		want:     CheckTransactionStateRequestHeader{TranStateTableOffset: 3, CommitLogOffset: 4096, MsgID: "U", TransactionID: "U", OffsetMsgID: "C0A8000A00002A9F0000000000001000"},
		required: []string{"tranStateTableOffset", "commitLogOffset"},
		numbers:  []string{"tranStateTableOffset", "commitLogOffset"},
	},
	{
		name:   "CONSUMER_SEND_MSG_BACK",
		decode: dec(DecodeConsumerSendMsgBackRequestHeader),
		ext: map[string]string{
			"group": "cg", "offset": "179", "delayLevel": "0", "originMsgId": "C0A8",
			"originTopic": "T", "unitMode": "false", "maxReconsumeTimes": "-1",
		},
		want:     ConsumerSendMsgBackRequestHeader{Offset: 179, Group: "cg", OriginMsgID: "C0A8", OriginTopic: "T", MaxReconsumeTimes: -1, HasMaxReconsumeTimes: true},
		required: []string{"offset", "group", "delayLevel"},
		numbers:  []string{"offset", "maxReconsumeTimes"},
		int32s:   []string{"delayLevel"},
	},
	{
		name:   "PUSH_REPLY_MESSAGE_TO_CLIENT",
		decode: dec(DecodePushReplyMessageRequestHeader),
		ext: map[string]string{
			"producerGroup": "rg", "topic": "DefaultCluster_REPLY_TOPIC", "defaultTopic": "TBW102",
			"defaultTopicQueueNums": "4", "queueId": "0", "sysFlag": "0", "bornTimestamp": "5", "flag": "0",
			"properties": "MSG_TYPE\x01reply\x02", "reconsumeTimes": "0", "unitMode": "false",
			"bornHost": "192.0.2.2:50000", "storeHost": "192.0.2.1:10911", "storeTimestamp": "6",
		},
		want: PushReplyMessageRequestHeader{
			ProducerGroup: "rg", Topic: "DefaultCluster_REPLY_TOPIC", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
			BornTimestamp: 5, Properties: "MSG_TYPE\x01reply\x02", BornHost: "192.0.2.2:50000", StoreHost: "192.0.2.1:10911", StoreTimestamp: 6,
		},
		required: []string{"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag", "bornHost", "storeHost", "storeTimestamp"},
		int32s:   []string{"queueId", "sysFlag"},
	},
	{
		// Doc 9.2 step 7.
		name:   "PULL_MESSAGE from the Go push consumer",
		decode: dec(DecodePullMessageRequestHeader),
		ext: map[string]string{
			"consumerGroup": "cg", "topic": "NewTopic", "queueId": "0", "queueOffset": "0", "maxMsgNums": "32",
			"sysFlag": "2", "commitOffset": "0", "suspendTimeoutMillis": "20000", "subscription": "",
			"subVersion": "0", "expressionType": "TAG",
		},
		want: PullMessageRequestHeader{
			ConsumerGroup: "cg", Topic: "NewTopic", MaxMsgNums: 32, SysFlag: PullSuspend,
			SuspendTimeoutMillis: 20000, ExpressionType: ExpressionTag,
		},
		required: []string{"consumerGroup", "topic", "queueId", "queueOffset", "maxMsgNums", "sysFlag", "commitOffset", "suspendTimeoutMillis", "subVersion"},
		numbers:  []string{"queueOffset", "commitOffset", "suspendTimeoutMillis", "subVersion"},
		int32s:   []string{"queueId", "maxMsgNums", "sysFlag"},
	},
	{
		// Doc 9.5.
		name:     "pull response",
		decode:   dec(DecodePullMessageResponseHeader),
		ext:      map[string]string{"nextBeginOffset": "1", "minOffset": "0", "maxOffset": "1", "suggestWhichBrokerId": "0"},
		want:     PullMessageResponseHeader{NextBeginOffset: 1, MaxOffset: 1},
		required: []string{"nextBeginOffset", "minOffset", "maxOffset", "suggestWhichBrokerId"},
		numbers:  []string{"nextBeginOffset", "minOffset", "maxOffset", "suggestWhichBrokerId"},
	},
	{
		name:     "QUERY_CONSUMER_OFFSET",
		decode:   dec(DecodeQueryConsumerOffsetRequestHeader),
		ext:      map[string]string{"consumerGroup": "cg", "topic": "T", "queueId": "3"},
		want:     QueryConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", QueueID: 3},
		required: []string{"consumerGroup", "topic", "queueId"},
		int32s:   []string{"queueId"},
	},
	{
		name:     "UPDATE_CONSUMER_OFFSET",
		decode:   dec(DecodeUpdateConsumerOffsetRequestHeader),
		ext:      map[string]string{"consumerGroup": "cg", "topic": "T", "queueId": "3", "commitOffset": "42"},
		want:     UpdateConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "T", QueueID: 3, CommitOffset: 42},
		required: []string{"consumerGroup", "topic", "queueId", "commitOffset"},
		numbers:  []string{"commitOffset"},
		int32s:   []string{"queueId"},
	},
	{
		name:     "GET_MAX_OFFSET, GET_MIN_OFFSET, GET_EARLIEST_MSG_STORETIME",
		decode:   dec(DecodeTopicQueueRequestHeader),
		ext:      map[string]string{"topic": "T", "queueId": "2"},
		want:     TopicQueueRequestHeader{Topic: "T", QueueID: 2},
		required: []string{"topic", "queueId"},
		int32s:   []string{"queueId"},
	},
	{
		name:     "SEARCH_OFFSET_BY_TIMESTAMP",
		decode:   dec(DecodeSearchOffsetRequestHeader),
		ext:      map[string]string{"topic": "T", "queueId": "2", "timestamp": "1700000000000"},
		want:     SearchOffsetRequestHeader{Topic: "T", QueueID: 2, Timestamp: 1700000000000},
		required: []string{"topic", "queueId", "timestamp"},
		numbers:  []string{"timestamp"},
	},
	{
		name:     "offset response",
		decode:   dec(DecodeOffsetResponseHeader),
		ext:      map[string]string{"offset": "-1"},
		want:     OffsetResponseHeader{Offset: -1},
		required: []string{"offset"},
		numbers:  []string{"offset"},
	},
	{
		name:     "GET_EARLIEST_MSG_STORETIME response",
		decode:   dec(DecodeGetEarliestMsgStoreTimeResponseHeader),
		ext:      map[string]string{"timestamp": "1700000000005"},
		want:     GetEarliestMsgStoreTimeResponseHeader{Timestamp: 1700000000005},
		required: []string{"timestamp"},
		numbers:  []string{"timestamp"},
	},
	{
		name:     "GET_CONSUMER_LIST_BY_GROUP, NOTIFY_CONSUMER_IDS_CHANGED",
		decode:   dec(DecodeConsumerGroupRequestHeader),
		ext:      map[string]string{"consumerGroup": "cg"},
		want:     ConsumerGroupRequestHeader{ConsumerGroup: "cg"},
		required: []string{"consumerGroup"},
	},
	{
		name:     "UNREGISTER_CLIENT",
		decode:   dec(DecodeUnregisterClientRequestHeader),
		ext:      map[string]string{"clientID": "10.0.0.7@311", "consumerGroup": "cg"},
		want:     UnregisterClientRequestHeader{ClientID: "10.0.0.7@311", ConsumerGroup: "cg"},
		required: []string{"clientID"},
	},
	{
		name:   "QUERY_MESSAGE",
		decode: dec(DecodeQueryMessageRequestHeader),
		ext: map[string]string{
			"topic": "T", "key": "C0A8", "maxNum": "32", "beginTimestamp": "0",
			"endTimestamp": "9223372036854775807", "_UNIQUE_KEY_QUERY": "true",
		},
		want:     QueryMessageRequestHeader{Topic: "T", Key: "C0A8", MaxNum: 32, EndTimestamp: 1<<63 - 1, UniqueKeyQuery: true},
		required: []string{"topic", "key", "maxNum", "beginTimestamp", "endTimestamp"},
		numbers:  []string{"beginTimestamp", "endTimestamp"},
		int32s:   []string{"maxNum"},
	},
	{
		name:     "QUERY_MESSAGE response",
		decode:   dec(DecodeQueryMessageResponseHeader),
		ext:      map[string]string{"indexLastUpdateTimestamp": "7", "indexLastUpdatePhyoffset": "8"},
		want:     QueryMessageResponseHeader{IndexLastUpdateTimestamp: 7, IndexLastUpdatePhyoffset: 8},
		required: []string{"indexLastUpdateTimestamp", "indexLastUpdatePhyoffset"},
		numbers:  []string{"indexLastUpdateTimestamp", "indexLastUpdatePhyoffset"},
	},
	{
		name:     "VIEW_MESSAGE_BY_ID",
		decode:   dec(DecodeViewMessageRequestHeader),
		ext:      map[string]string{"offset": "1234567"},
		want:     ViewMessageRequestHeader{Offset: 1234567},
		required: []string{"offset"},
		numbers:  []string{"offset"},
	},
	{
		// Doc 5.17: the Go admin's CreateTopic defaults.
		name:   "UPDATE_AND_CREATE_TOPIC from the Go admin",
		decode: dec(DecodeCreateTopicRequestHeader),
		ext: map[string]string{
			"topic": "T", "defaultTopic": "defaultTopic", "readQueueNums": "8", "writeQueueNums": "8",
			"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
		},
		want: CreateTopicRequestHeader{
			Topic: "T", DefaultTopic: "defaultTopic", ReadQueueNums: 8, WriteQueueNums: 8,
			Perm: PermRead | PermWrite, TopicFilterType: TopicFilterSingleTag,
		},
		required: []string{"topic", "defaultTopic", "readQueueNums", "writeQueueNums", "perm", "topicFilterType"},
		int32s:   []string{"readQueueNums", "writeQueueNums", "perm", "topicSysFlag"},
	},
	{
		name:     "DELETE_TOPIC_IN_NAMESRV",
		decode:   dec(DecodeDeleteTopicRequestHeader),
		ext:      map[string]string{"topic": "T", "clusterName": "DefaultCluster"},
		want:     DeleteTopicRequestHeader{Topic: "T", ClusterName: "DefaultCluster"},
		required: []string{"topic"},
	},
	{
		name:     "GET_TOPIC_STATS_INFO",
		decode:   dec(DecodeTopicRequestHeader),
		ext:      map[string]string{"topic": "T"},
		want:     TopicRequestHeader{Topic: "T"},
		required: []string{"topic"},
	},
	{
		// Doc 9.4.
		name:     "GET_ROUTEINFO_BY_TOPIC",
		decode:   dec(DecodeGetRouteInfoRequestHeader),
		ext:      map[string]string{"topic": "TopicTest"},
		want:     GetRouteInfoRequestHeader{Topic: "TopicTest"},
		required: []string{"topic"},
	},
	{
		name:   "REGISTER_BROKER",
		decode: dec(DecodeRegisterBrokerRequestHeader),
		ext: map[string]string{
			"brokerName": "broker-a", "brokerAddr": "192.168.0.10:10911", "clusterName": "DefaultCluster",
			"haServerAddr": "192.168.0.10:10912", "brokerId": "0", "compressed": "false", "bodyCrc32": "907060870",
		},
		want: RegisterBrokerRequestHeader{
			BrokerName: "broker-a", BrokerAddr: "192.168.0.10:10911", ClusterName: "DefaultCluster",
			HAServerAddr: "192.168.0.10:10912", BodyCRC32: 907060870,
		},
		required: []string{"brokerName", "brokerAddr", "clusterName", "haServerAddr", "brokerId"},
		numbers:  []string{"brokerId"},
		int32s:   []string{"bodyCrc32"},
	},
	{
		name:   "REGISTER_BROKER response",
		decode: dec(DecodeRegisterBrokerResponseHeader),
		ext:    map[string]string{"haServerAddr": "192.168.0.10:10912", "masterAddr": "192.168.0.10:10911"},
		want:   RegisterBrokerResponseHeader{HAServerAddr: "192.168.0.10:10912", MasterAddr: "192.168.0.10:10911"},
	},
	{
		name:     "UNREGISTER_BROKER, QUERY_DATA_VERSION",
		decode:   dec(DecodeBrokerIdentityHeader),
		ext:      map[string]string{"brokerName": "broker-a", "brokerAddr": "192.168.0.11:10911", "clusterName": "DefaultCluster", "brokerId": "1"},
		want:     BrokerIdentityHeader{BrokerName: "broker-a", BrokerAddr: "192.168.0.11:10911", ClusterName: "DefaultCluster", BrokerID: 1},
		required: []string{"brokerName", "brokerAddr", "clusterName", "brokerId"},
		numbers:  []string{"brokerId"},
	},
	{
		name:     "QUERY_DATA_VERSION response",
		decode:   dec(DecodeQueryDataVersionResponseHeader),
		ext:      map[string]string{"changed": "true"},
		want:     QueryDataVersionResponseHeader{Changed: true},
		required: []string{"changed"},
	},
	{
		name:     "RESET_CONSUMER_CLIENT_OFFSET",
		decode:   dec(DecodeResetOffsetRequestHeader),
		ext:      map[string]string{"topic": "T", "group": "cg", "timestamp": "-1", "isForce": "true"},
		want:     ResetOffsetRequestHeader{Topic: "T", Group: "cg", Timestamp: -1, IsForce: true},
		required: []string{"topic", "group", "timestamp", "isForce"},
		numbers:  []string{"timestamp"},
	},
	{
		name:     "GET_CONSUMER_STATUS_FROM_CLIENT",
		decode:   dec(DecodeGetConsumerStatusRequestHeader),
		ext:      map[string]string{"topic": "T", "group": "cg", "clientAddr": "192.0.2.2:50000"},
		want:     GetConsumerStatusRequestHeader{Topic: "T", Group: "cg", ClientAddr: "192.0.2.2:50000"},
		required: []string{"topic", "group"},
	},
	{
		name:     "GET_CONSUME_STATS",
		decode:   dec(DecodeGetConsumeStatsRequestHeader),
		ext:      map[string]string{"consumerGroup": "cg", "topic": "T"},
		want:     GetConsumeStatsRequestHeader{ConsumerGroup: "cg", Topic: "T"},
		required: []string{"consumerGroup"},
	},
	{
		name:     "GET_PRODUCER_CONNECTION_LIST",
		decode:   dec(DecodeGetProducerConnectionListRequestHeader),
		ext:      map[string]string{"producerGroup": "pg"},
		want:     GetProducerConnectionListRequestHeader{ProducerGroup: "pg"},
		required: []string{"producerGroup"},
	},
	{
		name:     "GET_CONSUMER_RUNNING_INFO",
		decode:   dec(DecodeGetConsumerRunningInfoRequestHeader),
		ext:      map[string]string{"consumerGroup": "cg", "clientId": "192.0.2.2@16994", "jstackEnable": "false"},
		want:     GetConsumerRunningInfoRequestHeader{ConsumerGroup: "cg", ClientID: "192.0.2.2@16994"},
		required: []string{"consumerGroup", "clientId"},
	},
	{
		name:   "CONSUME_MESSAGE_DIRECTLY",
		decode: dec(DecodeConsumeMessageDirectlyRequestHeader),
		ext: map[string]string{
			"consumerGroup": "cg", "clientId": "192.0.2.2@16994",
			"msgId": "C0A8000A00002A9F0000000000000000", "brokerName": "broker-a",
		},
		want: ConsumeMessageDirectlyRequestHeader{
			ConsumerGroup: "cg", ClientID: "192.0.2.2@16994",
			MsgID: "C0A8000A00002A9F0000000000000000", BrokerName: "broker-a",
		},
		required: []string{"consumerGroup"},
	},
}

func TestHeaderDecode(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.decode(tc.ext)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestHeaderExtRoundTrip(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			ext := tc.want.Ext()
			got, err := tc.decode(ext)
			if err != nil {
				t.Fatalf("decode own Ext %q: %v", ext, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("round trip\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestHeaderOnlyRequiredFields(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			ext := map[string]string{}
			for _, k := range tc.required {
				ext[k] = tc.ext[k]
			}
			if _, err := tc.decode(ext); err != nil {
				t.Fatalf("optional fields treated as required: %v", err)
			}
		})
	}
}

func TestHeaderMissingField(t *testing.T) {
	for _, tc := range headerCases {
		for _, field := range tc.required {
			t.Run(tc.name+"/"+field, func(t *testing.T) {
				ext := maps.Clone(tc.ext)
				delete(ext, field)
				_, err := tc.decode(ext)
				if !errors.Is(err, ErrMissingField) {
					t.Fatalf("err = %v, want ErrMissingField", err)
				}
				fe, ok := errors.AsType[*FieldError](err)
				if !ok || fe.Field != field {
					t.Fatalf("FieldError = %+v, want field %q", fe, field)
				}
				if !strings.Contains(err.Error(), `"`+field+`"`) {
					t.Errorf("message %q does not name the field", err)
				}
			})
		}
	}
}

func TestHeaderMalformedNumber(t *testing.T) {
	for _, tc := range headerCases {
		bad := map[string]string{}
		for _, f := range append(tc.numbers, tc.int32s...) {
			bad[f] = "12x"
		}
		for _, f := range tc.numbers {
			bad[f+" empty"] = ""
		}
		for _, f := range tc.int32s {
			bad[f+" overflow"] = "2147483648"
		}
		for key, value := range bad {
			field, _, _ := strings.Cut(key, " ")
			t.Run(tc.name+"/"+key, func(t *testing.T) {
				ext := maps.Clone(tc.ext)
				ext[field] = value
				_, err := tc.decode(ext)
				if !errors.Is(err, ErrBadField) {
					t.Fatalf("err = %v, want ErrBadField", err)
				}
				fe, ok := errors.AsType[*FieldError](err)
				if !ok || fe.Field != field || fe.Value != value {
					t.Fatalf("FieldError = %+v", fe)
				}
				if !strings.Contains(err.Error(), `"`+field+`"`) || !strings.Contains(err.Error(), `"`+value+`"`) {
					t.Errorf("message %q does not name field and value", err)
				}
			})
		}
	}
}

func TestHeaderErrorsCollected(t *testing.T) {
	_, err := DecodePullMessageRequestHeader(map[string]string{"queueId": "x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"PULL_MESSAGE", `"consumerGroup" missing`, `"topic" missing`, `"queueId": bad value "x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !errors.Is(err, ErrMissingField) || !errors.Is(err, ErrBadField) {
		t.Errorf("errors.Is fails for the joined error %v", err)
	}
}

func TestDecodeSendHeaderCodes(t *testing.T) {
	v1 := headerCases[0].ext
	for _, code := range []int16{SendMessage, SendReplyMessage} {
		if _, err := DecodeSendHeader(code, v1); err != nil {
			t.Errorf("code %d with V1 names: %v", code, err)
		}
	}
	for _, code := range []int16{SendMessageV2, SendBatchMessage, SendReplyMessageV2} {
		if _, err := DecodeSendHeader(code, v1); !errors.Is(err, ErrMissingField) {
			t.Errorf("code %d with V1 names: err = %v, want ErrMissingField", code, err)
		}
	}
	if _, err := DecodeSendHeader(PullMessage, v1); err == nil {
		t.Error("code 11 accepted as a send")
	}
}

func TestHeaderBooleansFollowJava(t *testing.T) {
	// Java's Boolean.parseBoolean: "true" in any case, anything else false.
	for value, want := range map[string]bool{"true": true, "TRUE": true, "True": true, "false": false, "1": false, "yes": false, "": false} {
		h, err := DecodeQueryDataVersionResponseHeader(map[string]string{"changed": value})
		if err != nil || h.Changed != want {
			t.Errorf("changed=%q: %v, %v", value, h.Changed, err)
		}
	}
}

func TestSendResponseDefaults(t *testing.T) {
	// A Java broker always adds MSG_REGION and TRACE_ON; tolerate their
	// absence as the Go client does.
	h, err := DecodeSendMessageResponseHeader(map[string]string{"msgId": "X", "queueId": "0", "queueOffset": "5"})
	if err != nil {
		t.Fatal(err)
	}
	if h.MsgRegion != DefaultRegion || h.TraceOn {
		t.Errorf("defaults: %+v", h)
	}
	ext := SendMessageResponseHeader{MsgID: "X", QueueOffset: 5}.Ext()
	want := map[string]string{"msgId": "X", "queueId": "0", "queueOffset": "5", "MSG_REGION": "DefaultRegion", "TRACE_ON": "false"}
	if !maps.Equal(ext, want) {
		t.Errorf("Ext = %q, want %q", ext, want)
	}
}

func TestExtValuesAreStrings(t *testing.T) {
	// The point of Ext: every value is text; a numeric JSON value would make
	// the Go client drop the whole frame (doc 10.1). Check the forms.
	ext := PullMessageResponseHeader{SuggestWhichBrokerID: 0, NextBeginOffset: 1, MinOffset: 0, MaxOffset: 1}.Ext()
	want := map[string]string{"nextBeginOffset": "1", "minOffset": "0", "maxOffset": "1", "suggestWhichBrokerId": "0"}
	if !maps.Equal(ext, want) {
		t.Errorf("pull response Ext = %q, want %q", ext, want)
	}
	send := SendMessageHeader{UnitMode: true, Batch: true}.Ext()
	if send["unitMode"] != "true" || send["batch"] != "true" || send["queueId"] != "0" {
		t.Errorf("send Ext = %q", send)
	}
	if _, ok := send["maxReconsumeTimes"]; ok {
		t.Error("absent maxReconsumeTimes rendered")
	}
}

func TestCreateTopicHeaderTopicConfig(t *testing.T) {
	h := CreateTopicRequestHeader{Topic: "T", ReadQueueNums: 8, WriteQueueNums: 4, Perm: 6, TopicFilterType: TopicFilterSingleTag, Order: true}
	want := TopicConfig{TopicName: "T", ReadQueueNums: 8, WriteQueueNums: 4, Perm: 6, TopicFilterType: TopicFilterSingleTag, Order: true}
	if got := h.TopicConfig(); got != want {
		t.Errorf("TopicConfig = %+v", got)
	}
}
