#!/bin/sh
# make check-layers: the include rules of ARCHITECTURE.md, checked over every #include "..."
# line of the C sources (system headers <...> are not ours and are ignored).
#
# 1. Layers. A file in folder F may include headers only from the folders F's row allows:
#
#      layer      may include
#      core       core                                   (bottom: every folder may use it)
#      models     core models
#      datasets   core models datasets                   (models: a model's input spec)
#      backends   core models backends
#      reports    core models datasets reports
#      cli        core models datasets backends reports cli   (top: nothing includes it)
#      tests      anything (tests sit beside the top)
#
#    The layer of a path is its first folder (backends/cpu/x.c is in backends). A header
#    without a folder ("version.h") is generated into build/gen and counts as core.
# 2. No cycles. A module is a .c file together with the .h of the same name (and its private
#    header <name>_impl.h, the table its implementations fill, as backends/backend_impl.h); module A
#    depends on module B when a file of A includes B's header. Any cycle among modules is
#    an error, inside a folder too (a header that two files of a folder include and that
#    points back at one of them, say).
#
# Prints every violation and cycle, then "check-layers: N files, N includes, N violations,
# N cycles"; exits 1 when either count is not zero.
set -eu
cd "$(dirname "$0")/.."

files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' ! -path './build/*' | sed 's|^\./||')

for f in $files; do
    [ -f "$f" ] || continue
    echo "$f - 0"
    # "file included" pairs; the line number is kept for the message.
    awk -v f="$f" '/^[ \t]*#[ \t]*include[ \t]*"/ {
        s = $0; sub(/^[^"]*"/, "", s); sub(/".*$/, "", s); print f, s, FNR }' "$f"
done | awk '
function layer(p,    i) {
    i = index(p, "/")
    return i ? substr(p, 1, i - 1) : "generated"
}
function module(p) { sub(/\.[ch]$/, "", p); sub(/_impl$/, "", p); return p }
BEGIN {
    allow["core"] = " core generated "
    allow["models"] = " core generated models "
    allow["datasets"] = " core generated models datasets "
    allow["backends"] = " core generated models backends "
    allow["reports"] = " core generated models datasets reports "
    allow["cli"] = " core generated models datasets backends reports cli "
    violations = 0; includes = 0; cycles = 0
}
$2 == "-" { seen_file[$1] = 1; next }
{
    from = $1; to = $2; line = $3; includes++
    lf = layer(from); lt = layer(to)
    if (lf != "tests") {
        if (!(lf in allow)) {
            printf "check-layers: %s:%d: folder %s is in no layer (add it to the table)\n", from, line, lf
            violations++
        } else if (index(allow[lf], " " lt " ") == 0) {
            printf "check-layers: %s:%d: %s (layer %s) includes %s (layer %s)\n", from, line, from, lf, to, lt
            violations++
        }
    }
    if (lf == "tests" || lt == "generated") next
    a = module(from); b = module(to)
    if (a != b && !((a, b) in edge)) {
        edge[a, b] = 1
        adj[a] = adj[a] " " b
        node[a] = 1; node[b] = 1
    }
}
# Depth-first search; a back edge to a module on the current path closes a cycle.
function visit(m,    n, k, list, i, c) {
    state[m] = 1; path[++depth] = m
    n = split(adj[m], list, " ")
    for (k = 1; k <= n; k++) {
        if (list[k] == "") continue
        if (state[list[k]] == 1) {
            c = ""
            for (i = depth; i >= 1 && path[i] != list[k]; i--) ;
            for (; i <= depth; i++) c = c path[i] " -> "
            printf "check-layers: include cycle: %s%s\n", c, list[k]
            cycles++
        } else if (state[list[k]] == 0) {
            visit(list[k])
        }
    }
    depth--; state[m] = 2
}
END {
    for (m in node) state[m] = 0
    depth = 0
    for (m in node) if (state[m] == 0) visit(m)
    nf = 0; for (f in seen_file) nf++
    printf "check-layers: %d files, %d includes, %d violations, %d cycles\n", nf, includes, violations, cycles
    exit (violations || cycles) ? 1 : 0
}'
