#!/bin/sh
# veribench enroll: a dataset's prints as template files (ISO/IEC 19794-2 records or text)
# with a manifest that run scores from the templates; a print that fails to enrol stays an
# image (counted again by the run); a corrupt template stops the run naming the file.
. tests/cli_lib.sh
S="$CLI_TMP/synth"
expect_exit 0 "synth-fingerprints" -- "$VB" synth-fingerprints --subjects 3 --impressions 2 --seed 5 --out "$S"
printf 'P5 64 64 255\n' > "$S/blank.pgm"
head -c 4096 /dev/zero >> "$S/blank.pgm"
echo "blank,9,blank.pgm,fingerprint" >> "$S/manifest.csv"
T="$CLI_TMP/tpl"
expect_exit 0 "enroll" -- "$VB" enroll --dataset "csv:$S/manifest.csv" --out "$T"
expect_grep "6 of 7 prints enrolled \(1 failed to enrol\)" "$CLI_TMP/out" "counts on stdout"
expect_grep "blank.pgm: [0-9]+ minutiae found" "$CLI_TMP/err" "the failure named"
[ "$(ls "$T"/*.fmr | wc -l)" -eq 6 ] && ok || not_ok "6 template files"
[ "$(head -c 8 "$T/1_1.fmr" | od -An -c | tr -d ' ')" = 'FMR\020\0' ] && ok || not_ok "ISO magic"
expect_grep '^1_1,1,1_1.fmr,fingerprint$' "$T/manifest.csv" "a template in the manifest"
expect_grep "^blank,9,/.*/blank.pgm,fingerprint\$" "$T/manifest.csv" "the failed print stays its image"
[ ! -e "$T/trials.csv" ] && ok || not_ok "all pairs: no trials file"

# scores from the templates against scores from the images
run() { "$VB" run --dataset "csv:$1" --out "$2" --no-plots --bootstrap 0 --scores-csv --quiet; }
expect_exit 0 "run on the images" -- run "$S/manifest.csv" "$CLI_TMP/img"
expect_exit 0 "run on the ISO templates" -- run "$T/manifest.csv" "$CLI_TMP/iso"
for m in genuine,3 impostor,18 fta_samples,1; do
    expect_grep ",$m\$" "$CLI_TMP/iso/metrics.csv" "templates: $m"
done
zcat "$CLI_TMP"/iso/scores/*.csv.gz | awk -F, 'NR > 1 && $4 != "inf" { if ($3 == 1 && $4 > g) g = $4; if ($3 == 0 && (i == "" || $4 < i)) i = $4 }
    END { exit !(g < i) }' && ok || not_ok "templates: genuine distances below impostor distances"
# ISO rounds coordinates to the pixel and angles to 1.4 degrees: 0.031 at most on this set
zcat "$CLI_TMP"/img/scores/*.csv.gz > "$CLI_TMP/a" && zcat "$CLI_TMP"/iso/scores/*.csv.gz > "$CLI_TMP/b"
paste -d, "$CLI_TMP/a" "$CLI_TMP/b" | awk -F, 'NR > 1 { if ($1 != $6 || $2 != $7 || ($4 == "inf") != ($9 == "inf")) bad = 1
    if ($4 != "inf" && ($4 - $9 > 0.05 || $9 - $4 > 0.05)) bad = 1 } END { exit bad }' && ok || not_ok "ISO scores near the image scores"
# the text form keeps every digit: the very same scores
expect_exit 0 "enroll --format text" -- "$VB" enroll --dataset "csv:$S/manifest.csv" --format text --out "$CLI_TMP/txt"
[ "$(ls "$CLI_TMP"/txt/*.fpt | wc -l)" -eq 6 ] && ok || not_ok "6 text templates"
expect_exit 0 "run on the text templates" -- run "$CLI_TMP/txt/manifest.csv" "$CLI_TMP/txtrun"
zcat "$CLI_TMP"/txtrun/scores/*.csv.gz | cmp -s - "$CLI_TMP/a" && ok || not_ok "text templates: the image run's scores"

# a protocol with listed trials comes along as trials.csv
printf 'a,b,label,fold\n1_1,1_2,1,1\n1_1,2_1,0,2\n' > "$S/trials.csv"
expect_exit 0 "enroll with trials" -- "$VB" enroll --dataset "csv:$S/manifest.csv" --trials "$S/trials.csv" --out "$CLI_TMP/tr"
cmp -s "$S/trials.csv" "$CLI_TMP/tr/trials.csv" && ok || not_ok "trials.csv copied"
[ "$(ls "$CLI_TMP"/tr/*.fmr | wc -l)" -eq 3 ] && ok || not_ok "only the prints the trials use"

# corrupt templates: exit 3, the file named, nothing scored as a failure to acquire
cp -r "$T" "$CLI_TMP/bad"
head -c 40 "$T/2_1.fmr" > "$CLI_TMP/bad/2_1.fmr"
expect_exit 3 "a truncated template" -- run "$CLI_TMP/bad/manifest.csv" "$CLI_TMP/badrun"
expect_grep "bad/2_1.fmr: ISO minutiae record: .*truncated" "$CLI_TMP/err" "names the file and the problem"
[ ! -e "$CLI_TMP/badrun/metrics.csv" ] && ok || not_ok "no metrics from a broken enrolment"
echo garbage > "$CLI_TMP/bad/2_1.fmr"
expect_exit 3 "a garbage template" -- run "$CLI_TMP/bad/manifest.csv" "$CLI_TMP/badrun2"
expect_grep "bad/2_1.fmr: not a fingerprint template" "$CLI_TMP/err" "names the file"
printf 'VBFPT001 288 384 9\n1 2 3 1 0\n' > "$CLI_TMP/bad/2_1.fmr"
expect_exit 3 "a short text template" -- run "$CLI_TMP/bad/manifest.csv" "$CLI_TMP/badrun3"
expect_grep "bad/2_1.fmr: minutia 2 is missing" "$CLI_TMP/err" "names the file and the minutia"
rm "$CLI_TMP/bad/2_1.fmr"
expect_exit 3 "a missing template" -- run "$CLI_TMP/bad/manifest.csv" "$CLI_TMP/badrun4"
expect_grep "bad/2_1.fmr" "$CLI_TMP/err" "names the file"

# usage and input errors
printf 'sample,subject,path\nf1,A,a.jpg\nf2,A,b.jpg\n' > "$CLI_TMP/faces.csv"
expect_exit 2 "enroll faces" -- "$VB" enroll --dataset "csv:$CLI_TMP/faces.csv" --out "$CLI_TMP/x"
expect_grep "face samples; enroll writes fingerprint templates" "$CLI_TMP/err" "says why"
printf 'sample,subject,path,modality\na/b,A,a.png,fingerprint\nc,A,c.png,fingerprint\n' > "$CLI_TMP/ids.csv"
expect_exit 3 "an id that cannot name a file" -- "$VB" enroll --dataset "csv:$CLI_TMP/ids.csv" --out "$CLI_TMP/x"
expect_grep "sample id 'a/b' cannot name a template file" "$CLI_TMP/err" "names the id"
expect_exit 2 "enroll without --out" -- "$VB" enroll --dataset "csv:$S/manifest.csv"
expect_exit 2 "enroll --format bad" -- "$VB" enroll --dataset "csv:$S/manifest.csv" --format xml --out "$CLI_TMP/x"
cli_finish
