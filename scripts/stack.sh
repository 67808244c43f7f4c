#!/usr/bin/env bash
# Local stack for Kana ingest without Docker: Kafka, schema registry, PostgreSQL, Redis.
#
#   scripts/stack.sh up                 start whatever is down, wait until every server is ready
#   scripts/stack.sh down               stop Kafka and the registry (Postgres and Redis stay up:
#                                       they are the machine's servers, shared with other work)
#   scripts/stack.sh status             each component up/down with its address
#   scripts/stack.sh logs [name] [-f]   last lines of one log (kafka|registry) or of all; -f follows
#   scripts/stack.sh stop <name>        stop one of kafka|registry|postgres|redis (fault-tolerance tests)
#   scripts/stack.sh start <name>       start it again and wait until it is ready; Kafka keeps its data
#   scripts/stack.sh restart-kafka      stop + start the broker, keeping its data
#
# Environment the services and the integration tests use against this stack:
#   KAFKA_BROKERS=127.0.0.1:9092
#   SCHEMA_REGISTRY_URL=http://127.0.0.1:18081/apis/ccompat/v7
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/kana        (tests: .../kana_test)
#   REDIS_URL=redis://127.0.0.1:6379
#
# Components
# - Apache Kafka 4.1.1, KRaft, one node that is broker and controller. The jars come from Maven
#   Central through scripts/stack/kafka-pom.xml (mvn dependency:copy-dependencies), so no tarball
#   and no Docker are needed and ~/.m2 makes a fresh checkout fast. Data lives in
#   $KANA_STACK_DIR/kafka/data and survives stop/start; only `rm -rf .stack` resets it.
#   kafkajs 2.2.4 was checked against this broker: createTopics (6 partitions), idempotent
#   producer with acks=-1 (InitProducerId v1), gzip, a consumer group (join, consume, commit,
#   describeGroups, deleteGroups), deleteTopics. It works, so there is no need to fall back to
#   Kafka 3.9. The only errors are retriable ones on a fresh broker's first use ("The coordinator
#   is loading", "The group coordinator is not available") while __consumer_offsets is created;
#   kafkajs retries them.
# - Apicurio Registry 3.0.9 (io.apicurio:apicurio-registry-app:3.0.9:zip:all), Confluent-
#   compatible API under /apis/ccompat/v7, H2 storage in a file under $KANA_STACK_DIR/registry/data
#   (not the default in-memory H2: ids are in every Kafka message and must survive a restart
#   as long as the topics do). Its ccompat defaults are right for @kafkajs/confluent-schema-registry
#   (checked: register JSON Schema, encode, decode with a fresh client, second version): with
#   legacy-id-mode off the id returned on register is the content id, which is what
#   GET /schemas/ids/{id} looks up; no other setting is needed.
# - PostgreSQL and Redis are the machine's own servers: started when down, never stopped by `down`.
#
# Knobs: KANA_STACK_DIR (default <repo>/.stack), KANA_KAFKA_PORT (9092; the controller listens on
# the next port), KANA_REGISTRY_PORT (18081): a second stack beside the first, e.g. for a chaos
# run that must not restart the Kafka other work uses; STACK_TIMEOUT (seconds to wait for readiness,
# default 90), JAVA (default $JAVA_HOME/bin/java or java; Java 17+).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${KANA_STACK_DIR:-$REPO_DIR/.stack}"
RUN_DIR="$STACK_DIR/run"
LOG_DIR="$STACK_DIR/logs"
TIMEOUT="${STACK_TIMEOUT:-90}"
JAVA="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"

KAFKA_VERSION=4.1.1
KAFKA_HOST=127.0.0.1
KAFKA_PORT="${KANA_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KANA_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HOME="$STACK_DIR/kafka"
KAFKA_POM="$REPO_DIR/scripts/stack/kafka-pom.xml"

REGISTRY_VERSION=3.0.9
REGISTRY_PORT="${KANA_REGISTRY_PORT:-18081}"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
REGISTRY_HOME="$STACK_DIR/registry/apicurio-registry-$REGISTRY_VERSION"

