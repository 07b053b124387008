#!/usr/bin/env bash
# ClickHouse servers for datacube's tests and CI, all on 127.0.0.1.
#
#   .ci/clickhouse.sh install   # Debian's clickhouse-server/-client (18.16) and zookeeper, if missing
#   .ci/clickhouse.sh start     # single server + two-shard cluster "datacube" (+ ZooKeeper for ON CLUSTER DDL)
#   .ci/clickhouse.sh stop
#   eval "$(.ci/clickhouse.sh env)"
#   .ci/clickhouse.sh status
#   .ci/clickhouse.sh private-start DIR HTTP TCP   # one more single server, in DIR on those ports (tests that stop it)
#   .ci/clickhouse.sh private-stop DIR [TERM|KILL]
#   .ci/clickhouse.sh pin       # single and shard1 on CPU 0, shard2 on CPU 1 (the bench's one-core-per-server figures)
#   .ci/clickhouse.sh unpin     # every server on every CPU again
#
# Servers:
#   single   HTTP 18123  TCP 19000
#   shard1   HTTP 28123  TCP 29000   } cluster "datacube": shard 1 = 127.0.0.1:29000, shard 2 = 127.0.0.1:39000
#   shard2   HTTP 38123  TCP 39000   }
#   zookeeper     22181 (cluster only: ClickHouse 18.16 runs `ON CLUSTER` DDL only through ZooKeeper's
#                        distributed DDL queue; without it: "DDL background thread is not initialized")
# Each gets its own config, data and log dirs under $CH_WORK (default /tmp/datacube-ch). Every port can be moved
# (CH_SINGLE_HTTP, CH_SINGLE_TCP, CH_SHARD1_HTTP, CH_SHARD1_TCP, CH_SHARD2_HTTP, CH_SHARD2_TCP, CH_ZK_PORT), the
# server binary named (CH_SERVER_BIN), and CH_NODES=single starts the single server only (no ZooKeeper needed):
# `npm test` uses these to run private servers on free ports in a temporary directory (test/globalSetup.ts).
# Interserver, HTTPS,
# MySQL and PostgreSQL ports are not configured, so they are not opened. Users: `default` without password,
# accepted from loopback only. 18.16 does not refuse to run as root, so the servers run as whoever runs this.
set -euo pipefail

WORK="${CH_WORK:-/tmp/datacube-ch}"
ZK_PORT="${CH_ZK_PORT:-22181}"
read -r -a NODES <<<"${CH_NODES:-single shard1 shard2}"
declare -A HTTP=([single]=${CH_SINGLE_HTTP:-18123} [shard1]=${CH_SHARD1_HTTP:-28123} [shard2]=${CH_SHARD2_HTTP:-38123})
declare -A TCP=([single]=${CH_SINGLE_TCP:-19000} [shard1]=${CH_SHARD1_TCP:-29000} [shard2]=${CH_SHARD2_TCP:-39000})
clustered() { [[ " ${NODES[*]} " == *" shard1 "* ]]; }
START_TIMEOUT="${CH_START_TIMEOUT:-60}"

