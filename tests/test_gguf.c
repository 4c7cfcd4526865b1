/* GGUF v3: write/read round trip, and refusal of corrupted files (every truncation,
 * bad magic/version, counts and lengths that overflow, bad types, offsets outside the
 * file or misaligned, overlapping tensors). Under SAN=1 this also proves no read past a
 * buffer and no huge allocation from a hostile count. */
#include <stdlib.h>
#include <string.h>

#include "models/gguf.h"
#include "tests/testlib.h"

/* ---- a byte builder for hand-made (possibly hostile) files */
typedef struct buf {
    uint8_t d[4096];
    size_t n;
} buf;

static void u32(buf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->d[b->n++] = (uint8_t)(v >> (8 * i));
}

static void u64(buf *b, uint64_t v)
{
    u32(b, (uint32_t)v);
    u32(b, (uint32_t)(v >> 32));
}

static void str(buf *b, const char *s)
{
    u64(b, strlen(s));
    memcpy(b->d + b->n, s, strlen(s));
    b->n += strlen(s);
}

static void pad(buf *b)
{
    while (b->n % 32)
        b->d[b->n++] = 0;
}

/* Parse a copy of b; returns the parse result and leaves the message in e. */
static int parse(const buf *b, vb_err *e)
{
    uint8_t *copy = malloc(b->n ? b->n : 1);
    memcpy(copy, b->d, b->n);
    vb_model m;
    int rc = vb_model_parse(copy, b->n, "hostile.gguf", &m, e);
    if (rc == 0)
        vb_model_free(&m);
    return rc;
}

static void expect_refused(const buf *b, const char *what, const char *needle)
{
    vb_err e = {0};
    int rc = parse(b, &e);
    CHECKF(rc == -1, "%s: accepted", what);
    CHECKF(strstr(e.msg, "hostile.gguf") != NULL, "%s: message does not name the file: %s", what, e.msg);
    CHECKF(!needle || strstr(e.msg, needle), "%s: message '%s' lacks '%s'", what, e.msg, needle);
    CHECKF(e.code == VB_EXIT_INPUT, "%s: exit code %d", what, e.code);
}

/* A valid file: one u32 kv, one F32 tensor of 8 floats at offset 0. Builders below
 * replace single fields. */
typedef struct spec {
    const char *magic;
    uint32_t version;
    uint64_t n_tensors, n_kv;
    uint64_t key_len;        /* 0: real length */
    uint32_t kv_type;
    uint32_t n_dims;
    uint64_t ne0;
    uint32_t ttype;
    uint64_t offset;
    int second_tensor;       /* add a second tensor at second_offset */
    uint64_t second_offset;
    const char *second_name;
} spec;

static spec valid(void)
{
    return (spec){"GGUF", 3, 1, 1, 0, VB_GGUF_UINT32, 1, 8, VB_F32, 0, 0, 0, "t1"};
}

static void build(buf *b, spec s)
{
    memset(b, 0, sizeof *b);
    memcpy(b->d, s.magic, 4);
    b->n = 4;
    u32(b, s.version);
    u64(b, s.n_tensors + (s.second_tensor ? 1 : 0));
    u64(b, s.n_kv);
    if (s.key_len)
        u64(b, s.key_len), memcpy(b->d + b->n, "some.key", 8), b->n += 8;
    else
        str(b, "some.key");
    u32(b, s.kv_type);
    u32(b, 7);
    str(b, "t0");
    u32(b, s.n_dims);
    for (uint32_t d = 0; d < s.n_dims && d < 8; d++)
        u64(b, d == 0 ? s.ne0 : 1);
    u32(b, s.ttype);
    u64(b, s.offset);
    if (s.second_tensor) {
        str(b, s.second_name);
        u32(b, 1);
        u64(b, 8);
        u32(b, VB_F32);
        u64(b, s.second_offset);
    }
    pad(b);
    for (int i = 0; i < 64; i++) /* data: two tensors' worth of floats */
        u32(b, 0x3f800000u);
}

