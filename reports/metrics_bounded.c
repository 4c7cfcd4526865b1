/* The bounded-memory metrics engine: see metrics_bounded.h. */
#include "reports/metrics_bounded.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/metrics_engine.h"
#include "reports/radix_sort.h"

enum { GEN = 0, IMP = 1, FOLD_IDS = 65536, READ_BUF = 1 << 18, SUM_BLOCK = 4096, FEED_BLOCK = 1 << 20 };

typedef struct run_ref {
    uint64_t offset, count;
} run_ref;

struct vb_bounded {
    int is_distance, with_folds;
    size_t chunk;
    uint64_t *keys, *tmp; /* chunk each: genuine from the front, impostor from the back */
    uint32_t *vals, *tmpv; /* with folds: the fold id of each key */
    size_t nb[2];          /* buffered keys per side */
    uint64_t n[2], fta[2], trials;
    double min_finite[2], max_finite[2];
    uint64_t *fold_count[2]; /* per fold id, with folds */
    FILE *spill;
    int spill_fd;
    uint64_t spill_bytes;
    run_ref *runs[2];
    size_t n_runs[2], cap_runs[2];
    const uint64_t *mem_keys[2]; /* the last buffer, sorted, kept as a run in memory */
    const uint32_t *mem_vals[2];
    size_t mem_n[2];
    unsigned char *enc;
    double sort_s;
    char tmp_dir[1024];
};

/* ------------------------------------------------------------------ phase 1: add and spill */

vb_bounded *vb_bounded_begin(int is_distance, int with_folds, const vb_bounded_opts *o, vb_err *e)
{
    vb_bounded *b = vb_calloc(1, sizeof *b, e);
    if (!b)
        return NULL;
    b->is_distance = is_distance != 0;
    b->with_folds = with_folds != 0;
    b->chunk = o && o->chunk_trials ? o->chunk_trials : VB_BOUNDED_CHUNK_DEFAULT;
    if (b->chunk < 2)
        b->chunk = 2;
    const char *dir = o && o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
    snprintf(b->tmp_dir, sizeof b->tmp_dir, "%s", dir && *dir ? dir : "/tmp");
    b->spill_fd = -1;
    for (int s = 0; s < 2; s++)
        b->min_finite[s] = INFINITY, b->max_finite[s] = -INFINITY;
    b->keys = vb_malloc(b->chunk * sizeof *b->keys, e);
    b->tmp = b->keys ? vb_malloc(b->chunk * sizeof *b->tmp, e) : NULL;
    int ok = b->tmp != NULL;
    if (ok && b->with_folds) {
        b->vals = vb_malloc(b->chunk * sizeof *b->vals, e);
        b->tmpv = b->vals ? vb_malloc(b->chunk * sizeof *b->tmpv, e) : NULL;
        b->fold_count[GEN] = b->tmpv ? vb_calloc(FOLD_IDS, sizeof(uint64_t), e) : NULL;
        b->fold_count[IMP] = b->fold_count[GEN] ? vb_calloc(FOLD_IDS, sizeof(uint64_t), e) : NULL;
        ok = b->fold_count[IMP] != NULL;
    }
    if (!ok) {
        vb_bounded_abort(b);
        return NULL;
    }
    return b;
}

void vb_bounded_abort(vb_bounded *b)
{
    if (!b)
        return;
    if (b->spill)
        fclose(b->spill);
    free(b->keys);
    free(b->tmp);
    free(b->vals);
    free(b->tmpv);
    free(b->fold_count[GEN]);
    free(b->fold_count[IMP]);
    free(b->runs[GEN]);
    free(b->runs[IMP]);
    free(b->enc);
    free(b);
}

/* The temporary file, unlinked at once: it goes away with the process however it ends. */
static int open_spill(vb_bounded *b, vb_err *e)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/veribench-runs-XXXXXX", b->tmp_dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return vb_fail(e, VB_EXIT_IO, "%s: cannot create a temporary file for the sorted runs: %s", b->tmp_dir,
                       strerror(errno));
    unlink(path);
    b->spill = fdopen(fd, "w+b");
    if (!b->spill) {
        close(fd);
        return vb_fail(e, VB_EXIT_IO, "%s: %s", b->tmp_dir, strerror(errno));
    }
    b->spill_fd = fd;
    b->enc = vb_malloc(READ_BUF + 32, e);
    return b->enc ? 0 : -1;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Sort side s of the buffer; returns the sorted keys (and *vals). */
