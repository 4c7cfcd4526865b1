/* Binary score files (reports/score_bin.h): any bytes as a .vbs file. A file that reads is put
 * through both metrics engines, the in-memory one and the bounded one with a 3-trial buffer
 * (many spilled runs), which must agree: both fail, or every metric row is bit-identical. */
#include "fuzz_util.h"
#include "reports/metrics.h"
#include "reports/metrics_bounded.h"
#include "reports/score_bin.h"

static int same(double a, double b)
{
    return (a != a && b != b) || memcmp(&a, &b, sizeof a) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "scores.vbs", data, size);
    vb_scores s;
    vb_err e = {0};
    if (vb_scores_read_bin(path, &s, &e))
        return 0;
    vb_metrics a, b;
    vb_bounded_opts o = {.chunk_trials = 3, .tmp_dir = fuzz_scratch()};
    int ra = vb_metrics_compute(&s, &a, &e), rb = vb_metrics_compute_bounded(&s, &o, &b, NULL, &e);
    if ((ra == 0) != (rb == 0))
        abort(); /* one engine accepted what the other refused */
    if (ra == 0) {
        for (size_t i = 0; i < vb_metric_row_count; i++) {
            const vb_metric_row *r = &vb_metric_rows[i];
            if (vb_metric_present(&a, r) != vb_metric_present(&b, r) ||
                (vb_metric_present(&a, r) && !same(vb_metric_value(&a, r), vb_metric_value(&b, r))))
                abort(); /* the engines disagree */
        }
        vb_metrics_free(&a);
        vb_metrics_free(&b);
    }
    vb_scores_free(&s);
    return 0;
}
