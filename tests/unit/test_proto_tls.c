/* TLS handshake parsing: MD5 (RFC 1321 test suite), ClientHello fields, GREASE, JA3 string and
 * hash, suite names and weak/deprecated flags, handshake split over records and calls. */
#include "t.h"
#include "../../tools/kdissect/proto/tls.c"
#include "../l7/fake_engine.h"

static size_t put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return 2; }

/* A ClientHello body: TLS 1.2 legacy version, suites, SNI, groups, point formats, ALPN,
 * supported_versions, each list starting with a GREASE value. */
static size_t client_hello(uint8_t *b)
{
    size_t n = 0;
    n += put16(b + n, 0x0303);
    memset(b + n, 0x11, 32); n += 32;
    b[n++] = 0;                                   /* session id */
    const unsigned suites[] = {0x0a0a, 0x1301, 0xc02f, 0x0005};
    n += put16(b + n, sizeof suites / sizeof suites[0] * 2);
    for (size_t i = 0; i < 4; i++) n += put16(b + n, suites[i]);
    b[n++] = 1; b[n++] = 0;                       /* compression: null */
    size_t ext_at = n; n += 2;
    n += put16(b + n, 0x2a2a); n += put16(b + n, 0);                 /* GREASE extension */
    n += put16(b + n, 0); n += put16(b + n, 16);                     /* server_name */
    n += put16(b + n, 14); b[n++] = 0; n += put16(b + n, 11); memcpy(b + n, "example.com", 11); n += 11;
    n += put16(b + n, 10); n += put16(b + n, 8); n += put16(b + n, 6);   /* supported_groups */
    n += put16(b + n, 0x3a3a); n += put16(b + n, 29); n += put16(b + n, 23);
    n += put16(b + n, 11); n += put16(b + n, 2); b[n++] = 1; b[n++] = 0; /* ec_point_formats */
    n += put16(b + n, 16); n += put16(b + n, 14); n += put16(b + n, 12); /* ALPN h2, http/1.1 */
    b[n++] = 2; memcpy(b + n, "h2", 2); n += 2; b[n++] = 8; memcpy(b + n, "http/1.1", 8); n += 8;
    n += put16(b + n, 43); n += put16(b + n, 5); b[n++] = 4;            /* supported_versions */
    n += put16(b + n, 0x0304); n += put16(b + n, 0x0303);
    put16(b + ext_at, (unsigned)(n - ext_at - 2));
    return n;
}

