#include "core/files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vb_check_replaceable(const char *path, vb_err *e)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : vb_fail(e, VB_EXIT_IO, "%s: cannot inspect: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode))
        return 0;
    const char *what = S_ISDIR(st.st_mode)   ? "a folder"
                       : S_ISLNK(st.st_mode) ? "a symbolic link"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                                              : "not a regular file";
    return vb_fail(e, VB_EXIT_IO, "%s exists and is %s: refusing to replace it (name a new or regular file)",
                   path, what);
}

int vb_atomic_begin(vb_atomic *a, const char *path, const char *mode, vb_err *e)
{
    memset(a, 0, sizeof *a);
    if (strlen(path) >= sizeof a->path)
        return vb_fail(e, VB_EXIT_IO, "%s: path too long", path);
    if (vb_check_replaceable(path, e))
        return -1;
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp", path);
    /* O_NOFOLLOW: a link planted at the temporary's name is not followed. */
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return vb_fail(e, VB_EXIT_IO, "%s: cannot create: %s", a->tmp, strerror(errno));
    a->f = fdopen(fd, mode);
    if (!a->f) {
        int err = errno;
        close(fd);
        unlink(a->tmp);
        return vb_fail(e, VB_EXIT_IO, "%s: cannot open: %s", a->tmp, strerror(err));
    }
    return 0;
}

int vb_atomic_commit(vb_atomic *a, vb_err *e)
{
    if (!a->f)
        return vb_fail(e, VB_EXIT_IO, "%s: not open for writing", a->path);
    int err = 0;
    if (ferror(a->f))
        err = errno ? errno : EIO;
    if (fflush(a->f) != 0 && !err)
        err = errno;
    if (fsync(fileno(a->f)) != 0 && !err)
        err = errno;
    if (fclose(a->f) != 0 && !err)
        err = errno;
    a->f = NULL;
    /* Checked again: the target may have been replaced by a device or folder meanwhile. */
    if (!err && vb_check_replaceable(a->path, e)) {
        unlink(a->tmp);
        return -1;
    }
    if (!err && rename(a->tmp, a->path) != 0)
        err = errno;
    if (err) {
        unlink(a->tmp);
        return vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", a->path, strerror(err));
    }
    return 0;
}

void vb_atomic_abort(vb_atomic *a)
{
    if (a->f)
        fclose(a->f);
    a->f = NULL;
    if (a->tmp[0])
        unlink(a->tmp);
}

int vb_write_file_atomic(const char *path, const void *data, size_t n, vb_err *e)
{
    vb_atomic a;
    if (vb_atomic_begin(&a, path, "wb", e))
        return -1;
    if (fwrite(data, 1, n, a.f) != n) {
        int err = errno;
        vb_atomic_abort(&a);
        return vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", path, strerror(err ? err : EIO));
    }
    return vb_atomic_commit(&a, e);
}

int vb_mkdirs(const char *path, vb_err *e)
{
    char buf[4096];
    if (!*path)
        return vb_fail(e, VB_EXIT_USAGE, "empty folder name");
    if (strlen(path) >= sizeof buf)
        return vb_fail(e, VB_EXIT_IO, "%s: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    /* Each prefix ending before a '/', then the whole path. */
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char saved = *p;
        *p = 0;
        struct stat st;
        if (mkdir(buf, 0777) != 0) {
            int err = errno;
            if (stat(buf, &st) != 0)
                return vb_fail(e, VB_EXIT_IO, "%s: cannot create folder: %s", buf, strerror(err));
            if (!S_ISDIR(st.st_mode))
                return vb_fail(e, VB_EXIT_IO, "%s: cannot create folder: a file of that name exists", buf);
        }
        if (!saved)
            break;
        *p = saved;
        while (p[1] == '/')
            p++;
        if (!p[1])
            break;
    }
    return 0;
}

int vb_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int vb_close_output(FILE *f, const char *what, vb_err *e)
{
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    if (fflush(f) != 0 && !err)
        err = errno;
    if (fclose(f) != 0 && !err)
        err = errno;
    return err ? vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", what, strerror(err)) : 0;
}
