package namesrv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Request codes the NameServer serves that package protocol does not name.
const (
	codeGetKVListByNamespace int16 = 219 // GET_KVLIST_BY_NAMESPACE
	codeAddWritePermOfBroker int16 = 327 // ADD_WRITE_PERM_OF_BROKER (Java 4.9.4+)
)

// Errors behind refused requests; their text becomes the response remark.
var (
	errBodyCRC       = errors.New("namesrv: body crc32 not match")
	errBrokerName    = errors.New("namesrv: empty brokerName")
	errBrokerAddr    = errors.New("namesrv: brokerAddr unusable in routes")
	errBrokerID      = errors.New("namesrv: negative brokerId")
	errMissingFields = errors.New("namesrv: required ext field missing")
)

// Wire mapping, in one place: a request that does not decode gets
// SYSTEM_ERROR with the error as remark, as a Java NameServer answers
// an exception; an unknown topic gets TOPIC_NOT_EXIST and an unknown KV
// entry QUERY_NOT_FOUND, with Java's remarks.

func errorResponse(req *remoting.Command, err error) *remoting.Command {
	return remoting.NewResponse(req, protocol.SystemError, err.Error())
}

func okResponse(req *remoting.Command, body []byte) *remoting.Command {
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp
}

// marshalResponse answers with a marshalled body, or SYSTEM_ERROR.
func marshalResponse(req *remoting.Command, body []byte, err error) *remoting.Command {
	if err != nil {
		return errorResponse(req, fmt.Errorf("namesrv: encode response to request %d: %w", req.Code, err))
	}
	return okResponse(req, body)
}

func topicNotExist(req *remoting.Command, topic string) *remoting.Command {
	return remoting.NewResponse(req, protocol.TopicNotExist, "No topic route info in name server for the topic: "+topic)
}

// requiredExt returns the named ext fields of req, or an error naming every
// missing one (Java's @CFNotNull).
func requiredExt(req *remoting.Command, what string, names ...string) ([]string, error) {
	vals := make([]string, len(names))
	var missing []string
	for i, n := range names {
		v, ok := req.ExtFields[n]
		if !ok {
			missing = append(missing, n)
		}
		vals[i] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %w: %s", what, errMissingFields, strings.Join(missing, ", "))
	}
	return vals, nil
}

// decodeRegistration decodes a REGISTER_BROKER request: the header, the
// body checksum when bodyCrc32 is non-zero, and the body in the form the
// compressed field names. An empty body is a registration without a topic
// table, as in Java.
func decodeRegistration(ext map[string]string, body []byte) (registration, error) {
	h, err := protocol.DecodeRegisterBrokerRequestHeader(ext)
	if err != nil {
		return registration{}, fmt.Errorf("register broker: %w", err)
	}
	if err := checkBrokerIdentity(h.BrokerName, h.BrokerAddr, h.BrokerID); err != nil {
		return registration{}, fmt.Errorf("register broker %s: %w", h.BrokerAddr, err)
	}
	if h.BodyCRC32 != 0 {
		if got := int32(protocol.BodyChecksum(body)); got != h.BodyCRC32 {
			return registration{}, fmt.Errorf("register broker %s: %w: header says %d, body has %d", h.BrokerAddr, errBodyCRC, h.BodyCRC32, got)
		}
	}
	reg := registration{
		cluster: h.ClusterName, name: h.BrokerName, addr: h.BrokerAddr, haAddr: h.HAServerAddr, id: h.BrokerID,
	}
	if len(body) > 0 {
		b, err := protocol.DecodeRegisterBrokerBody(body, h.Compressed)
		if err != nil {
			return registration{}, fmt.Errorf("register broker %s: %w", h.BrokerAddr, err)
		}
		reg.topics = &b.TopicConfigSerializeWrapper
	}
	return reg, nil
}

