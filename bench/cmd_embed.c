/* Placeholder until this subcommand lands; replaced by its own implementation. */
#include <stdio.h>

#include "bench/commands.h"
#include "bench/common.h"

int cmd_embed(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "veribench embed: not available in this build yet\n");
    return VB_EXIT_USAGE;
}
