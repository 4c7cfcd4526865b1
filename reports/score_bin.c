#include "reports/score_bin.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

enum { HEADER_BYTES = 128, BLOCK_HEAD = 16, MAX_THREADS = 16, DEFLATE_MAX_RATIO = 1032 };
static const char MAGIC[8] = {'V', 'B', 'S', 'C', 'O', 'R', 'E', '1'};
#define BOM 0x01020304u

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static size_t trial_bytes(int has_fold)
{
    return sizeof(double) + 1 + (has_fold ? sizeof(uint16_t) : 0);
}

static void header_encode(const vb_score_bin_info *in, unsigned char h[HEADER_BYTES])
{
    memset(h, 0, HEADER_BYTES);
    memcpy(h, MAGIC, 8);
    put32(h + 8, BOM);
    put32(h + 12, (uint32_t)(in->is_distance ? 1 : 0) | (in->has_fold ? 2u : 0));
    put32(h + 16, (uint32_t)in->compression);
    put32(h + 20, in->block_trials);
    put64(h + 24, in->n);
    put64(h + 32, in->fta);
    memcpy(h + 40, in->fingerprint, strnlen(in->fingerprint, 64));
}

static int header_decode(const char *path, const unsigned char h[HEADER_BYTES], vb_score_bin_info *out, vb_err *e)
{
    if (memcmp(h, MAGIC, 8))
        return vb_fail(e, VB_EXIT_INPUT, "%s: not a veribench binary score file (no VBSCORE1 magic)", path);
    if (get32(h + 8) != BOM)
        return vb_fail(e, VB_EXIT_INPUT, "%s: written on a host of the other byte order", path);
    uint32_t flags = get32(h + 12), comp = get32(h + 16);
    if (flags > 3 || comp > 9)
        return vb_fail(e, VB_EXIT_INPUT, "%s: unknown flags %u or compression %u in the header", path, flags, comp);
    memset(out, 0, sizeof *out);
    out->is_distance = flags & 1;
    out->has_fold = (flags & 2) != 0;
    out->compression = (int)comp;
    out->block_trials = get32(h + 20);
    out->n = get64(h + 24);
    out->fta = get64(h + 32);
    memcpy(out->fingerprint, h + 40, 64);
    out->fingerprint[64] = 0;
    if (out->fta > out->n || (out->n && !out->block_trials) || out->block_trials > (1u << 28))
        return vb_fail(e, VB_EXIT_INPUT, "%s: inconsistent header (%llu trials, %llu FTA, blocks of %u)", path,
                       (unsigned long long)out->n, (unsigned long long)out->fta, out->block_trials);
    return 0;
}

/* ------------------------------------------------------------------ writing */

int vb_score_writer_open(vb_score_writer *w, const char *path, int is_distance, int has_fold, int compression,
                         const char *fingerprint, int threads, vb_err *e)
{
    memset(w, 0, sizeof *w);
    if (compression < 0 || compression > 9)
        return vb_fail(e, VB_EXIT_USAGE, "score compression %d: expected 0 (none) to 9", compression);
    w->info.is_distance = is_distance != 0;
    w->info.has_fold = has_fold != 0;
    w->info.compression = compression;
    w->info.block_trials = (uint32_t)VB_SCORE_BIN_BLOCK;
    if (fingerprint)
        snprintf(w->info.fingerprint, sizeof w->info.fingerprint, "%s", fingerprint);
    w->threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    if (vb_atomic_begin(&w->a, path, "wb", e))
        return -1;
    unsigned char h[HEADER_BYTES];
    header_encode(&w->info, h); /* counts are filled in at commit */
    if (fwrite(h, 1, HEADER_BYTES, w->a.f) != HEADER_BYTES) {
        vb_atomic_abort(&w->a);
        return vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
    }
    return 0;
}

/* One block made ready by a worker: its head, and the bytes to write after it (the raw
 * arrays in place when uncompressed, else a compressed buffer). */
typedef struct block_job {
    const vb_scores *s;
    int has_fold, compression;
    size_t begin, n;
    unsigned char head[BLOCK_HEAD];
    unsigned char *raw, *stored; /* owned (compressed blocks only) */
    size_t stored_len;
    int failed;
} block_job;

