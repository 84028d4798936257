/* kafka.c — Apache Kafka protocol (kafka.apache.org/protocol.html; message schemas in Kafka's
 * clients/src/main/resources/common/message/ JSON files, "flexibleVersions").
 *
 *   request:  Size(int32) | api_key(int16) api_version(int16) correlation_id(int32)
 *             client_id(nullable string, header v1+) [tagged fields, header v2 = flexible] | body
 *   response: Size(int32) | correlation_id(int32) [tagged fields, header v1 = flexible, except
 *             ApiVersions which always answers with header v0] | body
 *   flexible versions: compact strings/arrays (unsigned varint length + 1) and tagged fields.
 *
 * Requests and responses are matched by correlation id. The request summary names the topics
 * (Produce, Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, …) or the group (group
 * APIs); the response's top-level error code is read where the schema puts one first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kf_cursor.h"

#define KAFKA_MAX_FRAME (100u << 20)

static const char *const kafka_api_names[] = {
    "PRODUCE", "FETCH", "LIST_OFFSETS", "METADATA", "LEADER_AND_ISR", "STOP_REPLICA",
    "UPDATE_METADATA", "CONTROLLED_SHUTDOWN", "OFFSET_COMMIT", "OFFSET_FETCH", "FIND_COORDINATOR",
    "JOIN_GROUP", "HEARTBEAT", "LEAVE_GROUP", "SYNC_GROUP", "DESCRIBE_GROUPS", "LIST_GROUPS",
    "SASL_HANDSHAKE", "API_VERSIONS", "CREATE_TOPICS", "DELETE_TOPICS", "DELETE_RECORDS",
    "INIT_PRODUCER_ID", "OFFSET_FOR_LEADER_EPOCH", "ADD_PARTITIONS_TO_TXN", "ADD_OFFSETS_TO_TXN",
    "END_TXN", "WRITE_TXN_MARKERS", "TXN_OFFSET_COMMIT", "DESCRIBE_ACLS", "CREATE_ACLS",
    "DELETE_ACLS", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "ALTER_REPLICA_LOG_DIRS",
    "DESCRIBE_LOG_DIRS", "SASL_AUTHENTICATE", "CREATE_PARTITIONS", "CREATE_DELEGATION_TOKEN",
    "RENEW_DELEGATION_TOKEN", "EXPIRE_DELEGATION_TOKEN", "DESCRIBE_DELEGATION_TOKEN",
    "DELETE_GROUPS", "ELECT_LEADERS", "INCREMENTAL_ALTER_CONFIGS", "ALTER_PARTITION_REASSIGNMENTS",
    "LIST_PARTITION_REASSIGNMENTS", "OFFSET_DELETE", "DESCRIBE_CLIENT_QUOTAS", "ALTER_CLIENT_QUOTAS",
    "DESCRIBE_USER_SCRAM_CREDENTIALS", "ALTER_USER_SCRAM_CREDENTIALS", "VOTE", "BEGIN_QUORUM_EPOCH",
    "END_QUORUM_EPOCH", "DESCRIBE_QUORUM", "ALTER_PARTITION", "UPDATE_FEATURES", "ENVELOPE",
    "FETCH_SNAPSHOT", "DESCRIBE_CLUSTER", "DESCRIBE_PRODUCERS", "BROKER_REGISTRATION",
    "BROKER_HEARTBEAT", "UNREGISTER_BROKER", "DESCRIBE_TRANSACTIONS", "LIST_TRANSACTIONS",
    "ALLOCATE_PRODUCER_IDS", "CONSUMER_GROUP_HEARTBEAT", "CONSUMER_GROUP_DESCRIBE",
    "CONTROLLER_REGISTRATION", "GET_TELEMETRY_SUBSCRIPTIONS", "PUSH_TELEMETRY",
    "ASSIGN_REPLICAS_TO_DIRS", "LIST_CLIENT_METRICS_RESOURCES", "DESCRIBE_TOPIC_PARTITIONS"};
#define KAFKA_NAPIS ((int)(sizeof kafka_api_names / sizeof kafka_api_names[0]))

/* First flexible version of each API (from the message schemas), -1 = never. */
static const int8_t kafka_flex_from[KAFKA_NAPIS] = {
    9, 12, 6, 9, 4, 2, 6, 3, 8, 6, 3, 6, 4, 4, 4, 5, 3, -1, 3, 5, 4, 2, 2, 4, 3, 3, 3, 1, 3,
    2, 2, 2, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 0, 0, -1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

static int kafka_flexible(int key, int ver)
{
    if (key < 0 || key >= KAFKA_NAPIS) return 0;
    return kafka_flex_from[key] >= 0 && ver >= kafka_flex_from[key];
}

static const char *kafka_error_name(int e)
{
    switch (e) {
    case 0: return "NONE";
    case -1: return "UNKNOWN_SERVER_ERROR";
    case 1: return "OFFSET_OUT_OF_RANGE";
    case 2: return "CORRUPT_MESSAGE";
    case 3: return "UNKNOWN_TOPIC_OR_PARTITION";
    case 5: return "LEADER_NOT_AVAILABLE";
    case 6: return "NOT_LEADER_OR_FOLLOWER";
    case 7: return "REQUEST_TIMED_OUT";
    case 10: return "MESSAGE_TOO_LARGE";
    case 14: return "COORDINATOR_LOAD_IN_PROGRESS";
    case 15: return "COORDINATOR_NOT_AVAILABLE";
    case 16: return "NOT_COORDINATOR";
    case 17: return "INVALID_TOPIC_EXCEPTION";
    case 22: return "ILLEGAL_GENERATION";
    case 25: return "UNKNOWN_MEMBER_ID";
    case 27: return "REBALANCE_IN_PROGRESS";
    case 29: return "TOPIC_AUTHORIZATION_FAILED";
    case 30: return "GROUP_AUTHORIZATION_FAILED";
    case 31: return "CLUSTER_AUTHORIZATION_FAILED";
    case 35: return "UNSUPPORTED_VERSION";
    case 36: return "TOPIC_ALREADY_EXISTS";
    case 58: return "SASL_AUTHENTICATION_FAILED";
    case 79: return "MEMBER_ID_REQUIRED";
    }
    return NULL;
}

/* unsigned varint (compact lengths, tagged fields) */
static uint64_t kafka_uvarint(kf_cur *c)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        uint8_t b = kf_u8(c);
        if (c->err) return 0;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) return v;
    }
    c->err = 1;
    return 0;
}