log() { printf '[clickhouse.sh] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

server_bin() {
  if [ -n "${CH_SERVER_BIN:-}" ]; then [ -x "${CH_SERVER_BIN%% *}" ] && echo "$CH_SERVER_BIN"; return
  elif command -v clickhouse-server >/dev/null 2>&1; then command -v clickhouse-server
  elif [ -x /usr/sbin/clickhouse-server ]; then echo /usr/sbin/clickhouse-server
  elif command -v clickhouse >/dev/null 2>&1; then echo "$(command -v clickhouse) server"
  else return 1; fi
}

cmd_install() {
  local missing=()
  server_bin >/dev/null 2>&1 || missing+=(clickhouse-server)
  command -v clickhouse-client >/dev/null 2>&1 || [ -x /usr/bin/clickhouse-client ] || missing+=(clickhouse-client)
  [ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  if [ "${#missing[@]}" -eq 0 ]; then log "already installed"; return 0; fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null
  # The packages' post-install scripts try to start system services; none is needed (and there may be no init).
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---- config files ---------------------------------------------------------------------------------------

write_users() {
  cat >"$1/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>in_order</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</yandex>
EOF
}

write_config() {
  local node=$1 dir="$WORK/$1"
  mkdir -p "$dir/conf" "$dir/data/tmp" "$dir/data/user_files" "$dir/data/format_schemas" "$dir/log"
  write_users "$dir/conf"
  local cluster=""
  if [[ "$node" == shard* ]]; then
    local shard=${node#shard}
    cluster="
  <remote_servers>
    <datacube>
      <shard><internal_replication>false</internal_replication><replica><host>127.0.0.1</host><port>${TCP[shard1]}</port></replica></shard>
      <shard><internal_replication>false</internal_replication><replica><host>127.0.0.1</host><port>${TCP[shard2]}</port></replica></shard>
    </datacube>
  </remote_servers>
  <macros><cluster>datacube</cluster><shard>0${shard}</shard><replica>127.0.0.1:${TCP[$node]}</replica></macros>
  <zookeeper><node><host>127.0.0.1</host><port>${ZK_PORT}</port></node><session_timeout_ms>30000</session_timeout_ms></zookeeper>
  <distributed_ddl><path>/clickhouse/datacube/task_queue/ddl</path></distributed_ddl>"
  fi
  cat >"$dir/conf/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>$dir/log/clickhouse-server.log</log>
    <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
    <size>20M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${HTTP[$node]}</http_port>
  <tcp_port>${TCP[$node]}</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/data/tmp/</tmp_path>
  <user_files_path>$dir/data/user_files/</user_files_path>
  <format_schema_path>$dir/data/format_schemas/</format_schema_path>
  <users_config>$dir/conf/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>10</keep_alive_timeout>
  <max_concurrent_queries>200</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
  <mlock_executable>false</mlock_executable>
  <max_table_size_to_drop>0</max_table_size_to_drop>
  <max_partition_size_to_drop>0</max_partition_size_to_drop>${cluster}
</yandex>
EOF
}

write_zk_config() {
  local dir="$WORK/zookeeper"
  mkdir -p "$dir/conf" "$dir/data" "$dir/log"
  cat >"$dir/conf/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat
EOF
  cat >"$dir/conf/log4j.properties" <<EOF
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.RollingFileAppender
log4j.appender.FILE.File=$dir/log/zookeeper.log
log4j.appender.FILE.MaxFileSize=10MB
log4j.appender.FILE.MaxBackupIndex=1
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n
EOF
}

# ---- processes ------------------------------------------------------------------------------------------

pid_of() { # prints the pid if the pid file names a live process
  local f=$1 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

http_ok() { # $1 = port
  local out
  out=$(curl -fsS --max-time 2 "http://127.0.0.1:$1/" --data-binary 'SELECT 1' 2>/dev/null) && [ "$out" = 1 ]
}

zk_ok() {
  local out
  out=$(exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" && printf ruok >&3 && timeout 2 cat <&3) || return 1
  [ "$out" = imok ]
}

start_zk() {
  local dir="$WORK/zookeeper"
  if pid_of "$dir/zookeeper.pid" >/dev/null; then log "zookeeper already running"; return 0; fi
  write_zk_config
  local cp="$dir/conf:/usr/share/java/zookeeper.jar"
  for j in slf4j-log4j12 log4j-1.2; do [ -f "/usr/share/java/$j.jar" ] && cp="$cp:/usr/share/java/$j.jar"; done
  setsid nohup java -Xms64m -Xmx256m -Dzookeeper.log.dir="$dir/log" -Dlog4j.configuration="file:$dir/conf/log4j.properties" \
    -cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/conf/zoo.cfg" \
    >"$dir/log/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/zookeeper.pid"
  log "zookeeper started (pid $!, port $ZK_PORT)"
}

start_node() {
  local node=$1 dir="$WORK/$1"
  if pid_of "$dir/clickhouse.pid" >/dev/null; then log "$node already running"; return 0; fi
  write_config "$node"
  local bin; bin=$(server_bin) || { log "clickhouse-server not installed; run: $0 install"; exit 1; }
  # --daemon forks and writes the pid file itself.
  (cd "$dir" && $bin --config-file="$dir/conf/config.xml" --pid-file="$dir/clickhouse.pid" --daemon) \
    >"$dir/log/stdout.log" 2>&1
  log "$node starting (HTTP ${HTTP[$node]}, TCP ${TCP[$node]})"
}

print_tails() {
  for f in "$WORK"/*/log/*.log; do
    [ -f "$f" ] || continue
    echo "==== $f" >&2
    tail -n 30 "$f" >&2 || true
  done
}

cmd_start() {
  mkdir -p "$WORK"
  local deadline=$((SECONDS + START_TIMEOUT))
  if clustered; then
    start_zk
    until zk_ok; do
      if [ $SECONDS -ge $deadline ]; then log "zookeeper did not answer within ${START_TIMEOUT}s"; print_tails; exit 1; fi
      sleep 0.5
    done
  fi
  for node in "${NODES[@]}"; do start_node "$node"; done
  for node in "${NODES[@]}"; do
    until http_ok "${HTTP[$node]}"; do
      if [ $SECONDS -ge $deadline ]; then
        log "$node did not answer SELECT 1 on port ${HTTP[$node]} within ${START_TIMEOUT}s"; print_tails; exit 1
      fi
      sleep 0.5
    done
  done
  if clustered; then log "all servers answer: single :${HTTP[single]}, cluster datacube :${HTTP[shard1]} :${HTTP[shard2]}"
  else log "the single server answers on :${HTTP[single]}"; fi
}

stop_pidfile() { # $1 = name, $2 = pid file
  local pid
  pid=$(pid_of "$2") || { rm -f "$2"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "$1 (pid $pid) still alive after 30s; killing"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  rm -f "$2"
  log "$1 stopped"
}

cmd_stop() {
  for node in "${NODES[@]}"; do stop_pidfile "$node" "$WORK/$node/clickhouse.pid"; done
  stop_pidfile zookeeper "$WORK/zookeeper/zookeeper.pid"
}

cmd_status() {
  local rc=0
  for node in "${NODES[@]}"; do
    if http_ok "${HTTP[$node]}"; then echo "$node up (HTTP ${HTTP[$node]})"; else echo "$node down"; rc=1; fi
  done
  if clustered; then
    if zk_ok; then echo "zookeeper up ($ZK_PORT)"; else echo "zookeeper down"; rc=1; fi
  fi
  return $rc
}

cmd_env() {
  echo "export DATACUBE_TEST_CLICKHOUSE=clickhouse://default:@127.0.0.1:${HTTP[single]}/datacube_test"
  if clustered; then
    echo "export DATACUBE_TEST_CLICKHOUSE_CLUSTER=clickhouse://default:@127.0.0.1:${HTTP[shard1]}/datacube_test?cluster=datacube"
    # Each shard's own HTTP endpoint, so tests can read the shards' local tables directly.
    echo "export DATACUBE_TEST_CLICKHOUSE_SHARDS=http://127.0.0.1:${HTTP[shard1]},http://127.0.0.1:${HTTP[shard2]}"
  fi
}

# A private single server for tests that stop and restart ClickHouse (never the shared ones): same config writer.
cmd_private_start() { # DIR HTTP TCP
  [ $# -eq 3 ] || { echo "usage: $0 private-start DIR HTTP_PORT TCP_PORT" >&2; exit 2; }
  WORK=$1; HTTP[private]=$2; TCP[private]=$3
  mkdir -p "$WORK"
  start_node private
  local deadline=$((SECONDS + START_TIMEOUT))
  until http_ok "$2"; do
    if [ $SECONDS -ge $deadline ]; then log "private server did not answer on port $2"; print_tails; exit 1; fi
    sleep 0.2
  done
}

cmd_private_stop() { # DIR [TERM|KILL]
  local f="$1/private/clickhouse.pid" sig=${2:-TERM} pid
  pid=$(pid_of "$f") || { rm -f "$f"; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  rm -f "$f"
}

# Pins each running server (every thread: `taskset -a`) to CPUs, so that on one 2-core machine the two shards run
# like two one-core machines and the single server like one of them (bench/clickhouse.ts, P5.cluster.1core).
cmd_pin() {
  command -v taskset >/dev/null || { log "taskset (util-linux) is not installed"; exit 1; }
  local node pid cpus
  declare -A CPUS=([single]=0 [shard1]=0 [shard2]=1)
  for node in "${NODES[@]}"; do
    pid=$(pid_of "$WORK/$node/clickhouse.pid") || { log "$node is not running"; exit 1; }
    cpus=${CPUS[$node]}
    [ "${1:-}" = unpin ] && cpus="0-$(($(nproc --all) - 1))"
    taskset -a -cp "$cpus" "$pid" >/dev/null
    log "$node (pid $pid) on CPU $cpus"
  done
}

case "${1:-}" in
  pin) cmd_pin ;;
  unpin) cmd_pin unpin ;;
  private-start) shift; cmd_private_start "$@" ;;
  private-stop) shift; cmd_private_stop "$@" ;;
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 install|start|stop|restart|status|env|pin|unpin|private-start|private-stop" >&2; exit 2 ;;
esac
