#include "cli/options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "core/parse.h"
#include "datasets/image.h"

#define MAX_OPTIONS 64
/* getopt values of table rows: clear of ':', '?' and 'h'. */
#define OPT_VAL0 1000

/* ---- shared value parsers ---- */

int vb_opt_backend(void *value, const char *text, vb_err *e)
{
    vb_backend_spec spec;
    if (vb_backend_parse_spec(text, &spec, e))
        return -1;
    *(const char **)value = text;
    return 0;
}

/* Split a comma-separated list and hand each item to add(value, item). */
static int each_item(const char *text, void *value, int (*add)(void *, const char *, vb_err *), vb_err *e)
{
    char buf[512];
    if (strlen(text) >= sizeof buf)
        return vb_fail(e, VB_EXIT_USAGE, "list too long");
    snprintf(buf, sizeof buf, "%s", text);
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        if (!*p)
            return vb_fail(e, VB_EXIT_USAGE, "empty item in the list");
        if (add(value, p, e))
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int add_backend(void *value, const char *item, vb_err *e)
{
    vb_backend_list *l = value;
    vb_backend_spec spec;
    if (vb_backend_parse_spec(item, &spec, e))
        return -1;
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->spec[i], item))
            return 0;
    if (l->n == VB_MAX_BACKEND_SPECS)
        return vb_fail(e, VB_EXIT_USAGE, "at most %d backends", VB_MAX_BACKEND_SPECS);
    if (strlen(item) >= sizeof l->spec[0])
        return vb_fail(e, VB_EXIT_USAGE, "backend name too long");
    snprintf(l->spec[l->n++], sizeof l->spec[0], "%s", item);
    return 0;
}

int vb_opt_backend_list(void *value, const char *text, vb_err *e)
{
    return each_item(text, value, add_backend, e);
}

static int add_quant(void *value, const char *item, vb_err *e)
{
    vb_quant_list *l = value;
    vb_quant_level level;
    if (vb_quant_parse(item, &level))
        return vb_fail(e, VB_EXIT_USAGE, "unknown quantization level '%s' (fp32, fp16, int8, int4)", item);
    for (int i = 0; i < l->n; i++)
        if (l->level[i] == level)
            return 0;
    l->level[l->n++] = level; /* at most VB_QUANT_COUNT distinct levels exist */
    return 0;
}

int vb_opt_quant_list(void *value, const char *text, vb_err *e)
{
    return each_item(text, value, add_quant, e);
}

int vb_opt_crop(void *value, const char *text, vb_err *e)
{
    vb_face_prep *p = value;
    if (vb_crop_parse(text, &p->crop, e))
        return -1;
    p->mode = VB_PREP_CROP;
    p->set = 1;
    return 0;
}

int vb_opt_crop_box(void *value, const char *text, vb_err *e)
{
    return vb_crop_parse(text, value, e);
}

int vb_opt_preprocess(void *value, const char *text, vb_err *e)
{
    return vb_face_prep_parse(text, value, e);
}

int vb_opt_on_no_face(void *value, const char *text, vb_err *e)
{
    return vb_no_face_parse(text, value, e);
}

int vb_opt_chip_template(void *value, const char *text, vb_err *e)
{
    vb_face_prep *p = value;
    if (!strcmp(text, "68") || !strcmp(text, "5")) {
        p->chip_points = atoi(text);
        return 0;
    }
    return vb_fail(e, VB_EXIT_USAGE, "expected 68 or 5");
}

int vb_opt_detector(void *value, const char *text, vb_err *e)
{
    vb_face_prep *p = value;
    p->detector_size = 0;
    if (!strcmp(text, "ssd")) {
        p->detector = VB_DETECTOR_SSD;
        return 0;
    }
    if (strncmp(text, "tiny", 4) != 0 || (text[4] && text[4] != ':'))
        return vb_fail(e, VB_EXIT_USAGE, "expected tiny, tiny:SIZE or ssd");
    p->detector = VB_DETECTOR_TINY;
    if (text[4] == ':' && (vb_parse_int(text + 5, 64, 1024, &p->detector_size) || p->detector_size % 32))
        return vb_fail(e, VB_EXIT_USAGE, "tiny:SIZE: SIZE is the detector's input side, a multiple of 32 in 64..1024");
    return 0;
}

int vb_opt_batch_list(void *value, const char *text, vb_err *e)
{
    vb_batch_list *l = value;
    if (vb_parse_int_list(text, 1, 4096, l->size, (int)VB_ARRAY_LEN(l->size), &l->n))
        return vb_fail(e, VB_EXIT_USAGE, "expected up to 32 comma-separated whole numbers in 1..4096");
    return 0;
}