/* A string: int16 length (nullable: -1) or compact (uvarint length + 1, 0 = null). Returns a
 * pointer (not NUL-terminated) and length, or NULL for null/error. */
static const uint8_t *kafka_str(kf_cur *c, int compact, size_t *len)
{
    int64_t l;
    if (compact) l = (int64_t)kafka_uvarint(c) - 1;
    else l = (int16_t)kf_be16(c);
    *len = 0;
    if (c->err || l < 0) return NULL;
    const uint8_t *p = kf_cur_take(c, (size_t)l);
    if (p) *len = (size_t)l;
    return p;
}

static int64_t kafka_array_len(kf_cur *c, int compact)
{
    if (compact) return (int64_t)kafka_uvarint(c) - 1;
    return (int32_t)kf_be32(c);
}

static void kafka_skip_tags(kf_cur *c)
{
    uint64_t n = kafka_uvarint(c);
    for (uint64_t i = 0; i < n && !c->err; i++) {
        kafka_uvarint(c);
        kf_cur_skip(c, (size_t)kafka_uvarint(c));
    }
}

typedef struct kafka_req {
    int16_t key, ver;
    int32_t corr;
    char client_id[128];
    char summary[256]; size_t slen;
    int ntopics;
} kafka_req;

static void kafka_add_summary(kafka_req *r, const uint8_t *s, size_t n)
{
    if (!s || !n) return;
    /* no duplicates: a topic named twice is listed once */
    size_t i = 0;
    while (i < r->slen) {
        const char *comma = memchr(r->summary + i, ',', r->slen - i);
        size_t e = comma ? (size_t)(comma - r->summary) : r->slen;
        if (e - i == n && !memcmp(r->summary + i, s, n)) return;
        i = e + 1;
    }
    if (r->slen && r->slen + 1 < sizeof r->summary) r->summary[r->slen++] = ',';
    size_t room = sizeof r->summary - 1 - r->slen;
    if (n > room) n = room;
    memcpy(r->summary + r->slen, s, n);
    r->slen += n;
    r->summary[r->slen] = 0;
    r->ntopics++;
}

/* Topics: an array whose elements start with a topic name (string) — the element's remaining
 * fields are skipped by skip(). Only the first elements' names are read when skipping is not
 * possible; we stop at the first name (returns after one element) unless skip is given. */
