/* gql.h — GraphQL over HTTP (http_common.c uses it for HTTP/1 and HTTP/2): is this query text a
 * GraphQL operation, and which (type "query"/"mutation"/"subscription", operation name)? */
#ifndef KD_GQL_H
#define KD_GQL_H
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Returns 1 when query[0..n) (not NUL-terminated; NULL = none) is a GraphQL document: a
 * selection set ("{…}", type "query") or an operation keyword; fills type and, unless op already
 * holds a name (from "operationName"), the operation's name. Reads nothing past query + n (an
 * HTTP/1 body of exactly the body limit used to be read past its end). */
static inline int kd_gql_classify(const char *query, size_t n, char *type, size_t tn, char *op, size_t opn)
{
    if (!query) return 0;
    const char *q = query, *e = query + n;
    while (q < e && isspace((unsigned char)*q)) q++;
    if (q < e && *q == '{') { snprintf(type, tn, "query"); return 1; }
    size_t left = (size_t)(e - q);
    if (!(left >= 5 && !strncmp(q, "query", 5)) && !(left >= 8 && !strncmp(q, "mutation", 8)) &&
        !(left >= 12 && !strncmp(q, "subscription", 12))) return 0;
    size_t k = 0;
    while (k < left && isalpha((unsigned char)q[k]) && k + 1 < tn) { type[k] = q[k]; k++; }
    type[k] = 0;
    const char *nm = q + k;
    while (nm < e && *nm == ' ') nm++;
    if (!op[0] && nm < e && (isalpha((unsigned char)*nm) || *nm == '_')) {
        size_t z = 0;
        while (nm + z < e && (isalnum((unsigned char)nm[z]) || nm[z] == '_') && z + 1 < opn) { op[z] = nm[z]; z++; }
        op[z] = 0;
    }
    return 1;
}
#endif
