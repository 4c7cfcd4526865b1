#include "cli/scores.h"
#include "core/files.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/csv_write.h"

#define CHUNK_TRIALS ((size_t)1 << 20)
#define MAX_THREADS 16

typedef struct score_job {
    const vb_dataset *d;
    const float *desc;
    const uint8_t *ok;
    int dim;
    vb_pair_distance_fn fn; /* NULL: euclidean distance of desc rows */
    const void *ctx;
    vb_scores *out;
    size_t begin, end, fta;
    size_t base; /* trial index of out's first entry */
} score_job;

static void *score_range(void *arg)
{
    score_job *j = arg;
    vb_trial_iter it;
    vb_trial t;
    vb_trial_iter_init(&it, j->d, j->begin, j->end);
    for (size_t k = j->begin - j->base; vb_trial_iter_next(&it, &t); k++) {
        const uint32_t a = t.a, b = t.b;
        j->out->label[k] = t.label;
        if (j->out->fold)
            j->out->fold[k] = t.fold;
        if (!j->ok[a] || !j->ok[b]) {
            j->out->score[k] = INFINITY;
            j->fta++;
            continue;
        }
        double d = j->fn ? j->fn(j->ctx, a, b)
                         : vb_descriptor_distance(j->desc + (size_t)a * j->dim, j->desc + (size_t)b * j->dim, j->dim);
        j->out->score[k] = round(d * 1e9) / 1e9;
    }
    return NULL;
}

static int clamp_threads(int threads)
{
    return threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
}

void vb_scores_compute_range(const vb_dataset *d, const float *desc, const uint8_t *ok, int dim,
                             vb_pair_distance_fn fn, const void *ctx, size_t begin, size_t end, int threads,
                             vb_scores *out)
{
    threads = clamp_threads(threads);
    score_job jobs[MAX_THREADS];
    size_t n = end - begin, per = (n + threads - 1) / threads;
    for (int t = 0; t < threads; t++) {
        size_t lo = t * per < n ? t * per : n, hi = lo + per < n ? lo + per : n;
        jobs[t] = (score_job){d, desc, ok, dim, fn, ctx, out, begin + lo, begin + hi, 0, begin};
    }
    vb_parallel_run(jobs, sizeof jobs[0], threads, score_range);
    out->n = n;
    out->fta = 0;
    for (int t = 0; t < threads; t++)
        out->fta += jobs[t].fta;
}

static int compute(const vb_dataset *d, const float *desc, const uint8_t *ok, int dim, vb_pair_distance_fn fn,
                   const void *ctx, int threads, vb_scores *out, vb_err *e)
{
    /* no fold array for a protocol without folds: 2 bytes a trial saved on lfw-all */
    if (vb_scores_alloc(out, (size_t)d->n_trials, 1, d->n_folds > 0, e))
        return -1;
    vb_scores_compute_range(d, desc, ok, dim, fn, ctx, 0, out->n, threads, out);
    return 0;
}

int vb_scores_compute(const vb_dataset *d, const float *desc, const uint8_t *ok, int dim,
                      int threads, vb_scores *out, vb_err *e)
{
    return compute(d, desc, ok, dim, NULL, NULL, threads, out, e);
}

int vb_scores_compute_with(const vb_dataset *d, const uint8_t *ok, vb_pair_distance_fn fn, const void *ctx,
                           int threads, vb_scores *out, vb_err *e)
{
    return compute(d, NULL, ok, 0, fn, ctx, threads, out, e);
}

/* ------------------------------------------------------------- writing */

typedef struct chunk_job {
    const vb_dataset *d;
    const vb_scores *s;
    char **ids;           /* CSV-encoded sample ids */
    size_t begin, end;
    int header;
    uint8_t *gz;          /* one complete gzip member */
    size_t gz_len;
    int failed;
} chunk_job;