static void test_hand_made_valid_file(void)
{
    buf b;
    build(&b, valid());
    vb_err e = {0};
    CHECKF(parse(&b, &e) == 0, "valid file refused: %s", e.msg);
}

static void test_hostile_headers(void)
{
    buf b;
    spec s;
    s = valid(), s.magic = "GGUG", build(&b, s), expect_refused(&b, "bad magic", "magic");
    s = valid(), s.version = 2, build(&b, s), expect_refused(&b, "version 2", "version");
    s = valid(), s.n_tensors = (uint64_t)1 << 62, build(&b, s), expect_refused(&b, "huge tensor count", "count");
    s = valid(), s.n_kv = UINT64_MAX, build(&b, s), expect_refused(&b, "huge kv count", "count");
    s = valid(), s.n_kv = 3, build(&b, s), expect_refused(&b, "kv count beyond the kvs", NULL);
    s = valid(), s.key_len = UINT64_MAX - 3, build(&b, s), expect_refused(&b, "huge key length", "length");
    s = valid(), s.key_len = 5000, build(&b, s), expect_refused(&b, "key length beyond file", "truncated");
    s = valid(), s.kv_type = 99, build(&b, s), expect_refused(&b, "unknown value type", "type");
    s = valid(), s.n_dims = 0, build(&b, s), expect_refused(&b, "zero dims", "dimension");
    s = valid(), s.n_dims = 5, build(&b, s), expect_refused(&b, "five dims", "dimension");
    s = valid(), s.ne0 = 0, build(&b, s), expect_refused(&b, "zero extent", "dimension");
    s = valid(), s.ne0 = (uint64_t)1 << 50, build(&b, s), expect_refused(&b, "absurd extent", "dimension");
    s = valid(), s.ttype = 3, build(&b, s), expect_refused(&b, "Q4_1 type", "type");
    s = valid(), s.ttype = VB_Q8_0, s.ne0 = 8, build(&b, s), expect_refused(&b, "Q8_0 row of 8", "block");
    s = valid(), s.offset = 4, build(&b, s), expect_refused(&b, "misaligned offset", "aligned");
    s = valid(), s.offset = 1u << 20, build(&b, s), expect_refused(&b, "offset outside", "outside");
    s = valid(), s.offset = UINT64_MAX - 31, build(&b, s), expect_refused(&b, "offset that overflows", "outside");
    s = valid(), s.ne0 = 1000, build(&b, s), expect_refused(&b, "tensor running past the end", "outside");
    s = valid(), s.second_tensor = 1, s.second_offset = 0, build(&b, s), expect_refused(&b, "overlap", "overlap");
    s = valid(), s.second_tensor = 1, s.second_name = "t0", s.second_offset = 32, build(&b, s),
        expect_refused(&b, "duplicate name", "duplicate");
}

static void test_hostile_arrays(void)
{
    buf b = {0};
    memcpy(b.d, "GGUF", 4);
    b.n = 4;
    u32(&b, 3);
    u64(&b, 0);
    u64(&b, 1);
    str(&b, "arr");
    u32(&b, VB_GGUF_ARRAY);
    u32(&b, VB_GGUF_FLOAT64);
    u64(&b, (uint64_t)1 << 61); /* 2^61 doubles: must be refused before allocating */
    expect_refused(&b, "huge array", "array");
    b.n -= 12;
    u32(&b, VB_GGUF_ARRAY);
    u64(&b, 1);
    expect_refused(&b, "nested array", "nested");
    b.n -= 12;
    u32(&b, VB_GGUF_STRING);
    u64(&b, 2);
    u64(&b, UINT64_MAX);
    expect_refused(&b, "string element length", "length");
    b.n = 24;
    str(&b, "general.alignment");
    u32(&b, VB_GGUF_UINT32);
    u32(&b, 48);
    expect_refused(&b, "alignment 48", "alignment");
}

