/* The results model from a folder (reports/results_load.h): a fixed metrics.csv and
 * provenance.csv, and the input as gallery.csv, a NUL byte, latency.csv, a NUL byte,
 * failures.csv. A folder that loads is rendered to both reports (into /dev/null): every
 * chip must name a file inside the folder, and nothing may crash. */
#include <string.h>

#include "fuzz_util.h"
#include "reports/results.h"
#include "reports/results_load.h"
#include "reports/results_read.h"

static const char metrics_text[] = "backend,device,quant,dataset,metric,value\n"
                                   "cpu,amd,fp32,lfw,eer,0.05\ncpu,amd,fp32,lfw,genuine,3\n"
                                   "cpu,amd,int8,lfw,eer,0.06\ncpu,amd,int8,lfw,samples,4\n";
static const char prov_text[] = "scope,key,value\nrun,dataset_kind,lfw\nrun,samples,4\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vb_results_folder rf;
    static int have_rf;
    vb_err e = {0};
    if (!have_rf) {
        fuzz_write(3, "metrics.csv", (const uint8_t *)metrics_text, sizeof metrics_text - 1);
        fuzz_write(3, "provenance.csv", (const uint8_t *)prov_text, sizeof prov_text - 1);
        if (vb_results_folder_read(fuzz_scratch(), &rf, &e))
            abort();
        have_rf = 1;
    }
    size_t n1, n2, n3, n4;
    const uint8_t *p2, *p4;
    fuzz_split(data, size, &n1, &p2, &n2);
    fuzz_split(p2, n2, &n3, &p4, &n4);
    fuzz_write(0, "gallery.csv", data, n1);
    fuzz_write(1, "latency.csv", p2, n3);
    fuzz_write(2, "failures.csv", p4, n4);
    vb_results_store st;
    vb_results r;
    if (vb_results_from_folder(&rf, fuzz_scratch(), &st, &r, &e))
        return 0;
    for (int i = 0; i < r.n_combos; i++)
        for (size_t g = 0; g < r.combos[i].n_gallery; g++)
            if (r.combos[i].gallery[g].chip_a[0] == '/' || strstr(r.combos[i].gallery[g].chip_b, "/../"))
                abort();
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        vb_report_write_md(f, &r);
        vb_report_write_html(f, &r);
        fclose(f);
    }
    vb_results_store_free(&st);
    return 0;
}
