/* shard.c -- see shard.h. */
#include "shard.h"

#include "units.h"

#include <string.h>
/* libxxhash's XXH3 (not the inline build, as sidedb.c's lookups use): one call per item
 * name while the job is created; the same function, so the same fingerprint. */
#include <xxhash.h>

static int shard_number(const char *text, size_t len, uint32_t max, uint32_t *out) {
    char buf[16];
    if (len == 0 || len >= sizeof(buf)) return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return -EINVAL; /* no sign, no spaces */
    }
    memcpy(buf, text, len);
    buf[len] = 0;
    int64_t v;
    int rc = prs_units_parse_int(buf, 0, max, &v);
    if (rc) return rc;
    *out = (uint32_t)v;
    return 0;
}

static int shard_index_from_env(const char *slurm_task_id, const char *k8s_index, uint32_t *k,
                                char *err, size_t err_size) {
    const char *name = slurm_task_id ? "SLURM_ARRAY_TASK_ID" : "JOB_COMPLETION_INDEX";
    const char *value = slurm_task_id ? slurm_task_id : k8s_index;
    if (!value) {
        snprintf(err, err_size,
                 "auto: neither SLURM_ARRAY_TASK_ID (a Slurm array task) nor "
                 "JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set: give K/N");
        return -EINVAL;
    }
    if (shard_number(value, strlen(value), PRS_SHARD_MAX, k)) {
        snprintf(err, err_size, "auto: %s='%.32s' is not a shard number", name, value);
        return -EINVAL;
    }
    return 0;
}

int prs_shard_parse(const char *text, const char *slurm_task_id, const char *k8s_index,
                    prs_shard *out, char *err, size_t err_size) {
    const char *slash = strchr(text, '/');
    if (!slash) {
        snprintf(err, err_size, "'%.32s' is not K/N (shard K of N, K = 0..N-1; or auto/N)", text);
        return -EINVAL;
    }
    uint32_t n, k;
    const char *ntext = slash + 1;
    if (shard_number(ntext, strlen(ntext), UINT32_MAX, &n) || n < 1 || n > PRS_SHARD_MAX) {
        snprintf(err, err_size, "'%.32s': N must be a whole number from 1 to %u", text,
                 PRS_SHARD_MAX);
        return -EINVAL;
    }
    size_t klen = (size_t)(slash - text);
    if (klen == 4 && memcmp(text, "auto", 4) == 0) {
        if (shard_index_from_env(slurm_task_id, k8s_index, &k, err, err_size)) return -EINVAL;
    } else if (shard_number(text, klen, UINT32_MAX, &k)) {
        snprintf(err, err_size, "'%.32s': K must be a whole number (or auto)", text);
        return -EINVAL;
    }
    if (k >= n) {
        snprintf(err, err_size, "'%.32s': shard %u does not exist: the shards of %u are 0..%u",
                 text, k, n, n - 1);
        return -EINVAL;
    }
    *out = (prs_shard){.index = k, .count = n};
    return 0;
}

void prs_shard_range(uint64_t total_batches, prs_shard s, uint64_t *first, uint64_t *end) {
    PRS_ASSERT(s.count >= 1 && s.index < s.count);
    uint64_t base = total_batches / s.count, extra = total_batches % s.count;
    *first = base * s.index + PRS_MIN((uint64_t)s.index, extra);
    *end = *first + base + (s.index < extra ? 1 : 0);
}

uint32_t prs_shard_owner(uint64_t batch, uint64_t total_batches, uint32_t count) {
    PRS_ASSERT(count >= 1 && batch < total_batches);
    uint64_t base = total_batches / count, extra = total_batches % count;
    /* The first `extra` shards hold base+1 batches each, the others base. */
    uint64_t big = extra * (base + 1);
    if (batch < big) return (uint32_t)(batch / (base + 1));
    return (uint32_t)(extra + (batch - big) / base);
}

int prs_shard_dir_name(prs_shard s, char *buf, size_t size) {
    int n = snprintf(buf, size, "%u-of-%u", s.index, s.count);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int prs_shard_dir_parse(const char *name, prs_shard *out) {
    const char *of = strstr(name, "-of-");
    if (!of) return -EINVAL;
    uint32_t k, n;
    size_t klen = (size_t)(of - name);
    const char *ntext = of + 4;
    size_t nlen = strlen(ntext);
    if (shard_number(name, klen, UINT32_MAX, &k) || shard_number(ntext, nlen, UINT32_MAX, &n))
        return -EINVAL;
    if ((klen > 1 && name[0] == '0') || (nlen > 1 && ntext[0] == '0')) return -EINVAL;
    if (n < 1 || n > PRS_SHARD_MAX || k >= n) return -EINVAL;
    *out = (prs_shard){.index = k, .count = n};
    return 0;
}

int64_t prs_shard_failed_limit(int64_t allowed_failed_count, uint32_t allowed_failed_percent,
                               uint64_t job_batches) {
    int64_t limit = allowed_failed_count;
    if (allowed_failed_percent < 100) {
        PRS_ASSERT(job_batches <= UINT64_MAX / 100);
        int64_t p = (int64_t)((uint64_t)allowed_failed_percent * job_batches / 100);
        if (limit < 0 || p < limit) limit = p;
    }
    return limit;
}

void prs_shard_count_begin(prs_shard_cut *cut, prs_shard s) {
    PRS_ASSERT(s.count >= 1 && s.index < s.count);
    *cut = (prs_shard_cut){.shard = s, .counting = true};
}

void prs_shard_count_item(prs_shard_cut *cut, const void *key, size_t len) {
    PRS_ASSERT(cut->counting);
    cut->fingerprint = XXH3_64bits_withSeed(key, len, cut->fingerprint);
}

void prs_shard_count_batch(prs_shard_cut *cut) {
    PRS_ASSERT(cut->counting);
    cut->batches++;
    /* Batch boundaries are part of the print: the same names cut differently differ. */
    cut->fingerprint = XXH3_64bits_withSeed("\n", 1, cut->fingerprint);
}

int prs_shard_build_begin(prs_shard_cut *cut) {
    PRS_ASSERT(cut->counting);
    cut->counting = false;
    if (cut->batches < cut->shard.count) return -ERANGE;
    prs_shard_range(cut->batches, cut->shard, &cut->first, &cut->end);
    cut->next = 0;
    return 0;
}

enum prs_shard_take prs_shard_build_batch(prs_shard_cut *cut) {
    PRS_ASSERT(!cut->counting);
    uint64_t b = cut->next++;
    if (b < cut->first) return PRS_SHARD_SKIP;
    return b < cut->end ? PRS_SHARD_TAKE : PRS_SHARD_PAST;
}

int prs_shard_record(const prs_shard_cut *cut, char *buf, size_t size) {
    int n = snprintf(buf, size, "shard=%u/%u\njob_batches=%llu\ninput_xxh3=%016llx\n",
                     cut->shard.index, cut->shard.count, (unsigned long long)cut->batches,
                     (unsigned long long)cut->fingerprint);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}
