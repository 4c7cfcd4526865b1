/* String pool and string->index map used by the dataset loaders. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/builder.h"

struct vb_pool_block {
    vb_pool_block *next;
    size_t used, cap;
    char data[];
};

enum { POOL_BLOCK = 64 * 1024 };

static char *pool_alloc(vb_strpool *p, size_t n, vb_err *e)
{
    vb_pool_block *b = p->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > POOL_BLOCK ? n : POOL_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) {
            vb_fail(e, VB_EXIT_IO, "out of memory storing dataset strings");
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = p->head;
        p->head = b;
    }
    char *s = b->data + b->used;
    b->used += n;
    return s;
}

char *vb_pool_strndup(vb_strpool *p, const char *s, size_t n, vb_err *e)
{
    char *d = pool_alloc(p, n + 1, e);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

char *vb_pool_strdup(vb_strpool *p, const char *s, vb_err *e)
{
    return vb_pool_strndup(p, s, strlen(s), e);
}

char *vb_pool_printf(vb_strpool *p, vb_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        vb_fail(e, VB_EXIT_IO, "formatting a dataset string failed");
        return NULL;
    }
    char *d = pool_alloc(p, (size_t)n + 1, e);
    if (d) {
        va_start(ap, fmt);
        vsnprintf(d, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return d;
}

void vb_pool_free(vb_strpool *p)
{
    vb_pool_block *b = p->head;
    while (b) {
        vb_pool_block *next = b->next;
        free(b);
        b = next;
    }
    p->head = NULL;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

int64_t vb_strmap_get(const vb_strmap *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t mask = m->cap - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        if (!m->keys[i])
            return -1;
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
}

static int strmap_grow(vb_strmap *m, vb_err *e)
{
    size_t cap = m->cap ? 2 * m->cap : 64;
    const char **keys = calloc(cap, sizeof *keys);
    uint32_t *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return vb_fail(e, VB_EXIT_IO, "out of memory indexing dataset ids");
    }
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->keys[j])
            continue;
        size_t i = hash_str(m->keys[j]) & (cap - 1);
        while (keys[i])
            i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int vb_strmap_put(vb_strmap *m, const char *key, uint32_t val, uint32_t *existing, vb_err *e)
{
    if (2 * (m->n + 1) > m->cap && strmap_grow(m, e))
        return -1;
    size_t mask = m->cap - 1;
    size_t i = hash_str(key) & mask;
    for (; m->keys[i]; i = (i + 1) & mask) {
        if (strcmp(m->keys[i], key) == 0) {
            if (existing)
                *existing = m->vals[i];
            return 1;
        }
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 0;
}

void vb_strmap_free(vb_strmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
