/* MySQL: greeting, handshake response (user, database), COM_QUERY with and without query
 * attributes, ERR with SQLSTATE, result set columns, probes. */
#include "t.h"
#include "../../tools/kdissect/proto/mysql.c"
#include "../l7/fake_engine.h"

static uint8_t b[4096];
static size_t bn;
static void pkt(uint8_t seq, const void *p, size_t n)
{
    b[bn++] = (uint8_t)n; b[bn++] = (uint8_t)(n >> 8); b[bn++] = (uint8_t)(n >> 16); b[bn++] = seq;
    memcpy(b + bn, p, n); bn += n;
}
static void send(kd_conn *c, int dir) { fe_data(c, dir, b, bn, 0); bn = 0; }
static int has(const kd_conn *c, const char *s) { return c->out && strstr(c->out, s) != NULL; }

int main(void)
{
    kd_conn c;
    fe_open(&c, &kd_proto_mysql, 1, 40000, 3306);   /* the server (side 0) speaks first */
    static const char greet[] = "\x0a" "8.0.36\0" "\1\0\0\0" "abcdefgh\0" "\xff\xf7\x21\x02\0\xff\xdf\x15" "\0\0\0\0\0\0\0\0\0\0" "ijklmnopqrst\0" "caching_sha2_password\0";
    pkt(0, greet, sizeof greet - 1);
    T_EQ_INT(my_kd_probe(&c.ci, 0, b, bn), KD_PROBE_SERVER, "probe: greeting is the server");
    send(&c, 0);
    uint8_t hr[128] = {0};
    size_t n = 0;
    uint32_t caps = MY_CLIENT_PROTOCOL_41 | MY_CLIENT_CONNECT_WITH_DB | MY_CLIENT_SECURE_CONN | (1u << 27);
    hr[n++] = (uint8_t)caps; hr[n++] = (uint8_t)(caps >> 8); hr[n++] = (uint8_t)(caps >> 16); hr[n++] = (uint8_t)(caps >> 24);
    n += 4 + 1 + 23;
    memcpy(hr + n, "bob\0", 4); n += 4;
    hr[n++] = 2; hr[n++] = 'x'; hr[n++] = 'y';
    memcpy(hr + n, "shop\0", 5); n += 5;
    pkt(1, hr, n);
    T_EQ_INT(my_is_handshake_response(b, bn), 1, "handshake response recognised");
    send(&c, 1);
    pkt(2, "\0\0\0\2\0\0\0", 7);
    send(&c, 0);
    T_OK(has(&c, "\"mysql_command\":\"HANDSHAKE\"") && has(&c, "\"mysql_user\":\"bob\"") &&
         has(&c, "\"mysql_database\":\"shop\"") && has(&c, "\"mysql_server_version\":\"8.0.36\""), "handshake record");
    pkt(0, "\x03\0\1select 1", 11);   /* query attributes: 0 parameters, 1 set */
    send(&c, 1);
    pkt(1, "\1", 1); pkt(2, "\3def\0\0\0\1" "1\0\x0c\x3f\0\1\0\0\0\x08\x81\0\0\0\0", 24); pkt(3, "\1" "1", 2); pkt(4, "\xfe\0\0\2\0\0\0", 7);
    send(&c, 0);
    pkt(0, "\x03\0\1selec 1", 11);
    send(&c, 1);
    T_OK(has(&c, "\"mysql_query\":\"select 1\"") && has(&c, "\"mysql_columns\":1"), "query text after attributes; result set");
    static const char err[] = "\xff\x28\x04#42000You have an error in your SQL syntax";
    pkt(1, err, sizeof err - 1);
    send(&c, 0);
    T_EQ_INT(fe_close(&c), 0, "memory given back");
    T_OK(has(&c, "\"mysql_error_code\":1064") && has(&c, "\"mysql_sqlstate\":\"42000\"") &&
         has(&c, "\"mysql_success\":false"), "ERR code, state, failure");
    T_EQ_INT(c.nrec, 3, "three calls");
    fe_free(&c);
    T_EQ_INT(my_is_command((const uint8_t *)"GET / HTTP/1.1\r\n", 16), 0, "HTTP is not a MySQL command");
    T_DONE();
}