static const uint64_t *sort_side(vb_bounded *b, int s, const uint32_t **vals)
{
    size_t n = b->nb[s], at = s == GEN ? 0 : b->chunk - n;
    *vals = NULL;
    if (b->with_folds) {
        vb_radix_sort_kv(b->keys + at, b->vals + at, b->tmp + at, b->tmpv + at, n);
        *vals = b->vals + at;
        return b->keys + at;
    }
    return vb_sort_keys(b->keys + at, b->tmp + at, n);
}

static int spill_side(vb_bounded *b, int s, vb_err *e)
{
    size_t n = b->nb[s];
    if (!n)
        return 0;
    const uint32_t *vals;
    const uint64_t *k = sort_side(b, s, &vals);
    if (b->n_runs[s] == b->cap_runs[s]) {
        size_t cap = b->cap_runs[s] ? 2 * b->cap_runs[s] : 16;
        run_ref *r = realloc(b->runs[s], cap * sizeof *r);
        if (!r)
            return vb_fail(e, VB_EXIT_IO, "out of memory");
        b->runs[s] = r, b->cap_runs[s] = cap;
    }
    b->runs[s][b->n_runs[s]++] = (run_ref){b->spill_bytes, n};
    uint64_t prev = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        used += put_varint(b->enc + used, k[i] - prev);
        prev = k[i];
        if (vals)
            used += put_varint(b->enc + used, vals[i]);
        if (used >= READ_BUF || i + 1 == n) {
            if (fwrite(b->enc, 1, used, b->spill) != used)
                return vb_fail(e, VB_EXIT_IO, "%s: writing the sorted runs failed: %s", b->tmp_dir,
                               strerror(errno ? errno : EIO));
            b->spill_bytes += used;
            used = 0;
        }
    }
    b->nb[s] = 0;
    return 0;
}

static int spill(vb_bounded *b, vb_err *e)
{
    double t0 = vb_now();
    int rc = (!b->spill && open_spill(b, e)) || spill_side(b, GEN, e) || spill_side(b, IMP, e);
    b->sort_s += vb_now() - t0;
    return rc ? -1 : 0;
}

int vb_bounded_add(vb_bounded *b, const vb_scores *block, vb_err *e)
{
    if (block->n && (block->is_distance != 0) != b->is_distance)
        return vb_fail(e, VB_EXIT_IO, "internal: a block of %s among %s", block->is_distance ? "distances" : "similarities",
                       b->is_distance ? "distances" : "similarities");
    const uint16_t *folds = b->with_folds ? block->fold : NULL;
    for (size_t i = 0; i < block->n; i++) {
        uint64_t trial = b->trials + i;
        double v;
        uint8_t label = block->label[i];
        if (vb_metrics_check_label(label, trial, e) || vb_metrics_similarity(block->score[i], b->is_distance, trial, &v, e))
            return -1;
        if (b->nb[GEN] + b->nb[IMP] == b->chunk && spill(b, e))
            return -1;
        int s = label ? GEN : IMP;
        size_t at = s == GEN ? b->nb[GEN] : b->chunk - 1 - b->nb[IMP];
        b->nb[s]++;
        b->n[s]++;
        b->keys[at] = vb_double_to_key(v);
        if (v == -INFINITY)
            b->fta[s]++;
        else {
            if (v < b->min_finite[s])
                b->min_finite[s] = v;
            if (v > b->max_finite[s])
                b->max_finite[s] = v;
        }
        if (b->with_folds) {
            uint16_t f = folds ? folds[i] : 0;
            b->vals[at] = f;
            b->fold_count[s][f]++;
        }
    }
    b->trials += block->n;
    return 0;
}

/* ------------------------------------------------------------------ merged streams */