static void make_writer_file(uint8_t **data, size_t *size)
{
    vb_gguf_writer *w = vb_gguf_writer_new();
    float f32[64], mean[3] = {1.5f, -2.25f, 1e-7f};
    for (int i = 0; i < 64; i++)
        f32[i] = (float)i * 0.25f - 3.0f;
    uint16_t f16[64];
    vb_convert_row_f16(f32, f16, 64);
    uint8_t q8[2 * VB_Q8_0_BLOCK_BYTES], q4[2 * VB_Q4_0_BLOCK_BYTES];
    vb_quantize_row_q8_0(f32, q8, 64);
    vb_quantize_row_q4_0(f32, q4, 64);
    const char *names[] = {"alpha", "beta, with comma", ""};
    int64_t ne4[4] = {4, 2, 2, 4}, ne2[2] = {32, 2}, ne1[1] = {3};
    vb_gguf_set_str(w, "general.architecture", "face_recognition");
    vb_gguf_set_u32(w, "answer", 42);
    vb_gguf_set_f32(w, "pi", 3.25f);
    vb_gguf_set_f32_array(w, "mean", mean, 3);
    vb_gguf_set_str_array(w, "names", names, 3);
    vb_gguf_set_u32(w, "answer", 43); /* replaces */
    vb_gguf_add_tensor(w, "conv/filters", VB_F32, 4, ne4, f32, sizeof f32);
    vb_gguf_add_tensor(w, "half", VB_F16, 2, ne2, f16, sizeof f16);
    vb_gguf_add_tensor(w, "q8", VB_Q8_0, 2, ne2, q8, sizeof q8);
    vb_gguf_add_tensor(w, "q4", VB_Q4_0, 2, ne2, q4, sizeof q4);
    vb_gguf_add_tensor(w, "vec", VB_F32, 1, ne1, mean, sizeof mean);
    vb_err e = {0};
    CHECK(vb_gguf_serialize(w, data, size, &e) == 0);
    vb_gguf_writer_free(w);
}

static void test_round_trip(void)
{
    uint8_t *data;
    size_t size;
    make_writer_file(&data, &size);
    vb_model m;
    vb_err e = {0};
    int rc = vb_model_parse(data, size, "roundtrip.gguf", &m, &e);
    CHECKF(rc == 0, "parse: %s", e.msg);
    if (rc)
        return;
    const char *s;
    uint32_t u;
    float f, mean[3];
    CHECK(vb_model_get_str(&m, "general.architecture", &s, &e) == 0 && !strcmp(s, "face_recognition"));
    CHECK(vb_model_get_u32(&m, "answer", &u, &e) == 0 && u == 43);
    CHECK(vb_model_get_f32(&m, "pi", &f, &e) == 0 && f == 3.25f);
    CHECK(vb_model_get_f32_array(&m, "mean", mean, 3, &e) == 0 && mean[0] == 1.5f && mean[1] == -2.25f &&
          mean[2] == 1e-7f);
    CHECK(vb_model_get_f32_array(&m, "mean", mean, 2, &e) == -1);
    CHECK(vb_model_get_u32(&m, "pi", &u, &e) == -1 && strstr(e.msg, "u32"));
    CHECK(vb_model_get_u32(&m, "missing", &u, &e) == -1 && strstr(e.msg, "missing"));
    const vb_kv *names = vb_model_kv(&m, "names");
    CHECK(names && names->arr_n == 3 && !strcmp(names->arr_s[1], "beta, with comma") && !strcmp(names->arr_s[2], ""));
    CHECK(m.n_tensors == 5 && m.n_kv == 6); /* the 5 set above + the tensor-data checksum */
    CHECK(m.data_checksum == 1 && vb_model_kv(&m, VB_GGUF_KEY_DATA_SHA256));
    const vb_tensor *t = vb_model_tensor(&m, "conv/filters");
    CHECK(t && t->type == VB_F32 && t->n_dims == 4 && t->ne[0] == 4 && t->ne[3] == 4 && t->nbytes == 256);
    CHECK(t && ((const float *)t->data)[5] == 5 * 0.25f - 3.0f);
    const vb_tensor *q8 = vb_model_tensor(&m, "q8"), *q4 = vb_model_tensor(&m, "q4");
    CHECK(q8 && q8->nbytes == 2 * VB_Q8_0_BLOCK_BYTES && q4 && q4->nbytes == 2 * VB_Q4_0_BLOCK_BYTES);
    for (size_t i = 0; i < m.n_tensors; i++)
        CHECKF((size_t)((const uint8_t *)m.tensors[i].data - m.file_data) % 32 == 0, "%s misaligned", m.tensors[i].name);
    float back[64];
    CHECK(q8 && vb_tensor_to_f32(q8, back, &e) == 0 && fabsf(back[63] - 12.75f) < 0.06f);
    CHECK(vb_model_tensor_bytes(&m) == 256 + 128 + 68 + 36 + 12);
    vb_model_free(&m);
}

