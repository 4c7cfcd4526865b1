/* Sample attributes (datasets/attributes.h) and demographic row names (reports/
 * demographics.h): the input is an attributes side file, a NUL byte, LFW's male list, a NUL
 * byte, the female list, a NUL byte, then metrics.csv row names, one a line. The files are
 * read over a fixed 4-sample dataset (every value must then be a valid index or unlabelled,
 * the unlabelled count must match); each row name is parsed and set into a demographics
 * model (1.5), which is written as CSV and as report.md's section into /dev/null. */
#include "fuzz_util.h"
#include "core/files.h"
#include "datasets/attributes.h"
#include "datasets/registry.h"
#include "reports/demographics.h"

static const char manifest[] = "sample,subject,path\nAnn_0001,Ann,a.jpg\nAnn_0002,Ann,b.jpg\nBob_0001,Bob,c.jpg\n"
                               "Cid_0001,Cid,d.jpg\n";

static void check(const vb_attributes *a, const vb_dataset *ds)
{
    for (size_t i = 0; i < a->n; i++) {
        uint32_t unlabelled = 0;
        for (uint32_t s = 0; s < ds->n_samples; s++) {
            uint16_t v = a->attr[i].of_sample[s];
            unlabelled += v == VB_ATTR_UNLABELLED;
            if (v != VB_ATTR_UNLABELLED && v >= a->attr[i].n_values)
                abort();
        }
        if (unlabelled != a->attr[i].n_unlabelled)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vb_dataset ds;
    static int have_ds;
    vb_err e = {0};
    if (!have_ds) {
        char spec[256];
        snprintf(spec, sizeof spec, "csv:%s", fuzz_write(3, "manifest.csv", (const uint8_t *)manifest,
                                                         sizeof manifest - 1));
        if (vb_dataset_open(spec, NULL, NULL, &ds, &e))
            abort();
        have_ds = 1;
    }
    size_t n1, n2, n3, n4, n5, n6;
    const uint8_t *p2, *p4, *p6;
    fuzz_split(data, size, &n1, &p2, &n2);
    fuzz_split(p2, n2, &n3, &p4, &n4);
    fuzz_split(p4, n4, &n5, &p6, &n6);
    vb_attributes a;
    if (vb_attributes_read(fuzz_write(0, "attrs.csv", data, n1), &ds, &a, &e) == 0) {
        check(&a, &ds);
        vb_attributes_free(&a);
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s/data/lfw/gender", fuzz_scratch());
    if (vb_mkdirs(dir, &e))
        abort();
    fuzz_write(1, "data/lfw/gender/male_names.txt", p2, n3);
    fuzz_write(2, "data/lfw/gender/female_names.txt", p4, n5);
    snprintf(dir, sizeof dir, "%s/data", fuzz_scratch());
    if (vb_attributes_lfw_gender(&ds, dir, &a, &e) == 1) {
        check(&a, &ds);
        vb_attributes_free(&a);
    }
    vb_demog *d = vb_demog_new(&e);
    if (!d)
        abort();
    char line[512];
    size_t len = 0;
    for (size_t i = 0; i <= n6; i++) {
        if (i == n6 || p6[i] == '\n') {
            line[len] = 0;
            vb_demog_set_row(d, line, 1.5);
            len = 0;
        } else if (len < sizeof line - 1) {
            line[len++] = p6[i] ? (char)p6[i] : ' ';
        }
    }
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        const char *prefix[1] = {"x"};
        vb_demog_write_csv(d, f, prefix, 1, &e);
        vb_demog_write_md(f, "combo", d);
        fclose(f);
    }
    vb_demog_free(d);
    return 0;
}
