/* Unit tests for lib/kf_meta.c: IP reuse over time, owners, services, host network, watch
 * restarts, malformed input, window writing, and every kubectl file of the corpus. */
#include "t.h"
#include "kf_meta.h"
#include "kf_time.h"
#include <arpa/inet.h>
#include <dirent.h>

static int64_t T(const char *s)
{
    int64_t ns = 0;
    kf_time_parse_rfc3339(s, strlen(s), &ns);
    return ns;
}

static kf_addr A(const char *s)
{
    kf_addr a = { 0 };
    if (inet_pton(AF_INET, s, a.a) == 1) a.family = 4;
    else if (inet_pton(AF_INET6, s, a.a) == 1) a.family = 6;
    return a;
}

static const char *pod_at(kf_meta *m, const char *ip, const char *t)
{
    kf_ipinfo in;
    kf_addr a = A(ip);
    if (!kf_meta_lookup(m, &a, T(t), &in) || !in.pod) return "(none)";
    return in.pod->name;
}

#define POD(ts, type, ns, name, uid, ip, extra) \
    "{\"ts\":\"" ts "\",\"type\":\"" type "\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\"," \
    "\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns "\",\"uid\":\"" uid "\"," \
    "\"creationTimestamp\":\"" ts "\"" extra "},\"spec\":{\"nodeName\":\"n1\"}," \
    "\"status\":{\"phase\":\"Running\",\"podIP\":\"" ip "\"}}}\n"

static void test_reuse(void)
{
    const char *ev =
        POD("2026-03-14T10:00:00Z", "ADDED", "shop", "orders-1", "u-a", "10.0.0.5", "")
        POD("2026-03-14T11:00:00Z", "DELETED", "shop", "orders-1", "u-a", "10.0.0.5", "")
        POD("2026-03-14T11:30:00Z", "ADDED", "pay", "payment-1", "u-b", "10.0.0.5", "");
    kf_meta *m = kf_meta_new();
    char err[256];
    T_EQ_INT(kf_meta_load_buffer(m, ev, strlen(ev), KF_T_MIN, err, sizeof err), 0, "reuse events load (%s)", err);
    kf_meta_finish(m);
    T_EQ_STR(pod_at(m, "10.0.0.5", "2026-03-14T10:30:00Z"), "orders-1", "first holder in its interval");
    T_EQ_STR(pod_at(m, "10.0.0.5", "2026-03-14T11:15:00Z"), "(none)", "nobody between the two");
    T_EQ_STR(pod_at(m, "10.0.0.5", "2026-03-14T12:00:00Z"), "payment-1", "second holder in its interval");
    T_EQ_STR(pod_at(m, "10.0.0.5", "2026-03-14T09:00:00Z"), "(none)", "nobody before");
    const kf_binding *b;
    size_t n = kf_meta_bindings(m, &b);
    T_EQ_INT(n, 2, "two bindings for the reused IP");
    if (n == 2) {
        T_OK(b[0].from_ns == T("2026-03-14T10:00:00Z") && b[0].to_ns == T("2026-03-14T11:00:00Z"), "A's interval");
        T_OK(b[1].from_ns == T("2026-03-14T11:30:00Z") && b[1].to_ns == KF_T_MAX, "B's interval open");
        T_EQ_STR(b[1].w->namespace_, "pay", "B's namespace");
    }
    kf_meta_free(m);
}

