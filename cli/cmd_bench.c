/* veribench bench: inference throughput and latency of a backend on synthetic inputs
 * (decoding excluded), as CSV. `make bench` runs it over the backends present and writes
 * bench/results/<host>.csv. Timing never appears in tests; it lives here. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/csv_write.h"
#include "cli/engine.h"
#include "models/quantize.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: veribench bench [--model M] [--backend B] [--batch N[,N...]] [--quant L[,L...]]\n"
            "                       [--seconds S]\n\n"
            "Times the model on random inputs (no image decoding), one warm-up call per batch\n"
            "size, then repeated calls for at least S seconds (default 3) and 3 calls. Prints CSV:\n"
            "backend,device,quant,activations,batch,calls,ms_per_face,faces_per_s,p50_ms,p90_ms,p99_ms\n"
            "(per-call latency percentiles, nearest rank).\n\n"
            "  --model FILE     GGUF model (default %s)\n"
            "  --backend B      cpu (default), cpu:ref, vulkan, vulkan:N\n"
            "  --batch LIST     batch sizes, comma-separated (default 1)\n"
            "  --quant LIST     weight levels fp32, fp16, int8, int4 (default: the model as stored),\n"
            "                   quantized in memory from the model\n"
            "  --seconds S      minimum measuring time per batch size (default 3)\n"
            "  --threads N      CPU threads\n"
            "  --no-fp16        Vulkan: fp32 variants only\n"
            "  --no-header      omit the CSV header\n",
            vb_default_model_path());
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double nearest_rank(const double *sorted, int n, double p)
{
    int k = (int)(p * n + 0.999999999);
    return sorted[(k < 1 ? 1 : k > n ? n : k) - 1];
}

static int bench_batch(vb_engine *en, const char *quant, int batch, double seconds, vb_err *e)
{
    size_t in_size = (size_t)en->graph.in_h * en->graph.in_w * en->graph.in_c;
    float *in = vb_malloc(in_size * batch * sizeof(float), e);
    float *out = vb_malloc((size_t)en->graph.out_dim * batch * sizeof(float), e);
    int cap = 1 << 16, n = 0, rc = -1;
    double *times = vb_malloc(cap * sizeof(double), e);
    if (!in || !out || !times)
        goto done;
    uint32_t s = 1;
    for (size_t i = 0; i < in_size * batch; i++) {
        s = s * 1664525u + 1013904223u;
        in[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    if (vb_backend_run(en->prepared, in, batch, out, NULL, NULL, e)) /* warm-up */
        goto done;
    double start = vb_now();
    while ((n < 3 || vb_now() - start < seconds) && n < cap) {
        double t0 = vb_now();
        if (vb_backend_run(en->prepared, in, batch, out, NULL, NULL, e))
            goto done;
        times[n++] = (vb_now() - t0) * 1e3;
    }
    double total = 0;
    for (int i = 0; i < n; i++)
        total += times[i];
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    vb_csv_field(stdout, en->device.backend);
    putchar(',');
    vb_csv_field(stdout, en->device.name);
    printf(",%s,%s,%d,%d,%.3f,%.2f,%.3f,%.3f,%.3f\n", quant, en->device.uses_fp16 ? "fp16" : "fp32", batch, n,
           total / n / batch,
           1e3 * n * batch / total, nearest_rank(times, n, 0.5), nearest_rank(times, n, 0.9),
           nearest_rank(times, n, 0.99));
    fflush(stdout);
    rc = 0;
done:
    free(in);
    free(out);
    free(times);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"backend", required_argument, 0, 'b'},
        {"batch", required_argument, 0, 'B'},   {"seconds", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'}, {"no-fp16", no_argument, 0, 'F'},
        {"no-header", no_argument, 0, 'H'},     {"quant", required_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    vb_engine_opts eo = {0};
    const char *batches = "1", *quants = NULL;
    double seconds = 3;
    int header = 1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': eo.model_path = optarg; break;
        case 'b': eo.backend = optarg; break;
        case 'B': batches = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 't': eo.threads = atoi(optarg); break;
        case 'F': eo.no_fp16 = 1; break;
        case 'H': header = 0; break;
        case 'q': quants = optarg; break;
        case 'h': usage(stdout); return VB_EXIT_OK;
        default: usage(stderr); return VB_EXIT_USAGE;
        }
    }
    if (optind != argc || seconds < 0 || seconds > 3600) {
        usage(stderr);
        return VB_EXIT_USAGE;
    }
    int list[32], n = 0;
    for (const char *p = batches; *p && n < 32;) {
        char *end;
        long b = strtol(p, &end, 10);
        if (end == p || b < 1 || b > 4096 || (*end && *end != ',')) {
            fprintf(stderr, "veribench bench: bad --batch list '%s'\n", batches);
            return VB_EXIT_USAGE;
        }
        list[n++] = (int)b;
        p = *end ? end + 1 : end;
    }
    vb_quant_level levels[VB_QUANT_COUNT];
    int n_levels = 0;
    char qbuf[64];
    snprintf(qbuf, sizeof qbuf, "%s", quants ? quants : "");
    for (char *save = NULL, *tok = strtok_r(qbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (vb_quant_parse(tok, &levels[n_levels]) || n_levels == VB_QUANT_COUNT) {
            fprintf(stderr, "veribench bench: bad --quant list '%s' (fp32, fp16, int8, int4)\n", quants);
            return VB_EXIT_USAGE;
        }
        n_levels++;
    }
    vb_err e = {0};
    vb_model base;
    if (vb_model_load(eo.model_path ? eo.model_path : vb_default_model_path(), &base, &e)) {
        fprintf(stderr, "veribench bench: %s\n", e.msg);
        return e.code;
    }
    const vb_kv *stored = vb_model_kv(&base, "veribench.quant");
    if (header)
        printf("backend,device,quant,activations,batch,calls,ms_per_face,faces_per_s,p50_ms,p90_ms,p99_ms\n");
    eo.batch = list[0];
    int rc = VB_EXIT_OK;
    for (int q = 0; q < (n_levels ? n_levels : 1) && rc == VB_EXIT_OK; q++) {
        vb_model m;
        vb_engine en;
        char quant[16];
        snprintf(quant, sizeof quant, "%s", n_levels ? vb_quant_name(levels[q]) : stored && stored->str ? stored->str : "fp32");
        /* Without --quant the model runs as stored (it may be a quantized file). */
        int qrc = n_levels ? vb_model_quantize(&base, levels[q], &m, NULL, &e) : (m = base, memset(&base, 0, sizeof base), 0);
        if (qrc || vb_engine_open_model(&en, &m, &eo, &e)) {
            fprintf(stderr, "veribench bench: %s\n", e.msg);
            rc = e.code ? e.code : VB_EXIT_INPUT;
            break;
        }
        for (int i = 0; i < n && rc == VB_EXIT_OK; i++)
            if (bench_batch(&en, quant, list[i], seconds, &e)) {
                fprintf(stderr, "veribench bench: %s\n", e.msg);
                rc = e.code ? e.code : VB_EXIT_DEVICE;
            }
        vb_engine_close(&en);
    }
    vb_model_free(&base);
    return rc;
}
