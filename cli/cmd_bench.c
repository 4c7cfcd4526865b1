/* veribench bench: inference throughput and latency of a backend on synthetic inputs
 * (decoding excluded), as CSV. `make bench` runs it over the backends present and writes
 * bench/results/<host>.csv. Timing never appears in tests; it lives here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "core/parse.h"
#include "core/csv_write.h"
#include "cli/engine.h"
#include "backends/cpu/cpu_backend.h"
#include "models/quantize.h"
#include "reports/history.h"
#include "reports/loadgen.h"
#include "version.h" /* generated: VB_GIT_COMMIT */

static void describe(FILE *f)
{
    fprintf(f, "Times the model on random inputs (no image decoding), one warm-up call per batch\n"
               "size, then repeated calls for at least S seconds and 3 calls. Prints CSV:\n"
               "backend,device,quant,activations,batch,calls,ms_per_face,faces_per_s,p50_ms,p90_ms,p99_ms,\n"
               "threads,gmac_per_s,peak_gmac_per_s,peak_fraction,kernels\n"
               "(per-call latency percentiles, nearest rank). Without --quant the model runs as\n"
               "stored. gmac_per_s: the net's multiply-accumulates (conv and fc) per second;\n"
               "peak_gmac_per_s: --peak, else on the CPU one core's measured FMA throughput in the\n"
               "kernel family in use times the threads (empty for a GPU without --peak);\n"
               "peak_fraction = gmac_per_s / peak_gmac_per_s. threads and kernels: the CPU's\n"
               "worker threads and kernel family (avx512f, avx2+fma, portable, reference).\n"
               "Every row is also appended to the benchmark history (--history DIR, default\n"
               "$VERIBENCH_HISTORY, else results/history; see veribench history).\n\n");
}

static const vb_command_help help = {"bench", "[--model M] [--backend B] [--batch N[,N...]] [--quant L[,L...]] [--seconds S]",
                                     describe, NULL};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The numbers of one printed row, kept for the history. */
enum { BENCH_METRICS = 7 };
typedef struct bench_row {
    char backend[16], device[64], device_name[256], driver[256], quant[16], batch[16];
    double value[BENCH_METRICS];
} bench_row;
static const char *const bench_row_metrics[BENCH_METRICS] = {"calls",  "ms_per_face", "faces_per_s", "p50_ms",
                                                             "p90_ms", "p99_ms",      "gmac_per_s"};

static double nearest_rank(const double *sorted, int n, double p)
{
    return vb_nearest_rank(sorted, (size_t)n, p);
}

static int bench_batch(vb_engine *en, const char *quant, int batch, double seconds, double peak, bench_row *row,
                       vb_err *e)
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
    printf(",%s,%s,%d,%d,%.3f,%.2f,%.3f,%.3f,%.3f", quant, en->device.uses_fp16 ? "fp16" : "fp32", batch, n,
           total / n / batch,
           1e3 * n * batch / total, nearest_rank(times, n, 0.5), nearest_rank(times, n, 0.9),
           nearest_rank(times, n, 0.99));
    const double gmacs = vb_graph_macs(&en->graph) * n * batch / (total * 1e-3) / 1e9;
    printf(",%d,%.2f,", en->device.threads, gmacs);
    if (peak > 0)
        printf("%.1f,%.3f,", peak, gmacs / peak);
    else
        printf(",,");
    vb_csv_field(stdout, en->device.kernels);
    putchar('\n');
    fflush(stdout);
    snprintf(row->backend, sizeof row->backend, "%s", en->device.backend);
    snprintf(row->device, sizeof row->device, "%s", en->device.slug);
    snprintf(row->device_name, sizeof row->device_name, "%s", en->device.name);
    snprintf(row->driver, sizeof row->driver, "%s", en->device.driver);
    snprintf(row->quant, sizeof row->quant, "%s", quant);
    snprintf(row->batch, sizeof row->batch, "%d", batch);
    const double v[BENCH_METRICS] = {n, total / n / batch, 1e3 * n * batch / total, nearest_rank(times, n, 0.5),
                                     nearest_rank(times, n, 0.9), nearest_rank(times, n, 0.99), gmacs};
    memcpy(row->value, v, sizeof v);
    rc = 0;
done:
    free(in);
    free(out);
    free(times);
    return rc;
}

