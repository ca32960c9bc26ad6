# tests/spark/servers.sh — sourced by tests/spark/run.sh: a local Spark standalone
# cluster (one master, one worker) and a Spark Connect server, both from pip's pyspark,
# loopback only, on free ports chosen at run time, with their own work directories
# under $WORK. stop_servers (run.sh's EXIT trap) stops whatever was started.
SERVER_PIDS=()

# A free TCP port on 127.0.0.1 (the kernel's choice).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT SECONDS: until something listens on 127.0.0.1:PORT.
wait_port() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0:
            sys.exit(0)
    time.sleep(0.5)
sys.exit(1)
PY
}

spark_dist() { python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'; }

# start_cluster: sets MASTER_URL; logs in $WORK/cluster/.
start_cluster() {
  local dist dir mport wport
  dist=$(spark_dist) dir=$WORK/cluster
  mkdir -p "$dir/work"
  mport=$(free_port)
  MASTER_URL=spark://127.0.0.1:$mport
  (cd "$dir" && SPARK_LOCAL_IP=127.0.0.1 exec "$dist/bin/spark-class" org.apache.spark.deploy.master.Master \
     --host 127.0.0.1 --port "$mport" --webui-port "$(free_port)" >"$dir/master.log" 2>&1) &
  SERVER_PIDS+=($!)
  wport=$(free_port)
  (cd "$dir" && SPARK_LOCAL_IP=127.0.0.1 exec "$dist/bin/spark-class" org.apache.spark.deploy.worker.Worker \
     --host 127.0.0.1 --webui-port "$wport" --cores 2 --memory 2g --work-dir "$dir/work" \
     "$MASTER_URL" >"$dir/worker.log" 2>&1) &
  SERVER_PIDS+=($!)
  CLUSTER_UI_PORT=$wport
}

# The worker has registered with the master (its log says so).
cluster_ready() {
  local i
  for i in $(seq 1 "$1"); do
    grep -q "Successfully registered with master" "$WORK/cluster/worker.log" 2>/dev/null && return 0
    sleep 1
  done
  return 1
}

# start_connect PACKAGES: sets CONNECT_URL; the server reads PostgreSQL over JDBC with the
# driver from --packages, its tables live in $WORK/connect/warehouse.
start_connect() {
  local dist dir port
  dist=$(spark_dist) dir=$WORK/connect
  mkdir -p "$dir"
  port=$(free_port)
  CONNECT_PORT=$port
  CONNECT_URL=sc://127.0.0.1:$port
  (cd "$dir" && SPARK_LOCAL_IP=127.0.0.1 exec "$dist/bin/spark-class" org.apache.spark.deploy.SparkSubmit \
     --class org.apache.spark.sql.connect.service.SparkConnectServer --master "local[2]" \
     --conf spark.connect.grpc.binding.address=127.0.0.1 --conf spark.connect.grpc.binding.port="$port" \
     --conf spark.ui.enabled=false --conf spark.log.level=WARN --conf spark.sql.session.timeZone=UTC \
     --conf spark.sql.shuffle.partitions=4 --conf spark.driver.extraJavaOptions=-Duser.timezone=UTC \
     --conf spark.sql.warehouse.dir="$dir/warehouse" --packages "$1" spark-internal >"$dir/server.log" 2>&1) &
  SERVER_PIDS+=($!)
}

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  SERVER_PIDS=()
}
