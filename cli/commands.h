/* Subcommands, one file each (cli/cmd_<name>.c), as git does. Each returns an exit code
 * from core/common.h. */
#ifndef VB_COMMANDS_H
#define VB_COMMANDS_H

int cmd_convert(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_latency(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_synth_fingerprints(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_merge(int argc, char **argv);
/* `run` as veribench merge starts it: plan (cli/shard.h) says which phase. */
struct vb_merge_plan;
int cmd_run_with(int argc, char **argv, const struct vb_merge_plan *plan);
int cmd_history(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif
