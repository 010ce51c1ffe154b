// Package namesrv is Surge's NameServer: the registry that tells clients
// which brokers host a topic. Brokers register every 30 s with their topic
// tables; a broker silent for BrokerExpiry, or whose connection closes, is
// dropped. Several NameServers run side by side without talking to each
// other: every broker registers with all of them.
package namesrv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Config configures a Server. Zero fields take their defaults.
type Config struct {
	// ListenAddr is where ListenAndServe listens. Default "0.0.0.0:9876".
	ListenAddr string
	// BrokerExpiry drops a broker whose last registration is older. Default 120s.
	BrokerExpiry time.Duration
	// ScanInterval is how often expired brokers are looked for
	// (scanNotActiveBrokerInterval). Default 10s.
	ScanInterval time.Duration
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "0.0.0.0:9876"
	}
	if c.BrokerExpiry <= 0 {
		c.BrokerExpiry = 120 * time.Second
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is a NameServer.
type Server struct {
	cfg Config
	log *slog.Logger
	reg *registry
	srv *remoting.Server

	kvMu sync.Mutex
	kv   map[string]map[string]string // namespace -> key -> value

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns a NameServer; it serves once Serve or ListenAndServe runs.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, reg: newRegistry(), kv: map[string]map[string]string{}, stop: make(chan struct{})}
	mux := remoting.NewMux(cfg.Logger)
	mux.HandleFunc(protocol.RegisterBroker, s.handleRegister)
	mux.HandleFunc(protocol.UnregisterBroker, s.handleUnregister)
	mux.HandleFunc(protocol.QueryDataVersion, s.handleQueryDataVersion)
	mux.HandleFunc(protocol.GetRouteInfoByTopic, s.handleRoute)
	mux.HandleFunc(protocol.GetBrokerClusterInfo, s.handleClusterInfo)
	mux.HandleFunc(protocol.GetAllTopicListFromNameServer, s.handleTopicList)
	mux.HandleFunc(protocol.GetTopicsByCluster, s.handleTopicsByCluster)
	mux.HandleFunc(protocol.DeleteTopicInNamesrv, s.handleDeleteTopic)
	mux.HandleFunc(protocol.PutKVConfig, s.handlePutKV)
	mux.HandleFunc(protocol.GetKVConfig, s.handleGetKV)
	mux.HandleFunc(protocol.DeleteKVConfig, s.handleDeleteKV)
	s.srv = &remoting.Server{Handler: mux, Logger: cfg.Logger, OnDisconnect: s.connClosed}
	return s, nil
}

// ListenAndServe listens on Config.ListenAddr and serves.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.ListenAddr, err)
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	s.wg.Go(s.expireLoop)
	s.log.Info("NameServer started", "addr", ln.Addr().String())
	err := s.srv.Serve(ln)
	if errors.Is(err, remoting.ErrServerClosed) {
		return nil
	}
	return err
}

// Addr is the listen address once serving.
func (s *Server) Addr() net.Addr { return s.srv.Addr() }

// Shutdown stops serving and the expiry scanner. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	err := s.srv.Shutdown(ctx)
	s.wg.Wait()
	return err
}

// HasBroker reports whether a broker address is registered (tests wait on
// it).
func (s *Server) HasBroker(addr string) bool { return s.reg.hasBroker(addr) }

func (s *Server) expireLoop() {
	t := time.NewTicker(s.cfg.ScanInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			for _, addr := range s.reg.expire(s.cfg.Now(), s.cfg.BrokerExpiry) {
				s.log.Warn("broker expired: no registration within the expiry", "broker", addr, "expiry", s.cfg.BrokerExpiry)
			}
		}
	}
}

func (s *Server) connClosed(c *remoting.Conn) {
	for _, addr := range s.reg.connClosed(c) {
		s.log.Info("broker connection closed, broker removed", "broker", addr)
	}
}