static void test_restart_and_owner(void)
{
    const char *ev =
        POD("2026-03-14T10:00:00Z", "ADDED", "shop", "orders-7d9f8-abcde", "u-a", "10.0.0.5",
            ",\"labels\":{\"app\":\"orders\",\"pod-template-hash\":\"7d9f8\"},\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"orders-7d9f8\",\"controller\":true}]")
        /* the watch restarted: everything comes again as ADDED */
        POD("2026-03-14T10:20:00Z", "ADDED", "shop", "orders-7d9f8-abcde", "u-a", "10.0.0.5",
            ",\"labels\":{\"app\":\"orders\",\"pod-template-hash\":\"7d9f8\"},\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"orders-7d9f8\",\"controller\":true}]")
        "{\"ts\":\"2026-03-14T09:00:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"orders\",\"namespace\":\"shop\",\"uid\":\"s1\"},"
        "\"spec\":{\"selector\":{\"app\":\"orders\"},\"clusterIP\":\"10.96.0.10\",\"clusterIPs\":[\"10.96.0.10\"]}}}\n"
        "{\"ts\":\"2026-03-14T09:00:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"legacy\",\"namespace\":\"shop\",\"uid\":\"s2\"},"
        "\"spec\":{\"clusterIP\":\"10.96.0.11\"}}}\n"
        "{\"ts\":\"2026-03-14T10:01:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"legacy\",\"namespace\":\"shop\",\"uid\":\"e2\"},"
        "\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.5\",\"targetRef\":{\"kind\":\"Pod\",\"uid\":\"u-a\"}}]}]}}\n"
        "{\"ts\":\"2026-03-14T08:00:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"uid\":\"n1\"},"
        "\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1.10\"},{\"type\":\"Hostname\",\"address\":\"n1\"}]}}}\n"
        "{\"ts\":\"2026-03-14T08:30:00Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"kube-proxy-x\",\"namespace\":\"kube-system\",\"uid\":\"kp\"},"
        "\"spec\":{\"nodeName\":\"n1\",\"hostNetwork\":true},\"status\":{\"podIP\":\"192.168.1.10\",\"phase\":\"Running\"}}}\n";
    kf_meta *m = kf_meta_new();
    char err[256];
    T_EQ_INT(kf_meta_load_buffer(m, ev, strlen(ev), KF_T_MIN, err, sizeof err), 0, "mixed events load (%s)", err);
    kf_meta_finish(m);
    const kf_binding *b;
    size_t n = kf_meta_bindings(m, &b), pods = 0;
    for (size_t i = 0; i < n; i++) if (b[i].w->kind == KF_WK_POD && !b[i].w->host_network) pods++;
    T_EQ_INT(pods, 1, "a restarted watch does not split the binding");
    kf_ipinfo in;
    kf_addr a = A("10.0.0.5");
    kf_meta_lookup(m, &a, T("2026-03-14T10:30:00Z"), &in);
    T_OK(in.pod != NULL, "pod found");
    if (in.pod) {
        T_EQ_STR(in.pod->owner_kind, "Deployment", "owner kind via ReplicaSet");
        T_EQ_STR(in.pod->owner_name, "orders", "owner name via pod-template-hash");
        const kf_workload *sv[4];
        size_t ns = kf_meta_pod_services(m, in.pod, T("2026-03-14T10:30:00Z"), sv, 4);
        T_EQ_INT(ns, 2, "pod in two services (selector + endpoints)");
        int sel = 0, ep = 0;
        for (size_t i = 0; i < ns; i++) { if (!strcmp(sv[i]->name, "orders")) sel = 1; if (!strcmp(sv[i]->name, "legacy")) ep = 1; }
        T_OK(sel && ep, "services orders (selector) and legacy (endpoints)");
        ns = kf_meta_pod_services(m, in.pod, T("2026-03-14T10:00:30Z"), sv, 4);
        T_EQ_INT(ns, 1, "before the endpoints event only the selector matches");
    }
    a = A("10.96.0.10");
    T_OK(kf_meta_lookup(m, &a, T("2026-03-14T10:30:00Z"), &in) && in.service && !strcmp(in.service->name, "orders"), "cluster IP -> service");
    a = A("192.168.1.10");
    T_OK(kf_meta_lookup(m, &a, T("2026-03-14T10:30:00Z"), &in) && in.node && !strcmp(in.node->name, "n1"), "node IP -> node");
    T_OK(in.host_network_shared && in.pod == NULL, "host-network pod flagged, not guessed");

    /* window: state at t0 as ADDED stamped t0, then events inside */
    char *buf = NULL; size_t bl = 0;
    FILE *f = open_memstream(&buf, &bl);
    T_EQ_INT(kf_meta_write_window(m, T("2026-03-14T10:10:00Z"), T("2026-03-14T10:30:00Z"), f), 0, "write window");
    fclose(f);
    int lines = 0, at_t0 = 0;
    for (char *p = buf; p && *p; p++) if (*p == '\n') lines++;
    for (char *p = buf; p && (p = strstr(p, "\"ts\":\"2026-03-14T10:10:00.000000000Z\",\"type\":\"ADDED\"")); p++) at_t0++;
    T_EQ_INT(lines, 7, "window: 6 objects at t0 + the restart's ADDED");
    T_EQ_INT(at_t0, 6, "window: state stamped at t0");
    kf_meta *m2 = kf_meta_new();
    T_EQ_INT(kf_meta_load_buffer(m2, buf, bl, KF_T_MIN, err, sizeof err), 0, "window reloads");
    kf_meta_finish(m2);
    T_EQ_STR(pod_at(m2, "10.0.0.5", "2026-03-14T10:15:00Z"), "orders-7d9f8-abcde", "window keeps the pod");
    kf_meta_free(m2);
    free(buf);
    kf_meta_free(m);
}

