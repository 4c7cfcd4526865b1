/* The shared activation planner (backends/plan.h): slot reuse, outputs read several times,
 * the kept output, slot sizes; plus random DAGs checked by simulating every write. */
#include <stdlib.h>
#include <string.h>

#include "backends/plan.h"
#include "tests/testlib.h"

#define MAX_STEPS 64

/* Replays the plan: holder[s] is the step whose output slot s holds. Every read must find
 * its producer still there, and the kept output must survive to the end. Returns the
 * number of violations; the first one is reported with its details. */
static int simulate(const vb_plan_step *st, int n, int keep, const int *slot, const size_t *size, int n_slots)
{
    int holder[MAX_STEPS], bad = 0;
    char why[160] = "";
    for (int s = 0; s < MAX_STEPS; s++)
        holder[s] = -1;
    for (int i = 0; i < n; i++) {
        if (slot[i] < 0 || slot[i] >= n_slots || size[slot[i]] < st[i].size) {
            if (!bad++)
                snprintf(why, sizeof why, "step %d: slot %d of 0..%d too small or out of range", i, slot[i], n_slots);
            continue;
        }
        for (int k = 0; k < 2; k++) {
            int src = st[i].src[k];
            if (src >= 0 && (holder[slot[src]] != src || slot[i] == slot[src]) && !bad++)
                snprintf(why, sizeof why, "step %d reads step %d from slot %d, which holds step %d (writes %d)", i,
                         src, slot[src], holder[slot[src]], slot[i]);
        }
        holder[slot[i]] = i;
    }
    if (keep >= 0 && holder[slot[keep]] != keep && !bad++)
        snprintf(why, sizeof why, "kept step %d overwritten by step %d", keep, holder[slot[keep]]);
    if (bad)
        CHECKF(0, "%d plan violations, first: %s", bad, why);
    return bad;
}

static void test_chain_reuses_two_slots(void)
{
    /* a -> b -> c -> d: two slots alternate, each as large as its largest occupant */
    vb_plan_step st[4] = {{10, {-1, -1}}, {30, {0, -1}}, {20, {1, -1}}, {5, {2, -1}}};
    int slot[4];
    size_t size[4];
    int n = vb_plan_slots(st, 4, 3, slot, size);
    CHECK(n == 2);
    CHECK(slot[0] == 0 && slot[1] == 1 && slot[2] == 0 && slot[3] == 1);
    CHECK(size[0] == 20 && size[1] == 30);
    CHECK(size[2] == 0 && size[3] == 0);
    CHECK(simulate(st, 4, 3, slot, size, n) == 0);
}

static void test_node_read_twice_later(void)
{
    /* residual block: 1 is read by 2 and again by 4 (the add); it must outlive 2 and 3 */
    vb_plan_step st[6] = {{8, {-1, -1}}, {8, {0, -1}}, {8, {1, -1}}, {8, {2, -1}}, {8, {3, 1}}, {8, {4, -1}}};
    int slot[6];
    size_t size[6];
    int n = vb_plan_slots(st, 6, 5, slot, size);
    CHECK(n == 3);
    CHECK(slot[2] != slot[1] && slot[3] != slot[1] && slot[4] != slot[1] && slot[4] != slot[3]);
    CHECK(simulate(st, 6, 5, slot, size, n) == 0);
}

static void test_output_never_overwritten(void)
{
    /* the output (step 1) is read by step 2 and is not the last step: it must stay */
    vb_plan_step st[5] = {{4, {-1, -1}}, {4, {0, -1}}, {4, {1, -1}}, {4, {2, -1}}, {4, {3, -1}}};
    int slot[5];
    size_t size[5];
    int n = vb_plan_slots(st, 5, 1, slot, size);
    for (int i = 2; i < 5; i++)
        CHECKF(slot[i] != slot[1], "step %d reuses the output's slot %d", i, slot[1]);
    CHECK(simulate(st, 5, 1, slot, size, n) == 0);
    /* without keep, the same slot is reused once step 2 has read it */
    n = vb_plan_slots(st, 5, -1, slot, size);
    CHECK(n == 2 && slot[3] == slot[1]);
}

static void test_unread_output_is_free_next_step(void)
{
    /* step 1 is never read: its slot is free again for step 2 (but not for 1 itself) */
    vb_plan_step st[3] = {{4, {-1, -1}}, {4, {-1, -1}}, {4, {0, -1}}};
    int slot[3];
    size_t size[3];
    int n = vb_plan_slots(st, 3, 2, slot, size);
    CHECK(n == 2 && slot[2] == slot[1]);
    CHECK(simulate(st, 3, 2, slot, size, n) == 0);
}

static void test_random_dags(void)
{
    srand(7);
    int violations = 0, max_slots = 0;
    for (int trial = 0; trial < 500; trial++) {
        int n = 1 + rand() % MAX_STEPS;
        vb_plan_step st[MAX_STEPS];
        for (int i = 0; i < n; i++) {
            st[i].size = 1 + (size_t)(rand() % 1000);
            st[i].src[0] = i > 0 ? i - 1 - rand() % (i < 4 ? i : 4) : -1;
            st[i].src[1] = i > 1 && rand() % 3 == 0 ? rand() % i : -1;
        }
        int keep = rand() % 2 ? n - 1 : rand() % n;
        int slot[MAX_STEPS];
        size_t size[MAX_STEPS];
        int ns = vb_plan_slots(st, n, keep, slot, size);
        violations += simulate(st, n, keep, slot, size, ns);
        max_slots = ns > max_slots ? ns : max_slots;
    }
    CHECK(violations == 0);
    if (getenv("VB_TEST_VERBOSE"))
        fprintf(stderr, "   random DAGs: at most %d slots\n", max_slots);
    CHECKF(max_slots < MAX_STEPS / 2, "random DAGs used up to %d slots: reuse is not happening", max_slots);
}

int main(void)
{
    RUN(test_chain_reuses_two_slots);
    RUN(test_node_read_twice_later);
    RUN(test_output_never_overwritten);
    RUN(test_unread_output_is_free_next_step);
    RUN(test_random_dags);
    return vb_test_finish();
}