PG_HOST=127.0.0.1
PG_PORT=5432
PG_DATABASES=(kana kana_test)
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Process helpers: our own Java servers run detached (setsid) so that they outlive the shell or
# the jest worker that started them, with their pid in $RUN_DIR/<name>.pid.
# ---------------------------------------------------------------------------------------------
pid_of() { # prints the pid of a running server we started, or fails
  local file="$RUN_DIR/$1.pid" pid
  [[ -s "$file" ]] || return 1
  pid="$(<"$file")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
  else
    rm -f "$file" # stale: the process died or the machine rebooted
    return 1
  fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

spawn() { # spawn <name> <workdir> <command...>: detached, output appended to $LOG_DIR/<name>.log
  local name="$1" dir="$2"
  shift 2
  local logf="$LOG_DIR/$name.log"
  # Keep one previous log instead of growing forever across many test runs.
  if [[ -f "$logf" ]] && (($(stat -c %s "$logf") > 50 * 1024 * 1024)); then mv -f "$logf" "$logf.1"; fi
  printf '\n===== %s: starting %s =====\n' "$(date -u +%FT%TZ)" "$name" >>"$logf"
  # Every step execs, so no shell lingers as the server's parent: bash -c writes its own pid,
  # then exec keeps that pid for java, which makes the pid file exact. The server gets none of
  # our file descriptors (caller's pipes, the stack lock on fd 9), or it would hold them open
  # for its lifetime and e.g. `out=$(stack.sh up)` would never return.
  (
    cd "$dir" || exit 1
    exec 9>&- setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN_DIR/$name.pid" "$@" >>"$logf" 2>&1 </dev/null
  ) &
  local i
  for i in {1..50}; do [[ -s "$RUN_DIR/$name.pid" ]] && return 0; sleep 0.1; done
  die "$name did not start; see ${logf#"$REPO_DIR"/}"
}

terminate() { # terminate <name>: SIGTERM, wait for a clean shutdown, then SIGKILL
  local name="$1" pid i
  pid="$(pid_of "$name")" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  # Kafka's controlled shutdown flushes logs and writes a clean-shutdown marker, so a restart
  # does not need log recovery; it takes a few seconds, 30 s is generous.
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within 30s of SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$RUN_DIR/$name.pid"
}

wait_ready() { # wait_ready <name> <check function>: polls until ready, or exits naming the log
  local name="$1" check="$2" start=$SECONDS
  until "$check"; do
    if ((SECONDS - start >= TIMEOUT)); then
      die "$name did not become ready in ${TIMEOUT}s; see ${LOG_DIR#"$REPO_DIR"/}/$name.log"
    fi
    # A server we started that already exited will never become ready: fail now, not in 90 s.
    if [[ -f "$RUN_DIR/$name.pid" ]] && ! pid_of "$name" >/dev/null; then
      die "$name exited during startup; see ${LOG_DIR#"$REPO_DIR"/}/$name.log"
    fi
    sleep 0.5
  done
  log "$name ready in $((SECONDS - start))s"
}

# ---------------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------------
kafka_ready() {
  # A real metadata request with kafkajs (the client the services use), not just an open port:
  # the broker accepts connections before the KRaft controller has registered it, and until
  # then metadata has no brokers. Falls back to the open port when node_modules is missing.
  port_open "$KAFKA_HOST" "$KAFKA_PORT" || return 1
  if [[ ! -d "$REPO_DIR/node_modules/kafkajs" ]]; then return 0; fi
  (cd "$REPO_DIR" && timeout 10 node -e '
    const { Kafka, logLevel } = require("kafkajs");
    const admin = new Kafka({ brokers: [process.argv[1]], logLevel: logLevel.NOTHING,
      connectionTimeout: 2000, requestTimeout: 4000, retry: { retries: 0 } }).admin();
    admin.connect()
      .then(() => admin.describeCluster())
      .then((c) => { if (c.brokers.length === 0 || c.controller == null) throw new Error("no broker"); })
      .then(() => admin.disconnect(), (e) => admin.disconnect().then(() => { throw e; }))
      .then(() => process.exit(0), () => process.exit(1));
  ' "$KAFKA_HOST:$KAFKA_PORT") >/dev/null 2>&1
}

kafka_libs() {
  # Assemble libs/ once per version of the pom; the stamp holds the pom's checksum so editing
  # the pom (e.g. another Kafka version) rebuilds it.
  local stamp="$KAFKA_HOME/libs/.complete" sum
  sum="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  [[ -f "$stamp" && "$(<"$stamp")" == "$sum" ]] && return 0
  command -v mvn >/dev/null || die "mvn is required to fetch the Kafka jars (apt-get install maven)"
  log "fetching Kafka $KAFKA_VERSION jars with Maven (cached in ~/.m2)"
  rm -rf "$KAFKA_HOME/libs"
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs" >"$LOG_DIR/kafka-maven.log" 2>&1 ||
    die "Maven could not fetch the Kafka jars; see ${LOG_DIR#"$REPO_DIR"/}/kafka-maven.log"
  echo "$sum" >"$stamp"
}

kafka_config() {
  mkdir -p "$KAFKA_HOME/config" "$KAFKA_HOME/data"
  # Rewritten on every start so edits here take effect; the data directory is what persists.
  cat >"$KAFKA_HOME/config/server.properties" <<EOF
# Generated by scripts/stack.sh; edit the script, not this file.
# One node that is both KRaft controller and broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_HOME/data

# Topics are created explicitly (platform's setup), as in production: a typo must not
# silently create a new topic.
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=1
min.insync.replicas=1

# A single node cannot hold three replicas of the internal topics.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer internal partitions: the first consumer group of a fresh broker is ready sooner.
offsets.topic.num.partitions=6
transaction.state.log.num.partitions=6

# Tests start many short-lived consumer groups; the default 3 s delay would slow each one.
group.initial.rebalance.delay.ms=0
EOF
  # Kafka 4 logs through log4j2; this mirrors the distribution's config/log4j2.yaml in
  # properties form (no YAML parser needed) and writes to stdout, i.e. $LOG_DIR/kafka.log.
  cat >"$KAFKA_HOME/config/log4j2.properties" <<'EOF'
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = kafka.network.RequestChannel$
logger.network.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
  cat >"$KAFKA_HOME/config/tools-log4j2.properties" <<'EOF'
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

# The JVM as bin/kafka-run-class.sh runs it: G1 and every jar of libs/ on the classpath.
KAFKA_JVM=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  "-Dkafka.logs.dir=$LOG_DIR" -cp "$KAFKA_HOME/libs/*")
# Command-line tools log warnings to stderr only (like the distribution's tools-log4j2.yaml),
# so that their stdout is just their output (e.g. the cluster id of `random-uuid`).
kafka_tool() {
  "$JAVA" -Xmx256m "-Dlog4j2.configurationFile=$KAFKA_HOME/config/tools-log4j2.properties" "${KAFKA_JVM[@]}" "$@"
}

kafka_format() {
  # Format the KRaft metadata log once. A cluster id is kept beside the data so that the
  # storage is never formatted twice (reformatting would mean losing every topic).
  [[ -f "$KAFKA_HOME/data/meta.properties" ]] && return 0
  local id_file="$KAFKA_HOME/cluster.id"
  [[ -s "$id_file" ]] || kafka_tool kafka.tools.StorageTool random-uuid >"$id_file"
  [[ "$(<"$id_file")" =~ ^[A-Za-z0-9_-]{22}$ ]] || { rm -f "$id_file"; die "could not generate a Kafka cluster id"; }
  log "formatting Kafka storage (cluster id $(<"$id_file"))"
  kafka_tool kafka.tools.StorageTool format --ignore-formatted \
    --cluster-id "$(<"$id_file")" --config "$KAFKA_HOME/config/server.properties" \
    >>"$LOG_DIR/kafka.log" 2>&1 || die "formatting Kafka storage failed; see ${LOG_DIR#"$REPO_DIR"/}/kafka.log"
}

start_kafka() {
  if pid_of kafka >/dev/null; then
    kafka_ready && { log "kafka already up at $KAFKA_HOST:$KAFKA_PORT"; return 0; }
    wait_ready kafka kafka_ready # ours, still starting (e.g. a concurrent `up`)
    return 0
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    # Served by someone else, e.g. the stack of another checkout: reuse it when healthy.
    kafka_ready || die "port $KAFKA_PORT is taken by something that is not a healthy Kafka"
    log "kafka already served at $KAFKA_HOST:$KAFKA_PORT (not started from $STACK_DIR); reusing it"
    return 0
  fi
  port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT (Kafka controller) is taken"
  kafka_libs
  kafka_config
  kafka_format
  spawn kafka "$KAFKA_HOME" "$JAVA" -Xms256m -Xmx1g \
    "-Dlog4j2.configurationFile=$KAFKA_HOME/config/log4j2.properties" "${KAFKA_JVM[@]}" kafka.Kafka "$KAFKA_HOME/config/server.properties"
  wait_ready kafka kafka_ready
}

# ---------------------------------------------------------------------------------------------
# Schema registry
# ---------------------------------------------------------------------------------------------
registry_ready() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$REGISTRY_URL/subjects" 2>/dev/null)" == 200 ]]
}