static void test_malformed(void)
{
    const char *ev =
        POD("2026-03-14T10:00:00Z", "ADDED", "a", "p1", "u1", "10.0.0.1", "")
        "{\"ts\":\"2026-03-14T10:00:01Z\",\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metad\n"
        POD("2026-03-14T10:00:02Z", "ADDED", "a", "p2", "u2", "10.0.0.2", "");
    kf_meta *m = kf_meta_new();
    char err[256];
    T_EQ_INT(kf_meta_load_buffer(m, ev, strlen(ev), KF_T_MIN, err, sizeof err), -1, "malformed line reported");
    T_OK(strncmp(err, "line 2", 6) == 0, "error names line 2: %s", err);
    T_EQ_INT(kf_meta_event_count(m), 2, "valid events before and after kept");
    kf_meta_free(m);
    /* pretty-printed concatenated watch output, as kubectl prints it */
    const char *pp = "{\n  \"type\": \"ADDED\",\n  \"object\": {\n    \"kind\": \"Pod\",\n    \"metadata\": {\"name\": \"x\", \"namespace\": \"d\", \"uid\": \"1\"},\n"
                     "    \"status\": {\"podIP\": \"fd00::5\"}\n  }\n}\n{\n  \"type\": \"MODIFIED\",\n  \"object\": {\n    \"kind\": \"Pod\",\n"
                     "    \"metadata\": {\"name\": \"x\", \"namespace\": \"d\", \"uid\": \"1\"},\n    \"status\": {\"podIP\": \"fd00::5\"}\n  }\n}\n"
                     "{\n  \"type\": \"MODIFIED\",\n  \"object\": [\n}\n";
    m = kf_meta_new();
    T_EQ_INT(kf_meta_load_buffer(m, pp, strlen(pp), T("2026-03-14T10:00:00Z"), err, sizeof err), -1, "cut watch stream");
    T_OK(strncmp(err, "line 17:", 8) == 0 && strstr(err, "at line 20") != NULL, "error names where the cut value starts and where it broke: %s", err);
    T_EQ_INT(kf_meta_event_count(m), 2, "two watch events kept");
    kf_meta_finish(m);
    T_EQ_STR(pod_at(m, "fd00::5", "2026-03-14T10:00:00Z"), "x", "IPv6 pod IP");
    kf_meta_free(m);
}