/* Every prefix that cuts into the header or the tensor data must be refused cleanly. */
static void test_every_truncation(void)
{
    uint8_t *data;
    size_t size;
    make_writer_file(&data, &size);
    vb_model m;
    vb_err e = {0};
    CHECK(vb_model_parse(data, size, "full.gguf", &m, &e) == 0);
    size_t end = 0; /* end of the last tensor's bytes: trailing padding may be cut */
    for (size_t i = 0; i < m.n_tensors; i++) {
        size_t te = (size_t)((const uint8_t *)m.tensors[i].data - m.file_data) + m.tensors[i].nbytes;
        end = te > end ? te : end;
    }
    int refused = 0, accepted_short = 0;
    for (size_t len = 0; len < size; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, m.file_data, len);
        vb_model t;
        vb_err te = {0};
        int rc = vb_model_parse(copy, len, "cut.gguf", &t, &te);
        if (rc == 0) {
            vb_model_free(&t);
            accepted_short += len < end;
        } else {
            refused += len < end;
            CHECKF(strstr(te.msg, "cut.gguf") != NULL, "len %zu: %s", len, te.msg);
        }
    }
    CHECKF(accepted_short == 0, "%d truncated files accepted", accepted_short);
    CHECK(refused == (int)end);
    vb_model_free(&m);
}

/* Random byte flips: must never crash (the sanitizer build checks reads). */
static void test_random_corruption(void)
{
    uint8_t *data;
    size_t size;
    make_writer_file(&data, &size);
    uint64_t s = 12345;
    int parsed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        for (int k = 0; k < 4; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(s >> 33) % 400; /* the header region */
            copy[pos < size ? pos : 0] ^= (uint8_t)(s >> 20);
        }
        vb_model t;
        vb_err e = {0};
        if (vb_model_parse(copy, size, "flip.gguf", &t, &e) == 0) {
            parsed++;
            vb_model_free(&t);
        } else {
            CHECKF(e.msg[0] != 0, "refusal without a message");
        }
    }
    CHECK(parsed < 3000);
    free(data);
}

/* issue 10 item 3: 16 bytes flipped in the tensor data are refused by the checksum the
 * writer records; a file without the checksum (older writer) is still read but flagged. */
static void test_data_checksum(void)
{
    uint8_t *data;
    size_t size;
    make_writer_file(&data, &size);
    vb_model m;
    vb_err e = {0};
    CHECK(vb_model_parse(data, size, "sum.gguf", &m, &e) == 0 && m.data_checksum == 1);
    const vb_tensor *t = vb_model_tensor(&m, "conv/filters");
    size_t at = t ? (size_t)((const uint8_t *)t->data - m.file_data) + 40 : 0;
    uint8_t *copy = malloc(size);
    memcpy(copy, m.file_data, size);
    for (int k = 0; k < 16; k++)
        copy[at + k] ^= 0x01; /* low mantissa bits: still finite, plausible weights */
    vb_model bad;
    vb_err be = {0};
    CHECK(vb_model_parse(copy, size, "flipped.gguf", &bad, &be) == -1 && be.code == VB_EXIT_INPUT);
    CHECKF(strstr(be.msg, "flipped.gguf") && strstr(be.msg, "SHA-256"), "%s", be.msg);
    vb_model_free(&m);
    /* The hand-made file of test_hand_made_valid_file has no checksum key: read, flagged. */
    buf b;
    build(&b, valid());
    uint8_t *old = malloc(b.n);
    memcpy(old, b.d, b.n);
    CHECK(vb_model_parse(old, b.n, "old.gguf", &m, &e) == 0 && m.data_checksum == 0);
    vb_model_free(&m);
}