func (s *Server) handleRegister(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeRegisterBrokerRequestHeader(req.ExtFields)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	if h.BodyCRC32 != 0 && int32(protocol.BodyChecksum(req.Body)) != h.BodyCRC32 {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("register broker %s: body CRC mismatch", h.BrokerAddr))
	}
	body, err := protocol.DecodeRegisterBrokerBody(req.Body, h.Compressed)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, "register broker: "+err.Error())
	}
	first := !s.reg.hasBroker(h.BrokerAddr)
	master := s.reg.register(registration{
		cluster: h.ClusterName, name: h.BrokerName, addr: h.BrokerAddr, haAddr: h.HAServerAddr, id: h.BrokerID,
		topics: body.TopicConfigSerializeWrapper, conn: c,
	}, s.cfg.Now())
	if first {
		s.log.Info("broker registered", "broker", h.BrokerName, "addr", h.BrokerAddr, "cluster", h.ClusterName, "id", h.BrokerID, "topics", len(body.TopicConfigSerializeWrapper.TopicConfigTable))
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.RegisterBrokerResponseHeader{MasterAddr: master, HAServerAddr: master}.Ext()
	resp.Body, _ = (&protocol.KVTable{Table: s.namespace("ORDER_TOPIC_CONFIG")}).Marshal()
	return resp
}

func (s *Server) handleUnregister(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeBrokerIdentityHeader(req.ExtFields)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	if s.reg.unregister(h.BrokerAddr) {
		s.log.Info("broker unregistered", "broker", h.BrokerName, "addr", h.BrokerAddr)
	}
	return remoting.NewResponse(req, protocol.Success, "")
}

func (s *Server) handleQueryDataVersion(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeBrokerIdentityHeader(req.ExtFields)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	var v protocol.DataVersion
	if err := json.Unmarshal(req.Body, &v); err != nil {
		return remoting.NewResponse(req, protocol.SystemError, "query data version: "+err.Error())
	}
	_, same := s.reg.touch(h.BrokerAddr, v, s.cfg.Now())
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.QueryDataVersionResponseHeader{Changed: !same}.Ext()
	return resp
}

func (s *Server) handleRoute(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeGetRouteInfoRequestHeader(req.ExtFields)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	rd, ok := s.reg.route(h.Topic)
	if !ok {
		return remoting.NewResponse(req, protocol.TopicNotExist, "No topic route info in name server for the topic: "+h.Topic)
	}
	if conf := s.namespace("ORDER_TOPIC_CONFIG")[h.Topic]; conf != "" {
		rd.OrderTopicConf = conf
	}
	body, err := rd.Marshal()
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp
}

func (s *Server) handleClusterInfo(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	ci := s.reg.clusterInfo()
	body, err := ci.Marshal()
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp
}

func (s *Server) topicListResponse(req *remoting.Command, topics []string) *remoting.Command {
	body, err := (&protocol.TopicList{TopicList: topics}).Marshal()
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp
}

func (s *Server) handleTopicList(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return s.topicListResponse(req, s.reg.topicList())
}

func (s *Server) handleTopicsByCluster(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	return s.topicListResponse(req, s.reg.topicsOfCluster(req.Ext("cluster")))
}

func (s *Server) handleDeleteTopic(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeDeleteTopicRequestHeader(req.ExtFields)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	s.reg.deleteTopic(h.Topic, h.ClusterName)
	return remoting.NewResponse(req, protocol.Success, "")
}

// KV config: namespaced settings admin tools keep on the NameServer (in
// memory here, as nothing in Surge depends on them surviving a restart).

func (s *Server) namespace(ns string) map[string]string {
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	out := map[string]string{}
	for k, v := range s.kv[ns] {
		out[k] = v
	}
	return out
}

func (s *Server) handlePutKV(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	ns, key := req.Ext("namespace"), req.Ext("key")
	if ns == "" || key == "" {
		return remoting.NewResponse(req, protocol.SystemError, "PUT_KV_CONFIG: namespace and key are required")
	}
	s.kvMu.Lock()
	if s.kv[ns] == nil {
		s.kv[ns] = map[string]string{}
	}
	s.kv[ns][key] = req.Ext("value")
	s.kvMu.Unlock()
	return remoting.NewResponse(req, protocol.Success, "")
}

func (s *Server) handleGetKV(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	v, ok := s.namespace(req.Ext("namespace"))[req.Ext("key")]
	if !ok {
		return remoting.NewResponse(req, protocol.QueryNotFound, "No config item, Namespace: "+req.Ext("namespace")+" Key: "+req.Ext("key"))
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = map[string]string{"value": v}
	return resp
}

func (s *Server) handleDeleteKV(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	s.kvMu.Lock()
	delete(s.kv[req.Ext("namespace")], req.Ext("key"))
	s.kvMu.Unlock()
	return remoting.NewResponse(req, protocol.Success, "")
}
