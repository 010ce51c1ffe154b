package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/protocol"
)

// options are the flags every command shares; each uses what it needs.
type options struct {
	namesrv, cluster, topic, group, key, msgID, body, tags string
	brokerAddr                                             string
	read, write, perm                                      int
	timestamp, offset                                      string
	json                                                   bool
	count                                                  int
	wait                                                   time.Duration
}

type command struct {
	usage string
	run   func(ctx context.Context, a *client.Admin, o options, out io.Writer) error
}

var commands = map[string]command{
	"clusterList":        {"list clusters and brokers", clusterList},
	"topicList":          {"list topics", topicList},
	"topicRoute":         {"show a topic's route: -t", topicRoute},
	"topicStatus":        {"show a topic's queues: -t", topicStatus},
	"updateTopic":        {"create or update a topic: -t [-c cluster] [-r 8] [-w 8] [-p 6]", updateTopic},
	"deleteTopic":        {"delete a topic: -t [-c cluster]", deleteTopic},
	"consumerProgress":   {"show a group's lag per queue: -g -t", consumerProgress},
	"queryMsgById":       {"show a message by its offset message ID: -i", queryMsgByID},
	"queryMsgByKey":      {"find messages by key: -t -k", queryMsgByKey},
	"queryMsgByOffset":   {"show the message at a queue offset: -t -b brokerName -i queueId -o offset", queryMsgByOffset},
	"resetOffsetByTime":  {"reset a group's offsets to a time: -g -t -s (ms, yyyy-MM-dd#HH:mm:ss:SSS, or now)", resetOffsetByTime},
	"brokerStatus":       {"show a broker's runtime figures: -b addr", brokerStatus},
	"sendMessage":        {"send one message: -t -body text [--tags]", sendMessage},
	"consumeMessage":     {"consume a topic from its first message: -t [--count 32] [--wait 30s] [--tags]", consumeMessage},
	"consumerConnection": {"show a group's consumers: -g -t", consumerConnection},
	"quickstartProducer": {"send --count messages (1000) to TopicTest, like RocketMQ's quick start", quickstartProducer},
	"quickstartConsumer": {"consume TopicTest, like RocketMQ's quick start", quickstartConsumer},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: mqadmin <command> [-n namesrv] [flags] [--json]\n\nCommands:")
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(w, "  %-18s %s\n", name, commands[name].usage)
	}
	fmt.Fprintln(w, "\n-n defaults to $NAMESRV_ADDR. Exit code 1 on any failure.")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	var o options
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.namesrv, "n", getenv("NAMESRV_ADDR"), "NameServer `addresses` (a:9876;b:9876)")
	fs.StringVar(&o.cluster, "c", "", "cluster name")
	fs.StringVar(&o.topic, "t", "", "topic")
	fs.StringVar(&o.group, "g", "", "consumer group")
	fs.StringVar(&o.key, "k", "", "message key")
	fs.StringVar(&o.msgID, "i", "", "offset message ID (queryMsgById) or queue ID (queryMsgByOffset)")
	fs.StringVar(&o.brokerAddr, "b", "", "broker address (brokerStatus) or name (queryMsgByOffset)")
	fs.StringVar(&o.offset, "o", "", "queue offset (queryMsgByOffset)")
	fs.StringVar(&o.body, "body", "", "message body (sendMessage)")
	fs.StringVar(&o.tags, "tags", "", "message tag (sendMessage)")
	fs.IntVar(&o.read, "r", 8, "read queues (updateTopic)")
	fs.IntVar(&o.write, "w", 8, "write queues (updateTopic)")
	fs.IntVar(&o.perm, "p", 6, "permission (updateTopic): 2 write, 4 read, 6 both")
	fs.StringVar(&o.timestamp, "s", "", "timestamp (resetOffsetByTime)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.IntVar(&o.count, "count", 0, "messages to send or receive (quickstart: 1000, consumeMessage: 32)")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "how long consumeMessage and quickstartConsumer wait")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.count <= 0 {
		o.count = 32
		if strings.HasPrefix(args[0], "quickstart") {
			o.count = 1000
		}
	}
	if o.namesrv == "" {
		return errors.New("no NameServer: pass -n host:port or set NAMESRV_ADDR")
	}
	a, err := client.NewAdmin(client.WithNameServers(broker.SplitNamesrvAddr(o.namesrv)...))
	if err != nil {
		return err
	}
	defer a.Close()
	return cmd.run(ctx, a, o, stdout)
}

func need(vals ...string) error {
	for i := 0; i < len(vals); i += 2 {
		if vals[i+1] == "" {
			return fmt.Errorf("flag %s is required", vals[i])
		}
	}
	return nil
}