enum { DECODED = 1024 }; /* keys a spilled run decodes at a time */

typedef struct cursor {
    const uint64_t *mk; /* a run in memory, or the decoded keys of a spilled one */
    const uint32_t *mv;
    size_t mi, mn;
    int fd, spilled;    /* a spilled run: */
    uint64_t pos, left, prev;
    unsigned char *buf;
    size_t bi, bn;
    int with_folds, failed;
    uint64_t *dk;       /* DECODED keys (and folds) */
    uint32_t *dv;
    uint64_t key; /* current */
    uint32_t fold;
} cursor;

static int get_byte(cursor *c, unsigned char *out)
{
    if (c->bi == c->bn) {
        ssize_t got = pread(c->fd, c->buf, READ_BUF, (off_t)c->pos);
        if (got <= 0)
            return -1;
        c->pos += (uint64_t)got;
        c->bi = 0, c->bn = (size_t)got;
    }
    *out = c->buf[c->bi++];
    return 0;
}

static int get_varint(cursor *c, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        unsigned char byte;
        if (get_byte(c, &byte))
            return -1;
        x |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next DECODED keys of a spilled run into dk/dv; -1 on a read error. */
static int cursor_decode(cursor *c)
{
    size_t n = c->left < DECODED ? (size_t)c->left : DECODED;
    for (size_t i = 0; i < n; i++) {
        uint64_t d, f = 0;
        if (get_varint(c, &d) || (c->with_folds && get_varint(c, &f)))
            return -1;
        c->prev += d;
        c->dk[i] = c->prev;
        c->dv[i] = (uint32_t)f;
    }
    c->left -= n;
    c->mk = c->dk, c->mv = c->with_folds ? c->dv : NULL, c->mi = 0, c->mn = n;
    return 0;
}

/* Advance to the next key: 1, 0 at the end, -1 on a read error. */
static int cursor_next(cursor *c)
{
    if (c->mi == c->mn) {
        if (!c->spilled || !c->left)
            return 0;
        if (cursor_decode(c))
            return -1;
    }
    c->key = c->mk[c->mi];
    c->fold = c->mv ? c->mv[c->mi] : 0;
    c->mi++;
    return 1;
}

typedef struct stream {
    cursor *c;
    size_t *heap, n; /* indexes into c of the runs not yet exhausted, a min-heap on key */
    unsigned char *bufs; /* the read buffers of the spilled runs */
    int failed;          /* a read error: the stream ended early */
} stream;

static int less(const stream *s, size_t a, size_t b)
{
    return s->c[s->heap[a]].key < s->c[s->heap[b]].key;
}

static void sift_down(stream *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->n && less(s, l, m))
            m = l;
        if (r < s->n && less(s, r, m))
            m = r;
        if (m == i)
            return;
        size_t t = s->heap[i];
        s->heap[i] = s->heap[m], s->heap[m] = t;
        i = m;
    }
}