static void *prepare_block(void *arg)
{
    block_job *j = arg;
    const vb_scores *s = j->s;
    size_t n = j->n, raw_len = n * trial_bytes(j->has_fold);
    const unsigned char *sc = (const unsigned char *)(s->score + j->begin), *lb = s->label + j->begin;
    const unsigned char *fd = j->has_fold ? (const unsigned char *)(s->fold + j->begin) : NULL;
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32_z(crc, sc, n * sizeof(double));
    crc = crc32_z(crc, lb, n);
    if (fd)
        crc = crc32_z(crc, fd, n * sizeof(uint16_t));
    j->stored_len = raw_len;
    if (j->compression) {
        uLongf bound = compressBound(raw_len);
        j->raw = malloc(raw_len);
        j->stored = malloc(bound);
        if (!j->raw || !j->stored) {
            j->failed = 1;
            return NULL;
        }
        memcpy(j->raw, sc, n * sizeof(double));
        memcpy(j->raw + n * sizeof(double), lb, n);
        if (fd)
            memcpy(j->raw + n * 9, fd, n * sizeof(uint16_t));
        if (compress2(j->stored, &bound, j->raw, raw_len, j->compression) != Z_OK) {
            j->failed = 1;
            return NULL;
        }
        j->stored_len = bound;
    }
    put32(j->head, (uint32_t)n);
    put32(j->head + 4, (uint32_t)j->stored_len);
    put32(j->head + 8, (uint32_t)raw_len);
    put32(j->head + 12, (uint32_t)crc);
    return NULL;
}

static int write_block(vb_score_writer *w, const block_job *j)
{
    FILE *f = w->a.f;
    const vb_scores *s = j->s;
    if (fwrite(j->head, 1, BLOCK_HEAD, f) != BLOCK_HEAD)
        return -1;
    if (j->compression)
        return fwrite(j->stored, 1, j->stored_len, f) == j->stored_len ? 0 : -1;
    if (fwrite(s->score + j->begin, sizeof(double), j->n, f) != j->n || fwrite(s->label + j->begin, 1, j->n, f) != j->n)
        return -1;
    if (j->has_fold && fwrite(s->fold + j->begin, sizeof(uint16_t), j->n, f) != j->n)
        return -1;
    return 0;
}

int vb_score_writer_put(vb_score_writer *w, const vb_scores *s, size_t begin, size_t end, vb_err *e)
{
    if (w->info.has_fold && !s->fold)
        return vb_fail(e, VB_EXIT_IO, "internal: %s: the file has folds, the scores do not", w->a.path);
    block_job jobs[MAX_THREADS];
    int rc = 0;
    while (begin < end && !rc) {
        int k = 0;
        for (; k < w->threads && begin < end; k++) {
            size_t n = end - begin < VB_SCORE_BIN_BLOCK ? end - begin : VB_SCORE_BIN_BLOCK;
            jobs[k] = (block_job){.s = s, .has_fold = w->info.has_fold, .compression = w->info.compression,
                                  .begin = begin, .n = n};
            begin += n;
        }
        vb_parallel_run(jobs, sizeof jobs[0], k, prepare_block);
        for (int i = 0; i < k; i++) {
            if (!rc && jobs[i].failed)
                rc = vb_fail(e, VB_EXIT_IO, "%s: out of memory compressing scores", w->a.path);
            if (!rc && write_block(w, &jobs[i]))
                rc = vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", w->a.path, strerror(errno ? errno : EIO));
            if (!rc) {
                w->info.n += jobs[i].n;
                for (size_t t = jobs[i].begin; t < jobs[i].begin + jobs[i].n; t++)
                    w->info.fta += isinf(s->score[t]) != 0;
            }
            free(jobs[i].raw);
            free(jobs[i].stored);
        }
    }
    return rc;
}

