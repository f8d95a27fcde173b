/* test_shard.c -- the partition of a job's mini-batches into shards (core/shard.c). */
#include "shard.h"

#include <criterion/criterion.h>
#include <string.h>

/* Every batch in exactly one shard, ranges contiguous and in shard order, sizes within one
 * of each other, and prs_shard_owner agreeing with the ranges: N = 1..64 over totals that
 * hit every remainder (and totals below N, where some shards are empty). */
Test(shard, every_batch_in_exactly_one_shard) {
    static const uint64_t totals[] = {0, 1, 2, 3, 7, 63, 64, 65, 100, 127, 1000, 4099};
    for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
        uint64_t total = totals[t];
        for (uint32_t n = 1; n <= 64; n++) {
            uint64_t next = 0, min = UINT64_MAX, max = 0;
            for (uint32_t k = 0; k < n; k++) {
                uint64_t first, end;
                prs_shard_range(total, (prs_shard){.index = k, .count = n}, &first, &end);
                cr_assert_eq(first, next, "total %llu N %u shard %u starts at %llu, not %llu",
                             (unsigned long long)total, n, k, (unsigned long long)first,
                             (unsigned long long)next);
                cr_assert_geq(end, first);
                for (uint64_t b = first; b < end; b++) {
                    cr_assert_eq(prs_shard_owner(b, total, n), k, "batch %llu of %llu, N %u",
                                 (unsigned long long)b, (unsigned long long)total, n);
                }
                min = end - first < min ? end - first : min;
                max = end - first > max ? end - first : max;
                next = end;
            }
            cr_assert_eq(next, total, "total %llu N %u: the shards end at %llu",
                         (unsigned long long)total, n, (unsigned long long)next);
            cr_assert_leq(max - min, 1, "total %llu N %u: unbalanced (%llu..%llu)",
                          (unsigned long long)total, n, (unsigned long long)min,
                          (unsigned long long)max);
        }
    }
}

Test(shard, huge_totals_do_not_overflow) {
    uint64_t first, end;
    prs_shard_range(UINT64_MAX, (prs_shard){.index = 9999, .count = 10000}, &first, &end);
    cr_assert_eq(end, UINT64_MAX);
    cr_assert_eq(prs_shard_owner(UINT64_MAX - 1, UINT64_MAX, 10000), 9999);
}