static void stream_free(stream *s)
{
    free(s->bufs);
    free(s->c);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

/* Side side's runs merged: the spilled ones and the one in memory. */
static int stream_open(const vb_bounded *b, int side, stream *s, vb_err *e)
{
    memset(s, 0, sizeof *s);
    size_t k = b->n_runs[side] + 1;
    s->c = vb_calloc(k, sizeof *s->c, e);
    s->heap = s->c ? vb_malloc(k * sizeof *s->heap, e) : NULL;
    size_t per_run = READ_BUF + DECODED * (sizeof(uint64_t) + sizeof(uint32_t));
    unsigned char *bufs = s->heap && b->n_runs[side] ? vb_malloc(b->n_runs[side] * per_run, e) : NULL;
    if (!s->heap || (b->n_runs[side] && !bufs)) {
        free(s->c);
        free(s->heap);
        free(bufs);
        memset(s, 0, sizeof *s);
        return -1;
    }
    for (size_t r = 0; r < b->n_runs[side]; r++) {
        unsigned char *mem = bufs + r * per_run;
        s->c[r] = (cursor){.fd = b->spill_fd, .spilled = 1, .pos = b->runs[side][r].offset,
                           .left = b->runs[side][r].count, .buf = mem, .with_folds = b->with_folds,
                           .dk = (uint64_t *)(mem + READ_BUF),
                           .dv = (uint32_t *)(mem + READ_BUF + DECODED * sizeof(uint64_t))};
    }
    s->bufs = bufs;
    s->c[k - 1] = (cursor){.mk = b->mem_keys[side], .mv = b->mem_vals[side], .mn = b->mem_n[side]};
    for (size_t r = 0; r < k; r++) {
        int got = cursor_next(&s->c[r]);
        if (got < 0) {
            stream_free(s);
            return vb_fail(e, VB_EXIT_IO, "%s: reading back the sorted runs failed", b->tmp_dir);
        }
        if (got)
            s->heap[s->n++] = r;
    }
    for (size_t i = s->n; i-- > 0;)
        sift_down(s, i);
    return 0;
}

static int stream_empty(const stream *s)
{
    return s->n == 0;
}

static uint64_t stream_peek(const stream *s)
{
    return s->c[s->heap[0]].key;
}

/* The smallest key (and its fold) out of the stream, which must not be empty. */
static uint64_t stream_pop(stream *s, uint32_t *fold)
{
    cursor *c = &s->c[s->heap[0]];
    uint64_t key = c->key;
    *fold = c->fold;
    int got = cursor_next(c);
    if (got <= 0) {
        s->failed |= got < 0;
        s->heap[0] = s->heap[--s->n];
    }
    if (s->n)
        sift_down(s, 0);
    return key;
}

/* ------------------------------------------------------------------ streamed statistics */

/* metrics.c's blocked_sum over the finite scores of one side, fed in sorted order: blocks of
 * 4096 from the first finite score, four interleaved accumulators, and the last block's
 * remainder after its multiples of four in accumulator 0, block sums added in long double. */
typedef struct bsum {
    long double total;
    double acc[4], center;
    uint64_t i, n, tail_from; /* index of the next term; number of terms; start of the remainder */
    int squared;
} bsum;

static void bsum_init(bsum *s, uint64_t n, double center, int squared)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->center = center;
    s->squared = squared;
    uint64_t last_block = n ? (n - 1) / SUM_BLOCK * SUM_BLOCK : 0;
    s->tail_from = last_block + (n - last_block) / 4 * 4;
}

static void bsum_add(bsum *s, double x)
{
    double d = x - s->center;
    uint64_t in_block = s->i % SUM_BLOCK;
    int k = s->i >= s->tail_from ? 0 : (int)(in_block % 4);
    s->acc[k] += s->squared ? d * d : d;
    s->i++;
    if (s->i % SUM_BLOCK == 0 || s->i == s->n) {
        s->total += (long double)((s->acc[0] + s->acc[1]) + (s->acc[2] + s->acc[3]));
        memset(s->acc, 0, sizeof s->acc);
    }
}

/* The histograms of metrics.c's build_hist: bin b holds user values in [u_b, u_{b+1}) with
 * u_b = lo + b * width, computed the same way, the last bin everything from u_{bins-1}. */
typedef struct hist_state {
    double u[VB_HIST_BINS];
    int on;
} hist_state;

static int hist_begin(const vb_bounded *b, vb_hist *h, hist_state *hs, vb_err *e)
{
    memset(h, 0, sizeof *h);
    memset(hs, 0, sizeof *hs);
    h->bins = VB_HIST_BINS;
    h->is_distance = b->is_distance;
    h->gen = vb_calloc(h->bins, sizeof *h->gen, e);
    h->imp = h->gen ? vb_calloc(h->bins, sizeof *h->imp, e) : NULL;
    if (!h->imp)
        return -1;
    h->n_gen = b->n[GEN] - b->fta[GEN];
    h->n_imp = b->n[IMP] - b->fta[IMP];
    if (!h->n_gen && !h->n_imp)
        return 0;
    double lo = INFINITY, hi = -INFINITY;
    if (h->n_gen) {
        lo = fmin(lo, b->min_finite[GEN]);
        hi = fmax(hi, b->max_finite[GEN]);
    }
    if (h->n_imp) {
        lo = fmin(lo, b->min_finite[IMP]);
        hi = fmax(hi, b->max_finite[IMP]);
    }
    h->lo = b->is_distance ? -hi + 0.0 : lo;
    h->hi = b->is_distance ? -lo + 0.0 : hi;
    if (h->hi == h->lo) {
        h->lo -= 0.5;
        h->hi += 0.5;
    }
    h->width = (h->hi - h->lo) / (double)h->bins;
    for (size_t k = 1; k < h->bins; k++)
        hs->u[k] = h->lo + (double)k * h->width;
    hs->on = 1;
    return 0;
}

