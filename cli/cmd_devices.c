/* veribench devices: list the CPU backend and every Vulkan physical device, with the
 * --backend spec that selects each and the features the Vulkan backend uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "core/csv_write.h"
#include "core/common.h"

static void describe(FILE *f)
{
    fprintf(f, "Lists the CPU backend and every Vulkan device: the --backend spec that selects it,\n"
               "name, vendor, type, driver, Vulkan API version, subgroup size and the features the\n"
               "Vulkan backend uses (fp16 storage and arithmetic, int8 arithmetic, integer dot\n"
               "product, cooperative matrix). 'default' marks the device '--backend vulkan' picks:\n"
               "the first discrete GPU, else the first integrated GPU, else device 0.\n\n");
}

static const char *const formats[] = {"table", "csv", NULL};
static const vb_command_help help = {
    "devices", "[--format table|csv]", describe,
    "0 when the Vulkan devices could be listed; 4 when Vulkan is unavailable (the CPU\n"
    "backend is still listed and the reason, with what to install, goes to stderr); 5 when\n"
    "the list cannot be written."};

static void csv_field(FILE *f, const char *s, int last)
{
    vb_csv_field(f, s);
    fputc(last ? '\n' : ',', f);
}

enum { N_COLS = 15 };
static const char *const header[N_COLS] = {
    "spec", "backend", "index", "default", "name", "vendor", "type", "driver", "api_version",
    "subgroup_size", "fp16_storage", "fp16_arith", "int8_arith", "int_dot", "coopmat",
};

static void row_fields(const vb_device_info *d, int is_default, char cells[N_COLS][300])
{
    const char *yn[2] = {"no", "yes"};
    int vk = !strcmp(d->backend, "vulkan");
    snprintf(cells[0], 300, vk ? "vulkan:%d" : "cpu", d->index);
    snprintf(cells[1], 300, "%s", d->backend);
    snprintf(cells[2], 300, "%d", d->index);
    snprintf(cells[3], 300, "%s", yn[is_default]);
    snprintf(cells[4], 300, "%s", d->name);
    snprintf(cells[5], 300, "%s", d->vendor);
    snprintf(cells[6], 300, "%s", d->type);
    snprintf(cells[7], 300, "%s", d->driver);
    snprintf(cells[8], 300, "%s", vk ? d->api_version : "-");
    if (vk)
        snprintf(cells[9], 300, "%d", d->subgroup_size);
    else
        snprintf(cells[9], 300, "-");
    const int flags[5] = {d->fp16_storage, d->fp16_arith, d->int8_arith, d->int_dot, d->coopmat};
    for (int i = 0; i < 5; i++)
        snprintf(cells[10 + i], 300, "%s", vk ? yn[!!flags[i]] : "-");
}

/* The device `--backend vulkan` picks (same rule as vb_vk_default_device). */
static int default_vulkan(const vb_device_info *d, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(d[i].type, "discrete-gpu"))
            return i;
    for (int i = 0; i < n; i++)
        if (!strcmp(d[i].type, "integrated-gpu"))
            return i;
    return 0;
}

static void print_csv(const vb_device_info *devs, const int *is_default, int n)
{
    for (int c = 0; c < N_COLS; c++)
        csv_field(stdout, header[c], c == N_COLS - 1);
    for (int i = 0; i < n; i++) {
        char cells[N_COLS][300];
        row_fields(&devs[i], is_default[i], cells);
        for (int c = 0; c < N_COLS; c++)
            csv_field(stdout, cells[c], c == N_COLS - 1);
    }
}

static void print_table(const vb_device_info *devs, const int *is_default, int n)
{
    for (int i = 0; i < n; i++) {
        char cells[N_COLS][300];
        row_fields(&devs[i], is_default[i], cells);
        printf("%s%s: %s\n", cells[0], is_default[i] ? " (default)" : "", cells[4]);
        printf("    vendor %s, type %s\n    driver %s\n", cells[5], cells[6], cells[7]);
        if (!strcmp(devs[i].backend, "vulkan"))
            printf("    Vulkan %s, subgroup %s, fp16 storage %s, fp16 arithmetic %s, int8 %s,\n"
                   "    integer dot product %s, cooperative matrix %s\n",
                   cells[8], cells[9], cells[10], cells[11], cells[12], cells[13], cells[14]);
    }
}

int cmd_devices(int argc, char **argv)
{
    int csv = 0;
    const vb_option opts[] = {
        VB_OPT_CHOICE_ROW("format", "F", "table: aligned, for people (default); csv: one row per device,\nwith a header row", &csv, formats),
        VB_OPT_END_ROW};
    int prc = vb_options_parse_all(&help, opts, argc, argv);
    if (prc != VB_OPTS_GO)
        return prc;
    vb_err e = {0};
    vb_device_info *cpu = NULL, *vk = NULL;
    int n_cpu = 0, n_vk = 0;
    if (vb_backend_list_devices("cpu", &cpu, &n_cpu, &e)) {
        fprintf(stderr, "veribench devices: cpu: %s\n", e.msg);
        return e.code ? e.code : VB_EXIT_IO;
    }
    vb_err vk_err = {0};
    int vk_failed = vb_backend_list_devices("vulkan", &vk, &n_vk, &vk_err);
    int n = n_cpu + n_vk;
    vb_device_info *all = calloc((size_t)n, sizeof *all);
    int *is_default = calloc((size_t)n, sizeof *is_default);
    if (!all || !is_default) {
        free(cpu), free(vk), free(all), free(is_default);
        fprintf(stderr, "veribench devices: out of memory\n");
        return VB_EXIT_IO;
    }
    memcpy(all, cpu, (size_t)n_cpu * sizeof *all);
    if (n_vk)
        memcpy(all + n_cpu, vk, (size_t)n_vk * sizeof *all);
    is_default[0] = 1;
    if (n_vk)
        is_default[n_cpu + default_vulkan(vk, n_vk)] = 1;
    if (csv)
        print_csv(all, is_default, n);
    else
        print_table(all, is_default, n);
    free(cpu), free(vk), free(all), free(is_default);
    if (vb_close_output(stdout, "stdout", &e)) {
        fprintf(stderr, "veribench devices: %s\n", e.msg);
        return VB_EXIT_IO;
    }
    if (vk_failed) {
        fprintf(stderr, "veribench devices: vulkan: %s\n", vk_err.msg);
        return vk_err.code ? vk_err.code : VB_EXIT_DEVICE;
    }
    return VB_EXIT_OK;
}
