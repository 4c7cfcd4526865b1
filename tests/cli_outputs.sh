#!/bin/sh
# Where veribench writes: never over a device or its own input, never a silent exit 0 when
# stdout is full, output folders created with their parents, option values refused before
# any output. Each block names the issue item it guards.
. tests/cli_lib.sh
M="$VB_MODELS/face_recognition.gguf"
T="$CLI_TMP"

# Issue 10 item 1: quantize --out /dev/full (a device) is refused and the node survives.
before=$(stat -c '%F %t:%T' /dev/full)
expect_exit 5 "quantize onto a device" -- $VB quantize --in "$M" --out /dev/full --level int8
expect_grep "/dev/full exists and is a device" "$CLI_TMP/err" "names the device"
[ "$(stat -c '%F %t:%T' /dev/full)" = "$before" ] && ok || not_ok "/dev/full was replaced"
[ ! -e /dev/full.tmp ] && ok || not_ok "a temporary was left in /dev"
mkdir -p "$T/folder"
expect_exit 5 "quantize onto a folder" -- $VB quantize --in "$M" --out "$T/folder" --level int8
[ -d "$T/folder" ] && ok || not_ok "folder replaced"

# Issue 10 item 6: quantize never overwrites its own input, however it is spelled.
cp "$M" "$T/m.gguf"
sum=$(sha256sum < "$T/m.gguf")
expect_exit 2 "quantize in place" -- $VB quantize --in "$T/m.gguf" --out "$T/./m.gguf" --level int8
expect_grep "is the input model itself" "$CLI_TMP/err" "says why"
[ "$(sha256sum < "$T/m.gguf")" = "$sum" ] && ok || not_ok "input model changed"
expect_exit 0 "quantize to a new file" -- $VB quantize --in "$T/m.gguf" --out "$T/m-q8.gguf" --level int8
[ -s "$T/m-q8.gguf" ] && [ ! -e "$T/m-q8.gguf.tmp" ] && ok || not_ok "quantized file missing or temporary left"

# Issue 10 item 7: every command checks its stdout writes.
expect_exit 5 "devices csv to a full disk" -- sh -c "$VB devices --format csv > /dev/full"
expect_exit 5 "devices table to a full disk" -- sh -c "$VB devices > /dev/full"
expect_exit 5 "bench to a full disk" -- sh -c "$VB bench --model $M --seconds 0 > /dev/full"
expect_exit 5 "quantize listing to a full disk" -- sh -c "$VB quantize --in $M --out $T/q.gguf --level fp16 > /dev/full"

# Issue 10 item 8: option values are checked before any work or output.
for v in abc nan inf -1 3601 ''; do
    expect_exit 2 "bench --seconds '$v'" -- $VB bench --model "$M" --seconds "$v"
    [ ! -s "$CLI_TMP/out" ] && ok || not_ok "bench --seconds '$v' printed output"
done
expect_exit 2 "bench --seconds -1 names the value" -- $VB bench --model "$M" --seconds -1
expect_grep "'-1'" "$CLI_TMP/err" "the bad value is quoted"
expect_exit 2 "empty --quant" -- $VB bench --model "$M" --quant=
expect_exit 2 "run --out ''" -- $VB run --model "$M" --dataset lfw --out ''
# Issue 13 item 4: the bench CSV carries threads, GMAC/s, the peak and the kernel family.
expect_exit 0 "bench with --peak" -- $VB bench --model "$M" --seconds 0 --threads 1 --peak 100
awk -F, 'NR == 1 && $12 == "threads" && $13 == "gmac_per_s" && $14 == "peak_gmac_per_s" && $15 == "peak_fraction" &&
         $16 == "kernels" {h = 1}
         NR == 2 && NF == 16 && $12 == 1 && $13 > 0 && $14 == "100.0" && $15 > 0 && $16 != "" {r = 1}
         END {exit !(h && r)}' "$CLI_TMP/out" && ok || not_ok "bench CSV lacks threads/gmac/peak/kernels: $(cat "$CLI_TMP/out")"
expect_exit 2 "bench --peak -1" -- $VB bench --model "$M" --peak -1
expect_exit 2 "bench unknown backend" -- $VB bench --model "$M" --backend nosuch
[ ! -s "$CLI_TMP/out" ] && ok || not_ok "bench --backend nosuch printed the CSV header"
expect_exit 2 "unknown option" -- $VB embed --nosuch x.jpg
expect_grep "unknown option '--nosuch'" "$CLI_TMP/err" "names the option"
expect_exit 2 "check uses the common --validation spelling" -- $VB check --validate x.jpg
for cmd in run metrics embed check devices convert quantize bench; do
    expect_exit 0 "$cmd --help" -- $VB $cmd --help
    expect_grep "^usage: veribench $cmd" "$CLI_TMP/out" "$cmd --help starts with its usage"
done

# Issue 9 item 1: --out with missing parents is created (the README's main command on a
# fresh clone has no results/ folder); a file in the way is named.
D="$(cd "$VERIBENCH_DATA" && pwd)/lfw/images_deepfunneled"
{
    echo "sample,subject,path"
    echo "a1,Abel_Pacheco,$D/Abel_Pacheco/Abel_Pacheco_0001.jpg"
    echo "a4,Abel_Pacheco,$D/Abel_Pacheco/Abel_Pacheco_0004.jpg"
    echo "d1,Dean_Barker,$D/Dean_Barker/Dean_Barker_0001.jpg"
} > "$T/three.csv"
expect_exit 0 "run into new nested folders" -- $VB run --model "$M" --dataset "csv:$T/three.csv" --crop 70,70,180,180 --quiet --no-plots --out "$T/new/results/lfw"
[ -s "$T/new/results/lfw/report.md" ] && ok || not_ok "report not written under new parents"
: > "$T/afile"
expect_exit 5 "run under a file" -- $VB run --model "$M" --dataset "csv:$T/three.csv" --quiet --no-plots --out "$T/afile/sub"
expect_grep "afile" "$CLI_TMP/err" "names the path that is in the way"

# Issue 10 item 14: the decoder's pixel limit is an option, checked before any pixel memory.
expect_exit 3 "embed over --max-pixels" -- $VB embed --model "$M" --max-pixels 62499 "$D/Dean_Barker/Dean_Barker_0001.jpg"
expect_grep "image size 250x250 is over the limit of 62499 pixels" "$CLI_TMP/err" "names the size and the limit"
expect_exit 0 "embed at --max-pixels" -- $VB embed --model "$M" --max-pixels 62500 "$D/Dean_Barker/Dean_Barker_0001.jpg"
expect_exit 2 "--max-pixels 0 refused" -- $VB embed --model "$M" --max-pixels 0 x.jpg
expect_grep "^run,max_pixels,67108864$" "$T/new/results/lfw/provenance.csv" "provenance records the limit"
expect_grep "^run,random_seed," "$T/new/results/lfw/provenance.csv" "provenance records the seed"

cli_finish