static void test_completed(void)
{
    for (int order = 0; order < 2; order++) {
        const char *a = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"job-a\",\"namespace\":\"x\",\"uid\":\"a\",\"creationTimestamp\":\"2026-03-14T09:00:00Z\"},"
                        "\"status\":{\"phase\":\"Succeeded\",\"podIP\":\"10.0.0.9\"}}";
        const char *b = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-b\",\"namespace\":\"y\",\"uid\":\"b\",\"creationTimestamp\":\"2026-03-14T10:00:00Z\"},"
                        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.9\"}}";
        char list[2048];
        snprintf(list, sizeof list, "{\"kind\":\"PodList\",\"items\":[%s,%s]}", order ? b : a, order ? a : b);
        kf_meta *m = kf_meta_new();
        char err[256];
        T_EQ_INT(kf_meta_load_buffer(m, list, strlen(list), T("2026-03-14T12:00:00Z"), err, sizeof err), 0, "list with a completed pod (%s)", err);
        kf_meta_finish(m);
        T_EQ_STR(pod_at(m, "10.0.0.9", "2026-03-14T09:30:00Z"), "job-a", "completed pod held the IP before (order %d)", order);
        T_EQ_STR(pod_at(m, "10.0.0.9", "2026-03-14T11:00:00Z"), "web-b", "running pod holds it after its creation (order %d)", order);
        kf_meta_free(m);
    }
}

static void test_owners_and_slices(void)
{
    const char *l =
        "{\"kind\":\"List\",\"items\":["
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"db-0\",\"namespace\":\"d\",\"uid\":\"p1\",\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"db\",\"controller\":true}]},\"status\":{\"podIP\":\"10.1.0.1\"}},"
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"agent-x\",\"namespace\":\"d\",\"uid\":\"p2\",\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"agent\",\"controller\":true}]},\"status\":{\"podIP\":\"10.1.0.2\"}},"
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"backup-123-abc\",\"namespace\":\"d\",\"uid\":\"p3\",\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"backup-123\",\"controller\":true}]},\"status\":{\"podIP\":\"10.1.0.3\",\"phase\":\"Running\"}},"
        "{\"kind\":\"Job\",\"metadata\":{\"name\":\"backup-123\",\"namespace\":\"d\",\"uid\":\"j1\",\"ownerReferences\":[{\"kind\":\"CronJob\",\"name\":\"backup\",\"controller\":true}]}},"
        "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-5d8-q\",\"namespace\":\"d\",\"uid\":\"p4\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-5d8\",\"controller\":true}]},\"status\":{\"podIP\":\"10.1.0.4\"}},"
        "{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"web-5d8\",\"namespace\":\"d\",\"uid\":\"r1\",\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"frontend\",\"controller\":true}]}},"
        "{\"kind\":\"Service\",\"metadata\":{\"name\":\"db\",\"namespace\":\"d\",\"uid\":\"s1\"},\"spec\":{\"clusterIP\":\"None\"}},"
        "{\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"db-abc\",\"namespace\":\"d\",\"uid\":\"e1\",\"labels\":{\"kubernetes.io/service-name\":\"db\"}},"
        "\"endpoints\":[{\"addresses\":[\"10.1.0.1\"],\"targetRef\":{\"kind\":\"Pod\",\"uid\":\"p1\"}}]}]}";
    kf_meta *m = kf_meta_new();
    char err[256];
    T_EQ_INT(kf_meta_load_buffer(m, l, strlen(l), T("2026-03-14T12:00:00Z"), err, sizeof err), 0, "owners list loads (%s)", err);
    kf_meta_finish(m);
    const char *ips[] = { "10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4" };
    const char *kinds[] = { "StatefulSet", "DaemonSet", "CronJob", "Deployment" };
    const char *names[] = { "db", "agent", "backup", "frontend" };
    for (int i = 0; i < 4; i++) {
        kf_ipinfo in;
        kf_addr a = A(ips[i]);
        kf_meta_lookup(m, &a, T("2026-03-14T12:30:00Z"), &in);
        T_OK(in.pod && in.pod->owner_kind && !strcmp(in.pod->owner_kind, kinds[i]) && !strcmp(in.pod->owner_name, names[i]),
             "owner of %s is %s/%s (got %s/%s)", ips[i], kinds[i], names[i],
             in.pod && in.pod->owner_kind ? in.pod->owner_kind : "-", in.pod && in.pod->owner_name ? in.pod->owner_name : "-");
        if (i == 0 && in.pod) {
            const kf_workload *sv[4];
            size_t n = kf_meta_pod_services(m, in.pod, T("2026-03-14T12:30:00Z"), sv, 4);
            T_OK(n == 1 && !strcmp(sv[0]->name, "db"), "headless service without selector: membership from the EndpointSlice");
        }
    }
    kf_addr none = A("10.9.9.9");
    kf_ipinfo in;
    T_EQ_INT(kf_meta_lookup(m, &none, T("2026-03-14T12:30:00Z"), &in), 0, "unknown IP: nothing");
    kf_meta_free(m);
}