/* Count a user value into its bin: *k, the number of boundaries u_1..u_{bins-1} <= user,
 * moves with the values, which arrive sorted (ascending similarities: ascending user values,
 * or descending for distances), so it starts at 0 (ascending) or bins-1 (descending). */
static void hist_add(const hist_state *hs, const vb_hist *h, uint64_t *counts, double user, size_t *k)
{
    while (*k + 1 < h->bins && hs->u[*k + 1] <= user)
        ++*k;
    while (*k > 0 && hs->u[*k] > user)
        --*k;
    counts[*k]++;
}

/* LFW k-fold accuracy as vb_kfold_accuracy computes it: per test fold, the training threshold
 * that maximises accuracy over the other folds (pass 1, every fold at once, one tie group at a
 * time), then the test fold's accuracy at it (pass 2). */
typedef struct kfold_state {
    size_t k;
    int32_t *dense;                  /* fold id -> 0..k-1, -1 when absent */
    uint64_t *size, *gen;            /* trials and genuine trials per fold */
    uint64_t *correct, *best;        /* pass 1, per test fold */
    double *best_t, *prev;
    unsigned char *started;
    uint64_t *grp_g, *grp_i;         /* the current tie group's trials per fold */
    uint64_t grp_G, grp_I;
    uint64_t *right[2];              /* pass 2: correct test decisions per fold and side */
    uint64_t *tk;                    /* pass 2: thresholds as keys */
} kfold_state;

static void kfold_free(kfold_state *k)
{
    free(k->dense);
    free(k->size);
    free(k->gen);
    free(k->correct);
    free(k->best);
    free(k->best_t);
    free(k->prev);
    free(k->started);
    free(k->grp_g);
    free(k->grp_i);
    free(k->right[0]);
    free(k->right[1]);
    free(k->tk);
    memset(k, 0, sizeof *k);
}

/* 0: no k-fold (fewer than 2 folds), 1: ready, -1: error. */
static int kfold_begin(const vb_bounded *b, kfold_state *k, vb_err *e)
{
    memset(k, 0, sizeof *k);
    if (!b->with_folds)
        return 0;
    for (int f = 1; f < FOLD_IDS; f++)
        k->k += b->fold_count[GEN][f] + b->fold_count[IMP][f] > 0;
    if (k->k < 2) {
        k->k = 0; /* one fold: nothing to cross-validate (pass_walk tests k->k) */
        return 0;
    }
    size_t n = k->k;
    k->dense = vb_malloc(FOLD_IDS * sizeof *k->dense, e);
    k->size = vb_calloc(n, sizeof(uint64_t), e);
    k->gen = vb_calloc(n, sizeof(uint64_t), e);
    k->correct = vb_calloc(n, sizeof(uint64_t), e);
    k->best = vb_calloc(n, sizeof(uint64_t), e);
    k->best_t = vb_calloc(n, sizeof(double), e);
    k->prev = vb_calloc(n, sizeof(double), e);
    k->started = vb_calloc(n, 1, e);
    k->grp_g = vb_calloc(n, sizeof(uint64_t), e);
    k->grp_i = vb_calloc(n, sizeof(uint64_t), e);
    k->right[0] = vb_calloc(n, sizeof(uint64_t), e);
    k->right[1] = vb_calloc(n, sizeof(uint64_t), e);
    k->tk = vb_calloc(n, sizeof(uint64_t), e);
    if (!k->dense || !k->size || !k->gen || !k->correct || !k->best || !k->best_t || !k->prev || !k->started ||
        !k->grp_g || !k->grp_i || !k->right[0] || !k->right[1] || !k->tk) {
        kfold_free(k);
        return -1;
    }
    uint64_t all_gen = 0;
    int32_t next = 0;
    k->dense[0] = -1;
    for (int f = 1; f < FOLD_IDS; f++) {
        uint64_t g = b->fold_count[GEN][f], i = b->fold_count[IMP][f];
        k->dense[f] = g + i ? next++ : -1;
        if (g + i) {
            k->size[k->dense[f]] = g + i;
            k->gen[k->dense[f]] = g;
            all_gen += g;
        }
    }
    for (size_t f = 0; f < n; f++)
        k->correct[f] = all_gen - k->gen[f]; /* accept everything: every training genuine is right */
    return 1;
}