/* Every row to the benchmark history (reports/history.h). */
static int append_history(const char *dir, const bench_row *rows, int n, const char *model_path, vb_err *e)
{
    vb_history_entry *h = vb_calloc((size_t)(n ? n : 1) * BENCH_METRICS, sizeof *h, e);
    if (!h)
        return -1;
    size_t k = 0;
    for (int i = 0; i < n; i++)
        for (int m = 0; m < BENCH_METRICS; m++)
            h[k++] = (vb_history_entry){rows[i].backend, rows[i].device, rows[i].device_name, rows[i].driver,
                                        rows[i].quant, "", "bench", rows[i].batch, bench_row_metrics[m],
                                        rows[i].value[m], ""};
    char sha[65], model_sha[65], cmdline[2048];
    vb_err ignore = {0};
    vb_command_line(cmdline, sizeof cmdline);
    vb_history_run run = {"bench", VB_GIT_COMMIT, vb_sha256_file("/proc/self/exe", sha, &ignore) == 0 ? sha : "unknown",
                          vb_sha256_file(model_path, model_sha, &ignore) == 0 ? model_sha : "unknown", cmdline,
                          time(NULL)};
    int rc = vb_history_append(vb_history_dir(dir), &run, h, k, e);
    free(h);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    vb_engine_opts eo = {0};
    vb_batch_list batches = {{1}, 1};
    vb_quant_list quants = {0};
    double seconds = 3, peak = 0;
    int no_header = 0, no_history = 0;
    const char *history = NULL;
    bench_row rows[VB_QUANT_COUNT * 32];
    int n_rows = 0;
    const vb_option opts[] = {
        VB_OPT_MODEL(&eo.model_path),
        VB_OPT_BACKEND(&eo.backend),
        VB_OPT_CALL_ROW("batch", "LIST", "batch sizes, comma-separated, each 1..4096 (default 1)", &batches, vb_opt_batch_list),
        VB_OPT_QUANTS(&quants),
        VB_OPT_DOUBLE_ROW("seconds", "S", "minimum measuring time per batch size, 0..3600 (default 3)", &seconds, 0, 3600),
        VB_OPT_THREADS(&eo.threads),
        VB_OPT_DOUBLE_ROW("peak", "GMACS", "the device's peak multiply-accumulates per second in G, for peak_fraction\n"
                          "(default: measured on the CPU, none on a GPU)", &peak, 0, 1e9),
        VB_OPT_FP16(&eo.fp16),
        VB_OPT_VALIDATION(&eo.validation),
        VB_OPT_FLAG_ROW("no-header", "omit the CSV header", &no_header),
        VB_OPT_STRING_ROW("history", "DIR", "append to DIR/history.csv (default $VERIBENCH_HISTORY, else\nresults/history)", &history),
        VB_OPT_FLAG_ROW("no-history", "do not append to the history", &no_history),
        VB_OPT_END_ROW};
    int prc = vb_options_parse_all(&help, opts, argc, argv);
    if (prc != VB_OPTS_GO)
        return prc;
    if (history && no_history)
        return vb_usage_error(&help, "--history and --no-history together");
    const int *list = batches.size, n = batches.n;
    const vb_quant_level *levels = quants.level;
    const int n_levels = quants.n;
    vb_err e = {0};
    vb_model base;
    if (vb_model_load(eo.model_path ? eo.model_path : vb_default_model_path(), &base, &e)) {
        fprintf(stderr, "veribench bench: %s\n", e.msg);
        return e.code;
    }
    if (vb_model_is_fingerprint(&base)) {
        fprintf(stderr, "veribench bench: %s is the fingerprint matcher; its per-print times come from "
                "`veribench run` (latency.csv) and bench/fingerprint.sh\n", base.path);
        vb_model_free(&base);
        return VB_EXIT_USAGE;
    }
    const vb_kv *stored = vb_model_kv(&base, "veribench.quant");
    int header = !no_header; /* printed once a backend is open, so a failure prints no CSV */
    eo.batch = list[0];
    eo.prep.mode = VB_PREP_CROP; /* bench times the net on synthetic inputs */
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
        if (header)
            printf("backend,device,quant,activations,batch,calls,ms_per_face,faces_per_s,p50_ms,p90_ms,p99_ms,"
                   "threads,gmac_per_s,peak_gmac_per_s,peak_fraction,kernels\n");
        header = 0;
        double level_peak = peak;
        if (level_peak <= 0 && !strcmp(en.device.backend, "cpu"))
            level_peak = vb_cpu_fma_peak_gmacs() * (en.device.threads > 0 ? en.device.threads : 1);
        for (int i = 0; i < n && rc == VB_EXIT_OK; i++)
            if (bench_batch(&en, quant, list[i], seconds, level_peak, &rows[n_rows++], &e)) {
                fprintf(stderr, "veribench bench: %s\n", e.msg);
                rc = e.code ? e.code : VB_EXIT_DEVICE;
            }
        vb_engine_close(&en);
    }
    vb_model_free(&base);
    if (rc == VB_EXIT_OK && !no_history &&
        append_history(history, rows, n_rows, eo.model_path ? eo.model_path : vb_default_model_path(), &e)) {
        fprintf(stderr, "veribench bench: history: %s\n", e.msg);
        rc = e.code ? e.code : VB_EXIT_IO;
    }
    if (vb_close_output(stdout, "stdout", &e) && rc == VB_EXIT_OK) {
        fprintf(stderr, "veribench bench: %s\n", e.msg);
        rc = VB_EXIT_IO;
    }
    return rc;
}
