/* ksnap prune — apply the store's retention rules once (for cron), beside a running capture:
 * the same rules and the same lock as ksnap capture (segment.c: store_retention). Or remove
 * snapshot archives older than --keep from a folder. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "capture_int.h"
#include "kf_store.h"
#include "kf_time.h"
#include "kf_tool.h"
#include "ksnap.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: ksnap prune --dir DIR [--retain-size S] [--retain-time T] [--dry-run]\n"
"       ksnap prune --snapshots FOLDER --keep T [--dry-run]\n"
"Removes each node's oldest closed segments while the node holds more than --retain-size\n"
"(default 2G) or for segments that ended more than --retain-time ago (default 24h), as a running\n"
"ksnap capture does; 0 turns a bound off. The open segment is never removed, and a node whose\n"
"segments a reader (ksnap freeze, kexport) is reading is skipped this time.\n"
"With --snapshots, removes the .ksnap archives in FOLDER written more than --keep ago\n"
"(--keep 0 is refused: it never means \"delete all\").\n"
"Prints each file removed (or, with --dry-run, that would be) and the space freed.\n");
}

struct tally { const char *verb; size_t files; uint64_t bytes; };

static void report(void *arg, const char *path, uint64_t size, const char *why)
{
    struct tally *t = arg;
    printf("%s %s (%" PRIu64 " bytes, %s)\n", t->verb, path, size,
           !strcmp(why, "size") ? "over --retain-size" : "older than --retain-time");
}

static void human(uint64_t b, char *buf, size_t len)
{
    const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) { v /= 1024; i++; }
    if (i == 0) snprintf(buf, len, "%" PRIu64 " B", b);
    else snprintf(buf, len, "%.1f %s", v, u[i]);
}

static int prune_snapshots(const char *folder, int64_t keep, int dry, struct tally *t)
{
    DIR *d = opendir(folder);
    if (!d) { kf_err("%s: %s", folder, strerror(errno)); return KF_EXIT_ERR; }
    int64_t now = kf_now_ns();
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 7 || e->d_name[0] == '.' || strcmp(e->d_name + l - 6, ".ksnap")) continue;
        char **nv = realloc(names, (n + 1) * sizeof *nv);
        if (!nv || !(nv[n] = strdup(e->d_name))) kf_die(KF_EXIT_ERR, "out of memory");
        names = nv;
        n++;
    }
    closedir(d);
    int rc = KF_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        char *p;
        struct stat st;
        if (asprintf(&p, "%s/%s", folder, names[i]) < 0) kf_die(KF_EXIT_ERR, "out of memory");
        /* age = when the archive was written (ksnap freeze renames it into place once whole) */
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
            (int64_t)st.st_mtim.tv_sec * KF_NS_PER_SEC + st.st_mtim.tv_nsec < now - keep) {
            if (!dry && unlink(p) != 0) {
                kf_err("%s: %s", p, strerror(errno));
                rc = KF_EXIT_IO;
            } else {
                printf("%s %s (%" PRIu64 " bytes, older than --keep)\n", t->verb, p, (uint64_t)st.st_size);
                t->files++;
                t->bytes += (uint64_t)st.st_size;
            }
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}

int cmd_prune(int argc, char **argv)
{
    enum { O_DIR = 256, O_RSIZE, O_RTIME, O_DRY, O_SNAP, O_KEEP };
    static const struct option opts[] = {
        { "dir", 1, 0, O_DIR }, { "retain-size", 1, 0, O_RSIZE }, { "retain-time", 1, 0, O_RTIME },
        { "dry-run", 0, 0, O_DRY }, { "snapshots", 1, 0, O_SNAP }, { "keep", 1, 0, O_KEEP },
        { "help", 0, 0, 'h' }, { 0 } };
    const char *dir = NULL, *snaps = NULL;
    uint64_t rsize = 2ULL << 30;
    int64_t rtime = 24 * 3600 * KF_NS_PER_SEC, keep = -1;
    int dry = 0, o;
    optind = 1;
    while ((o = kf_getopt(argc, argv, "h", opts)) != -1) {
        switch (o) {
        case O_DIR: dir = optarg; break;
        case O_SNAP: snaps = optarg; break;
        case O_RSIZE:
            if (kf_size_parse(optarg, &rsize) != 0) kf_usage_die("--retain-size: '%s' is not a size", optarg);
            break;
        case O_RTIME:
            if (kf_duration_parse(optarg, &rtime) != 0 || rtime < 0)
                kf_usage_die("--retain-time: '%s' is not a duration", optarg);
            break;
        case O_KEEP:
            if (kf_duration_parse(optarg, &keep) != 0 || keep < 0)
                kf_usage_die("--keep: '%s' is not a duration", optarg);
            /* elsewhere 0 means "no bound", so --keep 0 must not mean "delete every snapshot";
             * a prune that keeps everything has nothing to do: refused, never guessed */
            if (keep == 0)
                kf_usage_die("--keep 0: 0 means no limit here as for --retain-time, so nothing would be pruned; give an age such as --keep 30d");
            break;
        case O_DRY: dry = 1; break;
        case 'h': usage(stdout); return 0;
        default: kf_usage_die("unknown option");
        }
    }
    if (optind < argc) kf_usage_die("unexpected argument '%s'", argv[optind]);
    if (!dir == !snaps) kf_usage_die("give either --dir DIR or --snapshots FOLDER");
    if (snaps && keep < 0) kf_usage_die("--snapshots needs --keep (e.g. --keep 30d)");
    if (dir && keep >= 0) kf_usage_die("--keep goes with --snapshots; for a store use --retain-time");
    struct tally t = { dry ? "would remove" : "removed", 0, 0 };
    int rc = KF_EXIT_OK;
    if (snaps) {
        rc = prune_snapshots(snaps, keep, dry, &t);
    } else {
        char **nodes;
        size_t n;
        char err[512];
        if (kf_store_nodes(dir, &nodes, &n, err, sizeof err) != 0) kf_die(KF_EXIT_ERR, "%s", err);
        if (n == 0) kf_warn("%s: no capture store here (no node folder with segments)", dir);
        int64_t now = kf_now_ns();
        for (size_t i = 0; i < n; i++) {
            size_t removed;
            uint64_t freed;
            int r = store_retention(dir, nodes[i], rsize, 0, rtime, now, 0, dry, report, &t,
                                    &removed, &freed, err, sizeof err);
            if (r == 1) kf_warn("%s/%s: a reader holds the store; skipped this time", dir, nodes[i]);
            else if (r < 0) { kf_err("%s", err); rc = KF_EXIT_IO; }
            t.files += removed;
            t.bytes += freed;
        }
        kf_strv_free(nodes, n);
    }
    char hb[32];
    human(t.bytes, hb, sizeof hb);
    printf("%s %zu file%s, %s %" PRIu64 " bytes (%s)\n", dry ? "would remove" : "removed", t.files,
           t.files == 1 ? "" : "s", dry ? "would free" : "freed", t.bytes, hb);
    return rc;
}