// checkBrokerIdentity refuses what would poison routes: the Go client
// splits brokerAddrs as text and dials the addresses it finds.
func checkBrokerIdentity(name, addr string, id int64) error {
	if name == "" {
		return errBrokerName
	}
	if id < 0 {
		return fmt.Errorf("%w: %d", errBrokerID, id)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil || strings.ContainsAny(addr, ",\" \t\r\n{}") {
		return fmt.Errorf("%w: %q", errBrokerAddr, addr)
	}
	return nil
}

// handleRegister serves REGISTER_BROKER (103).
func (s *Server) handleRegister(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	reg, err := decodeRegistration(req.ExtFields, req.Body)
	if err != nil {
		s.log.Warn("broker registration refused", "broker", req.Ext("brokerName"), "addr", req.Ext("brokerAddr"), "err", err)
		return errorResponse(req, err)
	}
	if c != nil {
		reg.conn = c
	}
	res := s.reg.register(reg, s.cfg.Now())
	if c != nil {
		select {
		case <-c.Done():
			// The connection closed while we registered; its OnDisconnect
			// may have run before, so drop what it would have dropped.
			s.connClosed(c)
		default:
		}
	}
	topics := 0
	if reg.topics != nil {
		topics = len(reg.topics.TopicConfigTable)
	}
	switch {
	case res.first:
		s.log.Info("broker registered", "broker", reg.name, "addr", reg.addr, "cluster", reg.cluster,
			"brokerId", reg.id, "topics", topics)
	case res.topicsUpdated:
		s.log.Debug("broker topic table updated", "broker", reg.name, "addr", reg.addr, "cluster", reg.cluster,
			"topics", topics)
	}
	resp := okResponse(req, nil)
	resp.ExtFields = protocol.RegisterBrokerResponseHeader{MasterAddr: res.masterAddr, HAServerAddr: res.masterHAAddr}.Ext()
	if table, ok := s.kv.list(nsOrderTopicConfig); ok {
		// Java answers the ORDER_TOPIC_CONFIG namespace, no body without one.
		resp.Body, err = (&protocol.KVTable{Table: table}).Marshal()
		if err != nil {
			return errorResponse(req, fmt.Errorf("namesrv: encode KV table: %w", err))
		}
	}
	return resp
}

// handleUnregister serves UNREGISTER_BROKER (104).
func (s *Server) handleUnregister(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeBrokerIdentityHeader(req.ExtFields)
	if err != nil {
		return errorResponse(req, fmt.Errorf("unregister broker: %w", err))
	}
	if b, ok := s.reg.unregister(h.BrokerAddr); ok {
		s.log.Info("broker unregistered", "broker", b.name, "addr", b.addr, "cluster", b.cluster,
			"brokerId", b.id, "lastOfName", b.lastOfName)
	}
	return okResponse(req, nil)
}

// handleQueryDataVersion serves QUERY_DATA_VERSION (322).
func (s *Server) handleQueryDataVersion(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeBrokerIdentityHeader(req.ExtFields)
	if err != nil {
		return errorResponse(req, fmt.Errorf("query data version: %w", err))
	}
	var v protocol.DataVersion
	if err := json.Unmarshal(req.Body, &v); err != nil {
		return errorResponse(req, fmt.Errorf("query data version of %s: %w: %v", h.BrokerAddr, protocol.ErrBadBody, err))
	}
	changed, stored := s.reg.queryDataVersion(h.BrokerAddr, v, s.cfg.Now())
	resp := okResponse(req, nil)
	resp.ExtFields = protocol.QueryDataVersionResponseHeader{Changed: changed}.Ext()
	if stored != nil {
		if resp.Body, err = json.Marshal(stored); err != nil {
			return errorResponse(req, fmt.Errorf("namesrv: encode data version: %w", err))
		}
	}
	return resp
}

// handleRoute serves GET_ROUTEINFO_BY_TOPIC (105).
func (s *Server) handleRoute(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeGetRouteInfoRequestHeader(req.ExtFields)
	if err != nil {
		return errorResponse(req, fmt.Errorf("get route: %w", err))
	}
	rd, ok := s.reg.route(h.Topic)
	if !ok {
		return topicNotExist(req, h.Topic)
	}
	if s.cfg.OrderMessageEnable {
		if conf, ok := s.kv.get(nsOrderTopicConfig, h.Topic); ok {
			rd.OrderTopicConf = conf
		}
	}
	body, err := rd.Marshal()
	return marshalResponse(req, body, err)
}

// handleClusterInfo serves GET_BROKER_CLUSTER_INFO (106).
func (s *Server) handleClusterInfo(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	ci := s.reg.clusterInfo()
	body, err := ci.Marshal()
	return marshalResponse(req, body, err)
}

// handleTopicList serves GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206).
func (s *Server) handleTopicList(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	body, err := (&protocol.TopicList{TopicList: s.reg.topicList()}).Marshal()
	return marshalResponse(req, body, err)
}

// handleTopicsByCluster serves GET_TOPICS_BY_CLUSTER (224).
func (s *Server) handleTopicsByCluster(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	v, err := requiredExt(req, "get topics by cluster", "cluster")
	if err != nil {
		return errorResponse(req, err)
	}
	body, err := (&protocol.TopicList{TopicList: s.reg.topicsOfCluster(v[0])}).Marshal()
	return marshalResponse(req, body, err)
}

// handleDeleteTopic serves DELETE_TOPIC_IN_NAMESRV (216).
func (s *Server) handleDeleteTopic(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeDeleteTopicRequestHeader(req.ExtFields)
	if err != nil {
		return errorResponse(req, fmt.Errorf("delete topic: %w", err))
	}
	if s.reg.deleteTopic(h.Topic, h.ClusterName) {
		s.log.Info("topic deleted", "topic", h.Topic, "cluster", h.ClusterName)
	}
	return okResponse(req, nil)
}

// handleWipeWritePerm serves WIPE_WRITE_PERM_OF_BROKER (205).
func (s *Server) handleWipeWritePerm(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return s.setWritePerm(req, false, "wipeTopicCount")
}

// handleAddWritePerm serves ADD_WRITE_PERM_OF_BROKER (327).
func (s *Server) handleAddWritePerm(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return s.setWritePerm(req, true, "addTopicCount")
}

func (s *Server) setWritePerm(req *remoting.Command, writable bool, countField string) *remoting.Command {
	v, err := requiredExt(req, "change write permission", "brokerName")
	if err != nil {
		return errorResponse(req, err)
	}
	n := s.reg.setWritePerm(v[0], writable)
	s.log.Info("broker write permission changed", "broker", v[0], "writable", writable, "topics", n)
	resp := okResponse(req, nil)
	resp.ExtFields = map[string]string{countField: strconv.Itoa(n)}
	return resp
}

// handlePutKV serves PUT_KV_CONFIG (100).
func (s *Server) handlePutKV(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	v, err := requiredExt(req, "put KV config", "namespace", "key", "value")
	if err != nil {
		return errorResponse(req, err)
	}
	s.kv.put(v[0], v[1], v[2])
	return okResponse(req, nil)
}

// handleGetKV serves GET_KV_CONFIG (101).
func (s *Server) handleGetKV(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	v, err := requiredExt(req, "get KV config", "namespace", "key")
	if err != nil {
		return errorResponse(req, err)
	}
	val, ok := s.kv.get(v[0], v[1])
	if !ok {
		return remoting.NewResponse(req, protocol.QueryNotFound, "No config item, Namespace: "+v[0]+" Key: "+v[1])
	}
	resp := okResponse(req, nil)
	resp.ExtFields = map[string]string{"value": val}
	return resp
}

// handleDeleteKV serves DELETE_KV_CONFIG (102).
func (s *Server) handleDeleteKV(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	v, err := requiredExt(req, "delete KV config", "namespace", "key")
	if err != nil {
		return errorResponse(req, err)
	}
	s.kv.delete(v[0], v[1])
	return okResponse(req, nil)
}

// handleGetKVList serves GET_KVLIST_BY_NAMESPACE (219).
func (s *Server) handleGetKVList(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	v, err := requiredExt(req, "get KV list", "namespace")
	if err != nil {
		return errorResponse(req, err)
	}
	table, ok := s.kv.list(v[0])
	if !ok {
		return remoting.NewResponse(req, protocol.QueryNotFound, "No config item, Namespace: "+v[0])
	}
	body, err := (&protocol.KVTable{Table: table}).Marshal()
	return marshalResponse(req, body, err)
}