/* A writer file with one tensor of `type` whose first value (or block scale) is `bad_half`
 * (fp16 bits) or, for F32, NaN. */
static int parse_with_bad_value(vb_dtype type, vb_err *e)
{
    vb_gguf_writer *w = vb_gguf_writer_new();
    float f32[64];
    for (int i = 0; i < 64; i++)
        f32[i] = (float)i * 0.5f;
    _Alignas(4) uint8_t raw[64 * 4];
    size_t n;
    int64_t ne[1] = {64};
    if (type == VB_F32) {
        f32[7] = NAN;
        memcpy(raw, f32, n = sizeof f32);
    } else if (type == VB_F16) {
        vb_convert_row_f16(f32, (uint16_t *)raw, 64);
        raw[2 * 5] = 0x00, raw[2 * 5 + 1] = 0x7c; /* +inf */
        n = 128;
    } else if (type == VB_Q8_0) {
        vb_quantize_row_q8_0(f32, raw, 64);
        raw[VB_Q8_0_BLOCK_BYTES] = 0x01, raw[VB_Q8_0_BLOCK_BYTES + 1] = 0x7e; /* block 1 scale NaN */
        n = 2 * VB_Q8_0_BLOCK_BYTES;
    } else {
        vb_quantize_row_q4_0(f32, raw, 64);
        raw[0] = 0x00, raw[1] = 0xfc; /* -inf */
        n = 2 * VB_Q4_0_BLOCK_BYTES;
    }
    vb_gguf_add_tensor(w, "good", VB_F32, 1, (const int64_t[]){8}, f32 + 8, 8 * sizeof(float));
    vb_gguf_add_tensor(w, "layer7/weights", type, 1, ne, raw, n);
    uint8_t *data;
    size_t size;
    CHECK(vb_gguf_serialize(w, &data, &size, e) == 0);
    vb_gguf_writer_free(w);
    vb_model m;
    int rc = vb_model_parse(data, size, "nan.gguf", &m, e);
    if (rc == 0)
        vb_model_free(&m);
    return rc;
}

/* issue 10 item 3: a NaN/inf weight (F32, F16) or block scale (Q8_0, Q4_0) is refused at
 * load, naming the file and the tensor, exit 3. */
static void test_non_finite_weights(void)
{
    const vb_dtype types[] = {VB_F32, VB_F16, VB_Q8_0, VB_Q4_0};
    for (size_t i = 0; i < VB_ARRAY_LEN(types); i++) {
        vb_err e = {0};
        CHECKF(parse_with_bad_value(types[i], &e) == -1, "%s: non-finite value accepted", vb_dtype_name(types[i]));
        CHECKF(e.code == VB_EXIT_INPUT && strstr(e.msg, "nan.gguf") && strstr(e.msg, "layer7/weights") &&
               strstr(e.msg, "non-finite"), "%s: %s", vb_dtype_name(types[i]), e.msg);
    }
}

int main(void)
{
    RUN(test_hand_made_valid_file);
    RUN(test_hostile_headers);
    RUN(test_hostile_arrays);
    RUN(test_round_trip);
    RUN(test_every_truncation);
    RUN(test_random_corruption);
    RUN(test_data_checksum);
    RUN(test_non_finite_weights);
    return vb_test_finish();
}
