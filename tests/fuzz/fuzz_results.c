/* Results folders: the input is metrics.csv, a NUL byte, then provenance.csv, written into a
 * scratch folder and read by vb_results_folder_read. A folder that reads is looked up (every
 * row of every combination must be found again with its value) and gated with a fixed spec,
 * which must give a verdict or an error, never a crash. */
#include <math.h>

#include "fuzz_util.h"
#include "reports/gate.h"
#include "reports/results_read.h"

static const char spec_text[] = "metric,scope,op,limit,bound\n"
                                "eer,*,<=,0.06,\n"
                                "eer,cpu/*/fp32/*,max_increase,5%,\n"
                                "auc,*,>=,0.9,lower\n";

static void look_up_everything(const vb_results_folder *rf)
{
    for (size_t i = 0; i < rf->n_combos; i++) {
        const vb_rf_combo *c = &rf->combos[i];
        if (vb_rf_find_combo(rf, c->backend, c->device, c->quant, c->dataset) != c)
            abort();
        for (size_t j = 0; j < c->n_rows; j++) {
            double v;
            if (!vb_rf_value(c, c->rows[j].name, &v) || !(v == c->rows[j].value || (isnan(v) && isnan(c->rows[j].value))))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vb_gate_spec spec;
    static int have_spec;
    vb_err e = {0};
    if (!have_spec) {
        const char *path = fuzz_write(2, "gate.csv", (const uint8_t *)spec_text, sizeof spec_text - 1);
        if (vb_gate_spec_read(path, &spec, &e))
            abort();
        have_spec = 1;
    }
    size_t n1, n2;
    const uint8_t *p2;
    fuzz_split(data, size, &n1, &p2, &n2);
    fuzz_write(0, "metrics.csv", data, n1);
    fuzz_write(1, "provenance.csv", p2, n2);
    vb_results_folder rf;
    if (vb_results_folder_read(fuzz_scratch(), &rf, &e))
        return 0;
    look_up_everything(&rf);
    vb_gate_result r;
    if (vb_gate_evaluate(&spec, &rf, &rf, &r, &e) == 0)
        vb_gate_result_free(&r);
    vb_results_folder_free(&rf);
    return 0;
}