static void kfold_see(kfold_state *k, uint32_t fold_id, int genuine)
{
    int32_t f = k->dense[fold_id];
    if (f < 0)
        return;
    if (genuine)
        k->grp_g[f]++, k->grp_G++;
    else
        k->grp_i[f]++, k->grp_I++;
}

/* The end of a tie group at similarity v: best_training_threshold's step for every fold. */
static void kfold_group(kfold_state *k, double v)
{
    if (k->grp_G + k->grp_I == 0)
        return;
    for (size_t f = 0; f < k->k; f++) {
        uint64_t g = k->grp_G - k->grp_g[f], im = k->grp_I - k->grp_i[f];
        if (g + im) {
            if (!k->started[f] || k->correct[f] > k->best[f]) {
                k->best[f] = k->correct[f];
                k->best_t[f] = !k->started[f] ? v : vb_metrics_midpoint(k->prev[f], v);
            }
            k->started[f] = 1;
            k->correct[f] = k->correct[f] + im - g;
            k->prev[f] = v;
        }
        k->grp_g[f] = k->grp_i[f] = 0;
    }
    k->grp_G = k->grp_I = 0;
}

static void kfold_thresholds(kfold_state *k)
{
    for (size_t f = 0; f < k->k; f++) {
        if (k->correct[f] > k->best[f])
            k->best_t[f] = nextafter(k->prev[f], INFINITY);
        k->tk[f] = vb_double_to_key(k->best_t[f]);
    }
}

static void kfold_result(const kfold_state *k, vb_metrics *m)
{
    double sum = 0;
    double *a = malloc(k->k * sizeof *a);
    if (!a)
        return; /* no KFOLD rows: reported by the caller's check of m->have */
    for (size_t f = 0; f < k->k; f++) {
        a[f] = (double)(k->right[0][f] + k->right[1][f]) / (double)k->size[f];
        sum += a[f];
    }
    double kk = (double)k->k, mean = sum / kk, ss = 0;
    for (size_t f = 0; f < k->k; f++)
        ss += (a[f] - mean) * (a[f] - mean);
    free(a);
    m->accuracy_10fold_mean = mean;
    m->accuracy_10fold_std = sqrt(ss / kk);
    m->accuracy_10fold_se = sqrt(ss / (kk - 1)) / sqrt(kk);
    m->accuracy_10fold_folds = kk;
    m->have |= VB_MG_KFOLD;
}

/* ------------------------------------------------------------------ the passes */

static double user_value(const vb_bounded *b, double sim)
{
    return (b->is_distance ? -sim : sim) + 0.0;
}

