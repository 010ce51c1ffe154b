// Package namesrv is Surge's NameServer: the registry that tells clients
// which brokers host a topic, speaking Apache RocketMQ 4.x's remoting
// protocol (rocketmq-wire-protocol.md, section 4).
//
// # Registry
//
// Brokers register (REGISTER_BROKER) at start, every 30 s and after each
// topic change, with their whole topic table and its data version. A
// master's table becomes the queue data of its broker name when the
// version changed; a slave only adds its address. Clients ask for a
// topic's route (GET_ROUTEINFO_BY_TOPIC) and get the queue data and the
// address book of every broker name hosting it, or TOPIC_NOT_EXIST.
//
// # Liveness
//
// A registration is the broker's heartbeat. An address is dropped when it
// unregisters, when the connection it last registered on closes, or when
// it has been silent for Config.BrokerExpiry (checked every
// Config.ScanInterval; its connection is then closed, as in Java).
// Dropping a broker name's last address removes the name from its cluster
// and from every topic; a topic left without queue data disappears.
//
// # Differences from Java 4.9
//
//   - A master's changed table replaces its queue data, so topics it no
//     longer lists lose that broker at once (Java 4.9 only adds and
//     updates; Java 5 does this with deleteTopicWithBrokerRegistration).
//   - KV settings live in memory only.
//   - Registrations from brokers older than V3_0_11 (a bare
//     TopicConfigSerializeWrapper body) are not understood.
//
// Several NameServers run side by side without talking to each other:
// every broker registers with all of them.
package namesrv
