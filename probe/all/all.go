// Package all imports every probe of the standard set, so that a program
// that imports it has them registered.
package all

import (
	_ "github.com/ajar-scan/ajar/probe/clickhouse"    // ClickHouse, HTTP interface and native protocol
	_ "github.com/ajar-scan/ajar/probe/couchdb"       // CouchDB and express-pouchdb
	_ "github.com/ajar-scan/ajar/probe/elasticsearch" // Elasticsearch and OpenSearch
	_ "github.com/ajar-scan/ajar/probe/etcd"          // etcd, v3 API through its JSON gateway
	_ "github.com/ajar-scan/ajar/probe/ftp"           // FTP: anonymous login and listing
	_ "github.com/ajar-scan/ajar/probe/httpleak"      // leaks of any web server: listings, .git, .env, backups
	_ "github.com/ajar-scan/ajar/probe/influxdb"      // InfluxDB 1.x
	_ "github.com/ajar-scan/ajar/probe/kibana"        // Kibana and OpenSearch Dashboards
	_ "github.com/ajar-scan/ajar/probe/ldap"          // LDAP directories: anonymous bind and search
	_ "github.com/ajar-scan/ajar/probe/memcached"     // memcached, text protocol
	_ "github.com/ajar-scan/ajar/probe/mongodb"       // MongoDB wire protocol: MongoDB, FerretDB
	_ "github.com/ajar-scan/ajar/probe/mqtt"          // MQTT brokers
	_ "github.com/ajar-scan/ajar/probe/mysql"         // MySQL and MariaDB
	_ "github.com/ajar-scan/ajar/probe/nats"          // NATS and JetStream
	_ "github.com/ajar-scan/ajar/probe/postgres"      // PostgreSQL
	_ "github.com/ajar-scan/ajar/probe/prometheus"    // Prometheus HTTP API
	_ "github.com/ajar-scan/ajar/probe/rabbitmq"      // RabbitMQ: AMQP and the management API
	_ "github.com/ajar-scan/ajar/probe/redis"         // Redis
	_ "github.com/ajar-scan/ajar/probe/registry"      // Docker registry, HTTP API v2
	_ "github.com/ajar-scan/ajar/probe/rsync"         // rsync daemons
	_ "github.com/ajar-scan/ajar/probe/solr"          // Apache Solr
	_ "github.com/ajar-scan/ajar/probe/zookeeper"     // Apache ZooKeeper
)