/* Pass 1: the walk, the histograms, the means and the k-fold training thresholds. */
static int pass_walk(vb_bounded *b, vb_walk *w, vb_hist *h, const hist_state *hs, bsum mean[2], kfold_state *kf,
                     vb_err *e)
{
    stream st[2];
    if (stream_open(b, GEN, &st[GEN], e))
        return -1;
    if (stream_open(b, IMP, &st[IMP], e)) {
        stream_free(&st[GEN]);
        return -1;
    }
    uint64_t *counts[2] = {h->gen, h->imp};
    size_t bin[2];
    bin[GEN] = bin[IMP] = b->is_distance ? h->bins - 1 : 0;
    while (!stream_empty(&st[GEN]) || !stream_empty(&st[IMP])) {
        uint64_t key = stream_empty(&st[IMP]) ? stream_peek(&st[GEN])
                       : stream_empty(&st[GEN]) ? stream_peek(&st[IMP])
                       : (stream_peek(&st[GEN]) <= stream_peek(&st[IMP]) ? stream_peek(&st[GEN]) : stream_peek(&st[IMP]));
        double v = vb_key_to_double(key);
        uint64_t n[2] = {0, 0};
        for (int s = 0; s < 2; s++)
            while (!stream_empty(&st[s]) && stream_peek(&st[s]) == key) {
                uint32_t fold;
                stream_pop(&st[s], &fold);
                n[s]++;
                if (kf->k)
                    kfold_see(kf, fold, s == GEN);
            }
        if (v != -INFINITY)
            for (int s = 0; s < 2; s++) {
                double u = user_value(b, v);
                for (uint64_t j = 0; j < n[s]; j++) {
                    bsum_add(&mean[s], v);
                    if (hs->on)
                        hist_add(hs, h, counts[s], u, &bin[s]);
                }
            }
        vb_walk_group(w, v, n[GEN], n[IMP]);
        if (kf->k)
            kfold_group(kf, v);
    }
    int failed = st[GEN].failed || st[IMP].failed;
    stream_free(&st[GEN]);
    stream_free(&st[IMP]);
    if (failed)
        return vb_fail(e, VB_EXIT_IO, "%s: reading back the sorted runs failed", b->tmp_dir);
    return 0;
}

/* Pass 2, one side: the variance sum and the k-fold test decisions. */
typedef struct side_pass {
    vb_bounded *b;
    int side;
    bsum var;
    kfold_state *kf;
    int rc;
    vb_err e;
} side_pass;

static void *pass_side(void *arg)
{
    side_pass *p = arg;
    stream st;
    if (stream_open(p->b, p->side, &st, &p->e)) {
        p->rc = -1;
        return NULL;
    }
    kfold_state *kf = p->kf;
    uint64_t *right = kf->k ? kf->right[p->side] : NULL;
    while (!stream_empty(&st)) {
        uint32_t fold;
        uint64_t key = stream_pop(&st, &fold);
        double v = vb_key_to_double(key);
        if (v != -INFINITY)
            bsum_add(&p->var, v);
        if (right) {
            int32_t f = kf->dense[fold];
            if (f >= 0)
                right[f] += (key >= kf->tk[f]) == (p->side == GEN);
        }
    }
    if (st.failed)
        p->rc = vb_fail(&p->e, VB_EXIT_IO, "%s: reading back the sorted runs failed", p->b->tmp_dir);
    stream_free(&st);
    return NULL;
}

static double dprime_of(const vb_bounded *b, const bsum mean_sum[2], side_pass pass[2])
{
    uint64_t ng = b->n[GEN] - b->fta[GEN], ni = b->n[IMP] - b->fta[IMP];
    if (!ng || !ni)
        return NAN;
    double mg = (double)mean_sum[GEN].total / (double)ng, mi = (double)mean_sum[IMP].total / (double)ni;
    double vg = (double)pass[GEN].var.total / (double)ng, vi = (double)pass[IMP].var.total / (double)ni;
    double diff = fabs(mg - mi), den = sqrt((vg + vi) / 2);
    if (den == 0)
        return diff == 0 ? NAN : INFINITY;
    return diff / den;
}

