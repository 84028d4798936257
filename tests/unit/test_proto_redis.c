/* Redis RESP parsing and matching: value lengths (RESP2/RESP3, partial, malformed), requests,
 * replies, pipelining, pub/sub pushes, CLIENT REPLY, a value larger than the engine buffers. */
#include "t.h"
#include "../../tools/kdissect/proto/redis.c"
#include "../l7/fake_engine.h"

#define S(x) (const uint8_t *)(x), sizeof(x) - 1

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p++) n++;
    return n;
}

int main(void)
{
    T_EQ_INT(resp_value_len(S("+OK\r\n")), 5, "simple string");
    T_EQ_INT(resp_value_len(S("$5\r\nhello\r\n")), 11, "bulk string");
    T_EQ_INT(resp_value_len(S("$-1\r\n")), 5, "null bulk");
    T_EQ_INT(resp_value_len(S("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")), 20, "array of bulks");
    T_EQ_INT(resp_value_len(S("*2\r\n$3\r\nGET\r\n$1\r\n")), 0, "partial array: more needed");
    T_EQ_INT(resp_value_len(S("%1\r\n+a\r\n:1\r\n")), 12, "RESP3 map");
    T_EQ_INT(resp_value_len(S("|1\r\n+ttl\r\n:3\r\n:42\r\n")), 19, "attribute then its value");
    T_EQ_INT(resp_value_len(S("$5\r\nhelloXY")), -1, "bulk without CRLF is malformed");
    T_EQ_INT(resp_value_len(S("*-5\r\n")), -1, "negative count is malformed");
    T_EQ_INT(resp_value_len(S("*99999999999\r\n")), -1, "huge count is malformed");

    redis_msg m;
    redis_parse_request(S("*3\r\n$3\r\nset\r\n$9\r\nsession:1\r\n$2\r\nhi\r\n"), &m);
    T_EQ_STR(m.verb, "SET", "verb upper-cased");
    T_EQ_STR(m.key, "session:1", "key");
    T_EQ_STR(m.line, "set session:1 hi", "command line");
    redis_parse_request(S("PING  hello\r\n"), &m);
    T_EQ_INT(m.inline_cmd, 1, "inline command");
    T_EQ_INT(m.nargs, 2, "inline words");
    redis_parse_reply(S("-ERR wrong type\r\n"), &m);
    T_EQ_INT(m.is_error, 1, "error reply");
    T_EQ_STR(m.summary, "ERR wrong type", "error text");
    redis_parse_reply(S("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"), &m);
    T_EQ_INT(m.is_push, 1, "RESP2 pub/sub message is not a reply");
    redis_parse_reply(S(">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"), &m);
    T_EQ_STR(m.push_kind, "SUBSCRIBE", "RESP3 push kind");
    T_EQ_INT(redis_probe_bytes(S("GET /index.html HTTP/1.1\r\n")), 0, "HTTP is not an inline command");
    T_EQ_INT(redis_probe_bytes(S("*1\r\n$4\r\nPING\r\n")), 2, "probe: client");
    T_EQ_INT(redis_probe_bytes(S("+PONG\r\n")), 3, "probe: server");

    kd_conn c;
    fe_open(&c, &kd_proto_redis, 0, 40000, 6379);
    const char *cmds = "PING\r\nSET a 1\r\nGET a\r\nCLIENT REPLY SKIP\r\nPING\r\n";
    fe_data(&c, 0, cmds, strlen(cmds), 0);
    T_EQ_INT(c.nrec, 2, "skipped commands are emitted at once, without reply");
    fe_data(&c, 1, "+PONG\r\n+OK\r\n$1\r", 15, 0);
    T_EQ_INT(c.nrec, 4, "pipelined replies matched in order");
    fe_data(&c, 1, "\n1\r\n", 4, 0);
    T_EQ_INT(c.nrec, 5, "reply completed across calls");
    T_EQ_INT(count(c.out, "\"redis_command\":\"GET a\",\"redis_key\":\"a\""), 1, "GET a has key a");
    T_EQ_INT(count(c.out, "\"redis_response\":\"1\""), 1, "GET answered 1");
    /* a 300 KiB bulk reply goes by in pieces, larger than the engine keeps */
    fe_data(&c, 0, "GET big\r\n", 9, 0);
    char hdr[32];
    int hl = snprintf(hdr, sizeof hdr, "$%d\r\n", 300 * 1024);
    fe_data(&c, 1, hdr, (size_t)hl, 0);
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 4; i++) fe_data(&c, 1, chunk, sizeof chunk, 0);
    fe_data(&c, 1, chunk, 300 * 1024 - 4 * 65536, 0);
    fe_data(&c, 1, "\r\n+OK\r\n", 7, 0);
    T_EQ_INT(c.nrec, 7, "the large reply makes one record (and +OK a reply-only one)");
    T_OK(strstr(c.out, "\"redis_command\":\"GET big\"") != NULL, "for GET big");
    T_EQ_INT(count(c.out, "\"redis_response_size\":307211"), 1, "with its full size");
    T_EQ_INT(c.stats[KD_STAT_PARSE_ERRORS], 0, "no parse error");
    T_EQ_INT(fe_close(&c), 0, "memory given back");
    T_EQ_INT(count(c.out, "\"has_req\":false"), 1, "the unmatched +OK is a reply-only record");
    fe_free(&c);
    T_DONE();
}
