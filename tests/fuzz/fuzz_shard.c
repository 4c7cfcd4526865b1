/* shard.csv (cli/shard.h) as veribench merge reads it from a shard folder: any bytes as the
 * file of one shard folder. Parsing must fail cleanly or reach the template files, which the
 * folder does not have. */
#include <sys/stat.h>

#include "cli/shard.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[160], out[160];
    snprintf(dir, sizeof dir, "%s/shard", fuzz_scratch());
    snprintf(out, sizeof out, "%s/merged", fuzz_scratch());
    mkdir(dir, 0777);
    char path[200];
    snprintf(path, sizeof path, "%s/shard.csv", dir);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    const char *dirs[1] = {dir};
    vb_merge_plan plan = {0};
    vb_err e = {0};
    if (vb_shard_merge(out, dirs, 1, &plan, &e) == 0)
        vb_merge_plan_free(&plan); /* cannot happen without templates, but free if it did */
    return 0;
}