int main(void)
{
    static const struct { const char *in, *md5; } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"}, {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"}, {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"},
    };
    char md5[33];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tls_md5_hex(v[i].in, strlen(v[i].in), md5);
        T_EQ_STR(md5, v[i].md5, "MD5(\"%.20s\") (RFC 1321 A.5)", v[i].in);
    }
    for (size_t i = 1; i < sizeof tls_suite_names / sizeof tls_suite_names[0]; i++)
        if (tls_suite_names[i - 1].id >= tls_suite_names[i].id) { T_OK(0, "suite table sorted at %zu", i); break; }
    T_OK(1, "suite table sorted");

    uint8_t b[512];
    size_t n = client_hello(b);
    tls_hello h;
    T_EQ_INT(tls_parse_hello(b, n, 1, &h), 0, "ClientHello parses");
    T_EQ_STR(h.sni, "example.com", "SNI");
    T_EQ_INT(h.n_ciphers, 4, "4 suites (GREASE kept in the list)");
    T_EQ_INT(h.n_alpn, 2, "2 ALPN protocols");
    T_EQ_STR(h.alpn[1], "http/1.1", "second ALPN");
    T_EQ_INT(tls_client_max_version(&h), 0x0304, "highest offered version TLS 1.3");
    char ja3[512];
    size_t jl = tls_ja3_string(&h, ja3, sizeof ja3);
    T_EQ_STR(ja3, "771,4865-49199-5,0-10-11-16-43,29-23,0", "JA3 string leaves GREASE out");
    T_EQ_INT(jl, strlen(ja3), "JA3 length");
    char nb[16];
    T_EQ_STR(tls_suite_name(0xc02f, nb, sizeof nb), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "suite name");
    T_EQ_STR(tls_suite_name(0x0a0a, nb, sizeof nb), "GREASE_0x0A0A", "GREASE suite name");
    T_EQ_STR(tls_suite_name(0x1234, nb, sizeof nb), "0x1234", "unknown suite as hex");
    T_OK(tls_suite_weak(0x0005) && tls_suite_weak(0x000a) && tls_suite_weak(0x0001), "RC4, 3DES, NULL are weak");
    T_OK(!tls_suite_weak(0x1301) && !tls_suite_weak(0xc02f), "AES-GCM is not weak");
    T_OK(tls_version_deprecated(0x0301) && tls_version_deprecated(0x0300) && !tls_version_deprecated(0x0303), "TLS 1.0 / SSL 3 deprecated, 1.2 not");
    T_EQ_INT(tls_parse_hello(b, n - 3, 1, &h), -1, "truncated hello is an error");
    T_EQ_STR(h.sni, "example.com", "what was read before the cut is kept");

    /* the hello split over two records and three on_data calls, then a ServerHello */
    uint8_t rec[700];
    size_t hs = 4 + n, r = 0;
    uint8_t hsm[600];
    hsm[0] = 1; hsm[1] = 0; hsm[2] = (uint8_t)(n >> 8); hsm[3] = (uint8_t)n;
    memcpy(hsm + 4, b, n);
    size_t cut = 40;
    rec[r++] = 22; r += put16(rec + r, 0x0301); r += put16(rec + r, (unsigned)cut); memcpy(rec + r, hsm, cut); r += cut;
    rec[r++] = 22; r += put16(rec + r, 0x0301); r += put16(rec + r, (unsigned)(hs - cut)); memcpy(rec + r, hsm + cut, hs - cut); r += hs - cut;
    kd_conn c;
    fe_open(&c, &kd_proto_tls, 0, 40000, 443);
    T_EQ_INT(tls_kd_probe(&c.ci, 0, rec, r), KD_PROBE_CLIENT, "probe: ClientHello");
    fe_data(&c, 0, rec, 3, 0);
    fe_data(&c, 0, rec + 3, 50, 0);
    fe_data(&c, 0, rec + 53, r - 53, 0);
    T_EQ_INT(c.nrec, 0, "no record before the ServerHello");
    uint8_t sh[128];
    size_t s = 0;
    sh[s++] = 22; s += put16(sh + s, 0x0303); size_t lat = s; s += 2;
    sh[s++] = 2; sh[s++] = 0; size_t hl = s; s += 2;
    s += put16(sh + s, 0x0303); memset(sh + s, 0x22, 32); s += 32; sh[s++] = 0;
    s += put16(sh + s, 0x1301); sh[s++] = 0;
    s += put16(sh + s, 6); s += put16(sh + s, 43); s += put16(sh + s, 2); s += put16(sh + s, 0x0304);
    put16(sh + hl, (unsigned)(s - hl - 2)); put16(sh + lat, (unsigned)(s - lat - 2));
    fe_data(&c, 1, sh, s, 0);
    T_EQ_INT(c.nrec, 1, "one record at the ServerHello");
    T_OK(c.out && strstr(c.out, "\"tlsx_sni\":\"example.com\""), "record has the SNI");
    T_OK(c.out && strstr(c.out, "\"tlsx_version\":772"), "negotiated TLS 1.3 from supported_versions");
    T_OK(c.out && strstr(c.out, "\"tlsx_cipher_suite_name\":\"TLS_AES_128_GCM_SHA256\""), "chosen suite");
    T_OK(c.out && strstr(c.out, "\"tlsx_weak_suites\":[\"TLS_RSA_WITH_RC4_128_SHA\"]"), "offered weak suite listed");
    T_OK(c.out && strstr(c.out, "\"tlsx_alpn_offered\":[\"h2\",\"http/1.1\"]"), "offered ALPN");
    T_EQ_INT(fe_close(&c), 0, "memory reported is given back");
    fe_free(&c);

    /* not TLS */
    T_EQ_INT(tls_probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16), 0, "HTTP is not TLS");
    T_EQ_INT(tls_probe((const uint8_t *)"\x16\x03", 2), -1, "two bytes: more needed");
    T_DONE();
}