typedef void (*kafka_skip_fn)(kf_cur *c, int ver, int compact);

static void kafka_skip_partitions_int32_array(kf_cur *c, int ver, int compact)
{
    /* [partition int32 ...] with a fixed tail per element is API-specific; not used */
    (void)c; (void)ver; (void)compact;
}

static void kafka_topics(kf_cur *c, kafka_req *r, int compact, int ver, kafka_skip_fn skip)
{
    int64_t n = kafka_array_len(c, compact);
    if (c->err || n < 0 || n > 100000) return;
    for (int64_t i = 0; i < n && !c->err; i++) {
        size_t l;
        const uint8_t *s = kafka_str(c, compact, &l);
        if (c->err) return;
        kafka_add_summary(r, s, l);
        if (!skip) return;            /* cannot walk further elements */
        skip(c, ver, compact);
    }
}

/* Produce partitions: [index int32, records (nullable bytes: int32 or compact)] */
static void kafka_skip_produce_parts(kf_cur *c, int ver, int compact)
{
    int64_t n = kafka_array_len(c, compact);
    for (int64_t i = 0; i < n && !c->err; i++) {
        kf_cur_skip(c, 4);
        int64_t bl = compact ? (int64_t)kafka_uvarint(c) - 1 : (int32_t)kf_be32(c);
        if (bl > 0) kf_cur_skip(c, (size_t)bl);
        if (compact) kafka_skip_tags(c);
    }
    if (compact) kafka_skip_tags(c);
    (void)ver;
}

/* Fetch partitions (v0..v12 fields): partition int32, [v12 current_leader_epoch int32,
 * v9+], fetch_offset int64, [v12 last_fetched_epoch int32], [v5 log_start_offset int64],
 * partition_max_bytes int32 */
static void kafka_skip_fetch_parts(kf_cur *c, int ver, int compact)
{
    int64_t n = kafka_array_len(c, compact);
    for (int64_t i = 0; i < n && !c->err; i++) {
        kf_cur_skip(c, 4);
        if (ver >= 9) kf_cur_skip(c, 4);
        kf_cur_skip(c, 8);
        if (ver >= 12) kf_cur_skip(c, 4);
        if (ver >= 5) kf_cur_skip(c, 8);
        kf_cur_skip(c, 4);
        if (compact) kafka_skip_tags(c);
    }
    if (compact) kafka_skip_tags(c);
}

/* ListOffsets partitions: partition int32, [v4 current_leader_epoch int32], timestamp int64,
 * [v0 max_num_offsets int32] */
static void kafka_skip_listoffsets_parts(kf_cur *c, int ver, int compact)
{
    int64_t n = kafka_array_len(c, compact);
    for (int64_t i = 0; i < n && !c->err; i++) {
        kf_cur_skip(c, 4);
        if (ver >= 4) kf_cur_skip(c, 4);
        kf_cur_skip(c, 8);
        if (ver == 0) kf_cur_skip(c, 4);
        if (compact) kafka_skip_tags(c);
    }
    if (compact) kafka_skip_tags(c);
}

/* Metadata (v0..v9): topics are just names (+ tags when flexible) */
static void kafka_skip_metadata_topic(kf_cur *c, int ver, int compact)
{
    if (compact) kafka_skip_tags(c);
    (void)ver;
}

/* OffsetCommit partitions: partition int32, committed_offset int64, [v6 leader_epoch int32],
 * [v1 commit_timestamp int64 (v1 only)], metadata nullable string */
static void kafka_skip_offsetcommit_parts(kf_cur *c, int ver, int compact)
{
    int64_t n = kafka_array_len(c, compact);
    for (int64_t i = 0; i < n && !c->err; i++) {
        kf_cur_skip(c, 4 + 8);
        if (ver >= 6) kf_cur_skip(c, 4);
        if (ver == 1) kf_cur_skip(c, 8);
        size_t l;
        kafka_str(c, compact, &l);
        if (compact) kafka_skip_tags(c);
    }
    if (compact) kafka_skip_tags(c);
}

/* OffsetFetch (v0..v7) topics: name, [partition int32] */
static void kafka_skip_int32_array(kf_cur *c, int ver, int compact)
{
    int64_t n = kafka_array_len(c, compact);
    if (n > 0) kf_cur_skip(c, (size_t)n * 4);
    if (compact) kafka_skip_tags(c);
    (void)ver;
}