static void *format_chunk(void *arg)
{
    chunk_job *j = arg;
    size_t cap = (j->end - j->begin) * 96 + 64, len = 0;
    char *text = malloc(cap);
    if (!text) {
        j->failed = 1;
        return NULL;
    }
    if (j->header)
        len += (size_t)sprintf(text, "a,b,label,score,fold\n");
    vb_trial_iter it;
    vb_trial t;
    vb_trial_iter_init(&it, j->d, j->begin, j->end);
    for (size_t k = j->begin; vb_trial_iter_next(&it, &t); k++) {
        size_t need = strlen(j->ids[t.a]) + strlen(j->ids[t.b]) + 48;
        if (len + need > cap) {
            cap = (cap + need) * 2;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                j->failed = 1;
                return NULL;
            }
            text = t;
        }
        if (isinf(j->s->score[k]))
            len += (size_t)snprintf(text + len, cap - len, "%s,%s,%u,inf,%u\n", j->ids[t.a], j->ids[t.b], t.label,
                                    t.fold);
        else
            len += (size_t)snprintf(text + len, cap - len, "%s,%s,%u,%.9f,%u\n", j->ids[t.a], j->ids[t.b], t.label,
                                    j->s->score[k], t.fold);
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 3, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) { /* +16: gzip wrapper */
        free(text);
        j->failed = 1;
        return NULL;
    }
    size_t bound = deflateBound(&z, (uLong)len);
    j->gz = malloc(bound);
    if (!j->gz) {
        deflateEnd(&z);
        free(text);
        j->failed = 1;
        return NULL;
    }
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)len;
    z.next_out = j->gz;
    z.avail_out = (uInt)bound;
    j->failed = deflate(&z, Z_FINISH) != Z_STREAM_END;
    j->gz_len = bound - z.avail_out;
    deflateEnd(&z);
    free(text);
    return NULL;
}

/* <file>.progress: "trials bytes fingerprint sha256", the SHA-256 of the first `bytes`
 * bytes of the score file (its complete gzip members). */
typedef struct progress_rec {
    size_t trials;
    long long bytes;
    char sha[65];
} progress_rec;

/* 0: a record for this fingerprint; 1: none (no file, another fingerprint); 2: a record
 * for this fingerprint that cannot be trusted (torn, or written before it held a SHA-256). */
static int read_progress(const char *path, const char *fingerprint, progress_rec *r)
{
    char p[1100];
    snprintf(p, sizeof p, "%s.progress", path);
    FILE *f = fopen(p, "r");
    if (!f)
        return 1;
    unsigned long long t, b;
    char fp[80];
    int n = fscanf(f, "%llu %llu %79s %64s", &t, &b, fp, r->sha);
    fclose(f);
    if (n < 3 || strcmp(fp, fingerprint))
        return 1;
    if (n < 4 || strlen(r->sha) != 64)
        return 2;
    r->trials = (size_t)t;
    r->bytes = (long long)b;
    return 0;
}

static void sha_hex(EVP_MD_CTX *ctx, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    if (!copy || !EVP_MD_CTX_copy_ex(copy, ctx) || !EVP_DigestFinal_ex(copy, md, &len))
        len = 0;
    EVP_MD_CTX_free(copy);
    for (unsigned i = 0; i < len && i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    hex[len ? 64 : 0] = 0;
}

static int write_progress(const char *path, const char *fingerprint, size_t trials, long long bytes,
                          EVP_MD_CTX *ctx, vb_err *e)
{
    char p[1100], sha[65];
    snprintf(p, sizeof p, "%s.progress", path);
    sha_hex(ctx, sha);
    vb_atomic a;
    if (vb_atomic_begin(&a, p, "w", e))
        return -1;
    fprintf(a.f, "%zu %lld %s %s\n", trials, bytes, fingerprint, sha);
    return vb_atomic_commit(&a, e);
}

/* issue 10 item 5: the complete members .progress records must still be there, byte for
 * byte: a score file truncated (or altered) behind the record's back was kept and then
 * failed `veribench metrics`. Hashes the first r->bytes bytes of f into ctx; returns 0 when
 * size and SHA-256 match, else -1 with the reason in why. */
static int verify_resume(FILE *f, const progress_rec *r, EVP_MD_CTX *ctx, char *why, size_t why_n)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < r->bytes) {
        snprintf(why, why_n, "it holds %lld bytes, the record says %lld are complete",
                 (long long)st.st_size, r->bytes);
        return -1;
    }
    uint8_t buf[1 << 16];
    long long left = r->bytes;
    while (left > 0) {
        size_t n = fread(buf, 1, left < (long long)sizeof buf ? (size_t)left : sizeof buf, f);
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, n);
        left -= (long long)n;
    }
    char sha[65];
    sha_hex(ctx, sha);
    if (left > 0 || strcmp(sha, r->sha)) {
        snprintf(why, why_n, "the SHA-256 of its first %lld bytes differs from the record", r->bytes);
        return -1;
    }
    return 0;
}

/* Open the score file to resume after its last complete member (*done, *bytes, ctx over
 * those bytes), or to start over when nothing trustworthy is recorded. */