int vb_bounded_finish(vb_bounded *b, vb_metrics *out, vb_bounded_stats *stats, vb_err *e)
{
    vb_metrics_init(out);
    if (stats)
        memset(stats, 0, sizeof *stats);
    uint64_t n = b->trials;
    if (!b->n[GEN] || !b->n[IMP]) {
        vb_fail(e, VB_EXIT_INPUT, "%zu trials hold no %s trial: error rates are undefined", (size_t)n,
                b->n[GEN] ? "impostor" : "genuine");
        vb_bounded_abort(b);
        return -1;
    }
    double t0 = vb_now();
    for (int s = 0; s < 2; s++) { /* the last buffer stays in memory as one more run */
        b->mem_n[s] = b->nb[s];
        b->mem_keys[s] = b->nb[s] ? sort_side(b, s, &b->mem_vals[s]) : NULL;
    }
    int rc = b->spill && fflush(b->spill) ? vb_fail(e, VB_EXIT_IO, "%s: writing the sorted runs failed: %s",
                                                     b->tmp_dir, strerror(errno)) : 0;
    double t1 = vb_now();
    b->sort_s += t1 - t0;
    vb_walk *w = rc ? NULL : vb_walk_begin(b->n[GEN], b->n[IMP], b->fta[GEN], b->fta[IMP], b->is_distance, out, e);
    hist_state hs;
    kfold_state kf;
    int have_kfold = w ? kfold_begin(b, &kf, e) : -1;
    rc = have_kfold < 0 || hist_begin(b, &out->hist, &hs, e);
    bsum mean[2];
    bsum_init(&mean[GEN], b->n[GEN] - b->fta[GEN], 0, 0);
    bsum_init(&mean[IMP], b->n[IMP] - b->fta[IMP], 0, 0);
    rc = rc || pass_walk(b, w, &out->hist, &hs, mean, &kf, e);
    size_t hull = w ? vb_walk_hull_blocks(w) : 0;
    side_pass pass[2];
    if (!rc) {
        if (kf.k)
            kfold_thresholds(&kf);
        for (int s = 0; s < 2; s++) {
            pass[s] = (side_pass){.b = b, .side = s, .kf = &kf};
            uint64_t nf = b->n[s] - b->fta[s];
            bsum_init(&pass[s].var, nf, nf ? (double)mean[s].total / (double)nf : 0, 1);
        }
        pthread_t thread;
        int threaded = pthread_create(&thread, NULL, pass_side, &pass[IMP]) == 0;
        pass_side(&pass[GEN]);
        if (threaded)
            pthread_join(thread, NULL);
        else
            pass_side(&pass[IMP]);
        for (int s = 0; s < 2 && !rc; s++)
            if (pass[s].rc)
                *e = pass[s].e, rc = -1;
    }
    if (w) {
        int end_rc = rc ? (vb_walk_end(w, NAN, out, &(vb_err){0}), -1) : vb_walk_end(w, dprime_of(b, mean, pass), out, e);
        rc = rc || end_rc;
    }
    if (!rc && kf.k)
        kfold_result(&kf, out);
    if (have_kfold > 0)
        kfold_free(&kf);
    double t2 = vb_now();
    out->build_s = b->sort_s;
    out->walk_s = t2 - t1;
    if (stats) {
        stats->trials = n;
        for (int s = 0; s < 2; s++)
            stats->runs[s] = b->n_runs[s] + (b->mem_n[s] > 0);
        stats->spilled_bytes = b->spill_bytes;
        stats->hull_blocks = hull;
        stats->sort_s = b->sort_s;
        stats->merge_s = t2 - t1;
    }
    vb_bounded_abort(b);
    if (rc)
        vb_metrics_free(out);
    return rc ? -1 : 0;
}

int vb_metrics_compute_bounded(const vb_scores *s, const vb_bounded_opts *o, vb_metrics *out,
                               vb_bounded_stats *stats, vb_err *e)
{
    vb_bounded *b = vb_bounded_begin(s->is_distance, s->fold != NULL, o, e);
    if (!b)
        return -1;
    for (size_t at = 0; at < s->n; at += FEED_BLOCK) {
        size_t n = s->n - at < FEED_BLOCK ? s->n - at : FEED_BLOCK;
        vb_scores block = {.score = s->score + at, .label = s->label + at, .fold = s->fold ? s->fold + at : NULL,
                           .n = n, .cap = n, .is_distance = s->is_distance};
        if (vb_bounded_add(b, &block, e)) {
            vb_bounded_abort(b);
            return -1;
        }
    }
    return vb_bounded_finish(b, out, stats, e);
}