int vb_score_writer_commit(vb_score_writer *w, vb_err *e)
{
    unsigned char h[HEADER_BYTES];
    header_encode(&w->info, h);
    if (fseek(w->a.f, 0, SEEK_SET) || fwrite(h, 1, HEADER_BYTES, w->a.f) != HEADER_BYTES) {
        int err = errno ? errno : EIO;
        vb_atomic_abort(&w->a);
        return vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", w->a.path, strerror(err));
    }
    return vb_atomic_commit(&w->a, e);
}

void vb_score_writer_abort(vb_score_writer *w)
{
    vb_atomic_abort(&w->a);
}

int vb_score_bin_write(const char *path, const vb_scores *s, int compression, const char *fingerprint,
                       int threads, vb_err *e)
{
    vb_score_writer w;
    if (vb_score_writer_open(&w, path, s->is_distance, s->fold != NULL, compression, fingerprint, threads, e))
        return -1;
    if (vb_score_writer_put(&w, s, 0, s->n, e)) {
        vb_score_writer_abort(&w);
        return -1;
    }
    return vb_score_writer_commit(&w, e);
}

/* ------------------------------------------------------------------ reading */

int vb_score_bin_is(const char *path)
{
    char m[8];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int is = fread(m, 1, 8, f) == 8 && !memcmp(m, MAGIC, 8);
    fclose(f);
    return is;
}

static int read_header(FILE *f, const char *path, vb_score_bin_info *info, vb_err *e)
{
    unsigned char h[HEADER_BYTES];
    if (fread(h, 1, HEADER_BYTES, f) != HEADER_BYTES)
        return vb_fail(e, VB_EXIT_INPUT, "%s: truncated header (%s)", path, ferror(f) ? strerror(errno) : "end of file");
    return header_decode(path, h, info, e);
}

int vb_score_bin_info_read(const char *path, vb_score_bin_info *info, vb_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s", path, strerror(errno));
    int rc = read_header(f, path, info, e);
    fclose(f);
    return rc;
}

int vb_score_reader_open(vb_score_reader *r, const char *path, vb_err *e)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return vb_fail(e, VB_EXIT_INPUT, "%s: %s", path, strerror(errno));
    r->f = f;
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        vb_score_reader_close(r);
        return vb_fail(e, VB_EXIT_INPUT, "%s: not a regular file", path);
    }
    r->file_bytes = (uint64_t)st.st_size;
    r->pos = HEADER_BYTES;
    if (read_header(f, path, &r->info, e)) {
        vb_score_reader_close(r);
        return -1;
    }
    /* what the file's bytes can hold at most: nothing is allocated on a header's word alone */
    uint64_t payload = r->file_bytes - HEADER_BYTES, tb = trial_bytes(r->info.has_fold);
    uint64_t most = r->info.compression ? payload / 9 * DEFLATE_MAX_RATIO : payload / tb;
    if (r->info.n > most) {
        vb_fail(e, VB_EXIT_INPUT, "%s: truncated or damaged: the header claims %llu trials, more than its %llu bytes can hold", path,
                (unsigned long long)r->info.n, (unsigned long long)r->file_bytes);
        vb_score_reader_close(r);
        return -1;
    }
    return 0;
}

static int grow(unsigned char **buf, size_t *cap, size_t need, vb_err *e)
{
    if (need <= *cap)
        return 0;
    unsigned char *p = realloc(*buf, need);
    if (!p)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    *buf = p;
    *cap = need;
    return 0;
}

/* Block payload -> block (sized to n). */
static int unpack(vb_score_reader *r, const unsigned char *raw, uint32_t n, vb_scores *block, vb_err *e)
{
    int has_fold = r->info.has_fold;
    if (block->cap < n || (has_fold && !block->fold)) {
        vb_scores_free(block);
        if (vb_scores_alloc(block, n, r->info.is_distance, has_fold, e))
            return -1;
    }
    block->n = n;
    block->is_distance = r->info.is_distance;
    block->fta = 0;
    memcpy(block->score, raw, (size_t)n * sizeof(double));
    memcpy(block->label, raw + (size_t)n * 8, n);
    if (has_fold)
        memcpy(block->fold, raw + (size_t)n * 9, (size_t)n * sizeof(uint16_t));
    else if (block->fold) {
        free(block->fold);
        block->fold = NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        block->fta += isinf(block->score[i]) != 0;
        if (block->label[i] > 1)
            return vb_fail(e, VB_EXIT_INPUT, "%s: trial %llu: label %u is neither 1 nor 0", r->path,
                           (unsigned long long)(r->done + i), (unsigned)block->label[i]);
    }
    return 0;
}