/* Parses a request frame (after the Size). Returns 0, -1 if the header is not Kafka. */
static int kafka_parse_request(const uint8_t *p, size_t n, kafka_req *r)
{
    memset(r, 0, sizeof *r);
    kf_cur c = kf_cur_make(p, n);
    r->key = (int16_t)kf_be16(&c);
    r->ver = (int16_t)kf_be16(&c);
    r->corr = (int32_t)kf_be32(&c);
    if (c.err || r->key < 0 || r->key >= KAFKA_NAPIS || r->ver < 0 || r->ver > 20) return -1;
    size_t l;
    const uint8_t *cid = kafka_str(&c, 0, &l);
    if (c.err) return -1;
    if (cid) {
        if (l >= sizeof r->client_id) l = sizeof r->client_id - 1;
        memcpy(r->client_id, cid, l);
        r->client_id[l] = 0;
    }
    int flex = kafka_flexible(r->key, r->ver);
    if (flex) kafka_skip_tags(&c);
    if (c.err) return 0;
    int v = r->ver;
    switch (r->key) {
    case 0:   /* Produce: [v3 transactional_id], acks int16, timeout int32, topics */
        if (v >= 3) kafka_str(&c, flex, &l);
        kf_cur_skip(&c, 2 + 4);
        kafka_topics(&c, r, flex, v, kafka_skip_produce_parts);
        break;
    case 1:   /* Fetch: [replica_id int32 <v15], max_wait, min_bytes, [v3 max_bytes], [v4 iso],
               * [v7 session_id, session_epoch], topics (v13+: topic ids, no names) */
        if (v >= 13) break;
        kf_cur_skip(&c, 4 + 4 + 4);
        if (v >= 3) kf_cur_skip(&c, 4);
        if (v >= 4) kf_cur_skip(&c, 1);
        if (v >= 7) kf_cur_skip(&c, 8);
        kafka_topics(&c, r, flex, v, kafka_skip_fetch_parts);
        break;
    case 2:   /* ListOffsets: replica_id, [v2 isolation_level], topics */
        kf_cur_skip(&c, 4);
        if (v >= 2) kf_cur_skip(&c, 1);
        kafka_topics(&c, r, flex, v, kafka_skip_listoffsets_parts);
        break;
    case 3:   /* Metadata: topics (nullable array); v10+ topic_id before name */
        if (v >= 10) {
            int64_t t = kafka_array_len(&c, flex);
            for (int64_t i = 0; i < t && i < 100000 && !c.err; i++) {
                kf_cur_skip(&c, 16);
                const uint8_t *s = kafka_str(&c, flex, &l);
                kafka_add_summary(r, s, l);
                kafka_skip_tags(&c);
            }
        } else {
            kafka_topics(&c, r, flex, v, kafka_skip_metadata_topic);
        }
        break;
    case 8: { /* OffsetCommit: group_id, [v1 generation, member_id], [v7 instance id],
               * [v2-4 retention int64], topics */
        const uint8_t *g = kafka_str(&c, flex, &l);
        size_t gl = l;
        if (v >= 1) { kf_cur_skip(&c, 4); kafka_str(&c, flex, &l); }
        if (v >= 7) kafka_str(&c, flex, &l);
        if (v >= 2 && v <= 4) kf_cur_skip(&c, 8);
        kafka_topics(&c, r, flex, v, kafka_skip_offsetcommit_parts);
        if (!r->slen) kafka_add_summary(r, g, gl);
        break;
    }
    case 9: { /* OffsetFetch: group_id, topics (v0-7); v8+ groups array */
        if (v >= 8) {
            int64_t gn = kafka_array_len(&c, flex);
            if (gn > 0) { const uint8_t *g = kafka_str(&c, flex, &l); kafka_add_summary(r, g, l); }
            break;
        }
        const uint8_t *g = kafka_str(&c, flex, &l);
        size_t gl = l;
        kafka_topics(&c, r, flex, v, kafka_skip_int32_array);
        if (!r->slen) kafka_add_summary(r, g, gl);
        break;
    }
    case 10:  /* FindCoordinator: key (v0-3); v4+ key_type, coordinator_keys */
        if (v >= 4) {
            kf_cur_skip(&c, 1);
            int64_t kn = kafka_array_len(&c, flex);
            if (kn > 0) { const uint8_t *k = kafka_str(&c, flex, &l); kafka_add_summary(r, k, l); }
        } else {
            const uint8_t *k = kafka_str(&c, flex, &l);
            kafka_add_summary(r, k, l);
        }
        break;
    case 11: case 12: case 13: case 14: case 42: {   /* group APIs: group_id first */
        if (r->key == 42) {
            int64_t gn = kafka_array_len(&c, flex);
            for (int64_t i = 0; i < gn && i < 64 && !c.err; i++) {
                const uint8_t *g = kafka_str(&c, flex, &l);
                kafka_add_summary(r, g, l);
            }
            break;
        }
        const uint8_t *g = kafka_str(&c, flex, &l);
        kafka_add_summary(r, g, l);
        break;
    }
    case 15: {  /* DescribeGroups: groups array */
        int64_t gn = kafka_array_len(&c, flex);
        for (int64_t i = 0; i < gn && i < 64 && !c.err; i++) {
            const uint8_t *g = kafka_str(&c, flex, &l);
            kafka_add_summary(r, g, l);
        }
        break;
    }
    case 19: case 20:  /* CreateTopics / DeleteTopics: topic names first */
        kafka_topics(&c, r, flex, v, NULL);
        break;
    }
    (void)kafka_skip_partitions_int32_array;
    return 0;
}