static FILE *open_for_resume(const char *path, const char *fingerprint, size_t n_trials, size_t *done,
                             long long *bytes, EVP_MD_CTX *ctx, vb_err *e)
{
    progress_rec r;
    char why[200] = "";
    int st = read_progress(path, fingerprint, &r);
    FILE *f = st == 0 && r.trials <= n_trials ? fopen(path, "r+b") : NULL;
    if (st == 2)
        snprintf(why, sizeof why, "its .progress record has no usable SHA-256");
    if (f && verify_resume(f, &r, ctx, why, sizeof why) == 0) {
        /* Keep the complete members, drop whatever a kill left after them. */
        *done = r.trials, *bytes = r.bytes;
        if (ftruncate(fileno(f), r.bytes) != 0 || fseek(f, r.bytes, SEEK_SET) != 0) {
            fclose(f);
            vb_fail(e, VB_EXIT_IO, "%s: cannot resume: %s", path, strerror(errno));
            return NULL;
        }
        return f;
    }
    if (f)
        fclose(f);
    if (why[0])
        fprintf(stderr, "veribench run: %s: not resumed, %s; writing it again\n", path, why);
    *done = 0, *bytes = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    if (!(f = fopen(path, "wb")))
        vb_fail(e, VB_EXIT_IO, "%s: cannot create: %s", path, strerror(errno));
    return f;
}

static char **encode_ids(const vb_dataset *d, vb_err *e)
{
    char **ids = vb_calloc(d->n_samples, sizeof(char *), e);
    for (size_t i = 0; ids && i < d->n_samples; i++) {
        char buf[2048];
        const char *id = d->samples[i].id;
        if (vb_csv_encode(buf, sizeof buf, id) < 0 || !(ids[i] = strdup(buf))) {
            for (size_t k = 0; k < i; k++)
                free(ids[k]);
            free(ids);
            vb_fail(e, VB_EXIT_IO, "sample id too long or out of memory: %.80s", id);
            return NULL;
        }
    }
    return ids;
}

int vb_scores_write(const char *path, const vb_dataset *d, const vb_scores *s, const char *fingerprint,
                    int threads, size_t *written_now, vb_err *e)
{
    *written_now = 0;
    size_t done = 0;
    long long bytes = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    }
    FILE *f = open_for_resume(path, fingerprint, s->n, &done, &bytes, ctx, e);
    if (!f) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    if (done == s->n && bytes > 0) {
        EVP_MD_CTX_free(ctx);
        fclose(f);
        return 0;
    }
    char **ids = encode_ids(d, e);
    if (!ids) {
        EVP_MD_CTX_free(ctx);
        fclose(f);
        return -1;
    }
    threads = clamp_threads(threads);
    int rc = 0;
    while (rc == 0 && (done < s->n || bytes == 0)) {
        chunk_job jobs[MAX_THREADS];
        int n_jobs = 0;
        for (size_t k = done; n_jobs < threads && (k < s->n || (k == 0 && n_jobs == 0)); k += CHUNK_TRIALS) {
            size_t end = k + CHUNK_TRIALS < s->n ? k + CHUNK_TRIALS : s->n;
            jobs[n_jobs] = (chunk_job){d, s, ids, k, end, k == 0, NULL, 0, 0};
            n_jobs++;
            if (end == s->n)
                break;
        }
        vb_parallel_run(jobs, sizeof jobs[0], n_jobs, format_chunk);
        for (int t = 0; t < n_jobs; t++) {
            if (rc == 0 && jobs[t].failed)
                rc = vb_fail(e, VB_EXIT_IO, "%s: out of memory compressing scores", path);
            if (rc == 0 && (fwrite(jobs[t].gz, 1, jobs[t].gz_len, f) != jobs[t].gz_len || fflush(f) != 0 ||
                            fsync(fileno(f)) != 0))
                rc = vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", path, strerror(errno));
            if (rc == 0) {
                bytes += (long long)jobs[t].gz_len;
                EVP_DigestUpdate(ctx, jobs[t].gz, jobs[t].gz_len);
                *written_now += jobs[t].end - jobs[t].begin;
                done = jobs[t].end;
                rc = write_progress(path, fingerprint, done, bytes, ctx, e);
            }
            free(jobs[t].gz);
        }
    }
    for (size_t i = 0; i < d->n_samples; i++)
        free(ids[i]);
    free(ids);
    EVP_MD_CTX_free(ctx);
    if (fclose(f) != 0 && rc == 0)
        rc = vb_fail(e, VB_EXIT_IO, "%s: write failed: %s", path, strerror(errno));
    return rc;
}
