/* Score files: the first byte picks the reader (csv, bob4, pyeer) and whether scores are
 * distances; the rest is the file (pyeer: genuine file, a NUL byte, impostor file). A file
 * that reads is also put through the metrics, which must accept whatever a reader accepts. */
#include "fuzz_util.h"
#include "reports/metrics.h"
#include "reports/score_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int format = data[0] % 3, is_distance = (data[0] >> 2) & 1;
    data++, size--;
    vb_scores s;
    vb_err e = {0};
    int rc;
    if (format == 2) {
        size_t n1, n2;
        const uint8_t *p2;
        fuzz_split(data, size, &n1, &p2, &n2);
        const char *g = fuzz_write(0, "genuine.txt", data, n1);
        const char *i = fuzz_write(1, "impostor.txt", p2, n2);
        rc = vb_scores_read_pyeer(g, i, is_distance, &s, &e);
    } else {
        const char *path = fuzz_write(0, format ? "scores.bob4" : "scores.csv", data, size);
        rc = format ? vb_scores_read_bob4(path, is_distance, &s, &e) : vb_scores_read_csv(path, is_distance, &s, &e);
    }
    if (rc == 0) {
        vb_metrics m;
        if (vb_metrics_compute(&s, &m, &e) == 0)
            vb_metrics_free(&m);
        vb_scores_free(&s);
    }
    return 0;
}