/* Top-level error code of a response body (after the response header), or INT32_MIN when the
 * schema does not start with one we read. */
static int32_t kafka_response_error(int key, int ver, const uint8_t *p, size_t n)
{
    kf_cur c = kf_cur_make(p, n);
    int32_t e = INT32_MIN;
    switch (key) {
    case 18: e = (int16_t)kf_be16(&c); break;                      /* ApiVersions */
    case 10: if (ver >= 1 && ver < 4) kf_cur_skip(&c, 4);          /* FindCoordinator */
             if (ver < 4) e = (int16_t)kf_be16(&c);
             break;
    case 11: case 14: case 12: case 13:                             /* group APIs */
        if ((key == 11 && ver >= 2) || (key != 11 && ver >= 1)) kf_cur_skip(&c, 4);
        e = (int16_t)kf_be16(&c);
        break;
    case 1: if (ver >= 7) { kf_cur_skip(&c, 4); e = (int16_t)kf_be16(&c); } break;   /* Fetch */
    case 17: e = (int16_t)kf_be16(&c); break;                      /* SaslHandshake */
    case 36: e = (int16_t)kf_be16(&c); break;                      /* SaslAuthenticate */
    case 22: kf_cur_skip(&c, 4); e = (int16_t)kf_be16(&c); break;  /* InitProducerId */
    case 16: if (ver >= 1) kf_cur_skip(&c, 4); e = (int16_t)kf_be16(&c); break;   /* ListGroups */
    }
    return c.err ? INT32_MIN : e;
}

/* Probe a request: size, key, version, client id. 2 yes, 1 more, 0 no. */
static int kafka_probe_bytes(const uint8_t *p, size_t n)
{
    if (n < 14) return 1;
    uint32_t size = kf_ld_be32(p);
    if (size < 10 || size > KAFKA_MAX_FRAME) return 0;
    kafka_req r;
    size_t have = n - 4 < size ? n - 4 : size;
    if (kafka_parse_request(p + 4, have, &r) < 0) return 0;
    int16_t cl = (int16_t)kf_ld_be16(p + 12);
    if (cl < -1 || cl > 4096 || (cl > 0 && (size_t)cl + 10 > size)) return 0;
    for (int i = 0; i < cl && 14 + i < (int)n; i++) if (p[14 + i] < 0x20 || p[14 + i] > 0x7e) return 0;
    return 2;
}

/* --- dissector glue ---------------------------------------------------------------------- */
#ifndef KD_PARSE_ONLY
#include "../dissector.h"

#define KAFKA_PENDING 64

typedef struct kafka_pend {
    kafka_req r;
    kd_pref first, last;
    uint64_t size;
} kafka_pend;

typedef struct kafka_state {
    kd_framer fr;               /* the engine's framed mode (first) */
    kd_conn *conn;
    int client;
    kd_ptab pend;               /* kafka_pend by correlation id, up to KAFKA_PENDING */
} kafka_state;

static const uint16_t kafka_ports[] = {9092, 9093, 9094, 29092, 0};