void vb_opt_apply_max_pixels(int max_pixels)
{
    if (max_pixels > 0)
        vb_image_set_max_pixels((uint64_t)max_pixels);
}

/* ---- help ---- */

static void print_help_text(FILE *f, const char *help, int indent)
{
    for (const char *p = help; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "%.*s\n", len, p);
        if (!nl)
            break;
        p = nl + 1;
        fprintf(f, "%*s", indent, "");
    }
}

void vb_options_usage(FILE *f, const vb_command_help *h, const vb_option *opts)
{
    fprintf(f, "usage: veribench %s %s\n\n", h->name, h->synopsis);
    if (h->describe)
        h->describe(f);
    fprintf(f, "Options:\n");
    enum { COL = 26 };
    for (const vb_option *o = opts; o->type != VB_OPT_END; o++) {
        char left[64];
        snprintf(left, sizeof left, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if ((int)strlen(left) >= COL - 1)
            fprintf(f, "%s\n%*s", left, COL, "");
        else
            fprintf(f, "%-*s", COL, left);
        print_help_text(f, o->help, COL);
    }
    fprintf(f, "%-*s%s\n\n", COL, "  -h, --help", "this text");
    fprintf(f, "Exit: %s\n",
            h->exit_codes ? h->exit_codes
                          : "0 done; 1 finished but something failed; 2 usage; 3 bad input; 4 device\n"
                            "failure; 5 cannot write output.");
}

int vb_usage_error(const vb_command_help *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "veribench %s: ", h->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see veribench %s --help)\n", h->name);
    va_end(ap);
    return VB_EXIT_USAGE;
}

/* ---- parsing ---- */

static int parse_value(const vb_command_help *h, const vb_option *o, const char *text)
{
    vb_err e = {0};
    if (o->type != VB_OPT_FLAG && !*text)
        return vb_usage_error(h, "--%s: the value is empty", o->name);
    switch (o->type) {
    case VB_OPT_FLAG:
        *(int *)o->value = 1;
        return 0;
    case VB_OPT_STRING:
        *(const char **)o->value = text;
        return 0;
    case VB_OPT_INT:
        if (vb_parse_int(text, (int)o->lo, (int)o->hi, o->value))
            return vb_usage_error(h, "--%s '%s': expected a whole number in %.0f..%.0f", o->name, text, o->lo,
                                  o->hi);
        return 0;
    case VB_OPT_DOUBLE:
        if (vb_parse_double(text, o->lo, o->hi, o->value))
            return vb_usage_error(h, "--%s '%s': expected a finite number in %g..%g", o->name, text, o->lo, o->hi);
        return 0;
    case VB_OPT_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (!strcmp(text, o->choices[i])) {
                *(int *)o->value = i;
                return 0;
            }
        return vb_usage_error(h, "--%s '%s': unknown value", o->name, text);
    case VB_OPT_CALL:
        if (o->call(o->value, text, &e))
            return vb_usage_error(h, "--%s '%s': %s", o->name, text, e.msg);
        return 0;
    case VB_OPT_END:
        break;
    }
    return VB_EXIT_USAGE;
}

int vb_options_parse(const vb_command_help *h, const vb_option *opts, int argc, char **argv, int *first_arg)
{
    struct option longs[MAX_OPTIONS + 2];
    int n = 0;
    for (const vb_option *o = opts; o->type != VB_OPT_END; o++, n++) {
        if (n == MAX_OPTIONS)
            return vb_usage_error(h, "internal error: too many options");
        longs[n] = (struct option){o->name, o->type == VB_OPT_FLAG ? no_argument : required_argument, NULL, OPT_VAL0 + n};
    }
    longs[n] = (struct option){"help", no_argument, NULL, 'h'};
    longs[n + 1] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 0; /* our own messages, naming the command */
    for (;;) {
        int prev = optind;
        int c = getopt_long(argc, argv, ":h", longs, NULL);
        if (c == -1)
            break;
        if (c == 'h') {
            vb_options_usage(stdout, h, opts);
            return VB_EXIT_OK;
        }
        if (c == ':')
            return vb_usage_error(h, "%s needs a value", argv[prev]);
        if (c == '?')
            return vb_usage_error(h, "unknown option '%s'", argv[prev < argc ? prev : argc - 1]);
        int rc = parse_value(h, &opts[c - OPT_VAL0], optarg ? optarg : "");
        if (rc)
            return rc;
    }
    *first_arg = optind;
    return VB_OPTS_GO;
}

int vb_options_parse_all(const vb_command_help *h, const vb_option *opts, int argc, char **argv)
{
    int first, rc = vb_options_parse(h, opts, argc, argv, &first);
    if (rc == VB_OPTS_GO && first != argc)
        return vb_usage_error(h, "unexpected argument '%s'", argv[first]);
    return rc;
}
