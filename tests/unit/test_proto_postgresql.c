/* PostgreSQL: startup parameters, SSLRequest answer, simple query with CommandComplete, error
 * with SQLSTATE, an extended cycle with a named statement reused by Bind, probe negatives. */
#include "t.h"
#include "../../tools/kdissect/proto/postgresql.c"
#include "../l7/fake_engine.h"

static uint8_t b[4096];
static size_t bn;
static void be32(uint32_t v) { b[bn++] = (uint8_t)(v >> 24); b[bn++] = (uint8_t)(v >> 16); b[bn++] = (uint8_t)(v >> 8); b[bn++] = (uint8_t)v; }
static void msg(char t, const void *body, size_t n) { b[bn++] = (uint8_t)t; be32((uint32_t)(n + 4)); memcpy(b + bn, body, n); bn += n; }
static void send(kd_conn *c, int dir) { fe_data(c, dir, b, bn, 0); bn = 0; }
static int has(const kd_conn *c, const char *s) { return c->out && strstr(c->out, s) != NULL; }

int main(void)
{
    kd_conn c;
    fe_open(&c, &kd_proto_postgresql, 0, 40000, 5432);
    be32(8); be32(PG_SSL_CODE);
    T_EQ_INT(pg_probe_bytes(b, bn), 2, "probe: SSLRequest is a client");
    send(&c, 0);
    fe_data(&c, 1, "N", 1, 0);
    T_OK(has(&c, "\"postgresql_command\":\"SSLREQUEST\"") && has(&c, "\"postgresql_ssl_response\":\"N\""), "SSLRequest answered N");
    static const char params[] = "user\0alice\0database\0shop\0\0";
    be32((uint32_t)(8 + sizeof params - 1)); be32(PG_V3); memcpy(b + bn, params, sizeof params - 1); bn += sizeof params - 1;
    send(&c, 0);
    uint8_t ok[4] = {0, 0, 0, 0};
    msg('R', ok, 4); msg('S', "server_version\0" "16\0", 18); msg('Z', "I", 1);
    send(&c, 1);
    T_OK(has(&c, "\"postgresql_command\":\"STARTUP\"") && has(&c, "\"postgresql_user\":\"alice\"") &&
         has(&c, "\"postgresql_database\":\"shop\""), "startup: user and database");
    msg('Q', "SELECT 1;", 10);
    send(&c, 0);
    msg('T', "\0\1x\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 23);
    msg('D', "\0\1\0\0\0\1" "1", 7); msg('C', "SELECT 1", 9); msg('Z', "I", 1);
    send(&c, 1);
    T_OK(has(&c, "\"postgresql_query\":\"SELECT 1;\"") && has(&c, "\"postgresql_tags\":\"SELECT 1\"") &&
         has(&c, "\"postgresql_rows\":1"), "simple query: tag and rows");
    msg('Q', "SELEC 1", 8);
    send(&c, 0);
    msg('E', "SERROR\0VERROR\0C42601\0Msyntax error at or near \"SELEC\"\0\0", 54); msg('Z', "I", 1);
    send(&c, 1);
    T_OK(has(&c, "\"postgresql_success\":false") && has(&c, "\"postgresql_error_code\":\"42601\""), "error with SQLSTATE");
    /* extended: Parse a named statement, Bind, Execute, Sync; later Bind it again */
    msg('P', "s1\0SELECT $1\0\0\0", 15); msg('B', "\0s1\0\0\0\0\0\0\0", 10); msg('E', "\0\0\0\0\0", 5); msg('S', "", 0);
    send(&c, 0);
    msg('1', "", 0); msg('2', "", 0); msg('C', "SELECT 1", 9); msg('Z', "I", 1);
    send(&c, 1);
    msg('B', "\0s1\0\0\0\0\0\0\0", 10); msg('E', "\0\0\0\0\0", 5); msg('S', "", 0);
    send(&c, 0);
    msg('2', "", 0); msg('C', "SELECT 1", 9); msg('Z', "I", 1);
    send(&c, 1);
    T_OK(has(&c, "\"postgresql_prepared\":true"), "a Bind of a named statement carries its query");
    T_OK(has(&c, "\"postgresql_frontend_messages\":\"PBES\""), "the cycle's messages");
    T_EQ_INT(c.nrec, 6, "six calls");
    T_EQ_INT(fe_close(&c), 0, "memory given back");
    fe_free(&c);

    T_EQ_INT(pg_probe_bytes((const uint8_t *)"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 0, "HTTP is not PostgreSQL");
    T_EQ_INT(pg_probe_bytes((const uint8_t *)"\x16\x03\x01\x00\x10", 5), 0, "TLS is not PostgreSQL");
    T_DONE();
}