#define KAFKA_NO_RESPONSE (INT32_MIN + 1)   /* kafka_emit's err: none is due (acks=0), none seen */
static void kafka_emit(kafka_state *s, const kafka_pend *q, int has_resp, int32_t corr,
                       const kd_pref *rf, const kd_pref *rl, uint64_t rsize, int32_t err)
{
    kd_call call = {0};
    call.req_dir = s->client;
    call.has_req = q != NULL;
    call.has_resp = has_resp;
    call.no_response = q && !has_resp && err == KAFKA_NO_RESPONSE;   /* Produce with acks=0 */
    if (err == KAFKA_NO_RESPONSE) err = INT32_MIN;
    if (q) { call.req_first = q->first; call.req_last = q->last; }
    if (has_resp) { call.resp_first = *rf; call.resp_last = *rl; }
    kf_jw *w = kd_emit_begin(s->conn, &call);
    if (!w) return;
    if (q) {
        const kafka_req *r = &q->r;
        kf_jw_kint(w, "kafka_api_key", r->key);
        kf_jw_kstr(w, "kafka_api_key_name", r->key < KAFKA_NAPIS ? kafka_api_names[r->key] : "UNKNOWN");
        kf_jw_kint(w, "kafka_api_version", r->ver);
        kf_jw_kstr(w, "kafka_client_id", r->client_id);
        kf_jw_kstrn(w, "kafka_request_summary", r->summary, r->slen);
        kf_jw_kbool(w, "kafka_flexible", kafka_flexible(r->key, r->ver));
    }
    kf_jw_kint(w, "kafka_correlation_id", q ? q->r.corr : corr);
    kf_jw_kbool(w, "kafka_request", q != NULL);
    kf_jw_kbool(w, "kafka_response", has_resp);
    uint64_t qs = q ? q->size : 0;
    kf_jw_kuint(w, "kafka_request_size", qs);
    kf_jw_kuint(w, "kafka_response_size", rsize);
    kf_jw_kuint(w, "kafka_size", qs + rsize);
    if (err != INT32_MIN) {
        kf_jw_kint(w, "kafka_error_code", err);
        const char *en = kafka_error_name(err);
        if (en) kf_jw_kstr(w, "kafka_error", en);
    }
    kd_emit_end(s->conn);
}

static int kafka_unanswered(kd_conn *c, void *st, void *item)
{
    kafka_state *s = st;
    s->conn = c;
    kafka_emit(s, item, 0, 0, NULL, NULL, 0, INT32_MIN);
    return 1;
}

static void kafka_on_request(kafka_state *s, const uint8_t *p, size_t have, uint64_t size,
                             const kd_pref *f, const kd_pref *l)
{
    kafka_pend r;
    memset(&r, 0, sizeof r);
    if (kafka_parse_request(p, have, &r.r) < 0) { kd_stat_add(s->conn, KD_STAT_PARSE_ERRORS, 1); return; }
    r.first = *f; r.last = *l; r.size = size;
    /* Produce with acks=0 gets no response */
    if (r.r.key == 0 && have >= 12 + 2) {
        kf_cur c = kf_cur_make(p, have);
        kf_cur_skip(&c, 8);
        size_t cl; kafka_str(&c, 0, &cl);
        if (kafka_flexible(0, r.r.ver)) kafka_skip_tags(&c);
        if (r.r.ver >= 3) kafka_str(&c, kafka_flexible(0, r.r.ver), &cl);
        int16_t acks = (int16_t)kf_be16(&c);
        if (!c.err && acks == 0) { kafka_emit(s, &r, 0, 0, NULL, NULL, 0, KAFKA_NO_RESPONSE); return; }
    }
    kafka_pend *q = kd_ptab_add(&s->pend, s->client, (uint32_t)r.r.corr, f->ts_ns);   /* full: the oldest goes out unanswered */
    if (q) *q = r;
    else kafka_emit(s, &r, 0, 0, NULL, NULL, 0, INT32_MIN);
}