// table prints rows aligned, or the value as JSON with --json.
func table(out io.Writer, o options, v any, header []string, rows [][]string) error {
	if o.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func clusterList(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	ci, err := a.ClusterInfo(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, cluster := range slices.Sorted(maps.Keys(ci.ClusterAddrTable)) {
		for _, name := range ci.ClusterAddrTable[cluster] {
			bd := ci.BrokerAddrTable[name]
			for _, id := range slices.Sorted(maps.Keys(bd.BrokerAddrs)) {
				rows = append(rows, []string{cluster, name, strconv.FormatInt(id, 10), bd.BrokerAddrs[id]})
			}
		}
	}
	return table(out, o, ci, []string{"#Cluster Name", "#Broker Name", "#BID", "#Addr"}, rows)
}

func topicList(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	topics, err := a.Topics(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return table(out, o, topics, nil, nil)
	}
	for _, t := range topics {
		fmt.Fprintln(out, t)
	}
	return nil
}

func topicRoute(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic); err != nil {
		return err
	}
	rd, err := a.TopicRoute(ctx, o.topic)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, qd := range rd.QueueDatas {
		rows = append(rows, []string{qd.BrokerName, itoa(int64(qd.ReadQueueNums)), itoa(int64(qd.WriteQueueNums)), itoa(int64(qd.Perm))})
	}
	return table(out, o, rd, []string{"#Broker Name", "#Read Queues", "#Write Queues", "#Perm"}, rows)
}

func queueRows[V any](m map[protocol.MessageQueue]V, row func(protocol.MessageQueue, V) []string) [][]string {
	qs := slices.SortedFunc(maps.Keys(m), func(a, b protocol.MessageQueue) int { return a.Compare(b) })
	rows := make([][]string, 0, len(qs))
	for _, q := range qs {
		rows = append(rows, row(q, m[q]))
	}
	return rows
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func topicStatus(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic); err != nil {
		return err
	}
	st, err := a.TopicStatus(ctx, o.topic)
	if err != nil {
		return err
	}
	rows := queueRows(st, func(q protocol.MessageQueue, v protocol.TopicOffset) []string {
		last := ""
		if v.LastUpdateTimestamp > 0 {
			last = time.UnixMilli(v.LastUpdateTimestamp).Format("2006-01-02 15:04:05,000")
		}
		return []string{q.BrokerName, itoa(int64(q.QueueID)), itoa(v.MinOffset), itoa(v.MaxOffset), last}
	})
	return table(out, o, jsonQueues(st), []string{"#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated"}, rows)
}

// jsonQueues renders a queue-keyed map as a list for --json.
func jsonQueues[V any](m map[protocol.MessageQueue]V) []map[string]any {
	var out []map[string]any
	for _, q := range slices.SortedFunc(maps.Keys(m), func(a, b protocol.MessageQueue) int { return a.Compare(b) }) {
		out = append(out, map[string]any{"queue": q, "value": m[q]})
	}
	return out
}

func updateTopic(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic); err != nil {
		return err
	}
	tc := client.TopicConfig{Name: o.topic, ReadQueueNums: int32(o.read), WriteQueueNums: int32(o.write), Perm: int32(o.perm)}
	if err := a.CreateTopic(ctx, o.cluster, tc); err != nil {
		return err
	}
	fmt.Fprintf(out, "create topic to cluster %q success.\n", o.cluster)
	return nil
}

func deleteTopic(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic); err != nil {
		return err
	}
	if err := a.DeleteTopic(ctx, o.cluster, o.topic); err != nil {
		return err
	}
	fmt.Fprintf(out, "delete topic [%s] from cluster [%s] success.\n", o.topic, o.cluster)
	return nil
}

func consumerProgress(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-g", o.group, "-t", o.topic); err != nil {
		return err
	}
	p, err := a.ConsumerProgress(ctx, o.group, o.topic)
	if err != nil {
		return err
	}
	// Which client holds each queue: asked of each client of the group
	// (through the broker), as RocketMQ's consumerProgress does.
	clients := 0
	owner := map[protocol.MessageQueue]string{}
	if cc, err := a.ConsumerConnections(ctx, o.group, o.topic); err == nil {
		clients = len(cc.ConnectionSet)
		for _, c := range cc.ConnectionSet {
			info, err := a.ConsumerRunningInfo(ctx, o.group, o.topic, c.ClientID)
			if err != nil {
				continue
			}
			for q := range info.MQTable {
				owner[q] = c.ClientAddr
			}
		}
	}
	var total int64
	rows := queueRows(p, func(q protocol.MessageQueue, v protocol.OffsetWrapper) []string {
		lag := v.BrokerOffset - v.ConsumerOffset
		total += lag
		age := ""
		if v.LastTimestamp > 0 && lag > 0 {
			age = time.Since(time.UnixMilli(v.LastTimestamp)).Round(time.Second).String()
		}
		client := owner[q]
		if client == "" {
			client = "-"
		}
		return []string{q.Topic, q.BrokerName, itoa(int64(q.QueueID)), itoa(v.BrokerOffset), itoa(v.ConsumerOffset), client, itoa(lag), age}
	})
	if err := table(out, o, jsonQueues(p), []string{"#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Client", "#Diff", "#Behind"}, rows); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(out, "\nDiff Total: %d   Clients: %d\n", total, clients)
	}
	return nil
}