Test(shard, parse_good) {
    prs_shard s;
    char err[256];
    cr_assert_eq(prs_shard_parse("0/1", NULL, NULL, &s, err, sizeof(err)), 0, "%s", err);
    cr_assert(s.index == 0 && s.count == 1);
    cr_assert_eq(prs_shard_parse("3/4", NULL, NULL, &s, err, sizeof(err)), 0, "%s", err);
    cr_assert(s.index == 3 && s.count == 4);
    cr_assert_eq(prs_shard_parse("auto/8", "5", NULL, &s, err, sizeof(err)), 0, "%s", err);
    cr_assert(s.index == 5 && s.count == 8);
    cr_assert_eq(prs_shard_parse("auto/8", NULL, "7", &s, err, sizeof(err)), 0, "%s", err);
    cr_assert(s.index == 7 && s.count == 8);
    /* Slurm's variable wins when both are set; an explicit K ignores both. */
    cr_assert_eq(prs_shard_parse("auto/8", "1", "2", &s, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(s.index, 1);
    cr_assert_eq(prs_shard_parse("2/8", "1", "3", &s, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(s.index, 2);
}

static void parse_bad(const char *text, const char *slurm, const char *k8s, const char *says) {
    prs_shard s = {.index = 77, .count = 77};
    char err[256] = "";
    cr_assert_eq(prs_shard_parse(text, slurm, k8s, &s, err, sizeof(err)), -EINVAL, "%s", text);
    cr_assert(strstr(err, says), "'%s': error '%s' does not say '%s'", text, err, says);
    cr_assert(s.index == 77 && s.count == 77, "'%s': the output changed on an error", text);
}

Test(shard, parse_bad) {
    parse_bad("4/4", NULL, NULL, "shards of 4 are 0..3");
    parse_bad("0/0", NULL, NULL, "N must be a whole number from 1 to 10000");
    parse_bad("x/y", NULL, NULL, "N must be");
    parse_bad("x/4", NULL, NULL, "K must be a whole number");
    parse_bad("4", NULL, NULL, "is not K/N");
    parse_bad("", NULL, NULL, "is not K/N");
    parse_bad("-1/4", NULL, NULL, "K must be");
    parse_bad("1/+4", NULL, NULL, "N must be");
    parse_bad("1/ 4", NULL, NULL, "N must be");
    parse_bad("1/4/2", NULL, NULL, "N must be");
    parse_bad("0/10001", NULL, NULL, "from 1 to 10000");
    parse_bad("99999999999/4", NULL, NULL, "K must be");
    parse_bad("auto/4", NULL, NULL, "neither SLURM_ARRAY_TASK_ID");
    parse_bad("auto/4", "4", NULL, "shards of 4 are 0..3");
    parse_bad("auto/4", "1_2", NULL, "SLURM_ARRAY_TASK_ID='1_2' is not a shard number");
    parse_bad("auto/4", NULL, "", "JOB_COMPLETION_INDEX='' is not a shard number");
}

Test(shard, dir_names_round_trip) {
    char name[32];
    for (uint32_t n = 1; n <= 64; n++) {
        for (uint32_t k = 0; k < n; k++) {
            prs_shard s = {.index = k, .count = n}, back;
            cr_assert_eq(prs_shard_dir_name(s, name, sizeof(name)), 0);
            cr_assert_eq(prs_shard_dir_parse(name, &back), 0, "%s", name);
            cr_assert(back.index == k && back.count == n, "%s", name);
        }
    }
    cr_assert_eq(prs_shard_dir_name((prs_shard){.index = 1, .count = 2}, name, 4), -ENAMETOOLONG);
    static const char *const bad[] = {"4-of-4", "0-of-0", "01-of-4", "1-of-04", "1-of-",
                                      "-of-4",  "1of4",   "a-of-4",  "1-of-4x", "1-of-10001"};
    prs_shard s;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(prs_shard_dir_parse(bad[i], &s), -EINVAL, "%s", bad[i]);
}

/* The job-wide percent, as a count one shard may reach on its own. */
Test(shard, failed_limit) {
    cr_assert_eq(prs_shard_failed_limit(-1, 100, 1000), -1);
    cr_assert_eq(prs_shard_failed_limit(5, 100, 1000), 5);
    cr_assert_eq(prs_shard_failed_limit(-1, 10, 1000), 100); /* 101 failed is > 10% */
    cr_assert_eq(prs_shard_failed_limit(-1, 10, 1005), 100); /* 100.5: 101 is over it */
    cr_assert_eq(prs_shard_failed_limit(50, 10, 1000), 50);
    cr_assert_eq(prs_shard_failed_limit(500, 10, 1000), 100);
    cr_assert_eq(prs_shard_failed_limit(-1, 0, 1000), 0);
    /* Against sched's rule failed*100 > percent*total, for every small case. */
    for (uint64_t total = 0; total < 300; total++) {
        for (uint32_t pct = 0; pct < 100; pct++) {
            int64_t lim = prs_shard_failed_limit(-1, pct, total);
            for (uint64_t failed = 0; failed <= total; failed++) {
                bool over = failed * 100 > (uint64_t)pct * total;
                cr_assert_eq(over, (int64_t)failed > lim, "total %llu pct %u failed %llu",
                             (unsigned long long)total, pct, (unsigned long long)failed);
            }
        }
    }
}

/* Two walks: the count fixes the range, the build takes exactly it, then says stop. */
Test(shard, cut_takes_the_range_once) {
    for (uint32_t n = 1; n <= 64; n++) {
        uint64_t taken_total = 0;
        for (uint32_t k = 0; k < n; k++) {
            prs_shard_cut cut;
            prs_shard_count_begin(&cut, (prs_shard){.index = k, .count = n});
            for (int b = 0; b < 100; b++) {
                prs_shard_count_item(&cut, &b, sizeof(b));
                prs_shard_count_batch(&cut);
            }
            cr_assert_eq(prs_shard_build_begin(&cut), 0);
            uint64_t taken = 0, expect = 0;
            for (uint64_t b = 0; b < 100; b++) {
                enum prs_shard_take t = prs_shard_build_batch(&cut);
                if (t == PRS_SHARD_PAST) break;
                if (t == PRS_SHARD_TAKE) {
                    cr_assert_eq(prs_shard_owner(b, 100, n), k);
                    taken++;
                } else {
                    cr_assert_lt(prs_shard_owner(b, 100, n), k, "skipped a batch after the range");
                }
                expect = b + 1;
            }
            cr_assert_eq(expect, cut.end, "N %u shard %u: walked past its range", n, k);
            taken_total += taken;
        }
        cr_assert_eq(taken_total, 100, "N %u: %llu batches taken", n,
                     (unsigned long long)taken_total);
    }
}

Test(shard, cut_refuses_empty_shards_and_prints_the_input) {
    prs_shard_cut a, b;
    prs_shard_count_begin(&a, (prs_shard){.index = 0, .count = 4});
    for (int i = 0; i < 3; i++)
        prs_shard_count_batch(&a);
    cr_assert_eq(prs_shard_build_begin(&a), -ERANGE);
    /* The same names cut into batches differently give different prints. */
    prs_shard_count_begin(&a, (prs_shard){.index = 0, .count = 1});
    prs_shard_count_begin(&b, (prs_shard){.index = 0, .count = 1});
    prs_shard_count_item(&a, "x", 1);
    prs_shard_count_item(&a, "y", 1);
    prs_shard_count_batch(&a);
    prs_shard_count_item(&b, "x", 1);
    prs_shard_count_batch(&b);
    prs_shard_count_item(&b, "y", 1);
    prs_shard_count_batch(&b);
    cr_assert_neq(a.fingerprint, b.fingerprint);
    char rec[128];
    cr_assert_gt(prs_shard_record(&a, rec, sizeof(rec)), 0);
    cr_assert(strstr(rec, "shard=0/1\njob_batches=1\ninput_xxh3="), "%s", rec);
}