int vb_score_reader_next(vb_score_reader *r, vb_scores *block, vb_err *e)
{
    FILE *f = r->f;
    unsigned char head[BLOCK_HEAD];
    size_t got = fread(head, 1, BLOCK_HEAD, f);
    if (got == 0 && feof(f)) {
        if (r->done != r->info.n)
            return vb_fail(e, VB_EXIT_INPUT, "%s: truncated: %llu of %llu trials", r->path,
                           (unsigned long long)r->done, (unsigned long long)r->info.n);
        return 0;
    }
    r->block_no++;
    if (got != BLOCK_HEAD)
        return vb_fail(e, VB_EXIT_INPUT, "%s: block %zu: truncated head", r->path, r->block_no);
    uint32_t n = get32(head), stored = get32(head + 4), raw_len = get32(head + 8), crc = get32(head + 12);
    size_t expect = (size_t)n * trial_bytes(r->info.has_fold);
    r->pos += BLOCK_HEAD;
    if (!n || n > r->info.block_trials || raw_len != expect || r->done + n > r->info.n ||
        (!r->info.compression && stored != raw_len) || stored > compressBound(raw_len) ||
        stored > r->file_bytes - r->pos || (uint64_t)raw_len > (uint64_t)stored * DEFLATE_MAX_RATIO + 64)
        return vb_fail(e, VB_EXIT_INPUT, "%s: block %zu: inconsistent sizes (%u trials, %u stored, %u raw bytes)",
                       r->path, r->block_no, n, stored, raw_len);
    if (grow(&r->raw, &r->raw_cap, raw_len, e) || grow(&r->stored, &r->stored_cap, stored, e))
        return -1;
    unsigned char *dst = r->info.compression ? r->stored : r->raw;
    if (fread(dst, 1, stored, f) != stored)
        return vb_fail(e, VB_EXIT_INPUT, "%s: block %zu: truncated payload", r->path, r->block_no);
    r->pos += stored;
    if (r->info.compression) {
        uLongf len = raw_len;
        if (uncompress(r->raw, &len, r->stored, stored) != Z_OK || len != raw_len)
            return vb_fail(e, VB_EXIT_INPUT, "%s: block %zu: corrupt compressed data", r->path, r->block_no);
    }
    if ((uint32_t)crc32_z(crc32(0L, Z_NULL, 0), r->raw, raw_len) != crc)
        return vb_fail(e, VB_EXIT_INPUT, "%s: block %zu: CRC mismatch (the file is damaged)", r->path, r->block_no);
    if (unpack(r, r->raw, n, block, e))
        return -1;
    r->done += n;
    return 1;
}

void vb_score_reader_close(vb_score_reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->raw);
    free(r->stored);
    memset(r, 0, sizeof *r);
}

int vb_scores_read_bin(const char *path, vb_scores *out, vb_err *e)
{
    memset(out, 0, sizeof *out);
    vb_score_reader r;
    if (vb_score_reader_open(&r, path, e))
        return -1;
    vb_scores block = {0};
    int rc = vb_scores_alloc(out, r.info.n ? r.info.n : 1, r.info.is_distance, r.info.has_fold, e);
    out->n = 0;
    while (!rc && (rc = vb_score_reader_next(&r, &block, e)) == 1) {
        memcpy(out->score + out->n, block.score, block.n * sizeof(double));
        memcpy(out->label + out->n, block.label, block.n);
        if (out->fold)
            memcpy(out->fold + out->n, block.fold, block.n * sizeof(uint16_t));
        out->n += block.n;
        out->fta += block.fta;
        rc = 0;
    }
    vb_scores_free(&block);
    vb_score_reader_close(&r);
    if (rc < 0) {
        vb_scores_free(out);
        return -1;
    }
    return 0;
}
