/* The loader table: each row maps a spec (an exact name, or a prefix followed by an
 * argument) to its loader, says whether the protocol brings its own trials (then --trials
 * is refused) and whether it reads the data folder, and gives its --help line. */
#include "datasets/registry.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/builder.h"
#include "datasets/loaders.h"

enum { MATCH_EXACT, MATCH_PREFIX };

/*  X(spec, match, own_protocol, reads_data_dir, all_pairs, loader, help line) */
#define VB_DATASET_LOADERS(X)                                                                       \
    X("lfw", MATCH_EXACT, 1, 1, 0, vb_lfw_load,                                                   \
      "  lfw                LFW View 2 (pairs.txt: 10 folds x 300 genuine + 300 impostor)\n")       \
    X("lfw-all", MATCH_EXACT, 0, 1, 1, vb_lfw_load,                                               \
      "  lfw-all            all 13,233 LFW images (people.txt), every pair (~87.5M trials)\n")      \
    X("fvc2002:", MATCH_PREFIX, 1, 1, 0, vb_fvc_load,                                             \
      "  fvc2002:DB1_B      FVC2002 set (DB1_B..DB4_B), FVC protocol: 280 genuine + 45 impostor\n") \
    X("fvc2002-all:", MATCH_PREFIX, 0, 1, 1, vb_fvc_load,                                         \
      "  fvc2002-all:DB1_B  the same 80 impressions, every pair (3,160 trials)\n")                  \
    X("csv:", MATCH_PREFIX, 0, 0, 0, vb_csv_manifest_load,                                        \
      "  csv:MANIFEST       CSV with header sample,subject,path[,modality]; every pair, or the\n"   \
      "                     trials of --trials F (header a,b,label[,fold])\n")

typedef struct loader_row {
    const char *spec;
    int match, own_protocol, reads_data_dir, all_pairs;
    vb_dataset_loader load;
} loader_row;

#define AS_ROW(spec, match, own, data, all, fn, help) {spec, match, own, data, all, fn},
#define AS_HELP(spec, match, own, data, all, fn, help) help
static const loader_row loaders[] = {VB_DATASET_LOADERS(AS_ROW)};
const char vb_dataset_spec_help[] = VB_DATASET_LOADERS(AS_HELP);

/* The row for spec and the argument after its prefix; NULL when no row matches (a prefix
 * row needs a non-empty argument). */
static const loader_row *find_loader(const char *spec, const char **arg)
{
    for (size_t i = 0; i < VB_ARRAY_LEN(loaders); i++) {
        const loader_row *r = &loaders[i];
        size_t n = strlen(r->spec);
        if (r->match == MATCH_EXACT ? strcmp(spec, r->spec) == 0
                                    : strncmp(spec, r->spec, n) == 0 && spec[n]) {
            *arg = r->match == MATCH_EXACT ? "" : spec + n;
            return r;
        }
    }
    return NULL;
}

static int check_data_dir(const char *data_dir, vb_err *e)
{
    struct stat st;
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return vb_ds_fail_missing(e, data_dir, data_dir, "data folder");
    return 0;
}

static int open_spec(vb_dataset *d, const char *spec, const char *trials_csv, const char *data_dir,
                     vb_err *e)
{
    const char *arg = "";
    const loader_row *r = find_loader(spec, &arg);
    if (!r)
        return vb_fail(e, VB_EXIT_USAGE, "unknown dataset '%s'; one of:\n%s", spec, vb_dataset_spec_help);
    if (r->own_protocol && trials_csv)
        return vb_fail(e, VB_EXIT_USAGE,
                       "dataset '%s' has its own protocol and takes no --trials (use lfw-all, "
                       "fvc2002-all:SET or csv:MANIFEST with --trials)",
                       spec);
    if (r->reads_data_dir && check_data_dir(data_dir, e))
        return -1;
    return r->load(d, data_dir, arg, r->all_pairs, e);
}

int vb_dataset_open(const char *spec, const char *trials_csv, const char *data_dir, vb_dataset *out,
                    vb_err *e)
{
    memset(out, 0, sizeof *out);
    if (!data_dir)
        data_dir = vb_data_dir();
    out->spec = strdup(spec);
    if (!out->spec)
        return vb_fail(e, VB_EXIT_IO, "out of memory");
    int rc = open_spec(out, spec, trials_csv, data_dir, e);
    if (rc == 0 && trials_csv) {
        out->protocol = VB_PROTOCOL_EXPLICIT;
        rc = vb_csv_trials_load(out, trials_csv, e);
        if (rc == 0)
            rc = vb_ds_compact_to_trials(out, e);
    }
    if (rc == 0)
        rc = vb_ds_finish(out, e);
    if (rc != 0) {
        vb_dataset_free(out);
        return -1;
    }
    return 0;
}