static void kafka_on_response(kafka_state *s, const uint8_t *p, size_t have, uint64_t size,
                              const kd_pref *f, const kd_pref *l)
{
    if (have < 4) return;
    int32_t corr = (int32_t)kf_ld_be32(p);
    kafka_pend *q = kd_ptab_find(&s->pend, -1, (uint32_t)corr);
    if (!q) { kafka_emit(s, NULL, 1, corr, f, l, size, INT32_MIN); return; }
    int32_t err = INT32_MIN;
    size_t off = 4;
    /* response header v1 (flexible) has tagged fields; ApiVersions always uses v0 */
    if (kafka_flexible(q->r.key, q->r.ver) && q->r.key != 18) {
        kf_cur c = kf_cur_make(p + 4, have - 4);
        kafka_skip_tags(&c);
        if (!c.err) off = 4 + (size_t)(c.p - (p + 4));
    }
    if (off <= have) err = kafka_response_error(q->r.key, q->r.ver, p + off, have - off);
    kafka_emit(s, q, 1, corr, f, l, size, err);
    kd_ptab_done(&s->pend, q);
}

static int kafka_kd_probe(const kd_conn_info *ci, int dir, const uint8_t *p, size_t n)
{
    int r = kafka_probe_bytes(p, n);
    if (r == 2) return KD_PROBE_CLIENT;
    /* a response (size, correlation id) says little by itself: only from a Kafka port, to a
     * port that is not one (a capture holding only the broker's side) */
    int from = 0, to = 0;
    for (const uint16_t *q = kafka_ports; ci && *q; q++) {
        if (ci->port[dir] == *q) from = 1;
        if (ci->port[dir ^ 1] == *q) to = 1;
    }
    if (from && !to) {
        if (n < 8) return KD_PROBE_MORE;
        uint32_t size = kf_ld_be32(p);
        if (size >= 4 && size <= KAFKA_MAX_FRAME && (n - 4 >= size || n >= 4096)) return KD_PROBE_SERVER;
        return n - 4 < size ? KD_PROBE_MORE : KD_PROBE_NO;
    }
    return r == 1 ? KD_PROBE_MORE : KD_PROBE_NO;
}

static void kafka_kd_init(kd_conn *c, void *st)
{
    kafka_state *s = st;
    s->conn = c;
    const kd_conn_info *ci = kd_conn_get_info(c);
    s->client = ci && ci->client >= 0 ? ci->client : 0;
    kd_ptab_init(&s->pend, c, sizeof(kafka_pend), KAFKA_PENDING, kafka_unanswered, NULL, s);
}

/* Framed mode: Size(int32) | Size bytes. Requests can be recognised after a gap; responses
 * (a size and a correlation id) cannot. */
static int64_t kafka_kd_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    if (n < 4) return KD_FRAME_MORE;
    uint32_t size = kf_ld_be32(p);
    if (size > KAFKA_MAX_FRAME || size < 4) return KD_FRAME_BAD;
    return 4 + (int64_t)size;
}

static int kafka_kd_sync(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n)
{
    kafka_state *s = st;
    if (dir != s->client) return KD_SYNC_NEVER;
    int r = kafka_probe_bytes(p, n);
    return r == 2 ? KD_SYNC_YES : r == 1 ? KD_SYNC_MORE : KD_SYNC_NO;
}

/* A frame, or the head of one too big to buffer (n < len). */
static int kafka_kd_on_frame(kd_conn *c, void *st, int dir, const uint8_t *p, size_t n, uint64_t len,
                             const kd_pref *f, const kd_pref *l)
{
    kafka_state *s = st;
    s->conn = c;
    if (dir == s->client) kafka_on_request(s, p + 4, n - 4, len - 4, f, l);
    else kafka_on_response(s, p + 4, n - 4, len - 4, f, l);
    return KD_FRAME_OK;
}

static void kafka_kd_close(kd_conn *c, void *st)
{
    kafka_state *s = st;
    s->conn = c;
    kd_ptab_flush(&s->pend, -1);   /* unanswered requests, oldest first */
}

static void kafka_kd_destroy(kd_conn *c, void *st) { kd_ptab_free(&((kafka_state *)st)->pend); }

const kd_dissector kd_proto_kafka = {
    .name = "kafka", .protocol = "KAFKA", .flag = "kafka", .l7_name = "KAFKA",
    .transports = KD_TRANSPORT_TCP, .ports = kafka_ports, .calls = 1, .state_size = sizeof(kafka_state),
    .probe = kafka_kd_probe, .init = kafka_kd_init, .frame = kafka_kd_frame, .on_frame = kafka_kd_on_frame,
    .frame_sync = kafka_kd_sync, .on_close = kafka_kd_close, .destroy = kafka_kd_destroy,
};
#endif /* KD_PARSE_ONLY */
