/* Unit tests for lib/kf_atomic: the target appears only on commit, abort leaves nothing, an
 * existing file is replaced whole, mode is applied, errors carry a message. */
#include "t.h"
#include "kf_atomic.h"
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    static char b[256];
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(b, 1, sizeof b - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

int main(void)
{
    char dir[] = "/tmp/kf_atomic_test.XXXXXX", path[512], err[256];
    T_OK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof path, "%s/out.pcapng", dir);

    kf_atomic a;
    T_EQ_INT(kf_atomic_open(&a, path, 0, err, sizeof err), 0, "open");
    fputs("hello", a.f);
    T_OK(access(path, F_OK) != 0, "target absent before commit");
    T_EQ_INT(count_entries(dir), 1, "one temporary file while writing");
    T_EQ_INT(kf_atomic_commit(&a, err, sizeof err), 0, "commit");
    T_EQ_STR(slurp(path), "hello", "content after commit");
    T_EQ_INT(count_entries(dir), 1, "no temporary left after commit");
    struct stat st;
    T_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "default mode 0640");

    T_EQ_INT(kf_atomic_open(&a, path, 0600, err, sizeof err), 0, "reopen");
    fputs("partial", a.f);
    kf_atomic_abort(&a);
    T_EQ_STR(slurp(path), "hello", "abort keeps the old file");
    T_EQ_INT(count_entries(dir), 1, "abort removes the temporary");

    T_EQ_INT(kf_atomic_open(&a, path, 0600, err, sizeof err), 0, "reopen for replace");
    fputs("world", a.f);
    T_EQ_INT(kf_atomic_commit(&a, err, sizeof err), 0, "commit replace");
    T_EQ_STR(slurp(path), "world", "replaced whole");
    T_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "given mode 0600");

    /* relative path in the current directory */
    char cwd[512];
    T_OK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    T_EQ_INT(chdir(dir), 0, "chdir");
    T_EQ_INT(kf_atomic_open(&a, "rel.txt", 0, err, sizeof err), 0, "open relative");
    fputs("r", a.f);
    T_EQ_INT(kf_atomic_commit(&a, err, sizeof err), 0, "commit relative");
    T_EQ_STR(slurp("rel.txt"), "r", "relative content");
    unlink("rel.txt");
    T_EQ_INT(chdir(cwd), 0, "chdir back");

    /* what would be replaced (snapshots refuse that) and what is written through */
    char lnk[600], fifo[600], newp[600];
    snprintf(lnk, sizeof lnk, "%s/link", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(newp, sizeof newp, "%s/new", dir);
    T_EQ_INT(symlink("out.pcapng", lnk), 0, "symlink");
    T_EQ_INT(mkfifo(fifo, 0600), 0, "mkfifo");
    T_EQ_INT(kf_atomic_replaces(path), 1, "an existing file would be replaced");
    T_EQ_INT(kf_atomic_replaces(lnk), 1, "so would the file behind a link");
    T_EQ_INT(kf_atomic_replaces(newp), 0, "a new path would not");
    T_EQ_INT(kf_atomic_replaces(fifo), 0, "a FIFO is written through");
    T_EQ_INT(kf_atomic_replaces("-") + kf_atomic_replaces("/dev/stdout") + kf_atomic_replaces("/dev/null"), 0, "stdout, devices");
    T_EQ_INT(kf_atomic_in_place(fifo) + kf_atomic_in_place("-") + kf_atomic_in_place("/dev/null"), 3, "in place: FIFO, stdout, device");
    T_EQ_INT(kf_atomic_in_place(path) + kf_atomic_in_place(lnk) + kf_atomic_in_place(newp) + kf_atomic_in_place(dir), 0, "not in place: files, links to them, new paths, directories");
    unlink(lnk);
    unlink(fifo);

    /* errors */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", dir);
    T_EQ_INT(kf_atomic_open(&a, bad, 0, err, sizeof err), -1, "missing directory fails");
    T_OK(strstr(err, "No such file") != NULL, "message says why: %s", err);
    T_EQ_INT(kf_atomic_open(&a, "", 0, err, sizeof err), -1, "empty path fails");

    /* write error surfaces at commit (/dev/full is a device: rename would fail anyway, so
     * check the flush path through a full disk only when available) */
    T_EQ_INT(kf_atomic_open(&a, "-", 0, err, sizeof err), 0, "stdout open");
    T_OK(a.is_stdout && a.f == stdout, "stdout is used as is");
    T_EQ_INT(kf_atomic_commit(&a, err, sizeof err), 0, "stdout commit");

    unlink(path);
    rmdir(dir);
    T_DONE();
}
