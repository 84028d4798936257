/* gql.h — GraphQL over HTTP (HTTP/1 and HTTP/2 share it): is this query text a GraphQL
 * operation, and which (type "query"/"mutation"/"subscription", operation name)? */
#ifndef KD_GQL_H
#define KD_GQL_H
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Returns 1 when query (NUL-terminated, may be NULL) is a GraphQL document: a selection set
 * ("{…}", type "query") or an operation keyword; fills type and, unless op already holds a name
 * (from "operationName"), the operation's name. */
static inline int kd_gql_classify(const char *query, char *type, size_t tn, char *op, size_t opn)
{
    if (!query) return 0;
    const char *q = query;
    while (isspace((unsigned char)*q)) q++;
    if (*q == '{') { snprintf(type, tn, "query"); return 1; }
    if (strncmp(q, "query", 5) && strncmp(q, "mutation", 8) && strncmp(q, "subscription", 12)) return 0;
    size_t k = 0;
    while (isalpha((unsigned char)q[k]) && k + 1 < tn) { type[k] = q[k]; k++; }
    type[k] = 0;
    const char *nm = q + k;
    while (*nm == ' ') nm++;
    if (!op[0] && (isalpha((unsigned char)*nm) || *nm == '_')) {
        size_t z = 0;
        while ((isalnum((unsigned char)nm[z]) || nm[z] == '_') && z + 1 < opn) { op[z] = nm[z]; z++; }
        op[z] = 0;
    }
    return 1;
}
#endif