registry_install() {
  [[ -f "$REGISTRY_HOME/apicurio-registry-app-$REGISTRY_VERSION-runner.jar" ]] && return 0
  local zip="$HOME/.m2/repository/io/apicurio/apicurio-registry-app/$REGISTRY_VERSION/apicurio-registry-app-$REGISTRY_VERSION-all.zip"
  if [[ ! -f "$zip" ]]; then
    log "fetching Apicurio Registry $REGISTRY_VERSION with Maven (cached in ~/.m2)"
    mvn -q -B dependency:get -Dtransitive=false \
      -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:zip:all" >"$LOG_DIR/registry-maven.log" 2>&1 ||
      die "Maven could not fetch the registry; see ${LOG_DIR#"$REPO_DIR"/}/registry-maven.log"
  fi
  rm -rf "$REGISTRY_HOME.tmp" && mkdir -p "$REGISTRY_HOME.tmp"
  unzip -q "$zip" -d "$REGISTRY_HOME.tmp"
  rm -rf "$REGISTRY_HOME" && mv "$REGISTRY_HOME.tmp" "$REGISTRY_HOME"
}

start_registry() {
  if pid_of registry >/dev/null; then
    registry_ready && { log "registry already up at $REGISTRY_URL"; return 0; }
    wait_ready registry registry_ready
    return 0
  fi
  if port_open 127.0.0.1 "$REGISTRY_PORT"; then
    registry_ready || die "port $REGISTRY_PORT is taken by something that is not a healthy registry"
    log "registry already served at $REGISTRY_URL (not started from $STACK_DIR); reusing it"
    return 0
  fi
  registry_install
  # Storage: SQL on H2 (the 3.0.x default) but in a file beside Kafka's data instead of the
  # default in-memory database: schema ids are written into every Kafka message, so they must
  # outlive a registry restart as long as the topics do (otherwise an old message would point
  # at an unknown id, or worse at another schema). Bound to loopback; auth stays off (default).
  mkdir -p "$STACK_DIR/registry/data"
  spawn registry "$REGISTRY_HOME" "$JAVA" -Xms128m -Xmx512m -XX:+ExitOnOutOfMemoryError \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
    "-Dapicurio.datasource.url=jdbc:h2:file:$STACK_DIR/registry/data/registry" \
    -Dapicurio.ccompat.legacy-id-mode.enabled=false \
    -jar "apicurio-registry-app-$REGISTRY_VERSION-runner.jar"
  wait_ready registry registry_ready
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL and Redis: the machine's servers (trust auth for postgres on 127.0.0.1)
# ---------------------------------------------------------------------------------------------
postgres_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_ready() { [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

start_postgres() {
  if ! postgres_ready; then
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
    [[ -n "$version" ]] || die "postgres is down and no cluster exists in /etc/postgresql"
    log "starting postgres $version"
    # 9>&-: the server must not inherit the stack lock, or it would hold it for its lifetime.
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 9>&- || true
  fi
  wait_ready postgres postgres_ready
  local db
  for db in "${PG_DATABASES[@]}"; do
    if [[ "$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc \
      "select 1 from pg_database where datname = '$db'")" != 1 ]]; then
      log "creating database $db"
      psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc "create database $db owner postgres"
    fi
  done
}

start_redis() {
  if ! redis_ready; then
    log "starting redis"
    # No persistence: the rule cache is rebuilt from the rules service on a miss (see DESIGN).
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log 9>&-
  fi
  wait_ready redis redis_ready
}

stop_postgres() {
  postgres_ready || return 0
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main stop -m fast
}

stop_redis() {
  redis_ready || return 0
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  local i
  for i in {1..100}; do redis_ready || return 0; sleep 0.1; done
  die "redis did not stop"
}

stop_java() { # stop_java <name>: only servers this stack started; never someone else's
  if pid_of "$1" >/dev/null; then
    log "stopping $1"
    terminate "$1"
  else
    local port
    port="$([[ $1 == kafka ]] && echo "$KAFKA_PORT" || echo "$REGISTRY_PORT")"
    if port_open 127.0.0.1 "$port"; then
      die "$1 on port $port was not started from $STACK_DIR; stop it where it was started"
    fi
  fi
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
row() { printf '%-9s %-5s %s\n' "$1" "$2" "$3"; }
external() { [[ $2 == up ]] && ! pid_of "$1" >/dev/null && echo ' (external)' || true; }

status() {
  local state
  state=down; kafka_ready && state=up
  # "(external)": served from another checkout's stack; stop/down here will not touch it.
  row kafka "$state" "$KAFKA_HOST:$KAFKA_PORT$(external kafka "$state")"
  state=down; registry_ready && state=up
  row registry "$state" "$REGISTRY_URL$(external registry "$state")"
  state=down; postgres_ready && state=up
  row postgres "$state" "postgres://postgres@$PG_HOST:$PG_PORT/kana"
  state=down; redis_ready && state=up
  row redis "$state" "redis://$REDIS_HOST:$REDIS_PORT"
}

up() {
  local t0=$SECONDS
  start_postgres
  start_redis
  # Kafka and the registry are independent: start the registry in the background so both
  # JVMs boot at the same time, then wait for it.
  start_registry &
  local registry_job=$!
  start_kafka
  wait "$registry_job" || exit 1
  log "up in $((SECONDS - t0))s"
  status
}

down() {
  stop_java registry
  stop_java kafka
  log "down (postgres and redis left running)"
}

logs() {
  local name="${1:-}" follow=()
  [[ "$name" == -f ]] && { name=""; follow=(-F); }
  [[ "${2:-}" == -f ]] && follow=(-F)
  case "$name" in
    "") ls "$LOG_DIR"/kafka.log "$LOG_DIR"/registry.log >/dev/null 2>&1 || die "no logs yet in $LOG_DIR"
        tail -n 50 "${follow[@]}" "$LOG_DIR"/kafka.log "$LOG_DIR"/registry.log ;;
    kafka | registry) tail -n 200 "${follow[@]}" "$LOG_DIR/$name.log" ;;
    postgres) tail -n 200 "${follow[@]}" /var/log/postgresql/postgresql-*-main.log ;;
    redis) tail -n 200 "${follow[@]}" /var/log/redis/ci.log ;;
    *) die "unknown component '$name' (kafka|registry|postgres|redis)" ;;
  esac
}