static int add_one(void *ud, int64_t ts, const char *type, json_t *obj) { return kf_meta_add_event(ud, ts, type, obj); }

/* a large input is parsed on two threads: the result must equal the one-thread parse */
static void test_parallel(void)
{
    size_t cap = 16 << 20, len = 0;
    char *buf = malloc(cap);
    int n = 24000;
    for (int i = 0; i < n && len + 1024 < cap; i++) {
        int ip = i % 3000;   /* each IP reused 8 times, across the split point */
        len += (size_t)snprintf(buf + len, cap - len,
            "{\"ts\":\"2026-03-14T%02d:%02d:%02dZ\",\"type\":\"%s\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%d\",\"namespace\":\"n%d\",\"uid\":\"u%d\","
            "\"labels\":{\"app\":\"a%d\",\"filler\":\"%0150d\"}},\"status\":{\"podIP\":\"10.2.%d.%d\"}}}\n",
            (i / 2) / 3600 % 24, (i / 2) / 60 % 60, (i / 2) % 60, i % 2 ? "DELETED" : "ADDED", i / 2, i % 7, i / 2, i % 11, 0,
            ((i / 2) % 3000) / 250, ((i / 2) % 3000) % 250 + 1);
        (void)ip;
        if (i == n - 100) len += (size_t)snprintf(buf + len, cap - len, "{\"ts\": broken\n");
    }
    int64_t lines = 0;
    for (size_t i = 0; i < len; i++) if (buf[i] == '\n') lines++;
    T_OK(len > (4u << 20), "big input (%zu bytes, %lld lines)", len, (long long)lines);
    kf_meta *a = kf_meta_new(), *b = kf_meta_new();
    char ea[256], eb[256];
    int ra = kf_meta_load_buffer(a, buf, len, KF_T_MIN, ea, sizeof ea);
    int rb = kf_meta_parse_buffer(buf, len, kf_now_ns(), 1, add_one, b, eb, sizeof eb);
    T_OK(ra == -1 && rb == -1, "both report the broken line");
    T_EQ_STR(ea, eb, "same error, same absolute line number");
    kf_meta_finish(a);
    kf_meta_finish(b);
    T_EQ_INT(kf_meta_event_count(a), kf_meta_event_count(b), "same number of events");
    const kf_binding *ba, *bb;
    size_t na = kf_meta_bindings(a, &ba), nb = kf_meta_bindings(b, &bb);
    int same = na == nb;
    for (size_t i = 0; same && i < na; i++)
        same = ba[i].from_ns == bb[i].from_ns && ba[i].to_ns == bb[i].to_ns && !memcmp(&ba[i].ip, &bb[i].ip, sizeof ba[i].ip) &&
               !strcmp(ba[i].w->name, bb[i].w->name);
    T_OK(same, "same bindings (%zu, %zu)", na, nb);
    kf_meta_free(a);
    kf_meta_free(b);
    free(buf);
}

static void test_corpus(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/k8s", t_corpus());
    DIR *d = opendir(dir);
    if (!d) { T_OK(1, "# SKIP no corpus at %s", dir); return; }
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[2048], err[256];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        kf_meta *m = kf_meta_new();
        int rc = kf_meta_load_file(m, p, T("2026-01-01T00:00:00Z"), err, sizeof err);
        T_EQ_INT(rc, 0, "%s loads (%s)", de->d_name, err);
        kf_meta_finish(m);
        files++;
        kf_meta_free(m);
    }
    closedir(d);
    T_OK(files >= 20, "corpus has the k8s files (%d)", files);
}

int main(void)
{
    test_reuse();
    test_restart_and_owner();
    test_malformed();
    test_completed();
    test_owners_and_slices();
    test_parallel();
    test_corpus();
    T_DONE();
}
