# The records of the protocols in tests/golden/l7, reduced to what the protocol dissectors decide:
# the engine's envelope (ids, Kubernetes context, capture file, node) is left out so that these
# files test the dissectors, and the place of the corpus does not matter.
select(.protocol as $p | ["TLS","REDIS","HTTP2","GRPC","POSTGRESQL","MYSQL","KAFKA","AMQP","MONGODB","WS","ICMP"] | index($p))
| {src: {ip: .src.ip, port: .src.port}, dst: {ip: .dst.ip, port: .dst.port},
   frames: [.capture.first_frame, .capture.last_frame]} +
  (del(.id, .stream, .conn_id, .flow_id, .capture_source, .has_pcap, .node, .node_name, .node_ip,
       .namespaces, .pods, .services, .local_labels, .remote_labels, .local_annotations,
       .remote_annotations, .capture, .src, .dst))
