/* FVC2002 B sets: fingers 101..110, impressions 1..8, fvc2002/DB<k>_B/<finger>_<impr>.tif.
 * Nothing is read: the layout is fixed, so the loader only checks that the set's folder
 * exists; a missing impression is a failure to acquire at decode time. */
#include <string.h>
#include <sys/stat.h>

#include "datasets/builder.h"
#include "datasets/loaders.h"

enum { FVC_FIRST_FINGER = 101, FVC_FINGERS = 10, FVC_IMPRESSIONS = 8 };

static uint32_t sample_of(unsigned finger, unsigned impression)
{
    return finger * FVC_IMPRESSIONS + impression; /* both 0-based */
}

static int add_samples(vb_dataset *d, const char *set, vb_err *e)
{
    for (unsigned f = 0; f < FVC_FINGERS; f++)
        for (unsigned i = 0; i < FVC_IMPRESSIONS; i++) {
            char id[32], subject[16], rel[64];
            snprintf(id, sizeof id, "%u_%u", FVC_FIRST_FINGER + f, i + 1);
            snprintf(subject, sizeof subject, "%u", FVC_FIRST_FINGER + f);
            snprintf(rel, sizeof rel, "fvc2002/%s/%s.tif", set, id);
            if (vb_ds_add_sample(d, id, subject, rel, VB_MODALITY_FINGERPRINT, e))
                return -1;
        }
    return 0;
}

/* Genuine: every pair of impressions of one finger; impostor: first impression of each finger
 * against the first impression of every later finger (each unordered pair once). */
static int add_fvc_protocol(vb_dataset *d, vb_err *e)
{
    for (unsigned f = 0; f < FVC_FINGERS; f++)
        for (unsigned i = 0; i < FVC_IMPRESSIONS; i++)
            for (unsigned j = i + 1; j < FVC_IMPRESSIONS; j++)
                if (vb_ds_add_trial(d, sample_of(f, i), sample_of(f, j), 1, 0, e))
                    return -1;
    for (unsigned f = 0; f < FVC_FINGERS; f++)
        for (unsigned g = f + 1; g < FVC_FINGERS; g++)
            if (vb_ds_add_trial(d, sample_of(f, 0), sample_of(g, 0), 0, 0, e))
                return -1;
    return 0;
}

int vb_fvc_load(vb_dataset *d, const char *data_dir, const char *set, int all_pairs, vb_err *e)
{
    static const char *const sets[] = {"DB1_B", "DB2_B", "DB3_B", "DB4_B"};
    size_t k = 0;
    while (k < VB_ARRAY_LEN(sets) && strcmp(set, sets[k]) != 0)
        k++;
    if (k == VB_ARRAY_LEN(sets))
        return vb_fail(e, VB_EXIT_USAGE, "unknown FVC2002 set '%s' (one of DB1_B, DB2_B, DB3_B, DB4_B)",
                       set);
    if (vb_ds_begin(d, all_pairs ? "fvc2002-all" : "fvc2002", data_dir, e))
        return -1;
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/fvc2002/%s", data_dir, set);
    struct stat st;
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode))
        return vb_ds_fail_missing(e, data_dir, folder, "FVC2002 set folder");
    if (add_samples(d, set, e))
        return -1;
    d->protocol = all_pairs ? VB_PROTOCOL_ALL_PAIRS : VB_PROTOCOL_EXPLICIT;
    return all_pairs ? 0 : add_fvc_protocol(d, e);
}
