/* Dataset manifests (csv:MANIFEST, header sample,subject,path[,modality]) and trials CSV
 * (header a,b,label[,fold]): the input is the manifest, a NUL byte, then the trials (no NUL:
 * the manifest alone, every pair). */
#include "datasets/registry.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n1, n2;
    const uint8_t *p2;
    fuzz_split(data, size, &n1, &p2, &n2);
    const char *manifest = fuzz_write(0, "manifest.csv", data, n1);
    const char *trials = p2 > data + n1 ? fuzz_write(1, "trials.csv", p2, n2) : NULL;
    char spec[256];
    snprintf(spec, sizeof spec, "csv:%s", manifest);
    vb_dataset d;
    vb_err e = {0};
    if (vb_dataset_open(spec, trials, fuzz_scratch(), &d, &e) == 0)
        vb_dataset_free(&d);
    return 0;
}