component() {
  case "${1:-}" in
    kafka | registry | postgres | redis) echo "$1" ;;
    *) die "usage: $0 ${2} kafka|registry|postgres|redis" ;;
  esac
}

mkdir -p "$RUN_DIR" "$LOG_DIR"

# A broker started from another checkout (CI's clean clone reusing the session's
# stack, a second worktree) is stopped and started again from ITS stack folder,
# so its data survives a `stop kafka` / `start kafka` issued from here. The
# owner is read off the running broker's command line; a breadcrumb keeps it
# for the `start` that follows while the port is closed.
kafka_owner() {
  local pid
  pid="$(ss -ltnpH "sport = :$KAFKA_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
  [[ -n "$pid" ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's#/kafka/config/server.properties$##p' | head -1
}
if [[ "${1:-}" =~ ^(stop|start|restart-kafka)$ && ( "${2:-}" == kafka || "${1:-}" == restart-kafka ) && -z "${KANA_STACK_DELEGATED:-}" ]]; then
  owner=""
  if port_open 127.0.0.1 "$KAFKA_PORT"; then owner="$(kafka_owner || true)";
  elif [[ -f "$RUN_DIR/kafka.owner" ]]; then owner="$(<"$RUN_DIR/kafka.owner")"; fi
  if [[ -n "$owner" && "$owner" != "$STACK_DIR" && -d "$owner" ]]; then
    if [[ "$1" == stop ]]; then echo "$owner" >"$RUN_DIR/kafka.owner"; else rm -f "$RUN_DIR/kafka.owner"; fi
    log "kafka belongs to the stack in $owner; acting there"
    KANA_STACK_DIR="$owner" KANA_STACK_DELEGATED=1 exec "$0" "$@"
  fi
  rm -f "$RUN_DIR/kafka.owner"
fi

# Commands that start or stop servers take a lock, so that two concurrent `up`s (two terminals,
# parallel test runners) cannot start two brokers on the same data directory.
case "${1:-}" in
  up | down | start | stop | restart-kafka) exec 9>"$RUN_DIR/lock" && flock 9 ;;
esac
case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  logs) logs "${2:-}" "${3:-}" ;;
  start)
    c="$(component "${2:-}" start)"
    case "$c" in
      kafka) start_kafka ;; registry) start_registry ;; postgres) start_postgres ;; redis) start_redis ;;
    esac ;;
  stop)
    c="$(component "${2:-}" stop)"
    case "$c" in
      kafka | registry) stop_java "$c" ;; postgres) stop_postgres ;; redis) stop_redis ;;
    esac ;;
  restart-kafka) stop_java kafka && start_kafka ;;
  *)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