func printMessages(out io.Writer, o options, msgs []*protocol.Message) error {
	if o.json {
		return table(out, o, msgs, nil, nil)
	}
	for _, m := range msgs {
		fmt.Fprintf(out, "OffsetID: %s\nTopic: %s\nTags: [%s]\nKeys: [%s]\nQueue ID: %d\nQueue Offset: %d\nStore Time: %s\nBody: %s\n\n",
			protocol.OffsetMessageID(m.StoreHost, m.PhysicalOffset), m.Topic, m.Property(protocol.PropertyTags), m.Property(protocol.PropertyKeys),
			m.QueueID, m.QueueOffset, time.UnixMilli(m.StoreTimestamp).Format(time.RFC3339Nano), m.Body)
	}
	return nil
}

func queryMsgByID(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-i", o.msgID); err != nil {
		return err
	}
	m, err := a.ViewMessage(ctx, o.msgID)
	if err != nil {
		return err
	}
	return printMessages(out, o, []*protocol.Message{m})
}

func queryMsgByKey(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic, "-k", o.key); err != nil {
		return err
	}
	msgs, err := a.QueryByKey(ctx, o.topic, o.key, 64)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return fmt.Errorf("no message with key %q in topic %s", o.key, o.topic)
	}
	return printMessages(out, o, msgs)
}

func queryMsgByOffset(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic, "-b", o.brokerAddr, "-i", o.msgID, "-o", o.offset); err != nil {
		return err
	}
	qid, err := strconv.ParseInt(o.msgID, 10, 32)
	if err != nil || qid < 0 {
		return fmt.Errorf("-i %q: want a queue ID (0, 1, ...)", o.msgID)
	}
	off, err := strconv.ParseInt(o.offset, 10, 64)
	if err != nil || off < 0 {
		return fmt.Errorf("-o %q: want a queue offset (0, 1, ...)", o.offset)
	}
	m, err := a.MessageAtOffset(ctx, o.topic, o.brokerAddr, int32(qid), off)
	if err != nil {
		return err
	}
	return printMessages(out, o, []*protocol.Message{m})
}

// parseTime reads ms since the epoch, RocketMQ's yyyy-MM-dd#HH:mm:ss:SSS,
// or "now".
func parseTime(s string) (int64, error) {
	if s == "now" {
		return time.Now().UnixMilli(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.ParseInLocation("2006-01-02#15:04:05:000", s, time.Local)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: want milliseconds, yyyy-MM-dd#HH:mm:ss:SSS or now", s)
	}
	return t.UnixMilli(), nil
}

func resetOffsetByTime(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-g", o.group, "-t", o.topic, "-s", o.timestamp); err != nil {
		return err
	}
	ts, err := parseTime(o.timestamp)
	if err != nil {
		return err
	}
	offs, err := a.ResetOffsetByTime(ctx, o.group, o.topic, ts)
	if err != nil {
		return err
	}
	rows := queueRows(offs, func(q protocol.MessageQueue, v int64) []string {
		return []string{q.BrokerName, itoa(int64(q.QueueID)), itoa(v)}
	})
	return table(out, o, jsonQueues(offs), []string{"#Broker Name", "#QID", "#New Offset"}, rows)
}

func brokerStatus(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-b", o.brokerAddr); err != nil {
		return err
	}
	kv, err := a.BrokerRuntime(ctx, o.brokerAddr)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		rows = append(rows, []string{k, kv[k]})
	}
	return table(out, o, kv, []string{"#Key", "#Value"}, rows)
}

func sendMessage(ctx context.Context, a *client.Admin, o options, out io.Writer) error {
	if err := need("-t", o.topic, "-body", o.body); err != nil {
		return err
	}
	p, err := client.NewProducer(client.WithNameServers(broker.SplitNamesrvAddr(o.namesrv)...), client.WithGroup("mqadmin"))
	if err != nil {
		return err
	}
	defer p.Close()
	res, err := p.Send(ctx, &client.Message{Topic: o.topic, Body: []byte(o.body), Tags: o.tags})
	if err != nil {
		return err
	}
	return table(out, o, res, []string{"#Broker Name", "#QID", "#Send Result", "#MsgId"},
		[][]string{{res.Queue.Broker, itoa(int64(res.Queue.QueueID)), "SEND_OK", res.MsgID}})
}
