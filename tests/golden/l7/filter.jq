# The records of the protocols in tests/golden/l7, reduced to what the protocol dissectors decide:
# the engine's envelope (ids, Kubernetes context, capture file, node) is left out so that these
# files test the dissectors, and the place of the corpus does not matter.
# Every protocol's but HTTP/1's and DNS's (their goldens are tests/golden/kdissect) and the
# connection and flow records' (TCP, UDP, IP), so a new protocol's goldens need no edit here.
select(.protocol as $p | ["HTTP","DNS","TCP","UDP","IP"] | index($p) | not)
| {src: {ip: .src.ip, port: .src.port}, dst: {ip: .dst.ip, port: .dst.port},
   frames: [.capture.first_frame, .capture.last_frame]} +
  (del(.id, .stream, .conn_id, .flow_id, .capture_source, .has_pcap, .node, .node_name, .node_ip,
       .namespaces, .pods, .services, .local_labels, .remote_labels, .local_annotations,
       .remote_annotations, .capture, .src, .dst))
